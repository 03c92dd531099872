//! DICOM in: one CT slice from the bytes of a DICOM Part 10 file, as the grey RGBA image the
//! model takes (Hounsfield units through a display window) and a description without patient
//! data ([`DicomInfo`]).
//!
//! Read: uncompressed little endian, explicit VR (1.2.840.10008.1.2.1) and implicit VR
//! (1.2.840.10008.1.2); baseline JPEG (1.2.840.10008.1.2.4.50) is recognised and its JPEG stream
//! handed out, for the browser (or natively the `image` crate) to decode. Every other transfer
//! syntax is refused with its name and UID; so are multi-frame files, colour images, files
//! without pixel data, truncated files and samples other than 8 or 16 bits.
//!
//! # Why a reader of our own, not dicom-rs
//!
//! The issue asked for a well-kept library first, and we measured dicom-rs 0.10.1 (the current
//! release) for `wasm32-unknown-unknown`. It builds, but it is large for what a slice needs. Both
//! ways were first built alone, as the package's modules are (`opt-level = "s"`, fat LTO,
//! `wasm-opt -Os`), doing the same work (read a file, its image attributes, its pixels, map them
//! through a window) over a baseline holding this crate's error type, `Window` and serde_json
//! (17 KB gzip):
//!
//! | reader | `.wasm` gzip | added to the baseline |
//! |---|---|---|
//! | `dicom-object` (`from_reader`, `element`, `to_int`, `fragments`) | 278 KB | **+261 KB** |
//! | `dicom-parser`'s token reader alone (no object, no meta group) | 256 KB | about +240 KB |
//! | this module | 34 KB | **+17 KB** |
//!
//! In the package's real CPU module (`./build.sh pkg`'s build, `wasm-opt -O3`) this module and
//! `readDicom` take it from 673 KB to 687 KB gzip: **+14.5 KB, 2 %**; dicom-rs would add about
//! 40 % to it, for a feature most pages never use. Most of dicom-rs's weight is data that cannot be
//! left out: 378 KB raw of the whole DICOM dictionary and the `encoding` crate's Chinese, Japanese
//! and Korean tables, which `dicom-encoding` always links for Specific Character Set. One slice
//! needs a dozen numeric attributes and the pixel data, and no text decoding at all. dicom-rs as
//! the tests' reference (a dev-dependency) was tried too and dropped: its features unify into the
//! test build and rebuilt burn; `tests/dicom.rs` checks this reader against the values pydicom
//! reads from the same files instead.
//!
//! A JavaScript parser (e.g. cornerstone's `dicom-parser`) would be small too, but the CLI needs
//! the same reading natively; one reader in the core serves both, and the tests check it once.
//!
//! # Patient data
//!
//! Only the attributes in `info::WANTED` (image geometry, rescale, window, modality) are ever
//! decoded; everything else is stepped over by its length, so no name, ID or date can reach a
//! [`DicomInfo`] or an error message. Code strings that are shown (modality, photometric
//! interpretation, the transfer syntax UID) are shown only when they look like codes.

mod info;
#[cfg(all(feature = "cli", not(target_arch = "wasm32")))]
mod native;
mod parse;
mod pixels;
mod syntax;

pub use info::DicomInfo;
#[cfg(all(feature = "cli", not(target_arch = "wasm32")))]
pub use native::decode;
pub use parse::is_dicom;

use crate::data::image::RgbaImage;
use crate::data::window::Window;
use crate::error::{Error, Result};
use parse::PixelData;

/// The pixels of a slice as the file holds them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DicomPixels {
    /// Native samples, little endian, Bits Allocated each: exactly one frame.
    Native(Vec<u8>),
    /// A baseline JPEG stream (its fragments joined), to be decoded to 8-bit grey and passed to
    /// [`DicomSlice::from_decoded`].
    Jpeg(Vec<u8>),
}

/// One slice read from a DICOM file: its description and its pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct DicomSlice {
    /// What the header says (no patient data).
    pub info: DicomInfo,
    /// The pixel data.
    pub pixels: DicomPixels,
}

/// Reads one slice from the bytes of a DICOM Part 10 file; errors say what is wrong with the file
/// and never quote the patient's data.
pub fn read(bytes: &[u8]) -> Result<DicomSlice> {
    let parsed = parse::parse(bytes, &info::WANTED)?;
    let info = info::describe(&parsed)?;
    let pixels = match parsed.pixels {
        Some(PixelData::Native(bytes)) => DicomPixels::Native(bytes[..info.frame_bytes()].to_vec()),
        Some(PixelData::Fragments(fragments)) => {
            let jpeg = fragments.concat();
            // Every JPEG stream starts with SOI (FF D8); anything else would fail later, less
            // clearly, in a decoder.
            if !jpeg.starts_with(&[0xFF, 0xD8]) {
                return Err(Error::input(
                    "the DICOM file's JPEG pixel data do not start with a JPEG marker: corrupt",
                ));
            }
            DicomPixels::Jpeg(jpeg)
        }
        // `describe` has refused a file without pixel data already.
        None => return Err(Error::input("the DICOM file is not an image")),
    };
    Ok(DicomSlice { info, pixels })
}

impl DicomSlice {
    /// The slice as a grey RGBA image at its own size, through `window`. A baseline JPEG slice
    /// must be decoded first ([`DicomSlice::from_decoded`]).
    pub fn to_rgba(&self, window: Window) -> Result<RgbaImage> {
        match &self.pixels {
            DicomPixels::Native(bytes) => pixels::native_to_rgba(&self.info, bytes, &window),
            DicomPixels::Jpeg(_) => Err(Error::input(
                "the DICOM slice is JPEG-compressed: decode its JPEG stream first",
            )),
        }
    }

    /// The slice from its JPEG stream decoded elsewhere (`decoded`: RGBA, grey), as a grey RGBA
    /// image through `window`: the rescale and window are applied here, as for native pixels.
    pub fn from_decoded(&self, decoded: &RgbaImage, window: Window) -> Result<RgbaImage> {
        pixels::decoded_to_rgba(&self.info, decoded, &window)
    }
}

#[cfg(test)]
mod tests;
