//! Unit tests of the `.pth` reader: shared helpers, and the files it must read. Its error messages
//! are tested in `errors`, hostile and corrupt input in `hostile`; `writers` builds test archives.

mod errors;
mod hostile;
mod writers;

use super::*;
use crate::weights::safetensors_io::read_safetensors;
use crate::weights::tensor_set::TensorValues;
use crate::weights::test_files::{assert_mentions, error_text, fixture, reference};
use writers::{SIX, archive_with, entries_of, one_tensor_pickle, zip_of};

/// The error text of a read that must fail.
fn error_of(bytes: &[u8]) -> String {
    error_text(read_pth(bytes))
}

/// Reading fails with a message that contains every one of `parts`.
fn assert_error(bytes: &[u8], parts: &[&str]) {
    assert_mentions(&error_of(bytes), parts);
}

fn floats(set: &TensorSet, name: &str) -> (Vec<usize>, Vec<f32>) {
    match &set[name] {
        NamedTensor {
            shape,
            values: TensorValues::Float(v),
        } => (shape.clone(), v.clone()),
        other => panic!("{name}: {other:?}"),
    }
}

fn ints(set: &TensorSet, name: &str) -> (Vec<usize>, Vec<i64>) {
    match &set[name] {
        NamedTensor {
            shape,
            values: TensorValues::Int(v),
        } => (shape.clone(), v.clone()),
        other => panic!("{name}: {other:?}"),
    }
}

// --- real files ---------------------------------------------------------------------------

#[test]
fn shared_fixture_pth_matches_safetensors() {
    let pth = read_pth(&reference("tinyunet_c1_s1_64x64.weights.pth")).expect("pth");
    let st = read_safetensors(&reference("tinyunet_c1_s1_64x64.weights.safetensors")).expect("st");
    assert_eq!(pth.len(), 434);
    assert_eq!(pth, st);
    let counters: Vec<_> = pth
        .keys()
        .filter(|k| k.ends_with("num_batches_tracked"))
        .collect();
    assert!(!counters.is_empty());
    for key in counters {
        assert_eq!(ints(&pth, key), (vec![], vec![7]), "{key}");
    }
    let (shape, values) = floats(&pth, "encoder1.cmrf.pwconv1.conv.weight");
    assert_eq!(shape, [8, 3, 1, 1]);
    assert_eq!(values.len(), 24);
}

#[test]
fn small_fixture_every_dtype_and_layout() {
    let expected = read_safetensors(&fixture("small.safetensors")).expect("safetensors");
    for file in ["small_p2.pth", "small_p5.pth"] {
        let set = read_pth(&fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(set, expected, "{file}");
    }
    // Independent of the safetensors reader: values as make_weights_fixtures.py wrote them.
    let set = read_pth(&fixture("small_p2.pth")).expect("pth");
    assert_eq!(
        floats(&set, "f32"),
        (vec![2, 3], vec![1.0, -2.5, 3.25, 0.0, 1e-3, -7.0])
    );
    assert_eq!(floats(&set, "f16"), (vec![3], vec![1.5, -2.0, 65504.0]));
    assert_eq!(floats(&set, "bf16").1[..2], [1.5, -2.0]);
    assert_eq!(floats(&set, "f64").1, [0.1, f32::NEG_INFINITY, 2.0]);
    assert_eq!(ints(&set, "i64").1, [-(1 << 62), 0, 1 << 40]);
    assert_eq!(ints(&set, "i32").1, [-5, 7]);
    assert_eq!(ints(&set, "i16").1, [-300, 300]);
    assert_eq!(ints(&set, "i8").1, [-128, 127]);
    assert_eq!(ints(&set, "u8").1, [0, 255]);
    assert_eq!(ints(&set, "u16").1, [1, 65535]); // _rebuild_tensor_v3 + UntypedStorage
    assert_eq!(ints(&set, "bool").1, [1, 0, 1]);
    // base = arange(12).reshape(3, 4) * 0.5 - 1; "transposed" = base.t() (stride (1, 4)).
    let base: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 1.0).collect();
    let transposed: Vec<f32> = (0..12).map(|i| base[(i % 3) * 4 + i / 3]).collect();
    assert_eq!(floats(&set, "transposed"), (vec![4, 3], transposed));
    assert_eq!(floats(&set, "row1"), (vec![4], base[4..8].to_vec())); // storage offset 4
    assert_eq!(ints(&set, "scalar"), (vec![], vec![7]));
    assert_eq!(floats(&set, "empty"), (vec![0, 3], vec![]));
    assert_eq!(floats(&set, "param"), (vec![2], vec![0.25, 0.5])); // _rebuild_parameter
}

#[test]
fn zip64_records_and_plain_records_read_alike() {
    let original = fixture("small_p2.pth");
    let expected = read_pth(&original).expect("original");
    for zip64 in [false, true] {
        let rebuilt = zip_of(&entries_of(&original), zip64);
        assert_eq!(
            read_pth(&rebuilt).expect("rebuilt"),
            expected,
            "zip64 = {zip64}"
        );
    }
}

#[test]
fn strides_offsets_and_expansion_are_gathered() {
    let read = |offset, size: &[i32], stride: &[i32]| {
        let set = read_pth(&archive_with(
            one_tensor_pickle(6, offset, size, stride, b""),
            &SIX,
        ));
        floats(&set.expect("valid"), "w")
    };
    assert_eq!(read(0, &[2, 3], &[3, 1]), (vec![2, 3], SIX.to_vec()));
    assert_eq!(
        read(0, &[3, 2], &[1, 3]),
        (vec![3, 2], vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0])
    );
    assert_eq!(read(1, &[2], &[2]), (vec![2], vec![1.0, 3.0]));
    assert_eq!(read(5, &[], &[]), (vec![], vec![5.0]));
    assert_eq!(read(2, &[3], &[0]), (vec![3], vec![2.0; 3])); // expand()
    assert_eq!(read(9, &[0, 4], &[4, 1]), (vec![0, 4], vec![])); // empty: offset unused
    // A size-1 dimension's stride is never stepped, however large.
    assert_eq!(
        read(0, &[1, 2], &[i32::MAX, 1]),
        (vec![1, 2], vec![0.0, 1.0])
    );
}
