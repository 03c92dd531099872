//! Transfer syntaxes: which encodings of a DICOM data set we read, and the names of the ones we
//! refuse, so that a refusal says what the file is ("JPEG 2000 Image Compression
//! (1.2.840.10008.1.2.4.91)") rather than only a number.

use crate::error::{Error, Result};

/// How the data set after the file meta group is encoded, for the transfer syntaxes we read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// Uncompressed, little endian, explicit VR (1.2.840.10008.1.2.1).
    ExplicitLittle,
    /// Uncompressed, little endian, implicit VR (1.2.840.10008.1.2): the default of DICOM.
    ImplicitLittle,
    /// Baseline JPEG (process 1, 8 bits) in encapsulated pixel data, explicit VR little endian
    /// (1.2.840.10008.1.2.4.50). Its pixels are a JPEG stream that someone else decodes.
    JpegBaseline,
}

impl Syntax {
    /// Whether data elements carry their VR (every syntax but implicit VR little endian).
    pub fn explicit_vr(self) -> bool {
        !matches!(self, Syntax::ImplicitLittle)
    }

    /// The transfer syntax UID.
    pub fn uid(self) -> &'static str {
        match self {
            Syntax::ExplicitLittle => "1.2.840.10008.1.2.1",
            Syntax::ImplicitLittle => "1.2.840.10008.1.2",
            Syntax::JpegBaseline => "1.2.840.10008.1.2.4.50",
        }
    }

    /// Whether the pixel data are encapsulated (compressed fragments) rather than native.
    pub fn encapsulated(self) -> bool {
        matches!(self, Syntax::JpegBaseline)
    }
}

/// Known transfer syntaxes: UID and name (DICOM PS3.6, Annex A), ours and the common others.
const NAMES: &[(&str, &str)] = &[
    ("1.2.840.10008.1.2", "Implicit VR Little Endian"),
    ("1.2.840.10008.1.2.1", "Explicit VR Little Endian"),
    (
        "1.2.840.10008.1.2.1.98",
        "Encapsulated Uncompressed Explicit VR Little Endian",
    ),
    (
        "1.2.840.10008.1.2.1.99",
        "Deflated Explicit VR Little Endian",
    ),
    ("1.2.840.10008.1.2.2", "Explicit VR Big Endian"),
    ("1.2.840.10008.1.2.4.50", "JPEG Baseline (Process 1)"),
    ("1.2.840.10008.1.2.4.51", "JPEG Extended (Process 2 & 4)"),
    ("1.2.840.10008.1.2.4.57", "JPEG Lossless (Process 14)"),
    (
        "1.2.840.10008.1.2.4.70",
        "JPEG Lossless, First-Order Prediction (Process 14, SV1)",
    ),
    ("1.2.840.10008.1.2.4.80", "JPEG-LS Lossless"),
    ("1.2.840.10008.1.2.4.81", "JPEG-LS Near-Lossless"),
    (
        "1.2.840.10008.1.2.4.90",
        "JPEG 2000 Image Compression (Lossless Only)",
    ),
    ("1.2.840.10008.1.2.4.91", "JPEG 2000 Image Compression"),
    (
        "1.2.840.10008.1.2.4.92",
        "JPEG 2000 Part 2 Multi-component (Lossless Only)",
    ),
    ("1.2.840.10008.1.2.4.93", "JPEG 2000 Part 2 Multi-component"),
    ("1.2.840.10008.1.2.4.94", "JPIP Referenced"),
    ("1.2.840.10008.1.2.4.95", "JPIP Referenced Deflate"),
    ("1.2.840.10008.1.2.4.100", "MPEG2 Main Profile / Main Level"),
    ("1.2.840.10008.1.2.4.101", "MPEG2 Main Profile / High Level"),
    (
        "1.2.840.10008.1.2.4.102",
        "MPEG-4 AVC/H.264 High Profile / Level 4.1",
    ),
    (
        "1.2.840.10008.1.2.4.103",
        "MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1",
    ),
    (
        "1.2.840.10008.1.2.4.104",
        "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video",
    ),
    (
        "1.2.840.10008.1.2.4.105",
        "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video",
    ),
    (
        "1.2.840.10008.1.2.4.106",
        "MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2",
    ),
    (
        "1.2.840.10008.1.2.4.107",
        "HEVC/H.265 Main Profile / Level 5.1",
    ),
    (
        "1.2.840.10008.1.2.4.108",
        "HEVC/H.265 Main 10 Profile / Level 5.1",
    ),
    ("1.2.840.10008.1.2.4.110", "JPEG XL Lossless"),
    ("1.2.840.10008.1.2.4.111", "JPEG XL JPEG Recompression"),
    ("1.2.840.10008.1.2.4.112", "JPEG XL"),
    (
        "1.2.840.10008.1.2.4.201",
        "High-Throughput JPEG 2000 Image Compression (Lossless Only)",
    ),
    (
        "1.2.840.10008.1.2.4.202",
        "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)",
    ),
    (
        "1.2.840.10008.1.2.4.203",
        "High-Throughput JPEG 2000 Image Compression",
    ),
    ("1.2.840.10008.1.2.5", "RLE Lossless"),
];

