//! `tinyunet generate`: writes synthetic dermoscopy-like images with exact masks.

use std::path::PathBuf;

use tinyunet::data::folder::{write_image, write_mask_png};
use tinyunet::data::image::RgbaImage;
use tinyunet::data::synth::{SynthOptions, generate};
use tinyunet::{Error, Result};

use super::common::progress_bar;

/// Arguments of `generate`.
#[derive(clap::Args)]
pub struct Args {
    /// Output folder (created).
    #[arg(long)]
    out: PathBuf,
    /// Number of image/mask pairs.
    #[arg(long, default_value_t = 100)]
    count: u64,
    /// First seed; pair i uses seed `seed + i`.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Width and height in pixels.
    #[arg(long, default_value_t = 256)]
    size: u32,
    /// `plain` writes `images/NAME.png` + `masks/NAME.png`; `isic` writes ISIC 2018's folders
    /// with JPEG images and `_segmentation.png` masks.
    #[arg(long, default_value = "plain", value_parser = ["plain", "isic"])]
    layout: String,
}

/// Writes the pairs and prints where they went.
pub fn run(args: Args) -> Result<std::process::ExitCode> {
    let isic = args.layout == "isic";
    let (images, masks) = if isic {
        (
            args.out.join("ISIC2018_Task1-2_Training_Input"),
            args.out.join("ISIC2018_Task1_Training_GroundTruth"),
        )
    } else {
        (args.out.join("images"), args.out.join("masks"))
    };
    for dir in [&images, &masks] {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let options = SynthOptions::with_size(args.size, args.size);
    let bar = progress_bar(args.count, "generate");
    for i in 0..args.count {
        let seed = args.seed + i;
        let sample = generate(seed, &options);
        let image = RgbaImage::new(sample.width, sample.height, sample.rgba, "generated")?;
        let (image_path, mask_path) = if isic {
            let name = format!("ISIC_{seed:07}");
            (
                images.join(format!("{name}.jpg")),
                masks.join(format!("{name}_segmentation.png")),
            )
        } else {
            let name = format!("synth_{seed:07}");
            (
                images.join(format!("{name}.png")),
                masks.join(format!("{name}.png")),
            )
        };
        write_image(&image_path, &image)?;
        write_mask_png(&mask_path, &sample.mask, sample.width, sample.height, true)?;
        bar.inc(1);
    }
    bar.finish();
    println!("wrote {} pairs to {}", args.count, args.out.display());
    Ok(std::process::ExitCode::SUCCESS)
}
