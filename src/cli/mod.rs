//! Command-line interface: argument parsing and one module per subcommand.

mod check_reference;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// TinyU-Net segmentation: check, train, evaluate and run the network natively.
#[derive(Parser)]
#[command(name = "tinyunet", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compare a checkpoint with a case recorded by the PyTorch reference.
    CheckReference(check_reference::Args),
}

/// Parses the arguments, runs the subcommand and turns errors into a message and exit code 1.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
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
