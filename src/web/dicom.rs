//! `readDicom`: a DICOM slice for the package's `decodeImage` (the core's [`crate::data::dicom`]).
//!
//! A native slice comes back as grey RGBA pixels at once. A baseline JPEG slice comes back as its
//! JPEG stream for the browser to decode; the package then calls again with the decoded pixels,
//! and the rescale and window are applied here, so that the arithmetic lives in one place.

use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use super::convert::{js_error, options, rgba_image, to_js};
use crate::Result;
use crate::data::dicom::{self, DicomPixels};
use crate::data::window::Window;

/// Reads one slice from the bytes of a DICOM file. `what` names it in errors; `window`
/// (`{ center, width }` in Hounsfield units; `undefined`: the lung window) maps it to grey;
/// `decoded` is its JPEG stream's pixels (`{ data, width, height }`) on the second call for a
/// JPEG slice. Returns `{ width, height, data, window, dicom }` (pixels: RGBA), or
/// `{ jpeg, dicom }` for a JPEG slice not yet decoded; `dicom` describes the slice without
/// patient data.
#[wasm_bindgen(js_name = readDicom)]
pub fn read_dicom(
    bytes: &[u8],
    what: &str,
    window: JsValue,
    decoded: JsValue,
) -> std::result::Result<JsValue, JsValue> {
    read(bytes, window, decoded).map_err(|e| js_error(e.context(what)))
}

fn read(bytes: &[u8], window: JsValue, decoded: JsValue) -> Result<JsValue> {
    let window = options::<Option<Window>>(window, "window")?.unwrap_or(Window::LUNG);
    window.check()?;
    let slice = dicom::read(bytes)?;
    let out = Object::new();
    let set = |key: &str, value: &JsValue| {
        // Setting a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&out, &key.into(), value);
    };
    let image = match (&slice.pixels, decoded.is_undefined() || decoded.is_null()) {
        (DicomPixels::Jpeg(jpeg), true) => {
            set("jpeg", &Uint8Array::from(&jpeg[..]).into());
            None
        }
        (DicomPixels::Jpeg(_), false) => {
            let decoded = rgba_image(&decoded, "its JPEG pixel data")?;
            Some(slice.from_decoded(&decoded, window)?)
        }
        (DicomPixels::Native(_), _) => Some(slice.to_rgba(window)?),
    };
    if let Some(image) = image {
        set("width", &image.width.into());
        set("height", &image.height.into());
        set("data", &Uint8Array::from(&image.data[..]).into());
        set("window", &to_js(&window)?);
    }
    set("dicom", &to_js(&slice.info)?);
    Ok(out.into())
}
