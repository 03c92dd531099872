//! The opcodes that build objects: dicts and lists, globals and calls (`_rebuild_tensor*`,
//! `OrderedDict`), BUILD and persistent ids (storages).

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::error::Result;

use super::globals::resolve_global;
use super::machine::Machine;
use super::{Global, Key, StorageKind, StorageRef, TensorRef, Value};

impl Machine<'_> {
    // --- containers --------------------------------------------------------------------

    fn dict_key(&self, key: Value) -> Result<Key> {
        match key {
            Value::Str(s) => Ok(Key::Str(s)),
            Value::Int(i) => Ok(Key::Int(i)),
            Value::Bool(b) => Ok(Key::Int(b.into())),
            other => Err(self.err(format!(
                "a dict key that is {} is not supported",
                other.kind()
            ))),
        }
    }

    /// The arena index of the dict at the top of the stack.
    fn target_dict(&self) -> Result<usize> {
        match self.peek()? {
            Value::Dict(i) => Ok(*i),
            other => Err(self.err(format!("SETITEM on {}, not a dict", other.kind()))),
        }
    }

    fn insert_pairs(&mut self, dict: usize, items: Vec<Value>) -> Result<()> {
        if !items.len().is_multiple_of(2) {
            return Err(self.err("odd number of items for a dict"));
        }
        let mut items = items.into_iter();
        while let (Some(key), Some(value)) = (items.next(), items.next()) {
            let key = self.dict_key(key)?;
            let Some(target) = self.dicts.get_mut(dict) else {
                return Err(self.err("bad dict"));
            };
            target.insert(key, value);
        }
        Ok(())
    }

    pub(super) fn setitem(&mut self) -> Result<()> {
        let pair = self.pop_n(2)?;
        let dict = self.target_dict()?;
        self.insert_pairs(dict, pair)
    }

    pub(super) fn setitems(&mut self) -> Result<()> {
        let items = self.pop_mark()?;
        let dict = self.target_dict()?;
        self.insert_pairs(dict, items)
    }

    pub(super) fn dict_from_mark(&mut self) -> Result<()> {
        let items = self.pop_mark()?;
        self.push_dict(BTreeMap::new())?;
        let dict = self.target_dict()?;
        self.insert_pairs(dict, items)
    }

    fn extend_list(&mut self, items: Vec<Value>) -> Result<()> {
        let list = match self.peek()? {
            Value::List(i) => *i,
            other => return Err(self.err(format!("APPEND on {}, not a list", other.kind()))),
        };
        let Some(target) = self.lists.get_mut(list) else {
            return Err(self.err("bad list"));
        };
        target.extend(items);
        Ok(())
    }

    pub(super) fn append(&mut self) -> Result<()> {
        let item = self.pop()?;
        self.extend_list(vec![item])
    }

    pub(super) fn appends(&mut self) -> Result<()> {
        let items = self.pop_mark()?;
        self.extend_list(items)
    }

    // --- globals and calls -------------------------------------------------------------

    pub(super) fn global(&mut self) -> Result<()> {
        let module = self.line()?;
        let name = self.line()?;
        let global = resolve_global(&module, &name)?;
        self.push(Value::Global(global))
    }

    pub(super) fn stack_global(&mut self) -> Result<()> {
        let pair = self.pop_n(2)?;
        let [Value::Str(module), Value::Str(name)] = &pair[..] else {
            return Err(self.err("STACK_GLOBAL needs two strings"));
        };
        let global = resolve_global(module, name)?;
        self.push(Value::Global(global))
    }

    pub(super) fn reduce(&mut self) -> Result<()> {
        let args = match self.pop()? {
            Value::Tuple(t) => t,
            other => {
                return Err(self.err(format!(
                    "REDUCE arguments are {}, not a tuple",
                    other.kind()
                )));
            }
        };
        let result = match self.pop()? {
            Value::Global(global) => self.call(&global, &args.items)?,
            other => return Err(self.err(format!("REDUCE calls {}", other.kind()))),
        };
        self.push(result)
    }

    fn call(&mut self, global: &Global, args: &[Value]) -> Result<Value> {
        match (global, args.len()) {
            (Global::OrderedDict, 0) => {
                self.dicts.push(BTreeMap::new());
                Ok(Value::Dict(self.dicts.len() - 1))
            }
            (Global::RebuildTensor, 4)
            | (Global::RebuildTensorV2, 6 | 7)
            | (Global::RebuildTensorV3, 7 | 8) => self.rebuild_tensor(global, args),
            (Global::RebuildParameter, 3) | (Global::RebuildParameterWithState, 4) => {
                match args.first() {
                    Some(tensor @ Value::Tensor(_)) => Ok(tensor.clone()),
                    _ => Err(self.err("_rebuild_parameter's first argument is not a tensor")),
                }
            }
            (Global::Storage(_) | Global::Dtype(_), _) => {
                Err(self.err("calling a storage class or dtype is not supported"))
            }
            (global, n) => Err(self.err(format!("{} called with {n} arguments", global.name()))),
        }
    }

    /// `_rebuild_tensor(storage, offset, size, stride)`, `_v2(.., requires_grad, hooks[,
    /// metadata])` and `_v3(.., requires_grad, hooks, dtype[, metadata])`.
    fn rebuild_tensor(&self, global: &Global, args: &[Value]) -> Result<Value> {
        let Some(Value::Storage(storage)) = args.first() else {
            return Err(self.err("_rebuild_tensor's first argument is not a storage"));
        };
        let offset = self.non_negative(args.get(1), "storage_offset")?;
        let size = self.int_tuple(args.get(2), "size")?;
        let stride = self.int_tuple(args.get(3), "stride")?;
        if size.len() != stride.len() {
            return Err(self.err("tensor size and stride have different lengths"));
        }
        let (dtype, metadata) = match global {
            Global::RebuildTensorV3 => match args.get(6) {
                Some(Value::Global(Global::Dtype(d))) => (d.clone(), args.get(7)),
                _ => return Err(self.err("_rebuild_tensor_v3's dtype argument is not a dtype")),
            },
            _ => match &storage.kind {
                StorageKind::Typed(d) => (d.clone(), args.get(6)),
                StorageKind::Untyped => {
                    return Err(self.err("an untyped storage needs _rebuild_tensor_v3"));
                }
            },
        };
        let lazy_bits = self.sets_lazy_bit(metadata);
        let storage = Rc::clone(storage);
        Ok(Value::Tensor(Rc::new(TensorRef {
            storage,
            dtype,
            offset,
            size,
            stride,
            lazy_bits,
        })))
    }

    /// Tensor metadata is `{'neg': True}` / `{'conj': True}` when a lazy bit is set.
    fn sets_lazy_bit(&self, metadata: Option<&Value>) -> bool {
        match metadata {
            Some(Value::Dict(i)) => self
                .dicts
                .get(*i)
                .is_some_and(|d| d.values().any(|v| matches!(v, Value::Bool(true)))),
            _ => false,
        }
    }

    fn non_negative(&self, value: Option<&Value>, what: &str) -> Result<u64> {
        match value {
            Some(Value::Int(i)) => {
                u64::try_from(*i).map_err(|_| self.err(format!("negative tensor {what} {i}")))
            }
            _ => Err(self.err(format!("tensor {what} is not an int"))),
        }
    }

    fn int_tuple(&self, value: Option<&Value>, what: &str) -> Result<Vec<u64>> {
        match value {
            Some(Value::Tuple(t)) => t
                .items
                .iter()
                .map(|v| self.non_negative(Some(v), what))
                .collect(),
            _ => Err(self.err(format!("tensor {what} is not a tuple"))),
        }
    }

    /// BUILD sets an object's state. The only object a state_dict builds is its OrderedDict,
    /// whose state is the `_metadata` attribute (per-module versions, no weights): dropped.
    pub(super) fn build(&mut self) -> Result<()> {
        self.pop()?;
        match self.peek()? {
            Value::Dict(_) => Ok(()),
            other => Err(self.err(format!("BUILD on {} is not supported", other.kind()))),
        }
    }

    /// BINPERSID: `('storage', storage_type, key, location, numel)`.
    pub(super) fn persistent_id(&mut self) -> Result<()> {
        let pid = self.pop()?;
        let bad =
            || self.err("persistent id is not a ('storage', type, key, location, numel) tuple");
        let Value::Tuple(t) = &pid else {
            return Err(bad());
        };
        let [
            Value::Str(tag),
            Value::Global(Global::Storage(kind)),
            Value::Str(key),
            _,
            Value::Int(numel),
        ] = &t.items[..]
        else {
            return Err(bad());
        };
        if &**tag != "storage" {
            return Err(bad());
        }
        let numel = u64::try_from(*numel).map_err(|_| bad())?;
        let storage = StorageRef {
            kind: kind.clone(),
            key: Rc::clone(key),
            numel,
        };
        self.push(Value::Storage(Rc::new(storage)))
    }
}
