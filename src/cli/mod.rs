//! Command-line interface: argument parsing and one module per subcommand.

mod bench;
mod check_reference;
mod common;
mod convert;
mod eval;
mod fine_tune;
mod generate;
mod predict;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// TinyU-Net segmentation: generate data, train, evaluate, predict, benchmark and check
/// checkpoints, natively on the CPU or a GPU.
#[derive(Parser)]
#[command(name = "tinyunet", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write synthetic dermoscopy-like images with exact masks.
    Generate(generate::Args),
    /// Train on a folder of image/mask pairs.
    Train(train::Args),
    /// Fine-tune as the page does: its defaults, held-back pairs and choice of weights.
    FineTune(fine_tune::Args),
    /// IoU and Dice of a model on a folder of image/mask pairs.
    Eval(eval::Args),
    /// Write a mask for every image of a folder.
    Predict(predict::Args),
    /// Time inference and training steps.
    Bench(bench::Args),
    /// Re-encode weights (e.g. a PyTorch `.pth`) as safetensors, optionally f16 or blended with another training.
    Convert(convert::Args),
    /// Compare a checkpoint with a case recorded by the PyTorch reference.
    CheckReference(check_reference::Args),
}

/// Parses the arguments, runs the subcommand and turns errors into a message and exit code 1.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Generate(args) => generate::run(args),
        Command::Train(args) => train::run(args),
        Command::FineTune(args) => fine_tune::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Convert(args) => convert::run(args),
        Command::CheckReference(args) => check_reference::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