/// The name of a transfer syntax UID, or `"unknown transfer syntax"`.
pub fn name(uid: &str) -> &'static str {
    NAMES
        .iter()
        .find(|(u, _)| *u == uid)
        .map_or("unknown transfer syntax", |(_, n)| n)
}

/// The syntax of `uid` if we read it, else an error that names it and says what to do instead.
pub fn from_uid(uid: &str) -> Result<Syntax> {
    match uid {
        "1.2.840.10008.1.2.1" => Ok(Syntax::ExplicitLittle),
        "1.2.840.10008.1.2" => Ok(Syntax::ImplicitLittle),
        "1.2.840.10008.1.2.4.50" => Ok(Syntax::JpegBaseline),
        _ if !printable_uid(uid) => Err(Error::input(
            "the DICOM file's transfer syntax UID (0002,0010) is missing or malformed",
        )),
        _ => Err(Error::input(format!(
            "DICOM transfer syntax {} ({}) is not supported: tinyunet reads uncompressed little \
             endian (explicit or implicit VR) and baseline JPEG; export the slice uncompressed \
             (e.g. `dcmdjpeg`/`gdcmconv --raw`) and try again",
            name(uid),
            uid
        ))),
    }
}

/// Whether `uid` looks like a UID (digits and dots, at most 64 characters), so that it may be
/// repeated in a message: a malformed file could put anything in that element.
pub fn printable_uid(uid: &str) -> bool {
    !uid.is_empty() && uid.len() <= 64 && uid.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_three_syntaxes_and_names_the_others() {
        assert_eq!(
            from_uid("1.2.840.10008.1.2.1").unwrap(),
            Syntax::ExplicitLittle
        );
        assert_eq!(
            from_uid("1.2.840.10008.1.2").unwrap(),
            Syntax::ImplicitLittle
        );
        assert!(from_uid("1.2.840.10008.1.2.4.50").unwrap().encapsulated());
        let e = from_uid("1.2.840.10008.1.2.4.90").unwrap_err().to_string();
        assert!(
            e.contains("JPEG 2000 Image Compression (Lossless Only) (1.2.840.10008.1.2.4.90)"),
            "{e}"
        );
        let e = from_uid("1.2.840.10008.1.2.5").unwrap_err().to_string();
        assert!(e.contains("RLE Lossless"), "{e}");
        let e = from_uid("1.2.3.4").unwrap_err().to_string();
        assert!(e.contains("unknown transfer syntax (1.2.3.4)"), "{e}");
        let e = from_uid("Doe^Jane").unwrap_err().to_string();
        assert!(e.contains("malformed") && !e.contains("Doe"), "{e}");
    }

    #[test]
    fn only_uid_shaped_text_is_printable() {
        assert!(printable_uid("1.2.840.10008.1.2.4.91"));
        assert!(!printable_uid("Doe^Jane"));
        assert!(!printable_uid(""));
        assert!(!printable_uid(&"1".repeat(65)));
    }
}
