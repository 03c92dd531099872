//! `WasmSegmenter`: the core [`Segmenter`] and its [`FineTuning`] on one device, for JavaScript.

use wasm_bindgen::prelude::*;

use super::compute;
use super::convert::{js_error, options, rgba_image, to_js};
use super::heap::{HeapReservation, INFERENCE_HEAP_BYTES_PER_PIXEL, MAX_RESERVATION};
use crate::app::{FineTuning, Segmenter, SegmenterOptions};
use crate::backend::{BackendKind, cpu_device, opened_wgpu_device, wgpu_device_async};
use crate::data::image::mask_from_rgba;
use crate::infer::{ClassArea, Prediction};
use crate::islands::Islands;
use crate::limits::LIMITS;
use crate::{Error, Result};

/// The result of segmenting one image, at the image's own size.
#[wasm_bindgen]
pub struct Segmentation {
    prediction: Prediction,
    probabilities: bool,
    /// Each class's area, named and coloured by the model's card.
    areas: Vec<ClassArea>,
}

#[wasm_bindgen]
impl Segmentation {
    /// Image width.
    #[wasm_bindgen(getter)]
    pub fn width(&self) -> u32 {
        self.prediction.width
    }
    /// Image height.
    #[wasm_bindgen(getter)]
    pub fn height(&self) -> u32 {
        self.prediction.height
    }
    /// Number of classes.
    #[wasm_bindgen(getter)]
    pub fn classes(&self) -> u32 {
        self.prediction.classes as u32
    }
    /// One byte per pixel: 0/1 for one class, else the class index.
    #[wasm_bindgen(getter)]
    pub fn mask(&self) -> Vec<u8> {
        self.prediction.mask.clone()
    }
    /// `[classes, height, width]` probabilities, when they were asked for.
    #[wasm_bindgen(getter)]
    pub fn probabilities(&self) -> Option<Vec<f32>> {
        self.probabilities
            .then(|| self.prediction.probabilities.clone())
    }
    /// Fraction of pixels marked as foreground.
    #[wasm_bindgen(getter)]
    pub fn foreground(&self) -> f64 {
        self.prediction.foreground_fraction()
    }
    /// Mean probability of the marked class over the marked pixels.
    #[wasm_bindgen(getter)]
    pub fn confidence(&self) -> f64 {
        self.prediction.confidence()
    }
    /// Share of the marked (or unsure) pixels that are doubtful, 0..1 (see `doubt.rs`).
    #[wasm_bindgen(getter)]
    pub fn doubt(&self) -> f64 {
        self.prediction.doubt()
    }
    /// One byte per pixel: 1 where the pixel is doubtful (unsure, or marked outside the mask's
    /// main piece: see `doubt.rs`), else 0.
    #[wasm_bindgen(getter)]
    pub fn doubtful(&self) -> Vec<u8> {
        self.prediction.doubtful_pixels()
    }
    /// Each class of the model's card, background first, with its share of the image:
    /// `[{ name, colour, fraction, pixels }]`.
    #[wasm_bindgen(getter, js_name = classAreas)]
    pub fn class_areas(&self) -> JsValue {
        // A list of plain structs always converts; an empty list were it ever not to.
        to_js(&self.areas).unwrap_or_else(|_| js_sys::Array::new().into())
    }
    /// Each foreground class's doubt, 0..1 (entry `i` is class `i + 1`), for a multi-class
    /// model; empty for one class (see `doubt.rs`).
    #[wasm_bindgen(getter, js_name = classDoubt)]
    pub fn class_doubt(&self) -> Vec<f64> {
        self.prediction.class_doubt()
    }
    /// `null` for an image of the kind the model was made for, else `{ reason, message }`
    /// (see `domain.rs`): a greyscale CT slice, a photo of an object.
    #[wasm_bindgen(getter, js_name = outOfDomain)]
    pub fn out_of_domain(&self) -> JsValue {
        // `null` rather than `undefined` (serde's `None`), so that the package's result always
        // has the key; a value that cannot be converted (it always can) reads as null too.
        self.prediction
            .out_of_domain
            .as_ref()
            .and_then(|o| to_js(o).ok())
            .unwrap_or(JsValue::NULL)
    }
}

/// Every bound the core checks inputs and settings against (see `limits.rs`), for the package
/// to check its options with the same numbers.
#[wasm_bindgen]
pub fn limits() -> std::result::Result<JsValue, JsValue> {
    to_js(&LIMITS).map_err(js_error)
}

