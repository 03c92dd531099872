//! The parsing details, on files built byte by byte (tests/dicom.rs reads real and generated
//! slices end to end, and pydicom's test files).

use super::parse::{PixelData, parse, tag};
use super::*;

const EXPLICIT: &str = "1.2.840.10008.1.2.1";
const IMPLICIT: &str = "1.2.840.10008.1.2";
const JPEG: &str = "1.2.840.10008.1.2.4.50";
const NAME: &[u8] = b"Doe^Jane";

/// Writes data elements in one encoding.
struct Writer {
    explicit: bool,
    out: Vec<u8>,
}

impl Writer {
    fn header(&mut self, group: u16, element: u16, vr: &[u8; 2], length: u32) -> &mut Self {
        self.out.extend(group.to_le_bytes());
        self.out.extend(element.to_le_bytes());
        let long = matches!(vr, b"OB" | b"OW" | b"SQ" | b"UN" | b"UT");
        if group == 0xFFFE || !self.explicit {
            self.out.extend(length.to_le_bytes());
        } else if long {
            self.out.extend(vr);
            self.out.extend([0, 0]);
            self.out.extend(length.to_le_bytes());
        } else {
            self.out.extend(vr);
            self.out.extend((length as u16).to_le_bytes());
        }
        self
    }

    /// An element, its value padded to an even length.
    fn el(&mut self, group: u16, element: u16, vr: &[u8; 2], value: &[u8]) -> &mut Self {
        let mut value = value.to_vec();
        if value.len() % 2 == 1 {
            value.push(if vr == b"UI" || vr == b"OB" { 0 } else { b' ' });
        }
        self.header(group, element, vr, value.len() as u32);
        self.out.extend(value);
        self
    }

    fn us(&mut self, element: u16, value: u16) -> &mut Self {
        self.el(0x0028, element, b"US", &value.to_le_bytes())
    }
}

/// A Part 10 file in transfer syntax `uid`, its data set written by `body`.
fn file(uid: &str, body: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut meta = Writer {
        explicit: true,
        out: Vec::new(),
    };
    meta.el(0x0002, 0x0001, b"OB", &[0, 1])
        .el(0x0002, 0x0010, b"UI", uid.as_bytes());
    // The meta group is explicit VR whatever the data set's encoding.
    let mut w = Writer {
        explicit: true,
        out: vec![0; 128],
    };
    w.out.extend(b"DICM");
    w.el(
        0x0002,
        0x0000,
        b"UL",
        &(meta.out.len() as u32).to_le_bytes(),
    );
    w.out.extend(meta.out);
    w.explicit = uid != IMPLICIT;
    body(&mut w);
    w.out
}

/// The image attributes of a `rows`×`columns` 16-bit slice, with the patient's name before them.
fn image_header(w: &mut Writer, rows: u16, columns: u16) {
    w.el(0x0008, 0x0060, b"CS", b"CT")
        .el(0x0010, 0x0010, b"PN", NAME)
        .us(0x0002, 1)
        .el(0x0028, 0x0004, b"CS", b"MONOCHROME2")
        .us(0x0010, rows)
        .us(0x0011, columns)
        .us(0x0100, 16)
        .us(0x0101, 16)
        .us(0x0102, 15)
        .us(0x0103, 1)
        .el(0x0028, 0x1052, b"DS", b"-1024")
        .el(0x0028, 0x1053, b"DS", b"1");
}

