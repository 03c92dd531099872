//! Reference names for a module's tensors: the dotted `state_dict` path of every parameter and
//! buffer, parameter ids derived from those paths, and the shapes a module stores under them.
//! The model gives itself stable ids with them, and `weights` matches files against them.

use std::collections::BTreeMap;

use burn::module::{ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::prelude::*;

/// What the model expects under one name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamEntry {
    /// Expected shape.
    pub shape: Vec<usize>,
    /// False for BatchNorm running statistics (buffers, not optimised).
    pub trainable: bool,
}

/// Tracks the dotted module path during a visit or map.
#[derive(Default)]
pub(crate) struct PathStack(Vec<String>);

impl PathStack {
    pub(crate) fn enter(&mut self, name: &str) {
        self.0.push(name.to_string());
    }
    pub(crate) fn exit(&mut self) {
        self.0.pop();
    }
    pub(crate) fn joined(&self) -> String {
        self.0.join(".")
    }
}

/// True for BatchNorm running statistics (buffers, not optimised).
pub(crate) fn is_buffer(name: &str) -> bool {
    name.ends_with(".running_mean") || name.ends_with(".running_var")
}

/// Gives every parameter an id derived from its path (FNV-1a of the dotted name), so that the same
/// network has the same ids in every process: optimiser state saved by one training run then
/// matches the parameters of the next (resume).
pub fn assign_path_ids<M: Module>(model: M) -> M {
    struct Ids {
        path: PathStack,
    }
    impl ModuleMapper for Ids {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.enter(name);
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.exit();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let id = ParamId::from(fnv1a(self.path.joined().as_bytes()));
            let value = param.val();
            param.transform_for_load(value, id)
        }
    }
    model.map(&mut Ids {
        path: PathStack::default(),
    })
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Names, shapes and roles of everything a module stores (without reading any values).
pub fn parameter_shapes<M: Module>(model: &M) -> BTreeMap<String, ParamEntry> {
    struct Shapes {
        path: PathStack,
        out: BTreeMap<String, ParamEntry>,
    }
    impl ModuleVisitor for Shapes {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.enter(name);
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.exit();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let name = self.path.joined();
            let trainable = !is_buffer(&name);
            let shape = param.lazy_shape().to_vec();
            self.out.insert(name, ParamEntry { shape, trainable });
        }
    }
    let mut visitor = Shapes {
        path: PathStack::default(),
        out: BTreeMap::new(),
    };
    model.visit(&mut visitor);
    visitor.out
}