/// `{ reservedBytes, inUseBytes }` of the buffer pools of the WebGPU device this module instance
/// opened (shared by its WebGPU segmenters; see `gpu_memory.rs`); `null` before one was opened,
/// and always in the CPU-only module. A free function, not a method: it borrows no segmenter, so
/// it answers while one is busy.
#[wasm_bindgen(js_name = gpuMemory)]
pub fn gpu_memory() -> JsValue {
    opened_wgpu_device()
        .and_then(|device| crate::gpu_memory::gpu_memory(&device))
        .and_then(|memory| to_js(&memory).ok())
        .unwrap_or(JsValue::NULL)
}

/// A TinyU-Net on the CPU or WebGPU.
#[wasm_bindgen]
pub struct WasmSegmenter {
    pub(super) core: Segmenter,
    pub(super) tuning: FineTuning,
    backend: BackendKind,
    /// Heap being grown during warm-up (see `reserve_inference_memory`).
    reservation: Option<HeapReservation>,
}

#[wasm_bindgen]
impl WasmSegmenter {
    /// Creates a segmenter. `backend` is `"cpu"` or `"webgpu"`; `options` a `SegmenterOptions`
    /// object (`classes`, `inputSize`, `flips`, `islands`; camelCase, unknown keys refused); `weights`
    /// (safetensors or `.pth` bytes) decide the classes when given, else the network is fresh.
    pub async fn create(
        backend: String,
        options: JsValue,
        weights: Option<Vec<u8>>,
    ) -> std::result::Result<WasmSegmenter, JsValue> {
        Self::create_inner(&backend, options, weights)
            .await
            .map_err(js_error)
    }

    async fn create_inner(
        backend: &str,
        settings: JsValue,
        weights: Option<Vec<u8>>,
    ) -> Result<WasmSegmenter> {
        let settings: SegmenterOptions = options(settings, "segmenter options")?;
        let (device, kind) = match backend {
            "cpu" => (cpu_device(), BackendKind::Cpu),
            "webgpu" => (wgpu_device_async().await?, BackendKind::Wgpu),
            other => {
                return Err(Error::config(format!(
                    "unknown backend `{other}`: use \"cpu\" or \"webgpu\""
                )));
            }
        };
        Ok(WasmSegmenter {
            core: Segmenter::new(&device, weights.as_deref(), &settings)?,
            tuning: FineTuning::default(),
            backend: kind,
            reservation: None,
        })
    }

