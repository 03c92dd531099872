//! Reads and writes `.safetensors` weights files from and to bytes.
//!
//! Reading uses a small header parser of its own rather than `safetensors::SafeTensors`, because the
//! crate's validation errors (e.g. "invalid shape, data type, or offset for tensor") do not say which
//! tensor is wrong, and a user fixing a converted checkpoint needs that name. Writing goes through
//! `safetensors::serialize`, so the files we produce are laid out exactly as the reference writer does.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use safetensors::{Dtype, View};

use crate::error::{Error, Result};
use crate::weights::tensor_set::{NamedTensor, TensorSet, TensorValues};

/// The safetensors format refuses headers above 100 MB; so do we, so a hostile length cannot make us
/// scan or allocate more than the reference reader would.
const MAX_HEADER_BYTES: usize = 100_000_000;

/// The header key that holds free-form string metadata instead of a tensor.
const METADATA_KEY: &str = "__metadata__";

/// How [`write_safetensors_as`] stores [`TensorValues::Float`] tensors ([`TensorValues::Int`] is
/// always stored as I64).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FloatStorage {
    /// 32-bit floats: exact.
    #[default]
    F32,
    /// 16-bit IEEE floats: half the size, for compact demo weights; rounds to about 3 significant
    /// digits and refuses values beyond ±65504.
    F16,
    /// 16-bit floats for convolution kernels, 32-bit for one-dimensional tensors (biases and
    /// BatchNorm parameters and statistics). Almost as small as [`FloatStorage::F16`], but a
    /// small running variance keeps its precision, which it needs next to eps = 1e-3.
    F16Kernels,
}

/// Decodes a `.safetensors` file into named tensors.
///
/// Floating-point dtypes (F32, F16, BF16, F64) become [`TensorValues::Float`] (F64 is rounded to f32);
/// integer and boolean dtypes (I64, I32, I16, I8, U64, U32, U16, U8, BOOL) become
/// [`TensorValues::Int`]. NaN and infinity are passed through unchecked: the caller decides what to
/// do with them. The header's `__metadata__` is ignored; see [`read_safetensors_with_metadata`].
pub fn read_safetensors(bytes: &[u8]) -> Result<TensorSet> {
    read_safetensors_with_metadata(bytes).map(|(set, _)| set)
}

/// Like [`read_safetensors`], and also returns the header's `__metadata__` string pairs, sorted by key.
pub fn read_safetensors_with_metadata(bytes: &[u8]) -> Result<(TensorSet, Vec<(String, String)>)> {
    let (header_text, data) = split_file(bytes)?;
    let json = json::parse(header_text)
        .map_err(|e| Error::weights(format!("safetensors header is not valid JSON: {e}")))?;
    let (entries, metadata) = parse_header(json)?;
    check_layout(&entries, data.len())?;
    let mut set = TensorSet::new();
    for entry in entries {
        let tensor = decode_entry(&entry, data)?;
        set.insert(entry.name, tensor);
    }
    Ok((set, metadata))
}

/// Encodes named tensors as a `.safetensors` file, floats as F32 and integers as I64.
///
/// `metadata` becomes the header's `__metadata__` (omitted when empty); keys must be unique.
pub fn write_safetensors(set: &TensorSet, metadata: &[(String, String)]) -> Result<Vec<u8>> {
    write_safetensors_as(set, metadata, FloatStorage::F32)
}

/// Encodes named tensors as a `.safetensors` file with floats stored as F16 (integers as I64).
///
/// Fails, naming the tensor, when a finite value is too large for f16.
pub fn write_safetensors_f16(set: &TensorSet, metadata: &[(String, String)]) -> Result<Vec<u8>> {
    write_safetensors_as(set, metadata, FloatStorage::F16)
}

/// Encodes named tensors as a `.safetensors` file, storing floats as `float_storage` says and
/// integers as I64.
///
/// Fails when a tensor's value count differs from its shape's product, when a tensor is named
/// `__metadata__`, when a metadata key repeats, or (F16) when a finite value overflows f16.
pub fn write_safetensors_as(
    set: &TensorSet,
    metadata: &[(String, String)],
    float_storage: FloatStorage,
) -> Result<Vec<u8>> {
    let header_metadata = metadata_map(metadata)?;
    let mut encoded = Vec::with_capacity(set.len());
    for (name, tensor) in set {
        encoded.push((name.as_str(), encode_tensor(name, tensor, float_storage)?));
    }
    safetensors::serialize(encoded, header_metadata)
        .map_err(|e| Error::weights(format!("could not encode safetensors: {e}")))
}

/// Element types that both weights readers decode (the `.pth` reader shares this table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ElementType {
    /// IEEE binary64.
    F64,
    /// IEEE binary32.
    F32,
    /// IEEE binary16.
    F16,
    /// bfloat16 (the top half of an f32).
    BF16,
    /// Signed 64-bit integer.
    I64,
    /// Signed 32-bit integer.
    I32,
    /// Signed 16-bit integer.
    I16,
    /// Signed 8-bit integer.
    I8,
    /// Unsigned 64-bit integer (values above `i64::MAX` are refused).
    U64,
    /// Unsigned 32-bit integer.
    U32,
    /// Unsigned 16-bit integer.
    U16,
    /// Unsigned 8-bit integer.
    U8,
    /// One byte per value, 0 = false and anything else = true (as PyTorch reads it).
    Bool,
}

