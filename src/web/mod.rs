//! The wasm-bindgen surface: translates between JavaScript values and the core, nothing more.
//!
//! Every entry point validates its inputs through the core and returns `Result<_, JsError>`, so a
//! bad image or weights file becomes a JS `Error` and the module (and its weights) live on.
//! The hand-written wrapper in `pkg/tinyunet.js` decodes images, handles `AbortSignal`s and
//! progress, and is what users import.

mod heap;
mod segmenter;
mod training;

pub use segmenter::{Segmentation, WasmSegmenter};

use wasm_bindgen::prelude::*;

/// Turns a core error into a JS `Error` with the same message.
pub(crate) fn js_error(e: crate::Error) -> JsError {
    JsError::new(&e.to_string())
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