    /// `"cpu"` or `"webgpu"`.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.backend.name().to_string()
    }

    /// The model's card (see `weights/card.rs`): `{ name, title, imageKind, classes: [{ name,
    /// colour }], inputSize, window?, trainedOn, terms, citations }`, from the weights file (or
    /// the card of a file without one).
    #[wasm_bindgen(getter)]
    pub fn card(&self) -> JsValue {
        // A card is strings, numbers and lists: it always converts.
        to_js(self.core.card()).unwrap_or(JsValue::NULL)
    }

    /// Output classes of the model.
    #[wasm_bindgen(getter)]
    pub fn classes(&self) -> u32 {
        self.core.classes() as u32
    }

    /// Input channels of the model.
    #[wasm_bindgen(getter, js_name = inChannels)]
    pub fn in_channels(&self) -> u32 {
        self.core.in_channels() as u32
    }

    /// Mirrored passes averaged per image.
    #[wasm_bindgen(getter)]
    pub fn flips(&self) -> u32 {
        self.core.flips() as u32
    }

    /// The side images are resized to before the network.
    #[wasm_bindgen(getter, js_name = inputSize)]
    pub fn input_size(&self) -> u32 {
        self.core.input_size() as u32
    }

    /// Trainable parameters.
    #[wasm_bindgen(getter)]
    pub fn parameters(&self) -> u32 {
        self.core.parameters() as u32
    }

    /// What happens to a mask's stray pieces: `"keep"`, `"main"` or a share of the image.
    #[wasm_bindgen(getter)]
    pub fn islands(&self) -> JsValue {
        match self.core.islands() {
            Islands::SmallerThan(share) => JsValue::from_f64(share),
            rule => JsValue::from_str(&rule.to_string()),
        }
    }

    /// Segments one `{ data, width, height }` RGBA image of any size; `islands` (undefined: the
    /// segmenter's rule) says what happens to the mask's stray pieces.
    pub async fn segment(
        &self,
        image: JsValue,
        probabilities: bool,
        islands: JsValue,
    ) -> std::result::Result<Segmentation, JsValue> {
        let image = rgba_image(&image, "image").map_err(js_error)?;
        let islands = options::<Option<Islands>>(islands, "segment options")
            .map_err(js_error)?
            .unwrap_or(self.core.islands());
        let prediction = compute(self.core.segment_with(&image, islands))
            .await
            .map_err(js_error)?;
        let areas = prediction.class_areas(&self.core.card().classes);
        Ok(Segmentation {
            prediction,
            probabilities,
            areas,
        })
    }

    /// The labels of a mask image for this model, one byte per pixel (0/1 for one class, else
    /// class indices), by the core's rule (`data/image.rs`); with `image`, the sizes must match.
    #[wasm_bindgen(js_name = readMask)]
    pub fn read_mask(
        &self,
        name: &str,
        mask: JsValue,
        image: JsValue,
    ) -> std::result::Result<Vec<u8>, JsValue> {
        let what = format!("{name} (mask)");
        let mask = rgba_image(&mask, &what).map_err(js_error)?;
        if !image.is_undefined() && !image.is_null() {
            let image = rgba_image(&image, name).map_err(js_error)?;
            crate::data::image::check_mask_size(&image, &mask, name).map_err(js_error)?;
        }
        mask_from_rgba(&mask, self.core.mask_kind(), &what).map_err(js_error)
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
            let side = self.core.input_size();
            let bytes = (INFERENCE_HEAP_BYTES_PER_PIXEL * side * side).min(MAX_RESERVATION);
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
    ) -> std::result::Result<Vec<f32>, JsValue> {
        let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        compute(self.core.logits(input, &shape))
            .await
            .map_err(js_error)
    }

    /// Replaces the weights with a safetensors or `.pth` file's (and the card with the file's,
    /// when it has one); on any error the current weights stay.
    #[wasm_bindgen(js_name = loadWeights)]
    pub fn load_weights(&mut self, bytes: &[u8]) -> std::result::Result<(), JsValue> {
        self.core.load_weights(bytes).map_err(js_error)
    }

    /// The current weights as safetensors bytes (reference names, f32), with the model's card.
    #[wasm_bindgen(js_name = exportWeights)]
    pub async fn export_weights(&self) -> std::result::Result<Vec<u8>, JsValue> {
        self.core.export_weights().await.map_err(js_error)
    }

    /// `{ dice, iou, doubt, outOfDomain, classScores }` of the current model on one `{ data, width, height }`
    /// image against its mask (same size); `name` names the pair in errors.
    pub async fn evaluate(
        &self,
        name: &str,
        image: JsValue,
        mask: JsValue,
    ) -> std::result::Result<JsValue, JsValue> {
        let image = rgba_image(&image, name).map_err(js_error)?;
        let mask = rgba_image(&mask, &format!("{name} (mask)")).map_err(js_error)?;
        let assessed = compute(self.core.assess(name, &image, &mask))
            .await
            .map_err(js_error)?;
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct ClassScore<'a> {
            name: &'a str,
            colour: &'a str,
            // `null` where the class is in neither mask.
            dice: Option<f64>,
            iou: Option<f64>,
        }
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Scored<'a> {
            dice: f64,
            iou: f64,
            doubt: f64,
            // `None` is written as `null` by the json-compatible serializer.
            out_of_domain: Option<crate::domain::OutOfDomain>,
            class_scores: Vec<ClassScore<'a>>,
        }
        let card = self.core.card();
        let class_scores = assessed
            .class_scores
            .iter()
            .enumerate()
            .map(|(i, scores)| {
                let class = card.classes.get(i + 1);
                ClassScore {
                    name: class.map_or("", |c| c.name.as_str()),
                    colour: class.map_or("", |c| c.colour.as_str()),
                    dice: scores.map(|s| s.dice),
                    iou: scores.map(|s| s.iou),
                }
            })
            .collect();
        to_js(&Scored {
            dice: assessed.scores.dice,
            iou: assessed.scores.iou,
            doubt: assessed.doubt,
            out_of_domain: assessed.out_of_domain,
            class_scores,
        })
        .map_err(js_error)
    }
}
