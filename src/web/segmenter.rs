//! `WasmSegmenter`: a model on one device, with inference and weights import/export.

use burn::prelude::*;
use wasm_bindgen::prelude::*;

use super::heap::{HeapReservation, INFERENCE_HEAP_BYTES_PER_PIXEL, MAX_RESERVATION};
use super::js_error;
use crate::backend::{BackendKind, cpu_device, wgpu_device_async};
use crate::data::augment::Example;
use crate::data::image::{MaskKind, RgbaImage, example_from_pair};
use crate::infer::{DEFAULT_FLIPS, check_flips, check_input_size, segment};
use crate::model::{TinyUNet, TinyUNetConfig};
use crate::train::{FineTune, HeldOut};
use crate::weights::safetensors_io::write_safetensors;
use crate::weights::{decode_weights, export_weights, import_weights, infer_config};
use crate::{Error, Result};

/// The result of segmenting one image, at the image's own size.
#[wasm_bindgen]
pub struct Segmentation {
    width: u32,
    height: u32,
    classes: u32,
    mask: Vec<u8>,
    probabilities: Option<Vec<f32>>,
    foreground: f64,
    confidence: f64,
    doubt: f64,
    doubtful: Vec<u8>,
}

#[wasm_bindgen]
impl Segmentation {
    /// Image width.
    #[wasm_bindgen(getter)]
    pub fn width(&self) -> u32 {
        self.width
    }
    /// Image height.
    #[wasm_bindgen(getter)]
    pub fn height(&self) -> u32 {
        self.height
    }
    /// Number of classes.
    #[wasm_bindgen(getter)]
    pub fn classes(&self) -> u32 {
        self.classes
    }
    /// One byte per pixel: 0/1 for one class, else the class index.
    #[wasm_bindgen(getter)]
    pub fn mask(&self) -> Vec<u8> {
        self.mask.clone()
    }
    /// `[classes, height, width]` probabilities, when they were asked for.
    #[wasm_bindgen(getter)]
    pub fn probabilities(&self) -> Option<Vec<f32>> {
        self.probabilities.clone()
    }
    /// Fraction of pixels marked as foreground.
    #[wasm_bindgen(getter)]
    pub fn foreground(&self) -> f64 {
        self.foreground
    }
    /// Mean probability of the marked class over the marked pixels.
    #[wasm_bindgen(getter)]
    pub fn confidence(&self) -> f64 {
        self.confidence
    }
    /// Share of the marked (or unsure) pixels that are doubtful, 0..1 (see `doubt.rs`).
    #[wasm_bindgen(getter)]
    pub fn doubt(&self) -> f64 {
        self.doubt
    }
    /// One byte per pixel: 1 where the model is unsure, else 0.
    #[wasm_bindgen(getter)]
    pub fn doubtful(&self) -> Vec<u8> {
        self.doubtful.clone()
    }
}

/// A TinyU-Net on the CPU or WebGPU.
#[wasm_bindgen]
pub struct WasmSegmenter {
    pub(super) model: TinyUNet,
    pub(super) backend: BackendKind,
    pub(super) input_size: usize,
    /// Mirrored passes averaged per segmentation (and per held-back pair scored).
    pub(super) flips: usize,
    /// Training pairs and held-back pairs for the next run, and the size they were prepared at.
    pub(super) pending: Vec<Example>,
    pub(super) pending_held_out: Vec<HeldOut>,
    pub(super) pending_size: Option<usize>,
    pub(super) run: Option<FineTune>,
    /// The last run's final weights when it kept others (see `useLastTrainedWeights`).
    pub(super) last_trained: Option<TinyUNet>,
    /// Heap being grown during warm-up (see `reserve_inference_memory`).
    pub(super) reservation: Option<HeapReservation>,
}

impl WasmSegmenter {
    pub(super) fn device(&self) -> Result<Device> {
        self.model
            .devices()
            .into_iter()
            .next()
            .ok_or_else(|| Error::Backend("the model has no device".into()))
    }

    pub(super) fn mask_kind(&self) -> MaskKind {
        MaskKind::for_classes(self.model.config.classes)
    }