impl ElementType {
    /// Bytes per element.
    pub(crate) fn size(self) -> usize {
        match self {
            Self::F64 | Self::I64 | Self::U64 => 8,
            Self::F32 | Self::I32 | Self::U32 => 4,
            Self::F16 | Self::BF16 | Self::I16 | Self::U16 => 2,
            Self::I8 | Self::U8 | Self::Bool => 1,
        }
    }

    /// The safetensors spelling, also used in error messages of both readers.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::F64 => "F64",
            Self::F32 => "F32",
            Self::F16 => "F16",
            Self::BF16 => "BF16",
            Self::I64 => "I64",
            Self::I32 => "I32",
            Self::I16 => "I16",
            Self::I8 => "I8",
            Self::U64 => "U64",
            Self::U32 => "U32",
            Self::U16 => "U16",
            Self::U8 => "U8",
            Self::Bool => "BOOL",
        }
    }

    /// Every supported type, for lookups and for listing them in errors.
    const ALL: [ElementType; 13] = [
        Self::F32,
        Self::F16,
        Self::BF16,
        Self::F64,
        Self::I64,
        Self::I32,
        Self::I16,
        Self::I8,
        Self::U64,
        Self::U32,
        Self::U16,
        Self::U8,
        Self::Bool,
    ];

    /// Parses a safetensors dtype string (`"F32"`, `"BOOL"`, ...).
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// Decodes little-endian elements of type `ty` for the tensor called `tensor` (named in errors).
///
/// `bytes.len()` must be a multiple of `ty.size()`.
pub(crate) fn decode_le(ty: ElementType, bytes: &[u8], tensor: &str) -> Result<TensorValues> {
    if !bytes.len().is_multiple_of(ty.size()) {
        return Err(Error::weights(format!(
            "tensor `{tensor}`: {} bytes is not a whole number of {} elements",
            bytes.len(),
            ty.name()
        )));
    }
    let values = match ty {
        ElementType::F32 => TensorValues::Float(le::<4, _>(bytes, f32::from_le_bytes)),
        ElementType::F64 => {
            TensorValues::Float(le::<8, _>(bytes, |b| f64::from_le_bytes(b) as f32))
        }
        ElementType::F16 => {
            TensorValues::Float(le::<2, _>(bytes, |b| half::f16::from_le_bytes(b).to_f32()))
        }
        ElementType::BF16 => {
            TensorValues::Float(le::<2, _>(bytes, |b| half::bf16::from_le_bytes(b).to_f32()))
        }
        ElementType::I64 => TensorValues::Int(le::<8, _>(bytes, i64::from_le_bytes)),
        ElementType::I32 => TensorValues::Int(le::<4, _>(bytes, |b| i32::from_le_bytes(b).into())),
        ElementType::I16 => TensorValues::Int(le::<2, _>(bytes, |b| i16::from_le_bytes(b).into())),
        ElementType::I8 => TensorValues::Int(le::<1, _>(bytes, |b| i8::from_le_bytes(b).into())),
        ElementType::U64 => TensorValues::Int(decode_u64(bytes, tensor)?),
        ElementType::U32 => TensorValues::Int(le::<4, _>(bytes, |b| u32::from_le_bytes(b).into())),
        ElementType::U16 => TensorValues::Int(le::<2, _>(bytes, |b| u16::from_le_bytes(b).into())),
        ElementType::U8 => TensorValues::Int(bytes.iter().map(|&b| i64::from(b)).collect()),
        ElementType::Bool => TensorValues::Int(bytes.iter().map(|&b| i64::from(b != 0)).collect()),
    };
    Ok(values)
}

/// Maps each `N`-byte chunk through `f`; a partial trailing chunk (ruled out by the caller) is dropped.
fn le<const N: usize, T>(bytes: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
    let (chunks, _) = bytes.as_chunks::<N>();
    chunks.iter().map(|&c| f(c)).collect()
}

