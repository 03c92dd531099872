//! Weights I/O: safetensors (read and write) and PyTorch `.pth` (read), under the reference's
//! `state_dict` names.

pub mod blend;
pub mod card;
mod dtype;
pub mod model_io;
pub mod pth;
pub mod safetensors_io;
pub mod tensor_set;
#[cfg(test)]
mod test_files;

pub use blend::blend;
pub use card::{ClassInfo, ImageKind, ModelCard};
pub use model_io::{export_weights, import_weights, infer_config, validate_weights};
pub use tensor_set::{NamedTensor, TensorSet, TensorValues};

use crate::error::{Error, Result};

/// Decodes a weights file from its bytes, telling `.pth` (a ZIP) from safetensors by content.
pub fn decode_weights(bytes: &[u8]) -> Result<TensorSet> {
    decode_weights_with_metadata(bytes).map(|(set, _)| set)
}

/// Like [`decode_weights`], with the file's metadata (a safetensors `__metadata__`; none for
/// `.pth`), where a [`ModelCard`] lives.
pub fn decode_weights_with_metadata(bytes: &[u8]) -> Result<(TensorSet, Vec<(String, String)>)> {
    if bytes.len() < 8 {
        return Err(Error::weights(format!(
            "the file is only {} bytes long: not a safetensors or .pth weights file",
            bytes.len()
        )));
    }
    // A ZIP is a modern `torch.save`; 0x80 opens a pickle, i.e. a legacy one, which `read_pth`
    // recognises and explains.
    if bytes.starts_with(b"PK") || bytes[0] == 0x80 {
        Ok((pth::read_pth(bytes)?, Vec::new()))
    } else if bytes.len() > 8 && bytes[8] != b'{' {
        // A safetensors header is a JSON object right after its 8-byte length: this is some other
        // file (an image, a zip renamed, text). Say that first, the detail after it.
        Err(Error::weights(format!(
            "this is not a safetensors or PyTorch .pth weights file (it starts with {}; \
             safetensors starts with an 8-byte header length and `{{`, .pth with `PK` or a pickle)",
            describe_start(bytes)
        )))
    } else {
        safetensors_io::read_safetensors_with_metadata(bytes)
    }
}

/// The first bytes of a file, as a user could recognise them: a known signature, or hex.
fn describe_start(bytes: &[u8]) -> String {
    const KNOWN: [(&[u8], &str); 4] = [
        (b"\x89PNG", "a PNG image's signature"),
        (b"\xFF\xD8\xFF", "a JPEG image's signature"),
        (b"GIF8", "a GIF image's signature"),
        (b"%PDF", "a PDF's signature"),
    ];
    if let Some((_, name)) = KNOWN.iter().find(|(sig, _)| bytes.starts_with(sig)) {
        return (*name).to_string();
    }
    let hex: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("the bytes {}", hex.join(" "))
}
