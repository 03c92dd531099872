//! The allowlist of globals: the few torch and collections names a state_dict refers to, each
//! resolved to a [`Global`]; any other name is refused, which is what keeps the unpickler from
//! ever running code.

use crate::error::{Error, Result};
use crate::weights::dtype::ElementType;

use super::{Dtype, Global, StorageKind};

/// Resolves a global to one we allow, or refuses it by name.
pub(super) fn resolve_global(module: &str, name: &str) -> Result<Global> {
    let global = match (module, name) {
        ("collections", "OrderedDict") => Some(Global::OrderedDict),
        ("torch._utils", "_rebuild_tensor") => Some(Global::RebuildTensor),
        ("torch._utils", "_rebuild_tensor_v2") => Some(Global::RebuildTensorV2),
        ("torch._utils", "_rebuild_tensor_v3") => Some(Global::RebuildTensorV3),
        ("torch._utils", "_rebuild_parameter") => Some(Global::RebuildParameter),
        ("torch._utils", "_rebuild_parameter_with_state") => {
            Some(Global::RebuildParameterWithState)
        }
        ("torch" | "torch.storage", "UntypedStorage") => {
            Some(Global::Storage(StorageKind::Untyped))
        }
        ("torch", _) => storage_class(name)
            .map(|d| Global::Storage(StorageKind::Typed(d)))
            .or_else(|| dtype_object(name).map(Global::Dtype)),
        _ => None,
    };
    global.ok_or_else(|| forbidden(module, name))
}

fn forbidden(module: &str, name: &str) -> Error {
    let hint = if module.starts_with("__torch__") {
        " (this looks like a TorchScript archive from torch.jit.save; save \
         model.state_dict() with torch.save instead)"
    } else {
        ""
    };
    Error::weights(format!(
        "pickle references forbidden global `{module}.{name}`; only tensor state_dicts are \
         accepted{hint}"
    ))
}

/// `torch.<Type>Storage`: the legacy typed storage classes persistent ids name.
fn storage_class(name: &str) -> Option<Dtype> {
    let known = match name.strip_suffix("Storage")? {
        "Double" => ElementType::F64,
        "Float" => ElementType::F32,
        "Half" => ElementType::F16,
        "BFloat16" => ElementType::BF16,
        "Long" => ElementType::I64,
        "Int" => ElementType::I32,
        "Short" => ElementType::I16,
        "Char" => ElementType::I8,
        "Byte" => ElementType::U8,
        "Bool" => ElementType::Bool,
        "ComplexFloat" | "ComplexDouble" | "QInt8" | "QUInt8" | "QInt32" | "QUInt4x2"
        | "QUInt2x4" => return Some(Dtype::Unsupported(format!("torch.{name}").into())),
        _ => return None,
    };
    Some(Dtype::Known(known))
}

/// `torch.<dtype>`: dtype objects, as `_rebuild_tensor_v3` receives them.
fn dtype_object(name: &str) -> Option<Dtype> {
    let known = match name {
        "float64" | "double" => ElementType::F64,
        "float32" | "float" => ElementType::F32,
        "float16" | "half" => ElementType::F16,
        "bfloat16" => ElementType::BF16,
        "int64" | "long" => ElementType::I64,
        "int32" | "int" => ElementType::I32,
        "int16" | "short" => ElementType::I16,
        "int8" => ElementType::I8,
        "uint64" => ElementType::U64,
        "uint32" => ElementType::U32,
        "uint16" => ElementType::U16,
        "uint8" => ElementType::U8,
        "bool" => ElementType::Bool,
        _ => {
            let exotic = ["float8_", "float4_", "complex", "qint", "quint", "bits"];
            let short_ints = [
                "uint1", "uint2", "uint3", "uint4", "uint5", "uint6", "uint7",
            ];
            return (exotic.iter().any(|p| name.starts_with(p))
                || short_ints.contains(&name)
                || matches!(name, "cfloat" | "cdouble" | "chalf"))
            .then(|| Dtype::Unsupported(format!("torch.{name}").into()));
        }
    };
    Some(Dtype::Known(known))
}
