//! `tinyunet predict`: writes a mask PNG for every image of a folder.

use std::path::PathBuf;
use std::process::ExitCode;

use tinyunet::data::folder::{image_files, read_image_with_window, write_mask_png};
use tinyunet::data::window::Window;
use tinyunet::{Error, Result};

use super::common::{ModelArgs, dicom_window, parse_window, progress_bar};

/// Arguments of `predict`.
#[derive(clap::Args)]
pub struct Args {
    /// Folder of images (PNG/JPEG or DICOM slices, any size).
    #[arg(long)]
    images: PathBuf,
    /// CT window for DICOM slices, `LEVEL,WIDTH` in Hounsfield units (e.g. `-600,1500`);
    /// default: the model card's window, else the lung window.
    #[arg(long, value_name = "LEVEL,WIDTH", value_parser = parse_window, allow_hyphen_values = true)]
    window: Option<Window>,
    /// Output folder for `NAME_mask.png` files (created).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
}

/// Segments each image (a DICOM slice through the window); unreadable ones are reported by name and skipped, and an image the
/// model was not made for (see `tinyunet::domain`) gets its mask and a warning on stderr.
pub fn run(args: Args) -> Result<ExitCode> {
    if args.out.exists() && !args.out.is_dir() {
        return Err(Error::input(format!(
            "--out {} is a file; predict writes one NAME_mask.png per image into a folder",
            args.out.display()
        )));
    }
    let segmenter = args.model.load()?;
    let window = dicom_window(args.window, &segmenter);
    std::fs::create_dir_all(&args.out).map_err(|source| Error::Io {
        path: args.out.display().to_string(),
        source,
    })?;
    let files = image_files(&args.images)?;
    let bar = progress_bar(files.len() as u64, "predict");
    let (mut written, mut unlike) = (0, 0);
    for file in &files {
        let result = read_image_with_window(file, window).and_then(|image| {
            let p = pollster::block_on(segmenter.segment(&image))?;
            if let Some(o) = &p.out_of_domain {
                unlike += 1;
                bar.suspend(|| eprintln!("warning: {}: {}", file.display(), o.message));
            }
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let out = args.out.join(format!("{stem}_mask.png"));
            write_mask_png(&out, &p.mask, p.width, p.height, segmenter.classes() == 1)
        });
        match result {
            Ok(()) => written += 1,
            Err(e) => bar.suspend(|| eprintln!("skipping {}: {e}", file.display())),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!("wrote {written} mask(s) to {}", args.out.display());
    if unlike > 0 {
        println!("{unlike} image(s) are not what the model was made for (see the warnings)");
    }
    Ok(if written == files.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
