//! A restricted unpickler: builds values for the opcodes and globals of a state_dict, never calls
//! anything. This file holds the object model (the values a pickle can build) and the entry point;
//! `machine` runs the opcodes, `objects` builds containers, tensors and storages, and `globals` is
//! the allowlist of globals.

mod globals;
mod machine;
mod objects;

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::error::{Error, Result};
use crate::weights::dtype::ElementType;

use machine::Machine;

/// An element type as the pickle names it.
#[derive(Clone, Debug)]
pub(super) enum Dtype {
    /// One we decode.
    Known(ElementType),
    /// One we can only name in an error (`torch.float8_e4m3fn`, `torch.ComplexFloatStorage`).
    Unsupported(Rc<str>),
}

/// How a storage's `numel` is counted.
#[derive(Clone, Debug)]
pub(super) enum StorageKind {
    /// In elements of this type (`torch.FloatStorage`, ...).
    Typed(Dtype),
    /// In bytes (`torch.storage.UntypedStorage`, used with `_rebuild_tensor_v3`).
    Untyped,
}

/// A persistent id `('storage', type, key, location, numel)`: data lives in `data/<key>`.
#[derive(Debug)]
pub(super) struct StorageRef {
    pub(super) kind: StorageKind,
    pub(super) key: Rc<str>,
    pub(super) numel: u64,
}

/// A tensor as `_rebuild_tensor*` describes it; its data is read later, from the archive.
#[derive(Debug)]
pub(super) struct TensorRef {
    pub(super) storage: Rc<StorageRef>,
    pub(super) dtype: Dtype,
    pub(super) offset: u64,
    pub(super) size: Vec<u64>,
    pub(super) stride: Vec<u64>,
    /// The tensor's metadata sets torch's lazy `neg` or `conj` bit: stored values are not the
    /// tensor's values.
    pub(super) lazy_bits: bool,
}

/// A dict key; state_dict keys are strings, and we need nothing else.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Key {
    /// An int (or bool) key.
    Int(i64),
    /// A str key.
    Str(Rc<str>),
}

/// The only globals a state_dict refers to.
#[derive(Clone, Debug)]
pub(super) enum Global {
    OrderedDict,
    RebuildTensor,
    RebuildTensorV2,
    RebuildTensorV3,
    RebuildParameter,
    RebuildParameterWithState,
    /// A storage class: a marker in persistent ids, never called.
    Storage(StorageKind),
    /// A dtype object (`torch.uint16`): a `_rebuild_tensor_v3` argument, never called.
    Dtype(Dtype),
}

impl Global {
    /// The Python name, for error messages.
    fn name(&self) -> &'static str {
        match self {
            Global::OrderedDict => "collections.OrderedDict",
            Global::RebuildTensor => "torch._utils._rebuild_tensor",
            Global::RebuildTensorV2 => "torch._utils._rebuild_tensor_v2",
            Global::RebuildTensorV3 => "torch._utils._rebuild_tensor_v3",
            Global::RebuildParameter => "torch._utils._rebuild_parameter",
            Global::RebuildParameterWithState => "torch._utils._rebuild_parameter_with_state",
            Global::Storage(_) => "a torch storage class",
            Global::Dtype(_) => "a torch dtype",
        }
    }
}

/// A pickled value. Lists and dicts are indices into the machine's arenas, so that shared
/// references (memo gets) see later mutation and no reference cycle can form.
#[derive(Clone, Debug)]
pub(super) enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// A float; no state_dict part needs its value, so it is not kept.
    Float,
    Str(Rc<str>),
    Tuple(Rc<Tuple>),
    List(usize),
    Dict(usize),
    Global(Global),
    Storage(Rc<StorageRef>),
    Tensor(Rc<TensorRef>),
}

/// An immutable tuple and its nesting depth (1 for a tuple of non-tuples).
#[derive(Debug)]
pub(super) struct Tuple {
    items: Vec<Value>,
    depth: usize,
}

impl Value {
    /// The Python type with its article ("an int"), for error messages.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "a bool",
            Value::Int(_) => "an int",
            Value::Float => "a float",
            Value::Str(_) => "a str",
            Value::Tuple(_) => "a tuple",
            Value::List(_) => "a list",
            Value::Dict(_) => "a dict",
            Value::Global(_) => "a class or function",
            Value::Storage(_) => "a storage",
            Value::Tensor(_) => "a tensor",
        }
    }

    fn tuple_depth(&self) -> usize {
        match self {
            Value::Tuple(t) => t.depth,
            _ => 0,
        }
    }
}

/// Runs the pickle and returns the entries of the top-level dict.
pub(super) fn load_dict(pickle: &[u8]) -> Result<BTreeMap<Key, Value>> {
    let mut machine = Machine::new(pickle);
    let top = machine.run()?;
    match top {
        Value::Dict(i) => Ok(machine
            .dicts
            .get_mut(i)
            .map(std::mem::take)
            .unwrap_or_default()),
        other => Err(Error::weights(format!(
            "the .pth file's top-level object is {}, not a dict of tensors (a state_dict)",
            other.kind()
        ))),
    }
}
