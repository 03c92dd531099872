//! The pickle stack machine: its state, the opcode dispatch, and the opcodes that read input,
//! move values on the stack and use the memo. Opcodes that build objects are in `objects`.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use crate::error::{Error, Result};

use super::{Key, Tuple, Value};

/// Tuples are the only values that nest by value; a state_dict needs depth 3. The limit keeps
/// the recursive drop of hostile nesting off the end of the stack.
const MAX_TUPLE_DEPTH: usize = 32;

/// The newest pickle protocol we know.
const MAX_PROTOCOL: u8 = 5;

/// The stack machine state.
pub(super) struct Machine<'a> {
    input: &'a [u8],
    pos: usize,
    /// Start of the opcode being run, for error messages.
    op_pos: usize,
    stack: Vec<Value>,
    /// Stack heights at each MARK; values below the top mark are out of reach, as in CPython.
    marks: Vec<usize>,
    /// Keyed by index rather than a vector: LONG_BINPUT may name any u32.
    memo: HashMap<u32, Value>,
    pub(super) lists: Vec<Vec<Value>>,
    pub(super) dicts: Vec<BTreeMap<Key, Value>>,
}

impl<'a> Machine<'a> {
    pub(super) fn new(input: &'a [u8]) -> Self {
        Self {
            input,
            pos: 0,
            op_pos: 0,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            lists: Vec::new(),
            dicts: Vec::new(),
        }
    }

    pub(super) fn err(&self, what: impl std::fmt::Display) -> Error {
        Error::weights(format!("data.pkl byte {}: {what}", self.op_pos))
    }

    /// Runs opcodes until STOP. Every opcode consumes at least one byte, so this ends.
    pub(super) fn run(&mut self) -> Result<Value> {
        loop {
            self.op_pos = self.pos;
            let [op] = self.take_array::<1>()?;
            if op == b'.' {
                return self.pop();
            }
            self.step(op)?;
        }
    }

    fn step(&mut self, op: u8) -> Result<()> {
        match op {
            0x80 => self.proto(),
            0x95 => self.take(8).map(drop), // FRAME: a read-ahead hint
            b'(' => {
                self.marks.push(self.stack.len());
                Ok(())
            }
            b'}' => self.push_dict(BTreeMap::new()),
            b']' => self.push_list(Vec::new()),
            b')' => self.push_tuple(Vec::new()),
            b't' => self.pop_mark().and_then(|items| self.push_tuple(items)),
            0x85..=0x87 => self
                .pop_n(usize::from(op - 0x84))
                .and_then(|v| self.push_tuple(v)),
            b'l' => self.pop_mark().and_then(|items| self.push_list(items)),
            b'd' => self.dict_from_mark(),
            b'X' => self.unicode::<4>(),
            0x8c => self.unicode::<1>(),
            0x8d => self.unicode::<8>(),
            b'J' => self
                .take_array()
                .and_then(|b| self.push(Value::Int(i32::from_le_bytes(b).into()))),
            b'K' => self
                .take_array::<1>()
                .and_then(|[b]| self.push(Value::Int(b.into()))),
            b'M' => self
                .take_array()
                .and_then(|b| self.push(Value::Int(u16::from_le_bytes(b).into()))),
            0x8a => self.long::<1>(),
            0x8b => self.long::<4>(),
            0x88 => self.push(Value::Bool(true)),
            0x89 => self.push(Value::Bool(false)),
            b'N' => self.push(Value::None),
            b'G' => self.take(8).and_then(|_| self.push(Value::Float)),
            b'q' => self.take_array::<1>().and_then(|[i]| self.put(i.into())),
            b'r' => self
                .take_array()
                .and_then(|b| self.put(u32::from_le_bytes(b))),
            0x94 => self.memoize(),
            b'h' => self.take_array::<1>().and_then(|[i]| self.get(i.into())),
            b'j' => self
                .take_array()
                .and_then(|b| self.get(u32::from_le_bytes(b))),
            b's' => self.setitem(),
            b'u' => self.setitems(),
            b'a' => self.append(),
            b'e' => self.appends(),
            b'c' => self.global(),
            0x93 => self.stack_global(),
            b'R' => self.reduce(),
            b'b' => self.build(),
            b'Q' => self.persistent_id(),
            b'0' => self.pop().map(drop),
            b'1' => self.pop_mark().map(drop),
            b'2' => self.peek().cloned().and_then(|v| self.push(v)),
            _ => Err(self.unsupported_opcode(op)),
        }
    }

    fn unsupported_opcode(&self, op: u8) -> Error {
        let name = match op {
            0x81 => "NEWOBJ",
            0x92 => "NEWOBJ_EX",
            b'i' => "INST",
            b'o' => "OBJ",
            b'P' => "PERSID",
            0x82..=0x84 => "EXT",
            b'B' | b'C' | 0x8e => "BINBYTES",
            b'T' | b'U' | b'S' => "STRING",
            0x8f..=0x91 => "SET",
            0x96..=0x98 => "BUFFER",
            b'I' | b'L' | b'F' | b'V' | b'p' | b'g' => "text-protocol",
            _ => {
                return self.err(format!(
                    "unknown pickle opcode 0x{op:02x}; only tensor state_dicts are accepted"
                ));
            }
        };
        self.err(format!(
            "unsupported pickle opcode 0x{op:02x} ({name}); only tensor state_dicts are accepted"
        ))
    }

