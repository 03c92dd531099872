//! What a slice's header says about its pixels, checked, as [`DicomInfo`]: the only header values
//! tinyunet keeps. It reads a fixed list of image attributes and nothing else, so the patient's
//! name, ID, birth date or any other identifying element never reaches a result or a message.

use serde::Serialize;

use super::parse::{PIXEL_DATA, Parsed, PixelData, Tag, tag, tag_name, text};
use super::syntax::{self, Syntax};
use crate::data::image::check_dimensions;
use crate::data::window::Window;
use crate::error::{Error, Result};

const MODALITY: Tag = tag(0x0008, 0x0060);
const SAMPLES_PER_PIXEL: Tag = tag(0x0028, 0x0002);
const PHOTOMETRIC: Tag = tag(0x0028, 0x0004);
const NUMBER_OF_FRAMES: Tag = tag(0x0028, 0x0008);
const ROWS: Tag = tag(0x0028, 0x0010);
const COLUMNS: Tag = tag(0x0028, 0x0011);
const PIXEL_SPACING: Tag = tag(0x0028, 0x0030);
const BITS_ALLOCATED: Tag = tag(0x0028, 0x0100);
const BITS_STORED: Tag = tag(0x0028, 0x0101);
const HIGH_BIT: Tag = tag(0x0028, 0x0102);
const PIXEL_REPRESENTATION: Tag = tag(0x0028, 0x0103);
const WINDOW_CENTER: Tag = tag(0x0028, 0x1050);
const WINDOW_WIDTH: Tag = tag(0x0028, 0x1051);
const RESCALE_INTERCEPT: Tag = tag(0x0028, 0x1052);
const RESCALE_SLOPE: Tag = tag(0x0028, 0x1053);

/// The attributes [`describe`] reads: all of them image attributes, none about the patient.
pub const WANTED: [Tag; 15] = [
    MODALITY,
    SAMPLES_PER_PIXEL,
    PHOTOMETRIC,
    NUMBER_OF_FRAMES,
    ROWS,
    COLUMNS,
    PIXEL_SPACING,
    BITS_ALLOCATED,
    BITS_STORED,
    HIGH_BIT,
    PIXEL_REPRESENTATION,
    WINDOW_CENTER,
    WINDOW_WIDTH,
    RESCALE_INTERCEPT,
    RESCALE_SLOPE,
];

/// A DICOM slice's description for a user interface: image geometry, encoding and the values
/// that turn stored pixels into Hounsfield units. It holds no patient data (camelCase in
/// JavaScript).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DicomInfo {
    /// Height in pixels (Rows).
    pub rows: u32,
    /// Width in pixels (Columns).
    pub columns: u32,
    /// Modality (`CT`, `MR`…), when the file says and the value is a plain code.
    pub modality: Option<String>,
    /// The transfer syntax's name, e.g. "Explicit VR Little Endian".
    pub transfer_syntax: String,
    /// The transfer syntax UID.
    pub transfer_syntax_uid: String,
    /// `MONOCHROME2` (low values dark) or `MONOCHROME1` (low values bright: shown inverted).
    pub photometric: String,
    /// Bits per stored sample in the file (8 or 16).
    pub bits_allocated: u16,
    /// Bits of each sample that hold the value.
    pub bits_stored: u16,
    /// Index of the value's highest bit in the sample.
    pub high_bit: u16,
    /// Whether stored values are signed (two's complement; Pixel Representation 1).
    pub signed: bool,
    /// Rescale Slope: Hounsfield units = stored × slope + intercept (1 when absent).
    pub rescale_slope: f64,
    /// Rescale Intercept (0 when absent).
    pub rescale_intercept: f64,
    /// The slice's own display window (its first Window Center/Width), when it has one.
    pub slice_window: Option<Window>,
    /// Pixel Spacing in mm: between rows, then between columns.
    pub pixel_spacing: Option<[f64; 2]>,
}

impl DicomInfo {
    /// Whether low values are shown bright (MONOCHROME1), so grey levels are inverted.
    pub fn inverted(&self) -> bool {
        self.photometric == "MONOCHROME1"
    }

    /// Bytes of one frame of native pixels.
    pub fn frame_bytes(&self) -> usize {
        self.rows as usize * self.columns as usize * (self.bits_allocated as usize / 8)
    }
}