fn samples(values: &[i16]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A 2×2 slice of stored values 0, 1024, 2048, −1024 (HU −1024, 0, 1024, −2048).
fn small(uid: &str) -> Vec<u8> {
    file(uid, |w| {
        image_header(w, 2, 2);
        w.el(0x7FE0, 0x0010, b"OW", &samples(&[0, 1024, 2048, -1024]));
    })
}

fn message(bytes: &[u8]) -> String {
    let e = read(bytes).unwrap_err().to_string();
    assert!(
        !e.contains("Doe") && !e.contains("Jane"),
        "patient data in: {e}"
    );
    e
}

#[test]
fn recognises_the_preamble_and_magic() {
    assert!(is_dicom(&small(EXPLICIT)));
    assert!(!is_dicom(b"\x89PNG\r\n\x1a\n"));
    assert!(!is_dicom(&[0; 200]));
    assert!(message(&[0; 200]).contains("not a DICOM file"));
}

#[test]
fn reads_explicit_and_implicit_vr_alike() {
    for uid in [EXPLICIT, IMPLICIT] {
        let slice = read(&small(uid)).unwrap();
        let info = &slice.info;
        assert_eq!((info.rows, info.columns), (2, 2));
        assert_eq!(info.transfer_syntax_uid, uid);
        assert_eq!(info.modality.as_deref(), Some("CT"));
        assert!(info.signed);
        assert_eq!(
            slice.pixels,
            DicomPixels::Native(samples(&[0, 1024, 2048, -1024]))
        );
        let hu: Vec<f64> = [0u16, 1024, 2048, (-1024i16) as u16]
            .iter()
            .map(|&s| info.hounsfield(s))
            .collect();
        assert_eq!(hu, [-1024.0, 0.0, 1024.0, -2048.0], "{uid}");
        let rgba = slice.to_rgba(Window::new(0.0, 2048.0).unwrap()).unwrap();
        let grey: Vec<u8> = rgba.data.chunks(4).map(|p| p[0]).collect();
        assert_eq!(grey, [0, 128, 255, 0]);
        assert!(
            rgba.data
                .chunks(4)
                .all(|p| p[0] == p[1] && p[1] == p[2] && p[3] == 255)
        );
    }
}

#[test]
fn steps_over_nested_sequences_of_undefined_length_and_un_sequences() {
    let bytes = file(EXPLICIT, |w| {
        // A sequence of undefined length whose item nests another, each holding the name.
        w.header(0x0008, 0x1140, b"SQ", 0xFFFF_FFFF)
            .header(0xFFFE, 0xE000, b"  ", 0xFFFF_FFFF)
            .el(0x0010, 0x0010, b"PN", NAME)
            .header(0x0008, 0x1150, b"SQ", 0xFFFF_FFFF)
            .header(0xFFFE, 0xE000, b"  ", 0xFFFF_FFFF)
            .header(0xFFFE, 0xE00D, b"  ", 0)
            .header(0xFFFE, 0xE0DD, b"  ", 0)
            .header(0xFFFE, 0xE00D, b"  ", 0)
            .header(0xFFFE, 0xE000, b"  ", 10)
            .el(0x0010, 0x0010, b"PN", b"X");
        w.header(0xFFFE, 0xE0DD, b"  ", 0);
        // A private UN element of undefined length: an implicit VR sequence inside (PS3.5 6.2.2).
        w.header(0x0009, 0x1010, b"UN", 0xFFFF_FFFF)
            .header(0xFFFE, 0xE000, b"  ", 0xFFFF_FFFF);
        w.out.extend([0x10, 0, 0x10, 0, 8, 0, 0, 0]);
        w.out.extend(NAME);
        w.header(0xFFFE, 0xE00D, b"  ", 0)
            .header(0xFFFE, 0xE0DD, b"  ", 0);
        image_header(w, 1, 1);
        w.el(0x7FE0, 0x0010, b"OW", &samples(&[7]));
    });
    let slice = read(&bytes).unwrap();
    assert_eq!(slice.pixels, DicomPixels::Native(samples(&[7])));
}

#[test]
fn refuses_sequences_nested_too_deep_without_overflowing_the_stack() {
    let bytes = file(EXPLICIT, |w| {
        for _ in 0..10_000 {
            w.header(0x0008, 0x1140, b"SQ", 0xFFFF_FFFF)
                .header(0xFFFE, 0xE000, b"  ", 0xFFFF_FFFF);
        }
    });
    assert!(message(&bytes).contains("nests sequences more than 32 deep"));
}

#[test]
fn hands_out_the_fragments_of_encapsulated_jpeg_after_the_offset_table() {
    let bytes = file(JPEG, |w| {
        image_header(w, 1, 1);
        w.header(0x7FE0, 0x0010, b"OB", 0xFFFF_FFFF)
            .el(0xFFFE, 0xE000, b"  ", &[0, 0, 0, 0])
            .el(0xFFFE, 0xE000, b"  ", &[0xFF, 0xD8, 1, 2])
            .el(0xFFFE, 0xE000, b"  ", &[3, 4])
            .header(0xFFFE, 0xE0DD, b"  ", 0);
    });
    let parsed = parse(&bytes, &[]).unwrap();
    assert_eq!(
        parsed.pixels,
        Some(PixelData::Fragments(vec![
            &[0xFF, 0xD8, 1, 2][..],
            &[3, 4][..]
        ]))
    );
    let slice = read(&bytes).unwrap();
    assert_eq!(
        slice.pixels,
        DicomPixels::Jpeg(vec![0xFF, 0xD8, 1, 2, 3, 4])
    );
    assert!(slice.to_rgba(Window::LUNG).is_err());
    assert_eq!(slice.info.transfer_syntax, "JPEG Baseline (Process 1)");
}

#[test]
fn truncated_files_say_so_wherever_they_end() {
    let whole = small(EXPLICIT);
    for cut in [140, 200, whole.len() - 9, whole.len() - 1] {
        let e = message(&whole[..cut]);
        assert!(e.contains("truncated"), "cut at {cut}: {e}");
    }
    let e = message(&whole[..whole.len() - 1]);
    assert!(
        e.contains("Pixel Data element (7FE0,0010) (7 of 8 bytes present)"),
        "{e}"
    );
}

#[test]
fn a_file_without_pixel_data_is_not_an_image() {
    let bytes = file(EXPLICIT, |w| {
        w.el(0x0008, 0x0060, b"CS", b"SR")
            .el(0x0010, 0x0010, b"PN", NAME);
    });
    let e = message(&bytes);
    assert!(e.contains("(SR) is not an image"), "{e}");
}

#[test]
fn refuses_what_is_not_one_grey_frame_of_8_or_16_bits() {
    let frames = file(EXPLICIT, |w| {
        w.el(0x0028, 0x0008, b"IS", b"3");
        image_header(w, 1, 1);
        w.el(0x7FE0, 0x0010, b"OW", &[0; 6]);
    });
    assert!(message(&frames).contains("holds 3 frames"));
    let rgb = file(EXPLICIT, |w| {
        w.us(0x0002, 3)
            .el(0x0028, 0x0004, b"CS", b"RGB")
            .us(0x0010, 1)
            .us(0x0011, 1)
            .us(0x0100, 8);
        w.el(0x7FE0, 0x0010, b"OB", &[0; 4]);
    });
    assert!(message(&rgb).contains("in colour (RGB, 3 sample(s) per pixel)"));
    let wide = file(EXPLICIT, |w| {
        w.us(0x0010, 1).us(0x0011, 1).us(0x0100, 32);
        w.el(0x7FE0, 0x0010, b"OB", &[0; 4]);
    });
    assert!(message(&wide).contains("stores 32 bits per sample"));
    let short = file(EXPLICIT, |w| {
        image_header(w, 1, 1);
        w.el(0x7FE0, 0x0010, b"OW", &[]);
    });
    assert!(message(&short).contains("pixel data are short"));
    let flat = file(EXPLICIT, |w| {
        w.us(0x0010, 1)
            .us(0x0011, 1)
            .us(0x0100, 16)
            .el(0x0028, 0x1053, b"DS", b"0");
        w.el(0x7FE0, 0x0010, b"OW", &[0; 2]);
    });
    assert!(message(&flat).contains("Rescale Slope (0028,1053) is 0"));
    let compressed = small("1.2.840.10008.1.2.4.91");
    assert!(message(&compressed).contains("JPEG 2000 Image Compression (1.2.840.10008.1.2.4.91)"));
}

#[test]
fn stored_values_honour_bits_stored_high_bit_and_sign() {
    let mut info = read(&small(EXPLICIT)).unwrap().info;
    (info.bits_stored, info.high_bit, info.signed) = (12, 11, true);
    // Overlay bits above bit 11 are ignored; bit 11 is the sign.
    assert_eq!(info.stored_value(0xF7FF), 2047);
    assert_eq!(info.stored_value(0x0800), -2048);
    assert_eq!(info.stored_value(0xFFFF), -1);
    info.signed = false;
    assert_eq!(info.stored_value(0xFFFF), 4095);
    // A value stored in the high bits (High Bit 15, Bits Stored 12).
    info.high_bit = 15;
    assert_eq!(info.stored_value(0xABC0), 0xABC);
}

#[test]
fn monochrome1_shows_low_values_bright() {
    let bytes = file(EXPLICIT, |w| {
        w.el(0x0028, 0x0004, b"CS", b"MONOCHROME1")
            .us(0x0010, 1)
            .us(0x0011, 2)
            .us(0x0100, 8)
            .el(0x7FE0, 0x0010, b"OB", &[0, 255]);
    });
    let slice = read(&bytes).unwrap();
    assert!(slice.info.inverted());
    let rgba = slice.to_rgba(Window::new(127.5, 255.0).unwrap()).unwrap();
    assert_eq!((rgba.data[0], rgba.data[4]), (255, 0));
}

#[test]
fn the_description_keeps_the_slice_window_and_spacing_and_no_patient_data() {
    let bytes = file(IMPLICIT, |w| {
        image_header(w, 1, 1);
        w.el(0x0028, 0x0030, b"DS", b"0.7\\0.8")
            .el(0x0028, 0x1050, b"DS", b"-600\\40")
            .el(0x0028, 0x1051, b"DS", b"1500\\400")
            .el(0x7FE0, 0x0010, b"OW", &[0; 2]);
    });
    let info = read(&bytes).unwrap().info;
    assert_eq!(info.slice_window, Some(Window::LUNG));
    assert_eq!(info.pixel_spacing, Some([0.7, 0.8]));
    assert_eq!(info.transfer_syntax, "Implicit VR Little Endian");
    let json = serde_json::to_string(&info).unwrap();
    assert!(!json.contains("Doe"), "{json}");
    assert!(
        json.contains("\"sliceWindow\":{\"center\":-600.0,\"width\":1500.0}"),
        "{json}"
    );
    assert_eq!(tag(0x7FE0, 0x0010), 0x7FE0_0010);
}
