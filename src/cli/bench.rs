//! `tinyunet bench`: wall-clock time of inference and of training steps, natively.
//!
//! Figures, not assertions: machines are shared and noisy, so compare ratios within one run.

use std::process::ExitCode;
use std::time::Instant;

use burn::prelude::*;
use tinyunet::data::augment::Example;
use tinyunet::infer::probabilities;
use tinyunet::train::{SessionConfig, TrainingSession};
use tinyunet::{Result, TinyUNetConfig};

/// Arguments of `bench`.
#[derive(clap::Args)]
pub struct Args {
    /// Backends to time (`cpu`, `wgpu`, or both).
    #[arg(long, default_values_t = ["cpu".to_string()], value_parser = ["cpu", "wgpu"])]
    backend: Vec<String>,
    /// Timed repetitions per figure (the median is printed).
    #[arg(long, default_value_t = 5)]
    iters: usize,
    /// Untimed repetitions first (kernel compilation, allocator warm-up).
    #[arg(long, default_value_t = 2)]
    warmup: usize,
}

fn median_ms(iters: usize, warmup: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..warmup {
        f();
    }
    let mut times: Vec<f64> = (0..iters.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn inference_ms(device: &Device, batch: usize, size: usize, args: &Args) -> Result<f64> {
    let model = TinyUNetConfig::default().init(device, 0)?;
    let x = Tensor::<4>::random(
        [batch, 3, size, size],
        burn::tensor::Distribution::Default,
        device,
    );
    Ok(median_ms(args.iters, args.warmup, || {
        // Reading the result back waits for the device.
        let _ = probabilities(&model, x.clone()).into_data();
    }))
}

fn train_step_ms(device: &Device, batch: usize, size: usize, args: &Args) -> Result<f64> {
    let model = TinyUNetConfig::default().init(device, 0)?;
    let examples: Vec<Example> = (0..batch)
        .map(|i| Example {
            image: vec![0.1 * i as f32; 3 * size * size],
            mask: (0..size * size).map(|p| (p % 3 == 0) as u8).collect(),
            size,
        })
        .collect();
    let config = SessionConfig {
        epochs: args.iters + args.warmup + 1,
        batch_size: batch,
        augment: false,
        ..Default::default()
    };
    let mut session = TrainingSession::new(&model, examples, config)?;
    Ok(median_ms(args.iters, args.warmup, || {
        if let Some(step) = session.step() {
            let _ = step.output.loss.into_data();
        }
    }))
}

/// Prints the table.
pub fn run(args: Args) -> Result<ExitCode> {
    println!("| backend | work | batch | size | ms | train ÷ inference |");
    println!("|---|---|---|---|---|---|");
    for name in &args.backend {
        let device = tinyunet::backend::device_by_name(name)?;
        let single = inference_ms(&device, 1, 256, &args)?;
        println!("| {name} | inference | 1 | 256 | {single:.1} | |");
        for (batch, size) in [(2, 256), (8, 128)] {
            let infer = inference_ms(&device, batch, size, &args)?;
            let train = train_step_ms(&device, batch, size, &args)?;
            println!("| {name} | inference | {batch} | {size} | {infer:.1} | |");
            println!(
                "| {name} | training step | {batch} | {size} | {train:.1} | {:.2} |",
                train / infer
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
