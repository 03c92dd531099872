//! Reads the header's JSON with `serde_json` into a small tree that keeps every object member in
//! file order, duplicates included: `serde_json::Value`'s map would silently keep the last of two
//! equal keys, and a tensor named twice must be refused (see `header::parse_header`).
//!
//! The whole document is read before any of it is interpreted, so a syntax error anywhere is
//! reported as such, ahead of what the header's fields mean.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::error::Category;

/// A parsed JSON value, keeping only what a header can use.
#[derive(Debug)]
pub(super) enum Value {
    /// `true`, `false` or `null`: never meaningful in a header, so not kept.
    Literal,
    /// A number: `Some` when it is a non-negative integer up to `u64::MAX` (sizes and offsets, the
    /// only numbers a header holds), `None` for any other (negative, fractional or larger).
    Number(Option<u64>),
    String(String),
    Array(Vec<Value>),
    /// Members in file order, duplicates kept so the caller can refuse them.
    Object(Vec<(String, Value)>),
}

/// A safetensors header nests three levels; anything much deeper is hostile. The limit (below
/// serde_json's own 128) keeps the recursion, and the recursive drop of the result, off the end
/// of the stack, and names the problem.
const MAX_DEPTH: usize = 32;

/// Parses a complete JSON document; the error text says where it went wrong.
pub(super) fn parse(text: &str) -> Result<Value, String> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = Nested { depth: 0 }
        .deserialize(&mut deserializer)
        .map_err(|e| match e.classify() {
            // serde_json says "EOF while parsing ..."; say plainly that the text stops early.
            Category::Eof => format!("unexpected end of the header ({e})"),
            _ => e.to_string(),
        })?;
    // Trailing whitespace is allowed (the format pads headers with spaces); anything else is not.
    deserializer
        .end()
        .map_err(|e| format!("unexpected text after the header object ({e})"))?;
    Ok(value)
}

/// Reads one value `depth` levels below the top, refusing to go deeper than [`MAX_DEPTH`].
#[derive(Clone, Copy)]
struct Nested {
    depth: usize,
}

impl Nested {
    fn inner(self) -> Self {
        Self {
            depth: self.depth + 1,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Nested {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        if self.depth > MAX_DEPTH {
            return Err(de::Error::custom("nesting too deep"));
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Nested {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Value, E> {
        Ok(Value::Literal)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Literal)
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(Some(v)))
    }

    /// serde_json hands over only negative integers as i64: never a size or an offset.
    fn visit_i64<E>(self, _: i64) -> Result<Value, E> {
        Ok(Value::Number(None))
    }

    /// Fractions, exponents and integers beyond `u64::MAX` arrive as f64.
    fn visit_f64<E>(self, _: f64) -> Result<Value, E> {
        Ok(Value::Number(None))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.inner())? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    /// Unlike serde_json's own map, keeps every member: a repeated key stays visible.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            members.push((key, map.next_value_seed(self.inner())?));
        }
        Ok(Value::Object(members))
    }
}
