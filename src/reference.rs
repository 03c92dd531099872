//! Checking the network against a case recorded with the PyTorch reference (the fixtures'
//! `*.case.safetensors`): eval-mode logits, one train-mode loss, and every parameter's gradient.

use std::collections::BTreeMap;

use burn::prelude::*;
use burn::tensor::Transaction;

use crate::error::{Error, Result};
use crate::model::TinyUNet;
use crate::train::loss_and_gradients;
use crate::weights::{NamedTensor, TensorSet, TensorValues};

/// Largest accepted |logit − PyTorch logit| in eval mode.
pub const LOGITS_MAX_ABS: f64 = 1e-4;
/// Largest accepted |loss − PyTorch loss| / |PyTorch loss| in train mode.
pub const LOSS_REL: f64 = 1e-5;
/// Largest accepted ‖g − g_ref‖ / ‖g_ref‖ over all parameters.
pub const GRAD_REL: f64 = 1e-3;
/// Gradient norms below this fraction of the largest one are compared against that floor
/// instead of their own norm. Some gradients are zero in exact arithmetic — the bias of the last
/// cascade BatchNorm of every CMRF feeds only pwconv2, whose train-mode BatchNorm removes any
/// per-channel shift — so PyTorch records rounding noise (~1e-10) there, and a relative error
/// against noise is meaningless.
pub const GRAD_NORM_FLOOR: f64 = 1e-4;

/// A recorded case: inputs and PyTorch's outputs.
pub struct ReferenceCase {
    /// `[N, C, H, W]` input shape.
    pub input_shape: [usize; 4],
    /// Input values.
    pub input: Vec<f32>,
    /// `[N, classes, H, W]` eval-mode logits.
    pub eval_logits: Vec<f32>,
    /// Shape of the training target (`[N, classes, H, W]`).
    pub target_shape: [usize; 4],
    /// Training target (0/1 or one-hot).
    pub target: Vec<f32>,
    /// Train-mode loss.
    pub train_loss: f32,
    /// Gradient of the loss for each trainable parameter, by name.
    pub grads: BTreeMap<String, Vec<f32>>,
}

fn floats<'a>(set: &'a TensorSet, name: &str) -> Result<&'a NamedTensor> {
    match set.get(name) {
        Some(
            t @ NamedTensor {
                values: TensorValues::Float(_),
                ..
            },
        ) => Ok(t),
        Some(_) => Err(Error::input(format!(
            "case tensor `{name}` must be floating point"
        ))),
        None => Err(Error::input(format!(
            "the case file has no `{name}` tensor"
        ))),
    }
}

fn values(t: &NamedTensor) -> Vec<f32> {
    match &t.values {
        TensorValues::Float(v) => v.clone(),
        TensorValues::Int(v) => v.iter().map(|&x| x as f32).collect(),
    }
}

fn shape4(t: &NamedTensor, name: &str) -> Result<[usize; 4]> {
    t.shape.as_slice().try_into().map_err(|_| {
        Error::input(format!(
            "case tensor `{name}` must have 4 dimensions, has {:?}",
            t.shape
        ))
    })
}

impl ReferenceCase {
    /// Reads a case from the tensors of a `*.case.safetensors` file.
    pub fn from_tensors(set: &TensorSet) -> Result<Self> {
        let input = floats(set, "input")?;
        let logits = floats(set, "eval_logits")?;
        let target = floats(set, "train_target")?;
        let loss = floats(set, "train_loss")?;
        let input_shape = shape4(input, "input")?;
        let target_shape = shape4(target, "train_target")?;
        if shape4(logits, "eval_logits")? != target_shape {
            return Err(Error::input("eval_logits and train_target shapes differ"));
        }
        let train_loss = *values(loss)
            .first()
            .ok_or_else(|| Error::input("train_loss is empty"))?;
        let grads = set
            .iter()
            .filter_map(|(name, t)| {
                name.strip_prefix("grad.")
                    .map(|p| (p.to_string(), values(t)))
            })
            .collect();
        Ok(Self {
            input_shape,
            input: values(input),
            eval_logits: values(logits),
            target_shape,
            target: values(target),
            train_loss,
            grads,
        })
    }
}

/// How far the model is from the recorded case.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferenceReport {
    /// max |logits − reference| in eval mode.
    pub logits_max_abs: f64,
    /// |loss − reference| / |reference| in train mode.
    pub train_loss_rel: f64,
    /// Largest per-parameter relative gradient error.
    pub grad_rel_max: f64,
    /// The parameter with that error.
    pub worst_param: String,
    /// Relative gradient error per parameter.
    pub grad_rel: BTreeMap<String, f64>,
}