    /// Builds an [`Example`] from an image and its mask, checking both.
    pub(super) fn example(
        &self,
        image: RgbaImage,
        mask: RgbaImage,
        size: usize,
        name: &str,
    ) -> Result<Example> {
        example_from_pair(
            &image,
            &mask,
            size,
            self.mask_kind(),
            name,
            &format!("{name} (mask)"),
        )
    }
}

#[wasm_bindgen]
impl WasmSegmenter {
    /// Creates a segmenter. `backend` is `"cpu"` or `"webgpu"`; `weights` (safetensors or
    /// `.pth` bytes) decide the classes when given, else a fresh network with `classes` outputs
    /// is made; `input_size` is the side images are resized to (multiple of 16); `flips` the
    /// mirrored passes averaged per image (1, 2 or 4; default 2).
    pub async fn create(
        backend: String,
        classes: u32,
        input_size: u32,
        weights: Option<Vec<u8>>,
        flips: Option<u32>,
    ) -> std::result::Result<WasmSegmenter, JsError> {
        let flips = flips.map_or(DEFAULT_FLIPS, |f| f as usize);
        Self::create_inner(
            &backend,
            classes as usize,
            input_size as usize,
            weights,
            flips,
        )
        .await
        .map_err(js_error)
    }

    async fn create_inner(
        backend: &str,
        classes: usize,
        input_size: usize,
        weights: Option<Vec<u8>>,
        flips: usize,
    ) -> Result<WasmSegmenter> {
        check_input_size(input_size)?;
        check_flips(flips)?;
        let (device, kind) = match backend {
            "cpu" => (cpu_device(), BackendKind::Cpu),
            "webgpu" => (wgpu_device_async().await?, BackendKind::Wgpu),
            other => {
                return Err(Error::config(format!(
                    "unknown backend `{other}`: use \"cpu\" or \"webgpu\""
                )));
            }
        };
        let model = match weights {
            Some(bytes) => {
                let set = decode_weights(&bytes)?;
                let config = infer_config(&set)?;
                import_weights(&config.init(&device, 0)?, &set)?
            }
            None => TinyUNetConfig::with_classes(classes).init(&device, 0)?,
        };
        Ok(WasmSegmenter {
            model,
            backend: kind,
            input_size,
            flips,
            pending: Vec::new(),
            pending_held_out: Vec::new(),
            pending_size: None,
            run: None,
            last_trained: None,
            reservation: None,
        })
    }

