//! JavaScript values to core types and back: images as `{ data, width, height }` objects (what
//! the package's `decodeImage` and the web's `ImageData` hold), options through
//! `serde-wasm-bindgen`, results as plain objects, and errors as `Error`s with a `kind`.

use js_sys::{Reflect, Uint8Array, Uint8ClampedArray};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::data::image::RgbaImage;
use crate::{Error, Result};

/// A core error as a JavaScript `Error` with the same message and its category in `kind`
/// (`weights`, `input`, `config`, `backend` or `io`), for programs to branch on.
pub(crate) fn js_error(e: Error) -> JsValue {
    let error = js_sys::Error::new(&e.to_string());
    // Setting a property on a fresh Error object cannot fail.
    let _ = Reflect::set(&error, &"kind".into(), &e.kind().into());
    error.into()
}

/// An RGBA image from a `{ data, width, height }` object; `what` names it in errors.
pub(crate) fn rgba_image(value: &JsValue, what: &str) -> Result<RgbaImage> {
    let field = |name: &str| Reflect::get(value, &name.into()).unwrap_or(JsValue::UNDEFINED);
    let side = |name: &str| {
        field(name)
            .as_f64()
            .filter(|v| v.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(v))
            .map(|v| v as u32)
    };
    let data = field("data");
    let bytes = if let Some(view) = data.dyn_ref::<Uint8Array>() {
        Some(view.to_vec())
    } else {
        data.dyn_ref::<Uint8ClampedArray>().map(|c| c.to_vec())
    };
    match (bytes, side("width"), side("height")) {
        (Some(bytes), Some(width), Some(height)) => RgbaImage::new(width, height, bytes, what),
        _ => Err(Error::input(format!(
            "{what}: expected RGBA pixels as {{ data: Uint8Array, width, height }}"
        ))),
    }
}

/// Options from a JavaScript object (`undefined`/`null`: all defaults); `what` names them in the
/// error when they do not fit (an unknown key, a string for a number).
pub(crate) fn options<T: DeserializeOwned + Default>(value: JsValue, what: &str) -> Result<T> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    // Through a JSON value: serde-wasm-bindgen reads only a struct's own fields from an object,
    // so a misspelt key would pass unseen; serde_json sees every key and refuses unknown ones.
    let fail = |e: &dyn std::fmt::Display| Error::config(format!("{what}: {e}"));
    let json: serde_json::Value = serde_wasm_bindgen::from_value(value).map_err(|e| fail(&e))?;
    serde_json::from_value(json).map_err(|e| fail(&e))
}

/// A result as a plain JavaScript object (camelCase fields, maps as objects).
pub(crate) fn to_js<T: Serialize>(value: &T) -> Result<JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| Error::Backend(format!("a result could not be handed over: {e}")))
}