impl ReferenceReport {
    /// True when every figure is within the stated tolerances.
    pub fn passes(&self) -> bool {
        self.logits_max_abs <= LOGITS_MAX_ABS
            && self.train_loss_rel <= LOSS_REL
            && self.grad_rel_max <= GRAD_REL
    }

    /// The one-line summary the CLI prints.
    pub fn summary(&self) -> String {
        format!(
            "logits_max_abs={:.3e} train_loss_rel={:.3e} grad_rel_max={:.3e} (worst: {})",
            self.logits_max_abs, self.train_loss_rel, self.grad_rel_max, self.worst_param
        )
    }
}

/// Runs the case on `model`'s device: eval logits, then one train-mode loss and its gradients.
/// `model` is not changed.
pub async fn check_reference(model: &TinyUNet, case: &ReferenceCase) -> Result<ReferenceReport> {
    model.check_input(case.input_shape)?;
    let [n, classes, h, w] = case.target_shape;
    if classes != model.config.classes
        || n != case.input_shape[0]
        || [h, w] != [case.input_shape[2], case.input_shape[3]]
    {
        return Err(Error::input(format!(
            "the case's target {:?} does not fit the model's {} class(es) on input {:?}",
            case.target_shape, model.config.classes, case.input_shape
        )));
    }
    let device = model
        .devices()
        .into_iter()
        .next()
        .ok_or_else(|| Error::Backend("the model has no device".into()))?;
    let input = Tensor::<4>::from_data(
        TensorData::new(case.input.clone(), case.input_shape),
        &device,
    );
    let logits = model.valid().forward(input.clone());
    let target = Tensor::<4>::from_data(
        TensorData::new(case.target.clone(), case.target_shape),
        &device,
    );
    let (loss, grads) = loss_and_gradients(model, input, target);

    let mut transaction = Transaction::default().register(logits).register(loss);
    for (_, g) in &grads {
        transaction = transaction.register(g.clone().inner());
    }
    let data = transaction
        .execute_async()
        .await
        .map_err(Error::read_back)?;
    let mut read = data.into_iter().map(|d| {
        d.convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(Error::result_type)
    });
    let mut next = || {
        read.next()
            .unwrap_or_else(|| Err(Error::Backend("missing read-back".into())))
    };
    let logits = next()?;
    let loss = next()?.first().copied().unwrap_or(f32::NAN);

    let logits_max_abs = logits
        .iter()
        .zip(&case.eval_logits)
        .map(|(a, b)| (a - b).abs() as f64)
        // A NaN must fail the check, and f64::max would drop it.
        .fold(0.0, |worst, d| {
            if d.is_nan() {
                f64::INFINITY
            } else {
                worst.max(d)
            }
        });
    let train_loss_rel =
        ((loss - case.train_loss).abs() / case.train_loss.abs().max(f32::MIN_POSITIVE)) as f64;

    let floor = GRAD_NORM_FLOOR * case.grads.values().map(|g| norm(g)).fold(0.0, f64::max);
    let mut grad_rel = BTreeMap::new();
    for (name, _) in &grads {
        let ours = next()?;
        let Some(theirs) = case.grads.get(name) else {
            return Err(Error::input(format!(
                "the case has no gradient for `{name}`"
            )));
        };
        grad_rel.insert(name.clone(), relative_error(&ours, theirs, floor));
    }
    if let Some(name) = case.grads.keys().find(|n| !grad_rel.contains_key(*n)) {
        return Err(Error::input(format!(
            "the model has no parameter `{name}` that the case has a gradient for"
        )));
    }
    let (worst_param, grad_rel_max) = grad_rel
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(n, e)| (n.clone(), *e))
        .unwrap_or_default();
    Ok(ReferenceReport {
        logits_max_abs,
        train_loss_rel,
        grad_rel_max,
        worst_param,
        grad_rel,
    })
}

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt()
}

/// ‖a − b‖ / max(‖b‖, floor); infinite when the lengths differ.
fn relative_error(a: &[f32], b: &[f32], floor: f64) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    let diff: Vec<f32> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let denominator = norm(b).max(floor);
    if denominator == 0.0 {
        norm(&diff)
    } else {
        norm(&diff) / denominator
    }
}