    /// `"cpu"` or `"webgpu"`.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.backend.name().to_string()
    }

    /// Output classes of the model.
    #[wasm_bindgen(getter)]
    pub fn classes(&self) -> u32 {
        self.model.config.classes as u32
    }

    /// Input channels of the model.
    #[wasm_bindgen(getter, js_name = inChannels)]
    pub fn in_channels(&self) -> u32 {
        self.model.config.in_channels as u32
    }

    /// Mirrored passes averaged per image.
    #[wasm_bindgen(getter)]
    pub fn flips(&self) -> u32 {
        self.flips as u32
    }

    /// The side images are resized to before the network.
    #[wasm_bindgen(getter, js_name = inputSize)]
    pub fn input_size(&self) -> u32 {
        self.input_size as u32
    }

    /// Trainable parameters.
    #[wasm_bindgen(getter)]
    pub fn parameters(&self) -> u32 {
        self.model.trainable_params() as u32
    }

    /// Segments one RGBA image of any size.
    pub async fn segment(
        &self,
        rgba: Vec<u8>,
        width: u32,
        height: u32,
        probabilities: bool,
    ) -> std::result::Result<Segmentation, JsError> {
        let image = RgbaImage::new(width, height, rgba, "image").map_err(js_error)?;
        let images = std::slice::from_ref(&image);
        let mut out = segment(&self.model, images, self.input_size, self.flips)
            .await
            .map_err(js_error)?;
        let p = out
            .pop()
            .ok_or_else(|| JsError::new("backend: no result was produced"))?;
        Ok(Segmentation {
            width: p.width,
            height: p.height,
            classes: p.classes as u32,
            foreground: p.foreground_fraction(),
            confidence: p.confidence(),
            doubt: p.doubt(),
            doubtful: p.doubtful_pixels(),
            mask: p.mask.clone(),
            probabilities: probabilities.then_some(p.probabilities),
        })
    }

    /// On the CPU, grows the heap towards what one inference at the input size needs (at most
    /// 256 MiB, see `heap::MAX_RESERVATION`), touching at most `step_bytes` more per call so that
    /// a request need not wait long behind it; true once done (at once on WebGPU, whose activations live on the GPU, or when the memory is not
    /// available). The block is freed when done, or by `releaseReservedMemory`, which must come
    /// before any other call so that the call can use that memory.
    #[wasm_bindgen(js_name = reserveInferenceMemory)]
    pub fn reserve_inference_memory(&mut self, step_bytes: f64) -> bool {
        if self.backend != BackendKind::Cpu {
            return true;
        }
        if self.reservation.is_none() {
            let bytes = (INFERENCE_HEAP_BYTES_PER_PIXEL * self.input_size * self.input_size)
                .min(MAX_RESERVATION);
            self.reservation = HeapReservation::new(bytes);
        }
        let done = self
            .reservation
            .as_mut()
            .is_none_or(|r| r.touch(step_bytes as usize));
        if done {
            self.reservation = None;
        }
        done
    }

    /// Frees what `reserveInferenceMemory` holds so far, for the allocator to hand out again.
    #[wasm_bindgen(js_name = releaseReservedMemory)]
    pub fn release_reserved_memory(&mut self) {
        self.reservation = None;
    }

    /// Raw logits `[N, classes, H, W]` for a float input `[N, inChannels, H, W]` (H, W multiples
    /// of 16), with no resizing: for checking the network against reference values.
    pub async fn logits(
        &self,
        input: Vec<f32>,
        shape: Vec<u32>,
    ) -> std::result::Result<Vec<f32>, JsError> {
        self.logits_inner(input, shape).await.map_err(js_error)
    }

    async fn logits_inner(&self, input: Vec<f32>, shape: Vec<u32>) -> Result<Vec<f32>> {
        let dims: [usize; 4] = shape
            .iter()
            .map(|&d| d as usize)
            .collect::<Vec<_>>()
            .try_into()
            .map_err(|_| Error::input(format!("shape must have 4 entries, got {shape:?}")))?;
        self.model.check_input(dims)?;
        if input.len() != dims.iter().product::<usize>() {
            return Err(Error::input(format!(
                "{} values do not fill shape {dims:?}",
                input.len()
            )));
        }
        let x = Tensor::<4>::from_data(TensorData::new(input, dims), &self.device()?);
        self.model
            .forward(x)
            .into_data_async()
            .await
            .map_err(Error::read_back)?
            .try_into_vec::<f32>()
            .map_err(Error::result_type)
    }

    /// Replaces the weights with a safetensors or `.pth` file's; on any error the current
    /// weights stay.
    #[wasm_bindgen(js_name = loadWeights)]
    pub fn load_weights(&mut self, bytes: &[u8]) -> std::result::Result<(), JsError> {
        let set = decode_weights(bytes).map_err(js_error)?;
        self.model = import_weights(&self.model, &set).map_err(js_error)?;
        Ok(())
    }

    /// The current weights as safetensors bytes (reference names, f32).
    #[wasm_bindgen(js_name = exportWeights)]
    pub async fn export_weights(&self) -> std::result::Result<Vec<u8>, JsError> {
        let set = export_weights(&self.model).await.map_err(js_error)?;
        let metadata = [("format".to_string(), "pt".to_string())];
        write_safetensors(&set, &metadata).map_err(js_error)
    }

    /// Dice and IoU of the current model on one image against its mask (both RGBA, same size);
    /// `name` names the pair in errors.
    #[allow(clippy::too_many_arguments)] // one flat call across the wasm boundary
    pub async fn evaluate(
        &self,
        name: &str,
        rgba: Vec<u8>,
        width: u32,
        height: u32,
        mask_rgba: Vec<u8>,
        mask_width: u32,
        mask_height: u32,
    ) -> std::result::Result<Vec<f64>, JsError> {
        let image = RgbaImage::new(width, height, rgba, "image").map_err(js_error)?;
        let mask = RgbaImage::new(mask_width, mask_height, mask_rgba, "mask").map_err(js_error)?;
        let pair = HeldOut::new(name, &image, &mask, self.input_size, self.mask_kind())
            .map_err(js_error)?;
        let scores = pair
            .score(&self.model, self.input_size, self.flips)
            .await
            .map_err(js_error)?;
        Ok(vec![scores.dice, scores.iou])
    }
}
