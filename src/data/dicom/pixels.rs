//! Stored samples → Hounsfield units → grey levels: the one place where a slice's rescale and a
//! display window are applied, for native pixels and for a JPEG decoded elsewhere (the browser,
//! or the `image` crate natively) alike.

use super::info::DicomInfo;
use crate::data::image::RgbaImage;
use crate::data::window::Window;
use crate::error::{Error, Result};

impl DicomInfo {
    /// The stored value of one sample, read as an unsigned integer of Bits Allocated bits: its
    /// Bits Stored bits ending at High Bit (other bits may hold overlays), sign-extended when
    /// Pixel Representation says signed.
    pub fn stored_value(&self, sample: u16) -> i32 {
        let bits = self.bits_stored as u32;
        let shift = self.high_bit as u32 + 1 - bits;
        let value = (sample as u32 >> shift) & ((1u32 << bits) - 1);
        if self.signed && value >> (bits - 1) == 1 {
            value as i32 - (1i32 << bits)
        } else {
            value as i32
        }
    }

    /// A sample in Hounsfield units (or the modality's own unit): stored × slope + intercept.
    pub fn hounsfield(&self, sample: u16) -> f64 {
        self.stored_value(sample) as f64 * self.rescale_slope + self.rescale_intercept
    }

    /// The grey level a sample is shown with through `window`, inverted for MONOCHROME1.
    pub fn grey(&self, sample: u16, window: &Window) -> u8 {
        let grey = window.grey(self.hounsfield(sample));
        if self.inverted() { 255 - grey } else { grey }
    }

    /// The grey level of every possible sample value (256 or 65,536 of them), so that a slice
    /// costs one table look-up a pixel.
    fn grey_table(&self, window: &Window) -> Vec<u8> {
        (0..1u32 << self.bits_allocated)
            .map(|sample| self.grey(sample as u16, window))
            .collect()
    }

    /// This description as it applies to 8-bit samples decoded from a baseline JPEG (always 8
    /// bits, whatever the header allocated).
    fn as_decoded_jpeg(&self) -> DicomInfo {
        let bits_stored = self.bits_stored.min(8);
        DicomInfo {
            bits_allocated: 8,
            bits_stored,
            high_bit: bits_stored - 1,
            ..self.clone()
        }
    }
}

/// Native little-endian samples (one frame, or more bytes: the rest is ignored) as a grey RGBA
/// image through `window`.
pub fn native_to_rgba(info: &DicomInfo, bytes: &[u8], window: &Window) -> Result<RgbaImage> {
    window.check()?;
    let pixels = info.rows as usize * info.columns as usize;
    let table = info.grey_table(window);
    let mut data = Vec::with_capacity(pixels * 4);
    let mut push = |grey: u8| data.extend_from_slice(&[grey, grey, grey, 255]);
    match info.bits_allocated {
        8 => bytes
            .iter()
            .take(pixels)
            .for_each(|&s| push(table[s as usize])),
        _ => bytes
            .chunks_exact(2)
            .take(pixels)
            .for_each(|s| push(table[u16::from_le_bytes([s[0], s[1]]) as usize])),
    }
    RgbaImage::new(info.columns, info.rows, data, "the DICOM image")
}

/// A baseline JPEG frame decoded to RGBA elsewhere (grey: R = G = B) as a grey RGBA image
/// through `window`, after checking that it has the header's size.
pub fn decoded_to_rgba(
    info: &DicomInfo,
    decoded: &RgbaImage,
    window: &Window,
) -> Result<RgbaImage> {
    window.check()?;
    if (decoded.width, decoded.height) != (info.columns, info.rows) {
        return Err(Error::input(format!(
            "the DICOM file's JPEG frame is {}×{} but its header says {}×{}",
            decoded.width, decoded.height, info.columns, info.rows
        )));
    }
    let table = info.as_decoded_jpeg().grey_table(window);
    let data = decoded
        .data
        .chunks_exact(4)
        .flat_map(|px| {
            let grey = table[px[0] as usize];
            [grey, grey, grey, 255]
        })
        .collect();
    RgbaImage::new(info.columns, info.rows, data, "the DICOM image")
}
