//! `tinyunet check-reference`: does a checkpoint reproduce a case recorded with PyTorch?

use std::path::PathBuf;
use std::process::ExitCode;

use tinyunet::reference::{ReferenceCase, check_reference};
use tinyunet::weights::{decode_weights, import_weights, infer_config};
use tinyunet::{Error, Result};

/// Arguments of `check-reference`.
#[derive(clap::Args)]
pub struct Args {
    /// Weights: a `.pth` (PyTorch state_dict) or `.safetensors` file.
    #[arg(long)]
    weights: PathBuf,
    /// A case file in the fixtures' format (`input`, `eval_logits`, `train_target`,
    /// `train_loss`, `grad.<name>`).
    #[arg(long)]
    case: PathBuf,
    /// Compute backend.
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "wgpu"])]
    backend: String,
}

fn read(path: &PathBuf) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Prints one summary line; exits 1 when a figure is beyond the tolerances.
pub fn run(args: Args) -> Result<ExitCode> {
    let weights = decode_weights(&read(&args.weights)?)
        .map_err(|e| e.context(&args.weights.display().to_string()))?;
    let case_tensors = tinyunet::weights::safetensors_io::read_safetensors(&read(&args.case)?)
        .map_err(|e| e.context(&args.case.display().to_string()))?;
    let case = ReferenceCase::from_tensors(&case_tensors)?;
    let config = infer_config(&weights)?;
    let device = tinyunet::backend::device_by_name(&args.backend)?;
    let model = import_weights(&config.init(&device, 0)?, &weights)?;
    let report = pollster::block_on(check_reference(&model, &case))?;
    println!("{}", report.summary());
    Ok(if report.passes() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "beyond tolerance (logits {:.0e}, loss {:.0e}, gradients {:.0e})",
            tinyunet::reference::LOGITS_MAX_ABS,
            tinyunet::reference::LOSS_REL,
            tinyunet::reference::GRAD_REL
        );
        ExitCode::FAILURE
    })
}
