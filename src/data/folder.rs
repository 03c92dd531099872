//! Image/mask pairs on disk (native only): ISIC 2018's layout (`*_Input/ISIC_*.jpg` with
//! `*_GroundTruth/ISIC_*_segmentation.png`) or `images/` + `masks/`, matched by file stem.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::image::RgbaImage;
use super::window::Window;
use crate::error::{Error, Result};

/// One image and, when known, its mask file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    /// The pair's name (the image's file stem).
    pub name: String,
    /// The image file.
    pub image: PathBuf,
    /// The mask file.
    pub mask: PathBuf,
}

const IMAGE_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "bmp", "dcm"];

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Image files directly inside `dir`, sorted by name.
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
        let path = entry.map_err(|e| io_error(dir, e))?.path();
        let is_image = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
        if path.is_file() && is_image {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The mask stem that belongs to an image stem: `NAME`, `NAME_segmentation` (ISIC) or `NAME_mask`.
fn mask_key(mask_stem: &str) -> &str {
    mask_stem
        .strip_suffix("_segmentation")
        .or_else(|| mask_stem.strip_suffix("_mask"))
        .unwrap_or(mask_stem)
}

/// Pairs the images of `images` with the masks of `masks` by stem. Images without a mask are an
/// error that lists them (a silently smaller dataset would mislead).
pub fn pair_folders(images: &Path, masks: &Path) -> Result<Vec<Pair>> {
    let mut by_key: BTreeMap<String, PathBuf> = BTreeMap::new();
    for mask in image_files(masks)? {
        by_key.insert(mask_key(&stem(&mask)).to_string(), mask);
    }
    let mut pairs = Vec::new();
    let mut unmatched = Vec::new();
    for image in image_files(images)? {
        let name = stem(&image);
        match by_key.get(&name) {
            Some(mask) => pairs.push(Pair {
                name,
                image,
                mask: mask.clone(),
            }),
            None => unmatched.push(name),
        }
    }
    if !unmatched.is_empty() {
        return Err(Error::input(format!(
            "{} image(s) in {} have no mask in {} (looked for NAME, NAME_segmentation or NAME_mask), e.g. {}",
            unmatched.len(),
            images.display(),
            masks.display(),
            unmatched[..unmatched.len().min(3)].join(", ")
        )));
    }
    if pairs.is_empty() {
        return Err(Error::input(format!(
            "no images found in {}",
            images.display()
        )));
    }
    Ok(pairs)
}

/// Finds the image and mask folders of a dataset root: `images/` + `masks/`, or ISIC's
/// `*_Input/` + `*_GroundTruth/`.
pub fn dataset_folders(root: &Path) -> Result<(PathBuf, PathBuf)> {
    let plain = (root.join("images"), root.join("masks"));
    if plain.0.is_dir() && plain.1.is_dir() {
        return Ok(plain);
    }
    let mut input = None;
    let mut truth = None;
    for entry in std::fs::read_dir(root).map_err(|e| io_error(root, e))? {
        let path = entry.map_err(|e| io_error(root, e))?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_dir() && name.ends_with("_Input") {
            input = Some(path);
        } else if path.is_dir() && name.ends_with("_GroundTruth") {
            truth = Some(path);
        }
    }
    match (input, truth) {
        (Some(i), Some(t)) => Ok((i, t)),
        _ => Err(Error::input(format!(
            "{}: expected `images/` and `masks/`, or ISIC 2018's `*_Input/` and `*_GroundTruth/` folders",
            root.display()
        ))),
    }
}

/// Decodes an image file (PNG, JPEG, BMP, or a DICOM slice through the lung window) to RGBA,
/// with the file named in errors.
pub fn read_image(path: &Path) -> Result<RgbaImage> {
    read_image_with_window(path, Window::LUNG)
}

/// [`read_image`], with a DICOM slice mapped to grey through `window` (a model card's, say);
/// other formats are read as they are.
pub fn read_image_with_window(path: &Path, window: Window) -> Result<RgbaImage> {
    let what = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    let dcm = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("dcm"));
    if dcm || crate::data::dicom::is_dicom(&bytes) {
        let (image, _) =
            crate::data::dicom::decode(&bytes, window).map_err(|e| e.context(&what))?;
        return Ok(image);
    }
    // Check the size from the header before decoding a possibly huge picture.
    let reader = image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| Error::input(format!("{what}: {e}")))?;
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| Error::input(format!("{what}: not a readable image ({e})")))?;
    super::image::check_dimensions(w, h, &what)?;
    let decoded = image::load_from_memory(&bytes)
        .map_err(|e| Error::input(format!("{what}: corrupt or unsupported image ({e})")))?;
    // Made 8-bit, a mask's classes and a CT slice's values would silently change.
    let color = decoded.color();
    if color.bytes_per_pixel() > color.channel_count() {
        return Err(Error::input(format!(
            "{what}: a {}-bit PNG, which tinyunet does not read (as 8 bits its values would \
             change); save it as an 8-bit PNG, or give a CT slice as its DICOM file",
            color.bits_per_pixel() / color.channel_count() as u16
        )));
    }
    let rgba = decoded.to_rgba8();
    RgbaImage::new(rgba.width(), rgba.height(), rgba.into_raw(), &what)
}

/// Writes a one-byte-per-pixel mask as an 8-bit grey PNG, scaling 0/1 masks to 0/255.
pub fn write_mask_png(
    path: &Path,
    mask: &[u8],
    width: u32,
    height: u32,
    binary: bool,
) -> Result<()> {
    let pixels: Vec<u8> = if binary {
        mask.iter().map(|&m| if m != 0 { 255 } else { 0 }).collect()
    } else {
        mask.to_vec()
    };
    let buffer = image::GrayImage::from_raw(width, height, pixels).ok_or_else(|| {
        Error::input(format!(
            "{}: mask size does not match {width}×{height}",
            path.display()
        ))
    })?;
    buffer
        .save(path)
        .map_err(|e| Error::input(format!("{}: cannot write PNG ({e})", path.display())))
}

/// Writes RGBA pixels as PNG or JPEG (by the file's extension).
pub fn write_image(path: &Path, image: &RgbaImage) -> Result<()> {
    let rgba = image::RgbaImage::from_raw(image.width, image.height, image.data.clone())
        .ok_or_else(|| Error::input("image buffer does not match its size"))?;
    let is_jpeg = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("jpg" | "jpeg")
    );
    let result = if is_jpeg {
        image::DynamicImage::ImageRgba8(rgba).to_rgb8().save(path)
    } else {
        rgba.save(path)
    };
    result.map_err(|e| Error::input(format!("{}: cannot write image ({e})", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_stems_pair_with_image_stems() {
        assert_eq!(mask_key("ISIC_0000001_segmentation"), "ISIC_0000001");
        assert_eq!(mask_key("lesion_mask"), "lesion");
        assert_eq!(mask_key("plain"), "plain");
    }
}