/// U64 has no lossless home in [`TensorValues::Int`] above `i64::MAX`, so such values are refused.
fn decode_u64(bytes: &[u8], tensor: &str) -> Result<Vec<i64>> {
    le::<8, _>(bytes, u64::from_le_bytes)
        .into_iter()
        .map(|v| {
            i64::try_from(v).map_err(|_| {
                Error::weights(format!(
                    "tensor `{tensor}`: U64 value {v} does not fit in int64"
                ))
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Reading

/// One tensor's header record.
#[derive(Debug)]
struct HeaderEntry {
    name: String,
    dtype: ElementType,
    shape: Vec<usize>,
    /// Byte range within the data section (after the header). u64, not usize: on wasm32 an
    /// offset past 4 GiB must read as "outside the data", not as a malformed number.
    start: u64,
    end: u64,
}

/// The header's tensor records and `__metadata__` pairs.
type Header = (Vec<HeaderEntry>, Vec<(String, String)>);

/// Splits the file into its header text and data section.
fn split_file(bytes: &[u8]) -> Result<(&str, &[u8])> {
    let Some((len_bytes, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(Error::weights(format!(
            "safetensors file is truncated: {} bytes, shorter than the 8-byte header length",
            bytes.len()
        )));
    };
    let declared = u64::from_le_bytes(*len_bytes);
    let header_len = usize::try_from(declared)
        .ok()
        .filter(|&n| n <= rest.len())
        .ok_or_else(|| {
            Error::weights(format!(
                "safetensors header length {declared} exceeds the {} bytes that follow it: \
                 the file is truncated or not a safetensors file",
                rest.len()
            ))
        })?;
    if header_len > MAX_HEADER_BYTES {
        return Err(Error::weights(format!(
            "safetensors header is {header_len} bytes, above the format's 100 MB limit"
        )));
    }
    let (header, data) = rest.split_at(header_len);
    let text = std::str::from_utf8(header)
        .map_err(|e| Error::weights(format!("safetensors header is not UTF-8: {e}")))?;
    Ok((text, data))
}

/// Turns the header JSON into tensor records and metadata pairs.
fn parse_header(json: json::Value) -> Result<Header> {
    let json::Value::Object(fields) = json else {
        return Err(Error::weights("safetensors header is not a JSON object"));
    };
    let mut seen = BTreeSet::new();
    let mut entries = Vec::with_capacity(fields.len());
    let mut metadata = Vec::new();
    for (name, value) in fields {
        if !seen.insert(name.clone()) {
            return Err(Error::weights(format!(
                "safetensors header names `{name}` twice"
            )));
        }
        if name == METADATA_KEY {
            metadata = parse_metadata(value)?;
        } else {
            entries.push(parse_entry(name, value)?);
        }
    }
    metadata.sort();
    Ok((entries, metadata))
}

/// Parses `__metadata__`: an object of string values.
fn parse_metadata(value: json::Value) -> Result<Vec<(String, String)>> {
    let json::Value::Object(fields) = value else {
        return Err(Error::weights(
            "safetensors `__metadata__` is not a JSON object",
        ));
    };
    fields
        .into_iter()
        .map(|(key, value)| match value {
            json::Value::String(s) => Ok((key, s)),
            _ => Err(Error::weights(format!(
                "safetensors `__metadata__` value for `{key}` is not a string"
            ))),
        })
        .collect()
}

/// Parses one tensor record `{"dtype": .., "shape": [..], "data_offsets": [start, end]}`.
fn parse_entry(name: String, value: json::Value) -> Result<HeaderEntry> {
    let json::Value::Object(fields) = value else {
        return Err(Error::weights(format!(
            "tensor `{name}`: header entry is not a JSON object"
        )));
    };
    let field = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .ok_or_else(|| Error::weights(format!("tensor `{name}`: header entry has no `{key}`")))
    };
    let dtype = match field("dtype")? {
        json::Value::String(s) => ElementType::from_name(s).ok_or_else(|| {
            let supported: Vec<&str> = ElementType::ALL.iter().map(|t| t.name()).collect();
            Error::weights(format!(
                "tensor `{name}` has unsupported dtype `{s}` (supported: {})",
                supported.join(", ")
            ))
        })?,
        _ => {
            return Err(Error::weights(format!(
                "tensor `{name}`: `dtype` is not a string"
            )));
        }
    };
    let shape = number_array::<usize>(field("shape")?, &name, "shape")?;
    let offsets = number_array::<u64>(field("data_offsets")?, &name, "data_offsets")?;
    let [start, end] = offsets[..] else {
        return Err(Error::weights(format!(
            "tensor `{name}`: `data_offsets` has {} numbers, expected [start, end]",
            offsets.len()
        )));
    };
    Ok(HeaderEntry {
        name,
        dtype,
        shape,
        start,
        end,
    })
}

/// Reads a JSON array of non-negative integers.
fn number_array<T: std::str::FromStr>(
    value: &json::Value,
    tensor: &str,
    key: &str,
) -> Result<Vec<T>> {
    let bad = || {
        Error::weights(format!(
            "tensor `{tensor}`: `{key}` is not an array of non-negative integers"
        ))
    };
    let json::Value::Array(items) = value else {
        return Err(bad());
    };
    items
        .iter()
        .map(|item| match item {
            json::Value::Number(text) => text.parse::<T>().map_err(|_| bad()),
            _ => Err(bad()),
        })
        .collect()
}

/// Checks that the tensors tile the data section exactly (as the reference reader requires) and that
/// each byte range matches its shape and dtype.
fn check_layout(entries: &[HeaderEntry], data_len: usize) -> Result<()> {
    let data_len = data_len as u64;
    let mut order: Vec<&HeaderEntry> = entries.iter().collect();
    order.sort_by_key(|e| (e.start, e.end));
    let mut expected_start = 0;
    for entry in order {
        let name = &entry.name;
        if entry.end < entry.start || entry.end > data_len {
            return Err(Error::weights(format!(
                "tensor `{name}`: data_offsets [{}, {}] lie outside the {data_len}-byte data section \
                 (truncated file?)",
                entry.start, entry.end
            )));
        }
        if entry.start != expected_start {
            return Err(Error::weights(format!(
                "tensor `{name}`: data_offsets [{}, {}] do not start where the previous tensor ends \
                 (byte {expected_start}); tensors must tile the data section",
                entry.start, entry.end
            )));
        }
        check_byte_len(entry)?;
        expected_start = entry.end;
    }
    if expected_start != data_len {
        return Err(Error::weights(format!(
            "safetensors data section has {data_len} bytes but the tensors cover {expected_start}"
        )));
    }
    Ok(())
}

/// Element count × element size must equal the byte range.
fn check_byte_len(entry: &HeaderEntry) -> Result<()> {
    let needed = entry
        .shape
        .iter()
        .try_fold(entry.dtype.size(), |acc, &d| acc.checked_mul(d));
    let have = entry.end - entry.start;
    if needed.map(|n| n as u64) == Some(have) {
        return Ok(());
    }
    let needed = needed.map_or_else(|| "more than usize::MAX".to_string(), |n| n.to_string());
    Err(Error::weights(format!(
        "tensor `{}`: shape {:?} of {} needs {needed} bytes but data_offsets [{}, {}] hold {have}",
        entry.name,
        entry.shape,
        entry.dtype.name(),
        entry.start,
        entry.end
    )))
}

/// Decodes one checked entry.
fn decode_entry(entry: &HeaderEntry, data: &[u8]) -> Result<NamedTensor> {
    // Checked against the data section's length (a usize) before: the casts cannot truncate.
    let bytes = data
        .get(entry.start as usize..entry.end as usize)
        .ok_or_else(|| {
            Error::weights(format!(
                "tensor `{}`: data_offsets out of range",
                entry.name
            ))
        })?;
    Ok(NamedTensor {
        shape: entry.shape.clone(),
        values: decode_le(entry.dtype, bytes, &entry.name)?,
    })
}

// ---------------------------------------------------------------------------------------------
// Writing

/// A tensor already converted to its stored bytes.
struct Encoded {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl View for Encoded {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

/// Builds the `__metadata__` map, refusing repeated keys rather than silently keeping one.
fn metadata_map(metadata: &[(String, String)]) -> Result<Option<HashMap<String, String>>> {
    if metadata.is_empty() {
        return Ok(None);
    }
    let mut map = HashMap::with_capacity(metadata.len());
    for (key, value) in metadata {
        if map.insert(key.clone(), value.clone()).is_some() {
            return Err(Error::weights(format!(
                "safetensors metadata key `{key}` is given twice"
            )));
        }
    }
    Ok(Some(map))
}

/// Checks one tensor and converts it to stored bytes.
fn encode_tensor(name: &str, tensor: &NamedTensor, float_storage: FloatStorage) -> Result<Encoded> {
    if name == METADATA_KEY {
        return Err(Error::weights(format!(
            "a tensor cannot be named `{METADATA_KEY}`: safetensors reserves that key"
        )));
    }
    let numel = tensor
        .shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d));
    if numel != Some(tensor.values.len()) {
        return Err(Error::weights(format!(
            "tensor `{name}`: shape {:?} does not match its {} values",
            tensor.shape,
            tensor.values.len()
        )));
    }
    let (dtype, data) = match (&tensor.values, float_storage) {
        (TensorValues::Float(v), FloatStorage::F32) => {
            (Dtype::F32, v.iter().flat_map(|x| x.to_le_bytes()).collect())
        }
        (TensorValues::Float(v), FloatStorage::F16) => (Dtype::F16, encode_f16(name, v)?),
        (TensorValues::Float(v), FloatStorage::F16Kernels) if tensor.shape.len() > 1 => {
            (Dtype::F16, encode_f16(name, v)?)
        }
        (TensorValues::Float(v), FloatStorage::F16Kernels) => {
            (Dtype::F32, v.iter().flat_map(|x| x.to_le_bytes()).collect())
        }
        (TensorValues::Int(v), _) => (Dtype::I64, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
    };
    Ok(Encoded {
        dtype,
        shape: tensor.shape.clone(),
        data,
    })
}

/// Rounds to f16, refusing finite values that would become infinite (a silent corruption otherwise).
fn encode_f16(name: &str, values: &[f32]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(values.len() * 2);
    for &v in values {
        let h = half::f16::from_f32(v);
        if v.is_finite() && h.is_infinite() {
            return Err(Error::weights(format!(
                "tensor `{name}`: value {v} is beyond f16's range (±65504); store it as F32"
            )));
        }
        out.extend_from_slice(&h.to_le_bytes());
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// A minimal JSON parser, enough for safetensors headers.

mod json {
    /// A parsed JSON value. Numbers keep their source text: the header only needs exact integers.
    #[derive(Debug)]
    pub(super) enum Value {
        /// `true`, `false` or `null`: never meaningful in a header, so not kept.
        Literal,
        Number(String),
        String(String),
        Array(Vec<Value>),
        /// Members in file order, duplicates kept so the caller can refuse them.
        Object(Vec<(String, Value)>),
    }

    /// A safetensors header nests three levels; anything much deeper is hostile, and the limit keeps
    /// the recursive descent (and the recursive drop of the result) off the end of the stack.
    const MAX_DEPTH: usize = 32;

    /// Parses a complete JSON document; the error text names the byte offset.
    pub(super) fn parse(text: &str) -> Result<Value, String> {
        let mut parser = Parser { text, pos: 0 };
        let value = parser.value(0)?;
        parser.skip_ws();
        if parser.pos != text.len() {
            return Err(parser.fail("unexpected text after the header object"));
        }
        Ok(value)
    }

    struct Parser<'a> {
        text: &'a str,
        pos: usize,
    }

    impl Parser<'_> {
        fn fail(&self, what: &str) -> String {
            format!("{what} at byte {}", self.pos)
        }

        fn peek(&self) -> Option<u8> {
            self.text.as_bytes().get(self.pos).copied()
        }

        fn skip_ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                self.pos += 1;
            }
        }

        fn expect(&mut self, byte: u8) -> Result<(), String> {
            self.skip_ws();
            if self.peek() == Some(byte) {
                self.pos += 1;
                Ok(())
            } else {
                Err(self.fail(&format!("expected `{}`", char::from(byte))))
            }
        }

        fn value(&mut self, depth: usize) -> Result<Value, String> {
            if depth > MAX_DEPTH {
                return Err(self.fail("nesting too deep"));
            }
            self.skip_ws();
            match self.peek() {
                Some(b'{') => self.object(depth),
                Some(b'[') => self.array(depth),
                Some(b'"') => self.string().map(Value::String),
                Some(b'-' | b'0'..=b'9') => Ok(self.number()),
                Some(b't') => self.literal("true"),
                Some(b'f') => self.literal("false"),
                Some(b'n') => self.literal("null"),
                Some(_) => Err(self.fail("unexpected character")),
                None => Err(self.fail("unexpected end")),
            }
        }

        fn literal(&mut self, word: &str) -> Result<Value, String> {
            if self
                .text
                .get(self.pos..)
                .is_some_and(|rest| rest.starts_with(word))
            {
                self.pos += word.len();
                Ok(Value::Literal)
            } else {
                Err(self.fail("unexpected word"))
            }
        }

        /// Takes the number's characters as text; callers parse what they need and reject the rest.
        fn number(&mut self) -> Value {
            let start = self.pos;
            while matches!(
                self.peek(),
                Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
            ) {
                self.pos += 1;
            }
            Value::Number(
                self.text
                    .get(start..self.pos)
                    .unwrap_or_default()
                    .to_string(),
            )
        }

        fn array(&mut self, depth: usize) -> Result<Value, String> {
            self.pos += 1; // '['
            let mut items = Vec::new();
            self.skip_ws();
            if self.peek() == Some(b']') {
                self.pos += 1;
                return Ok(Value::Array(items));
            }
            loop {
                items.push(self.value(depth + 1)?);
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        return Ok(Value::Array(items));
                    }
                    _ => return Err(self.fail("expected `,` or `]`")),
                }
            }
        }

        fn object(&mut self, depth: usize) -> Result<Value, String> {
            self.pos += 1; // '{'
            let mut members = Vec::new();
            self.skip_ws();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(Value::Object(members));
            }
            loop {
                self.skip_ws();
                if self.peek() != Some(b'"') {
                    return Err(self.fail("expected a string key"));
                }
                let key = self.string()?;
                self.expect(b':')?;
                members.push((key, self.value(depth + 1)?));
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        return Ok(Value::Object(members));
                    }
                    _ => return Err(self.fail("expected `,` or `}`")),
                }
            }
        }

        fn string(&mut self) -> Result<String, String> {
            self.pos += 1; // opening quote
            let mut out = String::new();
            loop {
                let run_start = self.pos;
                while matches!(self.peek(), Some(b) if b != b'"' && b != b'\\' && b >= 0x20) {
                    self.pos += 1;
                }
                // The run stops at ASCII bytes only, so it ends on a char boundary.
                out.push_str(self.text.get(run_start..self.pos).unwrap_or_default());
                match self.peek() {
                    Some(b'"') => {
                        self.pos += 1;
                        return Ok(out);
                    }
                    Some(b'\\') => {
                        self.pos += 1;
                        out.push(self.escape()?);
                    }
                    Some(_) => return Err(self.fail("control character in string")),
                    None => return Err(self.fail("unterminated string")),
                }
            }
        }

        fn escape(&mut self) -> Result<char, String> {
            let byte = self
                .peek()
                .ok_or_else(|| self.fail("unterminated escape"))?;
            self.pos += 1;
            Ok(match byte {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => return self.unicode_escape(),
                _ => return Err(self.fail("unknown escape")),
            })
        }

        /// `\uXXXX`, joining a UTF-16 surrogate pair when one follows.
        fn unicode_escape(&mut self) -> Result<char, String> {
            let first = self.hex4()?;
            let code = if (0xD800..0xDC00).contains(&first) {
                if self
                    .text
                    .get(self.pos..)
                    .is_some_and(|r| r.starts_with("\\u"))
                {
                    self.pos += 2;
                } else {
                    return Err(self.fail("unpaired surrogate"));
                }
                let second = self.hex4()?;
                if !(0xDC00..0xE000).contains(&second) {
                    return Err(self.fail("unpaired surrogate"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            } else {
                first
            };
            char::from_u32(code).ok_or_else(|| self.fail("invalid unicode escape"))
        }

        fn hex4(&mut self) -> Result<u32, String> {
            let digits = self
                .text
                .get(self.pos..self.pos + 4)
                .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
                .ok_or_else(|| self.fail("bad \\u escape"))?;
            let code = u32::from_str_radix(digits, 16).map_err(|_| self.fail("bad \\u escape"))?;
            self.pos += 4;
            Ok(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::SafeTensors;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/weights/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn shared(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../shared/fixtures/reference/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// A file from a header text and a data section.
    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn assert_error(bytes: &[u8], parts: &[&str]) {
        let message = match read_safetensors(bytes) {
            Ok(set) => panic!("expected an error, got {} tensors", set.len()),
            Err(e) => e.to_string(),
        };
        for part in parts {
            assert!(message.contains(part), "`{message}` lacks `{part}`");
        }
    }

    fn tensor(shape: &[usize], values: TensorValues) -> NamedTensor {
        NamedTensor {
            shape: shape.to_vec(),
            values,
        }
    }

    fn sample_set() -> TensorSet {
        TensorSet::from([
            (
                "a.weight".into(),
                tensor(&[2, 2], TensorValues::Float(vec![1.0, -0.5, 3.25, 1e-3])),
            ),
            (
                "a.num_batches_tracked".into(),
                tensor(&[], TensorValues::Int(vec![7])),
            ),
            (
                "b.counts".into(),
                tensor(&[3], TensorValues::Int(vec![-(1 << 60), 0, 42])),
            ),
            ("empty".into(), tensor(&[0, 4], TensorValues::Float(vec![]))),
            (
                "scalar".into(),
                tensor(&[], TensorValues::Float(vec![f32::NAN])),
            ),
        ])
    }

    /// NaN != NaN, so compare bit patterns.
    fn same_bits(a: &TensorSet, b: &TensorSet) -> bool {
        let bits = |set: &TensorSet| -> Vec<(String, Vec<usize>, Vec<u64>)> {
            set.iter()
                .map(|(k, t)| {
                    let v = match &t.values {
                        TensorValues::Float(v) => {
                            v.iter().map(|x| u64::from(x.to_bits())).collect()
                        }
                        TensorValues::Int(v) => v.iter().map(|&x| x as u64 ^ (1 << 63)).collect(),
                    };
                    (k.clone(), t.shape.clone(), v)
                })
                .collect()
        };
        bits(a) == bits(b)
    }

    #[test]
    fn shared_fixture_matches_the_reference_reader() {
        let bytes = shared("tinyunet_c1_s1_64x64.weights.safetensors");
        let set = read_safetensors(&bytes).expect("read");
        assert_eq!(set.len(), 434);
        let oracle = SafeTensors::deserialize(&bytes).expect("reference reader");
        for (name, view) in oracle.tensors() {
            let ours = &set[&name];
            assert_eq!(ours.shape, view.shape(), "{name}");
            let expected = decode_le(
                match view.dtype() {
                    Dtype::F32 => ElementType::F32,
                    Dtype::I64 => ElementType::I64,
                    other => panic!("{name}: {other:?}"),
                },
                view.data(),
                &name,
            )
            .expect("decode");
            assert_eq!(ours.values, expected, "{name}");
        }
        let counter = &set["encoder1.cmrf.pwconv1.bn.num_batches_tracked"];
        assert_eq!(counter, &tensor(&[], TensorValues::Int(vec![7])));
    }

    #[test]
    fn small_fixture_every_dtype() {
        let (set, metadata) =
            read_safetensors_with_metadata(&fixture("small.safetensors")).expect("read");
        assert_eq!(
            metadata,
            [("source".to_string(), "make_weights_fixtures.py".to_string())]
        );
        let float = |name: &str| match &set[name].values {
            TensorValues::Float(v) => v.clone(),
            other => panic!("{name}: {other:?}"),
        };
        let int = |name: &str| match &set[name].values {
            TensorValues::Int(v) => v.clone(),
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(float("f16"), [1.5, -2.0, 65504.0]);
        assert_eq!(float("bf16")[..2], [1.5, -2.0]);
        assert!((float("bf16")[2] / 3.0e38 - 1.0).abs() < 1e-2);
        assert_eq!(float("f64"), [0.1, f32::NEG_INFINITY, 2.0]); // f64 → f32 rounding
        assert_eq!(int("i64"), [-(1 << 62), 0, 1 << 40]);
        assert_eq!(int("i32"), [-5, 7]);
        assert_eq!(int("i16"), [-300, 300]);
        assert_eq!(int("i8"), [-128, 127]);
        assert_eq!(int("u8"), [0, 255]);
        assert_eq!(int("u16"), [1, 65535]);
        assert_eq!(int("bool"), [1, 0, 1]);
        assert_eq!(set["scalar"], tensor(&[], TensorValues::Int(vec![7])));
        assert_eq!(set["empty"], tensor(&[0, 3], TensorValues::Float(vec![])));
    }

    #[test]
    fn round_trip_f32() {
        let set = sample_set();
        let metadata = vec![
            ("format".to_string(), "pt".to_string()),
            ("b".into(), "\"quoted\"\n".into()),
        ];
        let bytes = write_safetensors(&set, &metadata).expect("write");
        let (back, meta_back) = read_safetensors_with_metadata(&bytes).expect("read");
        assert!(same_bits(&set, &back));
        let mut sorted = metadata.clone();
        sorted.sort();
        assert_eq!(meta_back, sorted);
        let oracle = SafeTensors::deserialize(&bytes).expect("reference reader");
        assert_eq!(oracle.tensor("a.weight").expect("a").dtype(), Dtype::F32);
        assert_eq!(oracle.tensor("b.counts").expect("b").dtype(), Dtype::I64);
        // No metadata: no `__metadata__` key at all.
        let plain = write_safetensors(&set, &[]).expect("write");
        assert!(
            SafeTensors::read_metadata(&plain)
                .expect("meta")
                .1
                .metadata()
                .is_none()
        );
    }

    #[test]
    fn round_trip_f16() {
        let mut set = sample_set();
        set.insert(
            "fine".into(),
            tensor(&[3], TensorValues::Float(vec![0.1, 1000.3, -65504.0])),
        );
        let bytes = write_safetensors_f16(&set, &[]).expect("write");
        assert_eq!(
            write_safetensors_as(&set, &[], FloatStorage::F16).expect("same"),
            bytes
        );
        let oracle = SafeTensors::deserialize(&bytes).expect("reference reader");
        assert_eq!(oracle.tensor("a.weight").expect("a").dtype(), Dtype::F16);
        assert_eq!(oracle.tensor("b.counts").expect("b").dtype(), Dtype::I64);
        let back = read_safetensors(&bytes).expect("read");
        let mut rounded = set.clone();
        for t in rounded.values_mut() {
            if let TensorValues::Float(v) = &mut t.values {
                v.iter_mut()
                    .for_each(|x| *x = half::f16::from_f32(*x).to_f32());
            }
        }
        assert!(same_bits(&rounded, &back));
        assert_eq!(back["b.counts"], set["b.counts"], "ints stay exact");
        let TensorValues::Float(w) = &back["a.weight"].values else {
            panic!("float")
        };
        assert_eq!(w[..3], [1.0, -0.5, 3.25], "exact in f16");
        assert!((w[3] - 1e-3).abs() < 1e-6, "rounded to f16");
        assert!(bytes.len() < write_safetensors(&set, &[]).expect("f32").len());
    }

    #[test]
    fn write_errors() {
        let mut set = sample_set();
        set.insert("big".into(), tensor(&[1], TensorValues::Float(vec![1e5])));
        let message = write_safetensors_f16(&set, &[])
            .expect_err("overflow")
            .to_string();
        assert!(
            message.contains("tensor `big`") && message.contains("f16"),
            "{message}"
        );
        assert!(write_safetensors(&set, &[]).is_ok(), "f32 holds it");
        let bad_shape =
            TensorSet::from([("w".into(), tensor(&[2, 2], TensorValues::Float(vec![1.0])))]);
        let message = write_safetensors(&bad_shape, &[])
            .expect_err("shape")
            .to_string();
        assert!(
            message.contains("tensor `w`: shape [2, 2] does not match its 1 values"),
            "{message}"
        );
        let reserved =
            TensorSet::from([(METADATA_KEY.into(), tensor(&[], TensorValues::Int(vec![1])))]);
        let message = write_safetensors(&reserved, &[])
            .expect_err("reserved")
            .to_string();
        assert!(message.contains("`__metadata__`"), "{message}");
        let twice = [
            ("k".to_string(), "1".to_string()),
            ("k".to_string(), "2".to_string()),
        ];
        let message = write_safetensors(&sample_set(), &twice)
            .expect_err("twice")
            .to_string();
        assert!(
            message.contains("metadata key `k` is given twice"),
            "{message}"
        );
    }

    #[test]
    fn header_errors_name_the_tensor() {
        let ok = r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
        assert!(read_safetensors(&file(ok, &[0; 8])).is_ok());
        assert_error(b"\x05\0\0", &["truncated", "3 bytes"]);
        let mut long = file(ok, &[0; 8]);
        long[..8].copy_from_slice(&1000u64.to_le_bytes());
        assert_error(&long, &["header length 1000 exceeds"]);
        let mut huge = file(ok, &[0; 8]);
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_error(&huge, &["exceeds"]);
        assert_error(
            &file("{\"w\": ", &[]),
            &["not valid JSON", "unexpected end"],
        );
        assert_error(
            &file("{\"w\":1} x", &[]),
            &["not valid JSON", "after the header"],
        );
        assert_error(&file("\u{0}", &[]), &["not valid JSON"]);
        let mut not_utf8 = file("{\"\"}", &[]);
        not_utf8[9] = 0xff;
        assert_error(&not_utf8, &["not UTF-8"]);
        assert_error(&file("[]", &[]), &["not a JSON object"]);
        let cases: &[(&str, usize, &[&str])] = &[
            (
                r#"{"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}"#,
                2,
                &["tensor `w` has unsupported dtype `F8_E4M3`", "F32, F16"],
            ),
            (
                r#"{"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#,
                8,
                &["unsupported dtype `C64`"],
            ),
            (
                r#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#,
                8,
                &["tensor `w`", "[0, 16] lie outside the 8-byte data section"],
            ),
            (
                r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#,
                8,
                &["tensor `w`", "lie outside"],
            ),
            (
                r#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
                8,
                &["tensor `w`", "shape [3] of F32 needs 12 bytes", "hold 8"],
            ),
            (
                r#"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#,
                8,
                &["tensor `w`", "more than usize::MAX"],
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
                12,
                &[
                    "tensor `b`",
                    "do not start where the previous tensor ends (byte 4)",
                ],
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                4,
                &["tensor `b`", "do not start"],
            ),
            (
                r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                8,
                &["data section has 8 bytes but the tensors cover 4"],
            ),
            (
                r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                8,
                &["names `w` twice"],
            ),
            (
                r#"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#,
                4,
                &["tensor `w`: header entry has no `shape`"],
            ),
            (
                r#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#,
                4,
                &["tensor `w`: `shape` is not an array of non-negative integers"],
            ),
            (
                r#"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#,
                4,
                &["`shape` is not an array"],
            ),
            (
                r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#,
                4,
                &["`data_offsets` has 1 numbers"],
            ),
            (
                r#"{"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}"#,
                4,
                &["`dtype` is not a string"],
            ),
            (
                r#"{"w":[]}"#,
                0,
                &["tensor `w`: header entry is not a JSON object"],
            ),
            (
                r#"{"__metadata__":{"k":1}}"#,
                0,
                &["`__metadata__` value for `k` is not a string"],
            ),
            (
                r#"{"__metadata__":[]}"#,
                0,
                &["`__metadata__` is not a JSON object"],
            ),
            (
                r#"{"w":{"dtype":"U64","shape":[1],"data_offsets":[0,8]}}"#,
                8,
                &["tensor `w`: U64 value 18446744073709551615 does not fit"],
            ),
        ];
        for (header, data_len, parts) in cases {
            assert_error(&file(header, &vec![0xff; *data_len]), parts);
        }
    }

    #[test]
    fn json_strings_and_nesting() {
        let header = r#" { "w\u00e9\ud83d\ude00\n\"" : {"data_offsets":[0,4],"shape":[1],"dtype":"I32","x":[null,true,false,{}]}, "__metadata__":{"k\/":"v\t"} }  "#;
        let (set, metadata) =
            read_safetensors_with_metadata(&file(header, &[1, 0, 0, 0])).expect("read");
        assert_eq!(set["wé😀\n\""].values, TensorValues::Int(vec![1]));
        assert_eq!(metadata, [("k/".to_string(), "v\t".to_string())]);
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_error(&file(&deep, &[]), &["nesting too deep"]);
        for bad in [
            r#"{"\ud800"}"#,
            r#"{"\uzzzz"}"#,
            r#"{"\q"}"#,
            "{\"\u{1}\"}",
            r#"{"a":tru}"#,
        ] {
            assert_error(&file(bad, &[]), &["not valid JSON"]);
        }
        // The writer's escapes read back.
        let odd = TensorSet::from([(
            "é \"x\"\\\n\u{1}😀".into(),
            tensor(&[], TensorValues::Int(vec![3])),
        )]);
        let bytes = write_safetensors(&odd, &[("ключ".into(), "\u{7f}\"".into())]).expect("write");
        let (back, meta) = read_safetensors_with_metadata(&bytes).expect("read");
        assert_eq!(back, odd);
        assert_eq!(meta, [("ключ".to_string(), "\u{7f}\"".to_string())]);
    }

    #[test]
    fn every_truncation_fails_without_panicking() {
        let small = fixture("small.safetensors");
        for cut in 0..small.len() {
            assert!(read_safetensors(&small[..cut]).is_err(), "cut {cut}");
        }
        let big = shared("tinyunet_c1_s1_64x64.weights.safetensors");
        for i in 0..64 {
            let cut = (big.len() * i / 64 + i).min(big.len() - 1);
            assert!(read_safetensors(&big[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn byte_flips_never_panic() {
        let small = fixture("small.safetensors");
        for at in 0..small.len() {
            for mask in [0x01, 0x02, 0x10, 0x80, 0xff] {
                let mut bytes = small.clone();
                bytes[at] ^= mask;
                let _ = read_safetensors(&bytes);
            }
        }
    }
}
