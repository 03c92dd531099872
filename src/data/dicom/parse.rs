//! Walks the bytes of a DICOM Part 10 file: the preamble and "DICM", the file meta group (always
//! explicit VR little endian), then the data set in its transfer syntax, up to the pixel data.
//!
//! It keeps only the raw values of the few top-level attributes the caller asks for and the pixel
//! data; everything else (sequences, private tags, the patient's name) is skipped by its length
//! without being decoded, so no other value can reach a message or a result. Every length is
//! checked against the bytes that are there: a truncated or hostile file is an error, never a
//! panic or an oversized allocation.

use super::syntax::{self, Syntax};
use crate::error::{Error, Result};

/// A data element tag: group in the high 16 bits, element in the low 16 (so that tags compare in
/// the order DICOM sorts them).
pub type Tag = u32;

/// The tag `(group,element)`.
pub const fn tag(group: u16, element: u16) -> Tag {
    ((group as u32) << 16) | element as u32
}

/// Where "DICM" sits: after the 128-byte preamble.
const MAGIC_AT: usize = 128;
/// Transfer Syntax UID, in the file meta group.
const TRANSFER_SYNTAX_UID: Tag = tag(0x0002, 0x0010);
/// Pixel Data.
pub const PIXEL_DATA: Tag = tag(0x7FE0, 0x0010);
/// Float and double float pixel data (parametric maps), which we do not read.
const FLOAT_PIXEL_DATA: [Tag; 2] = [tag(0x7FE0, 0x0008), tag(0x7FE0, 0x0009)];
const ITEM: Tag = tag(0xFFFE, 0xE000);
const ITEM_END: Tag = tag(0xFFFE, 0xE00D);
const SEQUENCE_END: Tag = tag(0xFFFE, 0xE0DD);
/// The length that means "until a delimiter" (sequences, items, encapsulated pixel data).
const UNDEFINED: u32 = 0xFFFF_FFFF;
/// Deepest nesting of sequences we skip through: real files nest a few levels; the bound keeps a
/// hostile file from exhausting the stack (the browser's is small).
const MAX_DEPTH: usize = 32;

/// Whether `bytes` start like a DICOM Part 10 file: a 128-byte preamble, then "DICM".
pub fn is_dicom(bytes: &[u8]) -> bool {
    bytes.get(MAGIC_AT..MAGIC_AT + 4) == Some(b"DICM")
}

/// The pixel data of a file, borrowed from its bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum PixelData<'a> {
    /// Native (uncompressed) pixels: the element's whole value.
    Native(&'a [u8]),
    /// Encapsulated pixels: the fragments after the basic offset table, in order.
    Fragments(Vec<&'a [u8]>),
}

/// What [`parse`] keeps of a file.
#[derive(Debug)]
pub struct Parsed<'a> {
    /// The transfer syntax UID, as written (padding removed).
    pub uid: String,
    /// Its encoding.
    pub syntax: Syntax,
    /// The raw values of the asked-for top-level attributes, in file order.
    pub values: Vec<(Tag, &'a [u8])>,
    /// The pixel data, or `None` when the data set has none (a report, a DICOMDIR…).
    pub pixels: Option<PixelData<'a>>,
}

impl Parsed<'_> {
    /// The raw value of `tag`, if the data set has it.
    pub fn value(&self, tag: Tag) -> Option<&[u8]> {
        self.values.iter().find(|(t, _)| *t == tag).map(|(_, v)| *v)
    }
}

/// Reads the file meta group and the data set of `bytes` up to the pixel data, keeping the values
/// of the top-level attributes in `wanted`.
pub fn parse<'a>(bytes: &'a [u8], wanted: &[Tag]) -> Result<Parsed<'a>> {
    if !is_dicom(bytes) {
        return Err(Error::input(
            "not a DICOM file: a DICOM Part 10 file has \"DICM\" after a 128-byte preamble",
        ));
    }
    let mut r = Reader {
        bytes,
        pos: MAGIC_AT + 4,
        explicit: true,
    };
    let mut uid = None;
    while r.peek_group() == Some(0x0002) {
        let e = r.header()?;
        let value = r.value(&e)?;
        if e.tag == TRANSFER_SYNTAX_UID {
            uid = Some(text(value));
        }
    }
    let uid = uid.unwrap_or_default();
    let syntax = syntax::from_uid(&uid)?;
    r.explicit = syntax.explicit_vr();

    let mut values = Vec::new();
    while !r.at_end() {
        let e = r.header()?;
        if e.tag == PIXEL_DATA {
            let pixels = r.pixel_data(&e, syntax)?;
            return Ok(Parsed {
                uid,
                syntax,
                values,
                pixels: Some(pixels),
            });
        }
        if FLOAT_PIXEL_DATA.contains(&e.tag) {
            return Err(Error::input(
                "the DICOM file holds floating-point pixel data (a parametric map), which tinyunet \
                 does not read: it reads stored CT values (8 or 16 bits)",
            ));
        }
        if e.tag > PIXEL_DATA {
            // Only padding and signatures follow the pixel data's place.
            break;
        }
        if wanted.contains(&e.tag) && e.length != UNDEFINED {
            values.push((e.tag, r.value(&e)?));
        } else {
            r.skip(&e, 0)?;
        }
    }
    Ok(Parsed {
        uid,
        syntax,
        values,
        pixels: None,
    })
}

/// A value's text: ASCII padding (spaces, NULs) removed at both ends.
pub fn text(value: &[u8]) -> String {
    String::from_utf8_lossy(value)
        .trim_matches(|c: char| c == ' ' || c == '\0')
        .to_string()
}

