//! The wasm-bindgen surface: translates between JavaScript values and the core, nothing more.
//!
//! Every entry point hands its inputs to the core ([`crate::app`]), which checks them, and returns
//! `Result<_, JsValue>`: a bad image or weights file becomes a JS `Error` with a `kind`, and the
//! module (and its weights) live on.
//! The hand-written wrapper in `pkg/tinyunet.js` decodes images, handles `AbortSignal`s and
//! progress, and is what users import.

mod convert;
mod dicom;
mod heap;
mod segmenter;
#[cfg(feature = "threads")]
mod threads;
mod training;

pub use dicom::read_dicom;
pub use segmenter::{Segmentation, WasmSegmenter, gpu_memory, limits};
#[cfg(feature = "threads")]
use threads::compute;
#[cfg(feature = "threads")]
pub use threads::{pool_threads, run_pool_thread, start_thread_pool, thread_share};

use wasm_bindgen::prelude::*;

/// Runs the core's `work`: here, in the 1-thread builds (the threaded one runs it on its pool,
/// `threads::compute`).
#[cfg(not(feature = "threads"))]
async fn compute<F: Future>(work: F) -> F::Output {
    work.await
}

/// Runs once when the module is instantiated.
#[wasm_bindgen(start)]
pub fn start() {
    // A panic would be a bug; make it readable in the console if one ever happens.
    std::panic::set_hook(Box::new(|info| {
        web_sys_console_error(&format!("tinyunet panicked: {info}"));
    }));
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn web_sys_console_error(message: &str);
}