/// Checks a parsed file's image attributes and describes them; refuses, with what the file is,
/// anything but one greyscale frame of 8- or 16-bit samples.
pub fn describe(parsed: &Parsed) -> Result<DicomInfo> {
    let modality = parsed.value(MODALITY).map(text).filter(|m| is_code(m));
    let Some(pixels) = &parsed.pixels else {
        let what = modality
            .as_deref()
            .map_or(String::new(), |m| format!(" ({m})"));
        return Err(Error::input(format!(
            "the DICOM file{what} is not an image: it has no Pixel Data element {}",
            tag_name(PIXEL_DATA)
        )));
    };
    let frames = parsed.value(NUMBER_OF_FRAMES).map(text);
    if let Some(frames) = frames.filter(|f| !f.is_empty()) {
        match frames.parse::<u64>() {
            Ok(0 | 1) => {}
            Ok(n) => {
                return Err(Error::input(format!(
                    "the DICOM file holds {n} frames (a multi-frame image); tinyunet reads one \
                     slice per file: export the slice you want as a file of its own"
                )));
            }
            Err(_) => return Err(malformed(NUMBER_OF_FRAMES, "Number of Frames")),
        }
    }
    let photometric = parsed.value(PHOTOMETRIC).map(text).unwrap_or_default();
    let samples = unsigned(parsed, SAMPLES_PER_PIXEL)?.unwrap_or(1);
    if samples != 1 || !matches!(photometric.as_str(), "" | "MONOCHROME1" | "MONOCHROME2") {
        let named = if is_code(&photometric) {
            format!("{photometric}, ")
        } else {
            String::new()
        };
        return Err(Error::input(format!(
            "the DICOM image is in colour ({named}{samples} sample(s) per pixel); tinyunet reads \
             greyscale slices (MONOCHROME1 or MONOCHROME2, one sample per pixel) such as CT"
        )));
    }
    let (Some(rows), Some(columns)) = (unsigned(parsed, ROWS)?, unsigned(parsed, COLUMNS)?) else {
        return Err(Error::input(
            "the DICOM file has pixel data but no Rows or Columns: it is malformed",
        ));
    };
    check_dimensions(columns as u32, rows as u32, "the DICOM image")?;
    let bits_allocated = unsigned(parsed, BITS_ALLOCATED)?.unwrap_or(0);
    if !matches!(bits_allocated, 8 | 16) {
        return Err(Error::input(format!(
            "the DICOM image stores {bits_allocated} bits per sample (Bits Allocated); tinyunet \
             reads 8 or 16"
        )));
    }
    let bits_stored = unsigned(parsed, BITS_STORED)?.unwrap_or(bits_allocated);
    let high_bit = unsigned(parsed, HIGH_BIT)?.unwrap_or(bits_stored.saturating_sub(1));
    if bits_stored == 0 || high_bit >= bits_allocated || high_bit + 1 < bits_stored {
        return Err(Error::input(format!(
            "the DICOM image's bit layout is inconsistent (Bits Allocated {bits_allocated}, Bits \
             Stored {bits_stored}, High Bit {high_bit})"
        )));
    }
    let signed = match unsigned(parsed, PIXEL_REPRESENTATION)?.unwrap_or(0) {
        0 => false,
        1 => true,
        _ => return Err(malformed(PIXEL_REPRESENTATION, "Pixel Representation")),
    };
    let rescale_slope = decimal(parsed, RESCALE_SLOPE, "Rescale Slope")?.unwrap_or(1.0);
    let rescale_intercept = decimal(parsed, RESCALE_INTERCEPT, "Rescale Intercept")?.unwrap_or(0.0);
    if rescale_slope == 0.0 {
        return Err(Error::input(
            "the DICOM file's Rescale Slope (0028,1053) is 0, which maps every pixel to one value",
        ));
    }
    let slice_window = match (
        decimal(parsed, WINDOW_CENTER, "Window Center")
            .ok()
            .flatten(),
        decimal(parsed, WINDOW_WIDTH, "Window Width").ok().flatten(),
    ) {
        (Some(center), Some(width)) => Window::new(center, width).ok(),
        _ => None,
    };
    let pixel_spacing = parsed.value(PIXEL_SPACING).and_then(|v| {
        let parts: Vec<f64> = text(v).split('\\').filter_map(number).collect();
        match parts[..] {
            [r, c] if r > 0.0 && c > 0.0 && r.is_finite() && c.is_finite() => Some([r, c]),
            _ => None,
        }
    });
    let info = DicomInfo {
        rows: rows as u32,
        columns: columns as u32,
        modality,
        transfer_syntax: syntax::name(&parsed.uid).to_string(),
        transfer_syntax_uid: parsed.uid.clone(),
        photometric: if photometric.is_empty() {
            "MONOCHROME2".into()
        } else {
            photometric
        },
        bits_allocated,
        bits_stored,
        high_bit,
        signed,
        rescale_slope,
        rescale_intercept,
        slice_window,
        pixel_spacing,
    };
    check_pixels(&info, pixels, parsed.syntax)?;
    Ok(info)
}

