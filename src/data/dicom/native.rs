//! DICOM files for the command-line tool: the whole way from bytes to the model's RGBA image,
//! with the `image` crate decoding baseline JPEG slices (the browser's own decoder does that in
//! the package).

use super::{DicomInfo, DicomPixels, read};
use crate::data::image::{RgbaImage, check_dimensions};
use crate::data::window::Window;
use crate::error::{Error, Result};

/// A DICOM slice as a grey RGBA image at its own size through `window`, and its description.
pub fn decode(bytes: &[u8], window: Window) -> Result<(RgbaImage, DicomInfo)> {
    let slice = read(bytes)?;
    let image = match &slice.pixels {
        DicomPixels::Native(_) => slice.to_rgba(window)?,
        DicomPixels::Jpeg(jpeg) => slice.from_decoded(&decode_jpeg(jpeg)?, window)?,
    };
    Ok((image, slice.info))
}

/// A JPEG stream decoded to RGBA, its size checked before its pixels are.
fn decode_jpeg(jpeg: &[u8]) -> Result<RgbaImage> {
    let what = "the DICOM file's JPEG pixel data";
    let corrupt = |e: image::ImageError| Error::input(format!("{what} are corrupt ({e})"));
    let reader =
        image::ImageReader::with_format(std::io::Cursor::new(jpeg), image::ImageFormat::Jpeg);
    let (width, height) = reader.into_dimensions().map_err(corrupt)?;
    check_dimensions(width, height, what)?;
    let decoded = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
        .map_err(corrupt)?
        .to_rgba8();
    RgbaImage::new(decoded.width(), decoded.height(), decoded.into_raw(), what)
}
