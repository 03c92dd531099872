//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use burn::prelude::*;
use tinyunet::weights::{TensorSet, TensorValues, safetensors_io::read_safetensors};

/// A file of the PyTorch reference cases in `tests/fixtures/reference` (made by its
/// `make_fixtures.py`; in the repository so that a clone runs the equivalence tests on its own).
pub fn reference_fixture(name: &str) -> PathBuf {
    local_fixture("reference").join(name)
}

/// The folder beside the clone that holds the real images (`<crate>/../shared`), or
/// `TINYUNET_SHARED_DIR` when set: the override lets a machine that has the data run the tests as
/// a clone without it would (`TINYUNET_SHARED_DIR=/nonexistent`), and lets the data live elsewhere.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("TINYUNET_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

/// `../shared/data/<set>` (read only, not in the repository: real patient images that must not
/// leave the machine, `../shared/data/README.md`), or `None` when it is missing, after saying so:
/// the calling test then returns early, as Rust tests have no runtime skip. Under
/// `TINYUNET_REQUIRE_SHARED=1` (as `./build.sh test`, and so CI, sets) a missing set panics
/// instead, so CI cannot pass by skipping.
pub fn shared_data(set: &str) -> Option<PathBuf> {
    let dir = shared_dir().join("data").join(set);
    if dir.is_dir() {
        return Some(dir);
    }
    // libtest names each test's thread after the test.
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_owned();
    let missing = format!("{} is missing (needed for {test})", dir.display());
    if std::env::var_os("TINYUNET_REQUIRE_SHARED").is_some_and(|v| v == "1") {
        panic!("TINYUNET_REQUIRE_SHARED=1 but {missing}");
    }
    // Straight to the process's stderr, not `eprintln!`: libtest captures the macros' output of a
    // passing test, and a skip nobody sees would read as a pass.
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "skipped: {missing}");
    None
}

/// A file of this repository's own small fixtures.
pub fn local_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Reads a safetensors file.
pub fn read_set(path: &PathBuf) -> TensorSet {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    read_safetensors(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A float tensor of a set, with its shape.
pub fn floats(set: &TensorSet, name: &str) -> (Vec<f32>, Vec<usize>) {
    let t = set.get(name).unwrap_or_else(|| panic!("no tensor {name}"));
    match &t.values {
        TensorValues::Float(v) => (v.clone(), t.shape.clone()),
        TensorValues::Int(_) => panic!("{name} is not float"),
    }
}

/// A 4-D tensor from a set on `device`.
pub fn tensor4(set: &TensorSet, name: &str, device: &Device) -> Tensor<4> {
    let (values, shape) = floats(set, name);
    let shape: [usize; 4] = shape.try_into().expect("4-D");
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// Reads a tensor back as f32 values.
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 data")
}

/// max |a − b|.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The native wgpu device (Vulkan; lavapipe on machines without a GPU), or `None` if there is no
/// adapter; a failure when `TINYUNET_REQUIRE_WGPU` is set (as `./build.sh test` does), so CI
/// cannot silently skip the GPU path (`tinyunet::backend::wgpu_device_for_tests`).
pub fn wgpu_device() -> Option<Device> {
    tinyunet::backend::wgpu_device_for_tests()
}

/// The devices every numeric test runs on: the CPU, and wgpu where it runs.
pub fn devices() -> Vec<(&'static str, Device)> {
    let mut out = vec![("cpu", tinyunet::backend::cpu_device())];
    if let Some(device) = wgpu_device() {
        out.push(("wgpu", device));
    }
    out
}

/// Every value, or `None` if any is missing. For a test that needs several sets of
/// `../shared/data`: the array is built, so every lookup has run, before this returns, and the
/// skip names each missing set rather than only the first.
pub fn all_present<T, const N: usize>(found: [Option<T>; N]) -> Option<[T; N]> {
    found
        .into_iter()
        .collect::<Option<Vec<T>>>()?
        .try_into()
        .ok()
}

/// A set of `../shared/data` split as its README suggests: sorted by stem, every 5th pair is
/// validation; `(train, validation)`, or `None` when the set is missing (see [`shared_data`]).
#[cfg(feature = "cli")]
pub fn shared_split(
    set: &str,
) -> Option<(
    Vec<tinyunet::data::folder::Pair>,
    Vec<tinyunet::data::folder::Pair>,
)> {
    let root = shared_data(set)?;
    let pairs =
        tinyunet::data::folder::pair_folders(&root.join("images"), &root.join("masks")).unwrap();
    let (val, train): (Vec<_>, Vec<_>) = pairs
        .into_iter()
        .enumerate()
        .partition(|(i, _)| (i + 1) % 5 == 0);
    let strip =
        |v: Vec<(usize, tinyunet::data::folder::Pair)>| v.into_iter().map(|(_, p)| p).collect();
    Some((strip(train), strip(val)))
}