/// Refuses pixel data that cannot hold the frame the header describes.
fn check_pixels(info: &DicomInfo, pixels: &PixelData, syntax: Syntax) -> Result<()> {
    match pixels {
        PixelData::Native(bytes) if bytes.len() < info.frame_bytes() => Err(Error::input(format!(
            "the DICOM file's pixel data are short: {}×{} pixels of {} bits need {} bytes, the \
             file has {} (truncated?)",
            info.columns,
            info.rows,
            info.bits_allocated,
            info.frame_bytes(),
            bytes.len()
        ))),
        PixelData::Fragments(fragments) if fragments.iter().all(|f| f.is_empty()) => {
            Err(Error::input(format!(
                "the DICOM file's {} pixel data are empty",
                syntax::name(syntax.uid())
            )))
        }
        _ => Ok(()),
    }
}

/// A code string that may be shown: upper-case letters, digits, space and underscore, at most 16
/// characters (DICOM's CS), so that a malformed file cannot slip other text into a message.
fn is_code(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 16
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ' || b == b'_')
}

fn malformed(tag: Tag, name: &str) -> Error {
    Error::input(format!(
        "the DICOM file's {name} {} is malformed",
        tag_name(tag)
    ))
}

/// An unsigned short (US): the first value, little endian.
fn unsigned(parsed: &Parsed, tag: Tag) -> Result<Option<u16>> {
    match parsed.value(tag) {
        None | Some([]) => Ok(None),
        Some([a, b, ..]) => Ok(Some(u16::from_le_bytes([*a, *b]))),
        Some(_) => Err(malformed(tag, "image attribute")),
    }
}

/// A decimal string (DS): the first of its values.
fn decimal(parsed: &Parsed, tag: Tag, name: &str) -> Result<Option<f64>> {
    let Some(value) = parsed.value(tag).map(text) else {
        return Ok(None);
    };
    let first = value.split('\\').next().unwrap_or("").trim();
    if first.is_empty() {
        return Ok(None);
    }
    number(first).map(Some).ok_or_else(|| malformed(tag, name))
}

/// The finite number a decimal string (DS: sign, digits, a point, an exponent) writes, or `None`.
///
/// Exact (correctly rounded) for up to 15 significant digits and exponents the digits keep
/// within ±22, which covers every header value we read: the digits make an exact integer, and
/// one multiplication or division by an exact power of ten rounds once (Clinger's fast path).
/// Beyond that it is within a few ulps. Not `str::parse::<f64>`: that brings core's
/// arbitrary-precision parser and its tables (about 17 KB raw) into the browser's module for a
/// dozen header values.
fn number(text: &str) -> Option<f64> {
    let text = text.trim();
    let (negative, text) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (digits, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], text[at + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all = || whole.bytes().chain(fraction.bytes());
    if whole.len() + fraction.len() == 0 || !all().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Digits past the 18th no longer fit the integer; each scales it by ten instead.
    let mut mantissa = 0u64;
    let mut scale = exponent.clamp(-1000, 1000) - fraction.len().min(1000) as i32;
    for b in all() {
        if mantissa < 100_000_000_000_000_000 {
            mantissa = mantissa * 10 + (b - b'0') as u64;
        } else {
            scale += 1;
        }
    }
    let power = 10f64.powi(scale.abs());
    let value = if scale < 0 {
        mantissa as f64 / power
    } else {
        mantissa as f64 * power
    };
    let value = if negative { -value } else { value };
    value.is_finite().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::number;

    #[test]
    fn decimal_strings_read_exactly_as_rust_parses_them() {
        for text in [
            "0",
            "1",
            "-1024",
            "+1",
            "1.",
            ".5",
            "-0.5",
            "0.661468",
            "0.3125",
            "2.260000",
            "10.0000000000000",
            "1500",
            "-600",
            "40",
            "400",
            "0.001",
            "1e3",
            "2.5E-4",
            "007.25",
            "123456789012345",
            "0.1",
            "0.2",
            "0.7",
            "-1350",
            "1.5e+2",
        ] {
            assert_eq!(number(text), Some(text.parse::<f64>().unwrap()), "{text}");
        }
        let long = "3.14159265358979323846264338327950288";
        assert!((number(long).unwrap() - std::f64::consts::PI).abs() < 1e-15);
        for bad in [
            "", "-", ".", "e5", "1e", "1.2.3", "abc", "1,5", "0x10", "1e99999",
        ] {
            assert_eq!(number(bad), None, "{bad:?}");
        }
        assert_eq!(number("1e-99999"), Some(0.0));
    }
}