    // --- input -------------------------------------------------------------------------

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let input = self.input;
        let end = self.pos.checked_add(n).filter(|&e| e <= input.len());
        let bytes = end.and_then(|e| input.get(self.pos..e)).ok_or_else(|| {
            let left = input.len().saturating_sub(self.pos);
            self.err(format!(
                "truncated pickle (needs {n} more bytes, has {left})"
            ))
        })?;
        self.pos += n;
        Ok(bytes)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N)?;
        bytes
            .first_chunk()
            .copied()
            .ok_or_else(|| self.err("truncated pickle"))
    }

    /// A length prefix of `N` bytes (little-endian), as a `usize`.
    fn take_len<const N: usize>(&mut self) -> Result<usize> {
        let bytes = self.take_array::<N>()?;
        let mut wide = [0u8; 8];
        wide.get_mut(..N)
            .ok_or_else(|| self.err("length field too wide"))?
            .copy_from_slice(&bytes);
        // A length beyond the input fails in `take` right after; only the conversion can fail here.
        usize::try_from(u64::from_le_bytes(wide)).map_err(|_| self.err("length beyond the input"))
    }

    pub(super) fn line(&mut self) -> Result<String> {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        let len = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| self.err("truncated GLOBAL"))?;
        let text = String::from_utf8_lossy(self.take(len)?).into_owned();
        self.take(1)?;
        Ok(text)
    }

    // --- stack -------------------------------------------------------------------------

    /// Pushes a value. Every push follows reading at least one input byte, so the stack (like
    /// every other structure here) stays proportional to the input.
    pub(super) fn push(&mut self, value: Value) -> Result<()> {
        self.stack.push(value);
        Ok(())
    }

    /// The top value above the current mark.
    pub(super) fn peek(&self) -> Result<&Value> {
        let floor = self.marks.last().copied().unwrap_or(0);
        self.stack
            .last()
            .filter(|_| self.stack.len() > floor)
            .ok_or_else(|| self.err("stack underflow"))
    }

    pub(super) fn pop(&mut self) -> Result<Value> {
        self.peek()?;
        self.stack.pop().ok_or_else(|| self.err("stack underflow"))
    }

    pub(super) fn pop_n(&mut self, n: usize) -> Result<Vec<Value>> {
        let floor = self.marks.last().copied().unwrap_or(0);
        let start = self.stack.len().checked_sub(n).filter(|&s| s >= floor);
        let start = start.ok_or_else(|| self.err("stack underflow"))?;
        Ok(self.stack.split_off(start))
    }

    pub(super) fn pop_mark(&mut self) -> Result<Vec<Value>> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| self.err("no MARK to pop to"))?;
        if mark > self.stack.len() {
            return Err(self.err("stack underflow"));
        }
        Ok(self.stack.split_off(mark))
    }

    fn push_tuple(&mut self, items: Vec<Value>) -> Result<()> {
        let depth = 1 + items.iter().map(Value::tuple_depth).max().unwrap_or(0);
        if depth > MAX_TUPLE_DEPTH {
            return Err(self.err(format!(
                "tuples nested deeper than {MAX_TUPLE_DEPTH} levels"
            )));
        }
        self.push(Value::Tuple(Rc::new(Tuple { items, depth })))
    }

    fn push_list(&mut self, items: Vec<Value>) -> Result<()> {
        self.lists.push(items);
        self.push(Value::List(self.lists.len() - 1))
    }

    pub(super) fn push_dict(&mut self, dict: BTreeMap<Key, Value>) -> Result<()> {
        self.dicts.push(dict);
        self.push(Value::Dict(self.dicts.len() - 1))
    }

    // --- scalars -----------------------------------------------------------------------

    fn proto(&mut self) -> Result<()> {
        let [version] = self.take_array::<1>()?;
        if version > MAX_PROTOCOL {
            return Err(self.err(format!(
                "pickle protocol {version} is newer than {MAX_PROTOCOL}"
            )));
        }
        Ok(())
    }

    fn unicode<const N: usize>(&mut self) -> Result<()> {
        let len = self.take_len::<N>()?;
        let bytes = self.take(len)?;
        let text = std::str::from_utf8(bytes).map_err(|_| self.err("string is not UTF-8"))?;
        self.push(Value::Str(text.into()))
    }

    /// LONG1 / LONG4: little-endian two's complement of any length; we keep what fits in i64.
    fn long<const N: usize>(&mut self) -> Result<()> {
        let len = self.take_len::<N>()?;
        let bytes = self.take(len)?;
        if len > 8 {
            return Err(self.err(format!("integer of {len} bytes does not fit in 64 bits")));
        }
        let negative = bytes.last().is_some_and(|&b| b & 0x80 != 0);
        let mut wide = [if negative { 0xFF } else { 0 }; 8];
        wide.get_mut(..len)
            .ok_or_else(|| self.err("integer too wide"))?
            .copy_from_slice(bytes);
        self.push(Value::Int(i64::from_le_bytes(wide)))
    }

    // --- memo --------------------------------------------------------------------------

    fn put(&mut self, index: u32) -> Result<()> {
        let value = self.peek()?.clone();
        self.memo.insert(index, value);
        Ok(())
    }

    fn memoize(&mut self) -> Result<()> {
        let index = u32::try_from(self.memo.len()).map_err(|_| self.err("memo full"))?;
        self.put(index)
    }

    fn get(&mut self, index: u32) -> Result<()> {
        let value = self.memo.get(&index).cloned();
        let value = value.ok_or_else(|| self.err(format!("memo entry {index} was never set")))?;
        self.push(value)
    }
}
