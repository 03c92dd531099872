//! Weights I/O: safetensors (read and write) and PyTorch `.pth` (read), under the reference's
//! `state_dict` names.

pub mod model_io;
pub mod pth;
pub mod safetensors_io;
pub mod tensor_set;

pub use model_io::{export_weights, import_weights, infer_config, validate_weights};
pub use tensor_set::{NamedTensor, TensorSet, TensorValues};

use crate::error::{Error, Result};

/// Decodes a weights file from its bytes, telling `.pth` (a ZIP) from safetensors by content.
pub fn decode_weights(bytes: &[u8]) -> Result<TensorSet> {
    if bytes.len() < 8 {
        return Err(Error::weights(format!(
            "the file is only {} bytes long: not a safetensors or .pth weights file",
            bytes.len()
        )));
    }
    // A ZIP is a modern `torch.save`; 0x80 opens a pickle, i.e. a legacy one, which `read_pth`
    // recognises and explains.
    if bytes.starts_with(b"PK") || bytes[0] == 0x80 {
        pth::read_pth(bytes)
    } else {
        safetensors_io::read_safetensors(bytes)
    }
}
