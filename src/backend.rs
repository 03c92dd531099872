//! Choosing the compute device. The model code never names a backend: a [`Device`] carries it.

use burn::prelude::*;

use crate::error::{Error, Result};

/// The compute backends tinyunet ships.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// Pure-Rust CPU backend (wasm SIMD in the browser).
    Cpu,
    /// wgpu: WebGPU in the browser, Vulkan/Metal/DX12 natively.
    Wgpu,
}

impl BackendKind {
    /// The name used by the CLI and the JS API (`"cpu"` or `"webgpu"`/`"wgpu"`).
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Wgpu => {
                if cfg!(target_arch = "wasm32") {
                    "webgpu"
                } else {
                    "wgpu"
                }
            }
        }
    }
}

/// The CPU device. This is the one line that picks the CPU backend: burn-flex, which trained
/// twice as fast as burn-ndarray and inferred 1.35× as fast in `tinyunet bench` on this project's
/// machines (README, Benchmarks). `Device::ndarray()`, with burn's `ndarray` feature, is the
/// drop-in alternative.
pub fn cpu_device() -> Device {
    Device::flex()
}

/// Which backend a device belongs to.
pub fn kind_of(device: &Device) -> BackendKind {
    if *device == cpu_device() || *device == cpu_device().autodiff() {
        BackendKind::Cpu
    } else {
        BackendKind::Wgpu
    }
}

/// Opens the default wgpu adapter natively (Vulkan here, via Mesa's lavapipe when there is no GPU).
#[cfg(all(not(target_arch = "wasm32"), feature = "webgpu"))]
pub fn wgpu_device() -> Result<Device> {
    // The runtime can only be initialised once per process; later calls reuse it.
    static DEVICE: std::sync::OnceLock<std::result::Result<Device, String>> =
        std::sync::OnceLock::new();
    DEVICE
        .get_or_init(|| {
            std::panic::catch_unwind(|| Device::wgpu_options().init())
                .map_err(|_| "the wgpu runtime panicked while starting".to_string())
                .and_then(|r| r.map_err(|e| e.to_string()))
        })
        .clone()
        .map_err(|e| Error::Backend(format!("no usable wgpu adapter: {e}")))
}

/// For the tests that also run on wgpu (the unit tests here and the integration tests, which is
/// why it is public): the device, or `None` where there is none, the skip named on stderr — a
/// failure instead when `TINYUNET_REQUIRE_WGPU` is set, as CI sets it, so that CI cannot pass by
/// skipping the GPU half.
#[doc(hidden)]
#[cfg(not(target_arch = "wasm32"))]
pub fn wgpu_device_for_tests() -> Option<Device> {
    match wgpu_device() {
        Ok(device) => Some(device),
        Err(e) if std::env::var_os("TINYUNET_REQUIRE_WGPU").is_some() => {
            panic!("TINYUNET_REQUIRE_WGPU is set but wgpu is unavailable: {e}")
        }
        Err(e) => {
            eprintln!("skipping the wgpu half of this test: {e}");
            None
        }
    }
}

/// Without the `webgpu` feature there is no GPU backend to open.
#[cfg(all(not(target_arch = "wasm32"), not(feature = "webgpu")))]
pub fn wgpu_device() -> Result<Device> {
    Err(no_gpu_backend())
}

// The browser's WebGPU device, once opened: one per module instance.
#[cfg(all(target_arch = "wasm32", feature = "webgpu"))]
thread_local! {
    static DEVICE: std::cell::RefCell<Option<Device>> = const { std::cell::RefCell::new(None) };
}

/// Opens the browser's WebGPU adapter. Must be awaited before any tensor is made on it.
/// The runtime registers once per module instance, so later calls return the same device.
#[cfg(all(target_arch = "wasm32", feature = "webgpu"))]
pub async fn wgpu_device_async() -> Result<Device> {
    if let Some(device) = opened_wgpu_device() {
        return Ok(device);
    }
    let device = Device::wgpu_options()
        .init_async()
        .await
        .map_err(|e| Error::Backend(format!("WebGPU is not available: {e}")))?;
    DEVICE.with(|d| *d.borrow_mut() = Some(device.clone()));
    Ok(device)
}

/// The CPU-only browser module has no WebGPU code: the JS wrapper loads the other module for it.
#[cfg(all(target_arch = "wasm32", not(feature = "webgpu")))]
pub async fn wgpu_device_async() -> Result<Device> {
    Err(no_gpu_backend())
}

/// The WebGPU device [`wgpu_device_async`] opened in this module instance, if it has.
#[cfg(all(target_arch = "wasm32", feature = "webgpu"))]
pub fn opened_wgpu_device() -> Option<Device> {
    DEVICE.with(|d| d.borrow().clone())
}

/// The CPU-only browser module never opens a WebGPU device.
#[cfg(all(target_arch = "wasm32", not(feature = "webgpu")))]
pub fn opened_wgpu_device() -> Option<Device> {
    None
}

#[cfg(not(feature = "webgpu"))]
fn no_gpu_backend() -> Error {
    Error::Backend(
        "this build has no GPU backend (it was built without the `webgpu` feature)".into(),
    )
}

/// A device for a backend name (`cpu`, `wgpu`/`webgpu`), natively.
#[cfg(not(target_arch = "wasm32"))]
pub fn device_by_name(name: &str) -> Result<Device> {
    match name {
        "cpu" => Ok(cpu_device()),

        "wgpu" | "webgpu" | "gpu" => wgpu_device(),
        other => Err(Error::config(format!(
            "unknown backend `{other}`: use `cpu` or `wgpu`"
        ))),
    }
}
