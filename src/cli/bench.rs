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
    /// Also time every stage of a 256×256 inference (to see where the time goes).
    #[arg(long)]
    layers: bool,
}

/// Waits for the device by reading one value of `t` back.
fn sync(t: &Tensor<4>) {
    let _ = t.clone().slice([0..1, 0..1, 0..1, 0..1]).into_data();
}

/// Median time of each stage of one forward pass at 256×256, in pass order.
fn layer_ms(device: &Device, args: &Args) -> Result<Vec<(String, f64)>> {
    let model = TinyUNetConfig::default().init(device, 0)?;
    let x = Tensor::<4>::random(
        [1, 3, 256, 256],
        burn::tensor::Distribution::Default,
        device,
    );
    let mut rows = Vec::new();
    let mut time = |name: &str, f: &mut dyn FnMut() -> Tensor<4>| {
        let ms = median_ms(args.iters, args.warmup, || sync(&f()));
        rows.push((name.to_string(), ms));
        f()
    };
    let encoders = [
        &model.encoder1,
        &model.encoder2,
        &model.encoder3,
        &model.encoder4,
    ];
    let mut h = x;
    let mut skips = Vec::new();
    for (i, encoder) in encoders.iter().enumerate() {
        let input = h.clone();
        let skip = time(&format!("encoder{} cmrf", i + 1), &mut || {
            encoder.cmrf.forward(input.clone())
        });
        let s = skip.clone();
        h = time(&format!("encoder{} maxpool", i + 1), &mut || {
            tinyunet::kernels::max_pool2x2(s.clone())
        });
        skips.push(skip);
    }
    let decoders = [
        &model.decoder4,
        &model.decoder3,
        &model.decoder2,
        &model.decoder1,
    ];
    for (i, decoder) in decoders.iter().enumerate() {
        // The model's join: the upsampling written straight into the concatenation.
        let (input, skip) = (h.clone(), skips[3 - i].clone());
        let joined = time(&format!("decoder{} bicubic join", 4 - i), &mut || {
            tinyunet::kernels::bicubic_up2_cat(input.clone(), skip.clone())
        });
        h = time(&format!("decoder{} cmrf", 4 - i), &mut || {
            decoder.cmrf.forward(joined.clone())
        });
    }
    let input = h.clone();
    time("final_conv", &mut || {
        model.final_conv.forward(input.clone())
    });
    Ok(rows)
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
    if args.layers {
        for name in &args.backend {
            let device = tinyunet::backend::device_by_name(name)?;
            let rows = layer_ms(&device, &args)?;
            let total: f64 = rows.iter().map(|(_, ms)| ms).sum();
            println!("\n| {name}: stage of a 256×256 inference | ms | share |\n|---|---|---|");
            for (stage, ms) in rows {
                println!("| {stage} | {ms:.1} | {:.0}% |", 100.0 * ms / total);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