/// `(GGGG,EEEE)`, the way DICOM writes a tag.
pub fn tag_name(tag: Tag) -> String {
    format!("({:04X},{:04X})", tag >> 16, tag & 0xFFFF)
}

/// An element's header.
struct Element {
    tag: Tag,
    /// The VR, or two spaces where the encoding has none (implicit VR, items, delimiters).
    vr: [u8; 2],
    length: u32,
}

/// A position in the file and the encoding of the elements there.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    explicit: bool,
}

impl<'a> Reader<'a> {
    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn peek_group(&self) -> Option<u16> {
        let b = self.bytes.get(self.pos..self.pos + 2)?;
        Some(u16::from_le_bytes([b[0], b[1]]))
    }

    /// The next `n` bytes; `what` says where the file ended, for the message.
    fn take(&mut self, n: usize, what: impl FnOnce() -> String) -> Result<&'a [u8]> {
        let left = self.bytes.len() - self.pos;
        if n > left {
            return Err(Error::input(format!(
                "the DICOM file is truncated: it ends inside {} ({left} of {n} bytes present); \
                 was it cut off while copying?",
                what()
            )));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2, || "an element header".into())?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4, || "an element header".into())?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads an element header: tag, then (explicit VR) the VR and a 2- or 4-byte length, or
    /// (implicit VR, and always for items and delimiters) a 4-byte length.
    fn header(&mut self) -> Result<Element> {
        let group = self.u16()?;
        let tag = tag(group, self.u16()?);
        if group == 0xFFFE || !self.explicit {
            let length = self.u32()?;
            return Ok(Element {
                tag,
                vr: *b"  ",
                length,
            });
        }
        let vr = self.take(2, || "an element header".into())?;
        let vr = [vr[0], vr[1]];
        // PS3.5 7.1.2: these VRs have two reserved bytes and a 32-bit length.
        let long = matches!(
            &vr,
            b"OB"
                | b"OD"
                | b"OF"
                | b"OL"
                | b"OV"
                | b"OW"
                | b"SQ"
                | b"SV"
                | b"UC"
                | b"UN"
                | b"UR"
                | b"UT"
                | b"UV"
        );
        let length = if long {
            self.take(2, || "an element header".into())?;
            self.u32()?
        } else {
            self.u16()? as u32
        };
        Ok(Element { tag, vr, length })
    }

    /// An element's value (of defined length).
    fn value(&mut self, e: &Element) -> Result<&'a [u8]> {
        if e.length == UNDEFINED {
            return Err(Error::input(format!(
                "the DICOM file is malformed: element {} has an undefined length",
                tag_name(e.tag)
            )));
        }
        self.take(e.length as usize, || format!("element {}", tag_name(e.tag)))
    }

    /// Steps over an element's value, whatever it holds.
    fn skip(&mut self, e: &Element, depth: usize) -> Result<()> {
        if e.length != UNDEFINED {
            return self.value(e).map(drop);
        }
        // PS3.5 6.2.2: a UN element of undefined length holds an implicit VR sequence.
        let outer = self.explicit;
        if &e.vr == b"UN" {
            self.explicit = false;
        }
        let skipped = self.skip_sequence(depth + 1);
        self.explicit = outer;
        skipped
    }

    /// Steps over the items of a sequence of undefined length, up to its delimiter.
    fn skip_sequence(&mut self, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::input(format!(
                "the DICOM file nests sequences more than {MAX_DEPTH} deep"
            )));
        }
        loop {
            let e = self.header()?;
            match e.tag {
                SEQUENCE_END => return Ok(()),
                ITEM if e.length == UNDEFINED => loop {
                    let inner = self.header()?;
                    if inner.tag == ITEM_END {
                        break;
                    }
                    self.skip(&inner, depth)?;
                },
                ITEM => self.value(&e).map(drop)?,
                other => {
                    return Err(Error::input(format!(
                        "the DICOM file is malformed: a sequence holds {} where an item belongs",
                        tag_name(other)
                    )));
                }
            }
        }
    }

    /// The value of the Pixel Data element `e`: native bytes, or the fragments of encapsulated
    /// pixel data (after the basic offset table, which we do not need for one frame).
    fn pixel_data(&mut self, e: &Element, syntax: Syntax) -> Result<PixelData<'a>> {
        match (e.length == UNDEFINED, syntax.encapsulated()) {
            (false, false) => {
                let value = self.take(e.length as usize, || {
                    "the Pixel Data element (7FE0,0010)".into()
                })?;
                return Ok(PixelData::Native(value));
            }
            (true, true) => {}
            (encapsulated, _) => {
                return Err(Error::input(format!(
                    "the DICOM file is malformed: its pixel data are {} but its transfer syntax \
                     ({}) says otherwise",
                    if encapsulated {
                        "encapsulated (compressed)"
                    } else {
                        "native (uncompressed)"
                    },
                    syntax::name(syntax.uid())
                )));
            }
        }
        let mut fragments = Vec::new();
        let mut offset_table = true;
        loop {
            let item = self.header()?;
            match item.tag {
                SEQUENCE_END => return Ok(PixelData::Fragments(fragments)),
                ITEM if item.length != UNDEFINED => {
                    let value = self.take(item.length as usize, || {
                        "a fragment of the pixel data".into()
                    })?;
                    if !offset_table {
                        fragments.push(value);
                    }
                    offset_table = false;
                }
                other => {
                    return Err(Error::input(format!(
                        "the DICOM file's encapsulated pixel data are malformed ({} where a \
                         fragment belongs)",
                        tag_name(other)
                    )));
                }
            }
        }
    }
}
