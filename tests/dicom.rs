//! DICOM in (issue 31, items 5 and 6): CT slices of `../shared/data/medseg-covid-ct` (read only)
//! written here as DICOM files in every encoding tinyunet reads, and pydicom's public test files
//! (`tests/fixtures/dicom`), their values checked against what pydicom 3.0.2 reads from them.
//! Every error and description is checked for the patient data the files carry.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::local_fixture;
use tinyunet::data::dicom::{self, DicomInfo, DicomPixels};
use tinyunet::data::folder::read_image;
use tinyunet::data::window::Window;

/// Patient data the generated files carry (and the pydicom files' sample names).
const PATIENT: [&str; 6] = [
    "Doe^Jane",
    "PAT-123456",
    "19700101",
    "CompressedSamples",
    "1CT1",
    "Lastname",
];

fn assert_no_patient_data(text: &str) {
    for p in PATIENT {
        assert!(!text.contains(p), "patient data {p:?} in: {text}");
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = local_fixture("dicom").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The first `n` CT slices of the shared data set: their JPEG bytes and 8-bit grey pixels; `None`
/// (the test skips, naming the folder) when `../shared/data` lacks it.
fn ct_slices(n: usize) -> Option<Vec<(Vec<u8>, image::GrayImage)>> {
    let dir = common::shared_data("medseg-covid-ct")?.join("images");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let slices = files[..n]
        .iter()
        .map(|f| {
            let jpeg = std::fs::read(f).unwrap();
            let grey = image::load_from_memory(&jpeg).unwrap().to_luma8();
            (jpeg, grey)
        })
        .collect();
    Some(slices)
}

/// How a generated file stores its pixels.
enum Pixels {
    Native(Vec<u8>),
    Fragments(Vec<Vec<u8>>),
}

/// One slice to write as DICOM.
struct Slice {
    uid: &'static str,
    rows: u32,
    columns: u32,
    bits: u16,
    bits_stored: u16,
    signed: bool,
    photometric: &'static str,
    slope: f64,
    intercept: f64,
    frames: Option<u32>,
    pixels: Pixels,
}

const EXPLICIT: &str = "1.2.840.10008.1.2.1";
const IMPLICIT: &str = "1.2.840.10008.1.2";
const JPEG: &str = "1.2.840.10008.1.2.4.50";

/// Appends one element; `vr` is written only in explicit VR (never for items and delimiters).
fn element(out: &mut Vec<u8>, explicit: bool, tag: (u16, u16), vr: &[u8; 2], value: &[u8]) {
    let mut value = value.to_vec();
    if value.len() % 2 == 1 {
        value.push(if vr == b"UI" || vr == b"OB" { 0 } else { b' ' });
    }
    header(out, explicit, tag, vr, value.len() as u32);
    out.extend(value);
}

fn header(out: &mut Vec<u8>, explicit: bool, tag: (u16, u16), vr: &[u8; 2], length: u32) {
    out.extend(tag.0.to_le_bytes());
    out.extend(tag.1.to_le_bytes());
    if !explicit || tag.0 == 0xFFFE {
        out.extend(length.to_le_bytes());
    } else if matches!(vr, b"OB" | b"OW" | b"SQ" | b"UN" | b"UT") {
        out.extend(vr);
        out.extend([0, 0]);
        out.extend(length.to_le_bytes());
    } else {
        out.extend(vr);
        out.extend((length as u16).to_le_bytes());
    }
}

impl Slice {
    /// A DICOM Part 10 file of this slice, with a patient's name, ID and birth date, also
    /// inside a sequence of undefined length, as a scanner writes them.
    fn file(&self) -> Vec<u8> {
        let mut meta = Vec::new();
        element(&mut meta, true, (2, 1), b"OB", &[0, 1]);
        element(&mut meta, true, (2, 2), b"UI", b"1.2.840.10008.5.1.4.1.1.2");
        element(&mut meta, true, (2, 3), b"UI", b"1.2.3.4.5.6.7");
        element(&mut meta, true, (2, 0x10), b"UI", self.uid.as_bytes());
        let mut out = vec![0; 128];
        out.extend(b"DICM");
        element(
            &mut out,
            true,
            (2, 0),
            b"UL",
            &(meta.len() as u32).to_le_bytes(),
        );
        out.extend(meta);
        let x = self.uid != IMPLICIT;
        let ds = |v: f64| format!("{v}").into_bytes();
        element(&mut out, x, (8, 0x16), b"UI", b"1.2.840.10008.5.1.4.1.1.2");
        element(&mut out, x, (8, 0x60), b"CS", b"CT");
        header(&mut out, x, (8, 0x1140), b"SQ", u32::MAX);
        header(&mut out, x, (0xFFFE, 0xE000), b"  ", u32::MAX);
        element(&mut out, x, (0x10, 0x10), b"PN", b"Doe^Jane");
        header(&mut out, x, (0xFFFE, 0xE00D), b"  ", 0);
        header(&mut out, x, (0xFFFE, 0xE0DD), b"  ", 0);
        element(&mut out, x, (0x10, 0x10), b"PN", b"Doe^Jane");
        element(&mut out, x, (0x10, 0x20), b"LO", b"PAT-123456");
        element(&mut out, x, (0x10, 0x30), b"DA", b"19700101");
        let us =
            |out: &mut Vec<u8>, e: u16, v: u16| element(out, x, (0x28, e), b"US", &v.to_le_bytes());
        us(&mut out, 2, 1);
        element(&mut out, x, (0x28, 4), b"CS", self.photometric.as_bytes());
        if let Some(frames) = self.frames {
            element(&mut out, x, (0x28, 8), b"IS", frames.to_string().as_bytes());
        }
        us(&mut out, 0x10, self.rows as u16);
        us(&mut out, 0x11, self.columns as u16);
        element(&mut out, x, (0x28, 0x30), b"DS", b"0.7\\0.7");
        us(&mut out, 0x100, self.bits);
        us(&mut out, 0x101, self.bits_stored);
        us(&mut out, 0x102, self.bits_stored - 1);
        us(&mut out, 0x103, self.signed as u16);
        element(&mut out, x, (0x28, 0x1050), b"DS", b"-600");
        element(&mut out, x, (0x28, 0x1051), b"DS", b"1500");
        element(&mut out, x, (0x28, 0x1052), b"DS", &ds(self.intercept));
        element(&mut out, x, (0x28, 0x1053), b"DS", &ds(self.slope));
        match &self.pixels {
            Pixels::Native(bytes) => {
                let vr = if self.bits == 8 { b"OB" } else { b"OW" };
                element(&mut out, x, (0x7FE0, 0x10), vr, bytes);
            }
            Pixels::Fragments(fragments) => {
                header(&mut out, x, (0x7FE0, 0x10), b"OB", u32::MAX);
                element(&mut out, x, (0xFFFE, 0xE000), b"  ", &[]);
                for f in fragments {
                    element(&mut out, x, (0xFFFE, 0xE000), b"  ", f);
                }
                header(&mut out, x, (0xFFFE, 0xE0DD), b"  ", 0);
            }
        }
        out
    }
}

/// Hounsfield units whose lung-window grey level is `grey` (the inverse of `Window::grey`).
fn lung_hu(grey: u8) -> f64 {
    let w = Window::LUNG;
    w.center - w.width / 2.0 + grey as f64 / 255.0 * w.width
}

/// A CT slice as 16-bit stored values: `stored = round(HU − intercept)`.
fn sixteen_bit(
    grey: &image::GrayImage,
    uid: &'static str,
    signed: bool,
    photometric: &'static str,
) -> Slice {
    // Unsigned values need an intercept below the lowest HU (−1350 in the lung window).
    let intercept = if signed { 0.0 } else { -2048.0 };
    let bytes = grey
        .pixels()
        .flat_map(|p| {
            let stored = (lung_hu(p[0]) - intercept).round();
            if signed {
                (stored as i16).to_le_bytes()
            } else {
                (stored as u16).to_le_bytes()
            }
        })
        .collect();
    Slice {
        uid,
        rows: grey.height(),
        columns: grey.width(),
        bits: 16,
        bits_stored: 16,
        signed,
        photometric,
        slope: 1.0,
        intercept,
        frames: None,
        pixels: Pixels::Native(bytes),
    }
}

fn grey_of(image: &tinyunet::data::image::RgbaImage) -> Vec<u8> {
    assert!(
        image
            .data
            .chunks(4)
            .all(|p| p[0] == p[1] && p[1] == p[2] && p[3] == 255)
    );
    image.data.chunks(4).map(|p| p[0]).collect()
}

fn max_diff(a: &[u8], b: &[u8]) -> u8 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tinyunet-dicom-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// FNV-1a (64 bits) of some bytes: a fingerprint of pixel data to compare with pydicom's.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Reads a generated file and checks that its pixel data are the ones written.
fn read_back(bytes: &[u8], written: &Pixels) -> dicom::DicomSlice {
    let slice = dicom::read(bytes).unwrap();
    match (&slice.pixels, written) {
        (DicomPixels::Native(ours), Pixels::Native(theirs)) => assert_eq!(ours, theirs),
        (DicomPixels::Jpeg(ours), Pixels::Fragments(theirs)) => {
            // Each fragment as written: padded to an even length.
            let padded: Vec<u8> = theirs
                .iter()
                .flat_map(|f| {
                    let mut f = f.clone();
                    f.resize(f.len().next_multiple_of(2), 0);
                    f
                })
                .collect();
            assert_eq!(*ours, padded)
        }
        _ => panic!("pixel data of another kind than written"),
    }
    slice
}

fn info_json(info: &DicomInfo) -> String {
    serde_json::to_string(info).unwrap()
}

#[test]
fn ct_slices_in_explicit_and_implicit_vr_signed_or_not_come_back_through_the_lung_window() {
    let Some(slices) = ct_slices(3) else {
        return;
    };
    for (_, grey) in slices {
        for (uid, signed) in [
            (EXPLICIT, true),
            (EXPLICIT, false),
            (IMPLICIT, true),
            (IMPLICIT, false),
        ] {
            let written = sixteen_bit(&grey, uid, signed, "MONOCHROME2");
            let bytes = written.file();
            let slice = read_back(&bytes, &written.pixels);
            let info = &slice.info;
            assert_eq!((info.columns, info.rows), grey.dimensions());
            assert_eq!(info.signed, signed);
            assert_eq!(info.slice_window, Some(Window::LUNG));
            assert_eq!(info.pixel_spacing, Some([0.7, 0.7]));
            assert_no_patient_data(&info_json(info));
            // Hounsfield units through the rescale: the first pixel's, exactly.
            let DicomPixels::Native(raw) = &slice.pixels else {
                panic!("native")
            };
            let first = u16::from_le_bytes([raw[0], raw[1]]);
            assert_eq!(info.hounsfield(first), lung_hu(grey.as_raw()[0]).round());
            // The lung window gives the slice's grey levels back (rounding to whole HU moves a
            // level by at most one).
            let (image, _) = dicom::decode(&bytes, Window::LUNG).unwrap();
            assert!(
                max_diff(&grey_of(&image), grey.as_raw()) <= 1,
                "{uid} signed={signed}"
            );
            // Another window: the mapping of `Window::grey`.
            let soft = Window::new(40.0, 400.0).unwrap();
            let image = slice.to_rgba(soft).unwrap();
            let expect: Vec<u8> = grey
                .pixels()
                .map(|p| soft.grey(lung_hu(p[0]).round()))
                .collect();
            assert_eq!(grey_of(&image), expect);
        }
    }
}

#[test]
fn monochrome1_and_12_bit_signed_slices_with_overlay_bits() {
    let Some(slices) = ct_slices(1) else {
        return;
    };
    let (_, grey) = slices.into_iter().next().unwrap();
    let mut slice = sixteen_bit(&grey, EXPLICIT, true, "MONOCHROME1");
    // 12 bits stored, the top 4 set as an overlay would: the value must ignore them.
    slice.bits_stored = 12;
    let Pixels::Native(bytes) = &mut slice.pixels else {
        unreachable!()
    };
    for pair in bytes.chunks_mut(2) {
        let v = i16::from_le_bytes([pair[0], pair[1]]);
        let twelve = (v as u16) & 0x0FFF | 0xF000;
        pair.copy_from_slice(&twelve.to_le_bytes());
    }
    let file = slice.file();
    let (image, info) = dicom::decode(&file, Window::LUNG).unwrap();
    assert!(info.inverted() && info.signed && info.bits_stored == 12);
    let inverted: Vec<u8> = grey.as_raw().iter().map(|g| 255 - g).collect();
    assert!(max_diff(&grey_of(&image), &inverted) <= 1);
}

#[test]
fn eight_bit_and_baseline_jpeg_slices_apply_slope_and_intercept() {
    let Some(slices) = ct_slices(2) else {
        return;
    };
    for (jpeg, grey) in slices {
        let (w, h) = grey.dimensions();
        let scaled = |pixels| Slice {
            uid: EXPLICIT,
            rows: h,
            columns: w,
            bits: 8,
            bits_stored: 8,
            signed: false,
            photometric: "MONOCHROME2",
            slope: Window::LUNG.width / 255.0,
            intercept: Window::LUNG.center - Window::LUNG.width / 2.0,
            frames: None,
            pixels,
        };
        let written = scaled(Pixels::Native(grey.as_raw().clone()));
        let native = written.file();
        read_back(&native, &written.pixels);
        let (image, _) = dicom::decode(&native, Window::LUNG).unwrap();
        assert_eq!(grey_of(&image), *grey.as_raw());

        // The slice's own JPEG, in two fragments.
        // Fragments have even lengths: split at an even offset (the last is padded).
        let (a, b) = jpeg.split_at((jpeg.len() / 2) & !1);
        let mut slice = scaled(Pixels::Fragments(vec![a.to_vec(), b.to_vec()]));
        slice.uid = JPEG;
        let file = slice.file();
        let read = read_back(&file, &slice.pixels);
        let DicomPixels::Jpeg(stream) = &read.pixels else {
            panic!("JPEG")
        };
        assert!(stream.starts_with(&jpeg) && stream.len() - jpeg.len() <= 1);
        assert_eq!(read.info.transfer_syntax, "JPEG Baseline (Process 1)");
        let (image, _) = dicom::decode(&file, Window::LUNG).unwrap();
        assert_eq!(grey_of(&image), *grey.as_raw());
    }
}

/// What pydicom 3.0.2 reads from a fixture (`pixel_array`, `RescaleSlope`/`Intercept`): pixel
/// data bytes, their FNV-1a fingerprint, the sum of the stored values, and the HU range and sum.
struct Pydicom {
    file: &'static str,
    bytes: usize,
    fnv1a: u64,
    stored_sum: i64,
    hu: (f64, f64, f64),
}

const PYDICOM: [Pydicom; 2] = [
    Pydicom {
        file: "CT_small.dcm",
        bytes: 32768,
        fnv1a: 0xd312_9fe2_7745_4b08,
        stored_sum: 14_826_310,
        hu: (-896.0, 1167.0, -1_950_906.0),
    },
    Pydicom {
        file: "MR_small_implicit.dcm",
        bytes: 8192,
        fnv1a: 0x5143_3421_a5f7_529a,
        stored_sum: 2_125_338,
        hu: (127.0, 2145.0, 2_125_338.0),
    },
];

#[test]
fn pydicom_files_give_the_values_pydicom_reads_and_no_patient_data() {
    for p in PYDICOM {
        let slice = dicom::read(&fixture(p.file)).unwrap();
        let info = &slice.info;
        assert_no_patient_data(&info_json(info));
        let DicomPixels::Native(raw) = &slice.pixels else {
            panic!("native")
        };
        assert_eq!((raw.len(), fnv1a(raw)), (p.bytes, p.fnv1a), "{}", p.file);
        let samples: Vec<u16> = raw
            .chunks(2)
            .map(|s| u16::from_le_bytes([s[0], s[1]]))
            .collect();
        let stored: i64 = samples.iter().map(|&s| info.stored_value(s) as i64).sum();
        assert_eq!(stored, p.stored_sum, "{}", p.file);
        let hu: Vec<f64> = samples.iter().map(|&s| info.hounsfield(s)).collect();
        let (lo, hi) = hu
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
        assert_eq!((lo, hi, hu.iter().sum::<f64>()), p.hu, "{}", p.file);
        // The window maps each pixel's HU as `Window::grey` does.
        let image = slice.to_rgba(Window::LUNG).unwrap();
        let expect: Vec<u8> = hu.iter().map(|&v| Window::LUNG.grey(v)).collect();
        assert_eq!(grey_of(&image), expect);
    }
    let ct = dicom::read(&fixture("CT_small.dcm")).unwrap().info;
    assert_eq!((ct.rows, ct.columns), (128, 128));
    assert_eq!(ct.modality.as_deref(), Some("CT"));
    assert_eq!(ct.transfer_syntax, "Explicit VR Little Endian");
    assert!(ct.signed);
    assert_eq!((ct.rescale_slope, ct.rescale_intercept), (1.0, -1024.0));
    assert_eq!(ct.pixel_spacing, Some([0.661468, 0.661468]));
    let mr = dicom::read(&fixture("MR_small_implicit.dcm")).unwrap().info;
    assert_eq!(mr.transfer_syntax, "Implicit VR Little Endian");
    assert_eq!((mr.rows, mr.columns), (64, 64));
    assert_eq!(mr.modality.as_deref(), Some("MR"));
    assert_eq!(mr.slice_window, Some(Window::new(600.0, 1600.0).unwrap()));
}

fn refusal(bytes: &[u8]) -> String {
    let e = dicom::read(bytes).unwrap_err();
    assert_eq!(e.kind(), "input");
    let e = e.to_string();
    assert_no_patient_data(&e);
    e
}

#[test]
fn other_transfer_syntaxes_are_refused_by_name_and_uid() {
    for (file, says) in [
        (
            "JPEG2000.dcm",
            "JPEG 2000 Image Compression (1.2.840.10008.1.2.4.91)",
        ),
        ("MR_small_RLE.dcm", "RLE Lossless (1.2.840.10008.1.2.5)"),
        (
            "MR_small_bigendian.dcm",
            "Explicit VR Big Endian (1.2.840.10008.1.2.2)",
        ),
        (
            "image_dfl.dcm",
            "Deflated Explicit VR Little Endian (1.2.840.10008.1.2.1.99)",
        ),
    ] {
        let e = refusal(&fixture(file));
        assert!(
            e.contains(says) && e.contains("not supported"),
            "{file}: {e}"
        );
    }
}

#[test]
fn multi_frame_colour_reports_and_truncated_files_get_clear_errors() {
    for (file, says) in [
        ("rtdose.dcm", "holds 15 frames (a multi-frame image)"),
        ("test-SR.dcm", "(SR) is not an image"),
        ("MR_truncated.dcm", "truncated"),
        (
            "SC_rgb_small_odd.dcm",
            "in colour (RGB, 3 sample(s) per pixel)",
        ),
    ] {
        let e = refusal(&fixture(file));
        assert!(e.contains(says), "{file}: {e}");
    }
    // The checks above need no real slice; a clone without `../shared/data` still runs them.
    let Some(slices) = ct_slices(1) else {
        return;
    };
    let (_, grey) = slices.into_iter().next().unwrap();
    let mut slice = sixteen_bit(&grey, EXPLICIT, true, "MONOCHROME2");
    slice.frames = Some(2);
    assert!(refusal(&slice.file()).contains("holds 2 frames"));
    assert!(refusal(b"not a dicom file at all").contains("not a DICOM file"));
}

#[test]
fn a_file_cut_anywhere_is_an_error_never_a_panic_nor_patient_data() {
    let Some(slices) = ct_slices(1) else {
        return;
    };
    let (_, grey) = slices.into_iter().next().unwrap();
    let whole = sixteen_bit(&grey, IMPLICIT, true, "MONOCHROME2").file();
    for cut in (0..whole.len() - 1).step_by(37) {
        let e = refusal(&whole[..cut]);
        // Cut between two elements, a file simply has no pixel data.
        assert!(
            e.contains("truncated") || e.contains("not an image") || e.contains("not a DICOM file"),
            "cut at {cut}: {e}"
        );
    }
    // Flipped bytes in the header: whatever the reader makes of them, no panic and no name.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..3000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut bytes = whole.clone();
        let at = 132 + (state as usize >> 8) % 400;
        bytes[at] = state as u8;
        match dicom::read(&bytes) {
            Ok(slice) => assert_no_patient_data(&info_json(&slice.info)),
            Err(e) => assert_no_patient_data(&e.to_string()),
        }
    }
}

#[test]
fn read_image_and_predict_take_dicom_files_and_refuse_16_bit_pngs() {
    let Some(slices) = ct_slices(1) else {
        return;
    };
    let (_, grey) = slices.into_iter().next().unwrap();
    let dir = temp_dir("read-image");
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    let bytes = sixteen_bit(&grey, EXPLICIT, true, "MONOCHROME2").file();
    std::fs::write(images.join("slice.dcm"), &bytes).unwrap();
    // By content too: a DICOM file without the extension.
    std::fs::write(dir.join("slice.bin"), &bytes).unwrap();
    for path in [images.join("slice.dcm"), dir.join("slice.bin")] {
        let image = read_image(&path).unwrap();
        assert_eq!((image.width, image.height), grey.dimensions());
        assert!(max_diff(&grey_of(&image), grey.as_raw()) <= 1);
    }
    // An error names the file, and only the file.
    std::fs::write(dir.join("cut.dcm"), &bytes[..bytes.len() / 2]).unwrap();
    let e = read_image(&dir.join("cut.dcm")).unwrap_err().to_string();
    assert!(e.contains("cut.dcm: the DICOM file is truncated"), "{e}");
    assert_no_patient_data(&e);

    let wide = image::ImageBuffer::<image::Luma<u16>, _>::from_fn(8, 8, |x, _| {
        image::Luma([x as u16 * 300])
    });
    wide.save(dir.join("wide.png")).unwrap();
    let e = read_image(&dir.join("wide.png")).unwrap_err().to_string();
    assert!(
        e.contains("wide.png: a 16-bit PNG") && e.contains("8-bit PNG"),
        "{e}"
    );

    let out = dir.join("masks");
    let run = Command::new(env!("CARGO_BIN_EXE_tinyunet"))
        .args([
            "predict",
            "--images",
            images.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "{said}");
    let mask = image::open(out.join("slice_mask.png")).unwrap();
    assert_eq!((mask.width(), mask.height()), grey.dimensions());
    assert_no_patient_data(&said);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs the CLI; its success and everything it said.
fn tinyunet(args: &[&str]) -> (bool, String) {
    let run = Command::new(env!("CARGO_BIN_EXE_tinyunet"))
        .args(args)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    (run.status.success(), said)
}

#[test]
fn predict_and_eval_window_dicom_slices_by_the_model_card_or_the_window_option() {
    let Some(slices) = ct_slices(1) else {
        return;
    };
    let (_, grey) = slices.into_iter().next().unwrap();
    let dir = temp_dir("window");
    let images = dir.join("images");
    let black = dir.join("black");
    let masks = dir.join("masks");
    for d in [&images, &black, &masks] {
        std::fs::create_dir_all(d).unwrap();
    }
    let bytes = sixteen_bit(&grey, EXPLICIT, true, "MONOCHROME2").file();
    std::fs::write(images.join("medseg_000.dcm"), &bytes).unwrap();
    let shared = common::shared_data("medseg-covid-ct")
        .expect("there: ct_slices found it")
        .join("masks");
    std::fs::copy(
        shared.join("medseg_000_segmentation.png"),
        masks.join("medseg_000_segmentation.png"),
    )
    .unwrap();
    // The same slice as an all-black PNG: what a window above every value in it shows.
    image::GrayImage::new(grey.width(), grey.height())
        .save(black.join("medseg_000.png"))
        .unwrap();

    // The library: another window, other grey levels; a window above the slice, all black.
    let path = images.join("medseg_000.dcm");
    let lung =
        grey_of(&tinyunet::data::folder::read_image_with_window(&path, Window::LUNG).unwrap());
    let soft = Window::new(40.0, 400.0).unwrap();
    let soft_grey = grey_of(&tinyunet::data::folder::read_image_with_window(&path, soft).unwrap());
    assert!(max_diff(&lung, grey.as_raw()) <= 1);
    assert!(
        max_diff(&lung, &soft_grey) > 100,
        "the soft-tissue window changed little"
    );
    let hu = |g: u8| lung_hu(g).round();
    let expected: Vec<u8> = grey.as_raw().iter().map(|&g| soft.grey(hu(g))).collect();
    assert!(max_diff(&soft_grey, &expected) <= 1);
    let above = Window::new(10_000.0, 10.0).unwrap();
    let dark = grey_of(&tinyunet::data::folder::read_image_with_window(&path, above).unwrap());
    assert!(dark.iter().all(|&g| g == 0));

    // `predict`: the card's window (lung-ct's: the lung window) by default, `--window` when given.
    let mask_of = |out: &Path| std::fs::read(out.join("medseg_000_mask.png")).unwrap();
    let predict = |from: &Path, out: &str, window: Option<&str>| {
        let out = dir.join(out);
        let mut args = vec![
            "predict",
            "--model",
            "lung-ct",
            "--size",
            "64",
            "--images",
            from.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(window.map(|w| ["--window", w]).into_iter().flatten());
        let (ok, said) = tinyunet(&args);
        assert!(ok, "{said}");
        assert_no_patient_data(&said);
        mask_of(&out)
    };
    let by_card = predict(&images, "card", None);
    assert_eq!(by_card, predict(&images, "lung", Some("-600,1500")));
    assert_eq!(
        predict(&images, "above", Some("10000, 10")),
        predict(&black, "black", None),
        "--window was not honoured"
    );
    let (ok, said) = tinyunet(&[
        "predict",
        "--images",
        images.to_str().unwrap(),
        "--out",
        dir.join("bad").to_str().unwrap(),
        "--window",
        "40,0",
    ]);
    assert!(!ok && said.contains("width above 0"), "{said}");
    let (ok, said) = tinyunet(&[
        "predict",
        "--images",
        images.to_str().unwrap(),
        "--out",
        dir.join("bad").to_str().unwrap(),
        "--window",
        "lung",
    ]);
    assert!(!ok && said.contains("LEVEL,WIDTH"), "{said}");

    // `eval`: the same windows; the option changes the image scored.
    let eval = |window: Option<&str>| {
        let mut args = vec![
            "eval",
            "--model",
            "lung-ct",
            "--size",
            "64",
            "--images",
            images.to_str().unwrap(),
            "--masks",
            masks.to_str().unwrap(),
        ];
        args.extend(window.map(|w| ["--window", w]).into_iter().flatten());
        let (ok, said) = tinyunet(&args);
        assert!(ok, "{said}");
        assert_no_patient_data(&said);
        said.lines()
            .find(|l| l.starts_with("medseg_000 "))
            .unwrap_or_else(|| panic!("no line for the slice: {said}"))
            .to_string()
    };
    let by_card = eval(None);
    assert_eq!(by_card, eval(Some("-600,1500")));
    assert_ne!(
        by_card,
        eval(Some("10000,10")),
        "--window was not honoured by eval"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
