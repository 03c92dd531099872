//! Moves weights between a [`TinyUNet`] and a backend-free [`TensorSet`] under the PyTorch
//! reference's `state_dict` names, validating everything before touching the model.

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::Transaction;

use super::tensor_set::{NamedTensor, TensorSet, TensorValues};
use crate::error::{Error, Result};
use crate::model::param_paths::{PathStack, parameter_shapes};
use crate::model::{TinyUNet, TinyUNetConfig};

/// Suffix of the BatchNorm counter that PyTorch stores beside the running statistics.
const BATCHES_TRACKED: &str = "num_batches_tracked";

/// Every float tensor of the model by its reference name, in visiting order.
struct Collect {
    path: PathStack,
    found: Vec<(String, Tensor<1>, Vec<usize>)>,
}

impl ModuleVisitor for Collect {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.enter(name);
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.exit();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let tensor = param.val();
        let shape = tensor.dims().to_vec();
        let flat = tensor.reshape([-1]);
        self.found.push((self.path.joined(), flat, shape));
    }
}

/// Reads every weight and BatchNorm statistic of `model` into a [`TensorSet`] with the reference's
/// names, including `num_batches_tracked`. One batched read-back, so it is cheap on a GPU.
pub async fn export_weights(model: &TinyUNet) -> Result<TensorSet> {
    export_module(model, Some(model.num_batches_tracked)).await
}

/// Reads every float tensor of any module into a [`TensorSet`] by path; with `batches_tracked`,
/// adds PyTorch's `num_batches_tracked` beside each BatchNorm's running mean.
pub async fn export_module<M: Module>(
    model: &M,
    batches_tracked: Option<u64>,
) -> Result<TensorSet> {
    let mut collect = Collect {
        path: PathStack::default(),
        found: Vec::new(),
    };
    model.visit(&mut collect);
    let mut transaction = Transaction::default();
    for (_, tensor, _) in &collect.found {
        transaction = transaction.register(tensor.clone());
    }
    let data = transaction
        .execute_async()
        .await
        .map_err(|e| Error::read_back(e).context("exporting the weights"))?;
    let mut set = TensorSet::new();
    for ((name, _, shape), data) in collect.found.into_iter().zip(data) {
        let values = data
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| Error::Backend(format!("weights {name}: {e:?}")))?;
        if let (Some(prefix), Some(count)) = (name.strip_suffix(".running_mean"), batches_tracked) {
            set.insert(
                format!("{prefix}.{BATCHES_TRACKED}"),
                NamedTensor {
                    shape: vec![],
                    values: TensorValues::Int(vec![count as i64]),
                },
            );
        }
        set.insert(
            name,
            NamedTensor {
                shape,
                values: TensorValues::Float(values),
            },
        );
    }
    Ok(set)
}

/// Checks that `set` holds exactly the tensors `model` needs, with the right shapes and finite
/// values, and returns the `num_batches_tracked` it records (0 when absent).
pub fn validate_weights<M: Module>(model: &M, set: &TensorSet) -> Result<u64> {
    let expected = parameter_shapes(model);
    let missing: Vec<&str> = expected
        .keys()
        .filter(|name| !set.contains_key(*name))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(Error::weights(format!(
            "{} tensor(s) missing, e.g. `{}`{}",
            missing.len(),
            missing[0],
            config_hint(set)
        )));
    }
    let mut batches_tracked = 0u64;
    for (name, tensor) in set {
        if name.ends_with(BATCHES_TRACKED) {
            batches_tracked = batches_tracked.max(counter_value(name, tensor)?);
            continue;
        }
        let Some(entry) = expected.get(name) else {
            return Err(Error::weights(format!(
                "unexpected tensor `{name}`: not part of TinyU-Net{}",
                config_hint(set)
            )));
        };
        if tensor.shape != entry.shape {
            return Err(Error::weights(format!(
                "`{name}` has shape {:?}, the model needs {:?}{}",
                tensor.shape,
                entry.shape,
                config_hint(set)
            )));
        }
        let TensorValues::Float(values) = &tensor.values else {
            return Err(Error::weights(format!(
                "`{name}` holds integers; a floating-point tensor is needed"
            )));
        };
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::weights(format!(
                "`{name}` contains a non-finite value ({}) at element {i}",
                values[i]
            )));
        }
        if name.ends_with(".running_var") && values.iter().any(|&v| v < 0.0) {
            return Err(Error::weights(format!(
                "`{name}` contains a negative variance"
            )));
        }
    }
    Ok(batches_tracked)
}

fn counter_value(name: &str, tensor: &NamedTensor) -> Result<u64> {
    match &tensor.values {
        TensorValues::Int(v) if v.len() == 1 && v[0] >= 0 => Ok(v[0] as u64),
        _ => Err(Error::weights(format!(
            "`{name}` must be one non-negative integer"
        ))),
    }
}

/// For a shape mismatch, says what network the file was made for, when that can be told.
fn config_hint(set: &TensorSet) -> String {
    match infer_config(set) {
        Ok(config) => format!(
            " (the file is for a network with {} input channel(s), {} class(es), widths {:?}, cascade {})",
            config.in_channels, config.classes, config.widths, config.cascade
        ),
        Err(_) => String::new(),
    }
}

/// A copy of `model` carrying the weights and statistics of `set`, which is validated in full
/// first; `model` itself is never modified, so a bad file leaves it as it was.
pub fn import_weights(model: &TinyUNet, set: &TensorSet) -> Result<TinyUNet> {
    let batches_tracked = validate_weights(model, set)?;
    let mut model = load_module(model, set)?;
    model.num_batches_tracked = batches_tracked;
    Ok(model)
}

/// A copy of any module with its tensors replaced by those of `set` (validated in full first).
pub fn load_module<M: Module>(model: &M, set: &TensorSet) -> Result<M> {
    validate_weights(model, set)?;
    let device = model
        .devices()
        .into_iter()
        .next()
        .ok_or_else(|| Error::Backend("the model has no device".into()))?;
    struct Load<'a> {
        path: PathStack,
        set: &'a TensorSet,
        device: Device,
    }
    impl ModuleMapper for Load<'_> {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.enter(name);
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.exit();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let name = self.path.joined();
            // validate_weights guaranteed presence, shape and type.
            let Some(NamedTensor {
                shape,
                values: TensorValues::Float(values),
            }) = self.set.get(&name)
            else {
                return param;
            };
            let data = TensorData::new(values.clone(), shape.clone());
            let tensor = Tensor::<D>::from_data(data, &self.device);
            let id = param.id;
            param.transform_for_load(tensor, id)
        }
    }
    let mut loader = Load {
        path: PathStack::default(),
        set,
        device,
    };
    // `valid()` gives fresh running-state cells: mapping a plain clone would write the loaded
    // statistics into cells that `model` shares, changing it behind the caller's back.
    let fresh = if loader.device.is_autodiff() {
        model.valid().train()
    } else {
        model.valid()
    };
    Ok(fresh.map(&mut loader))
}

fn shape_of<'a>(set: &'a TensorSet, name: &str) -> Result<&'a [usize]> {
    set.get(name)
        .map(|t| t.shape.as_slice())
        .ok_or_else(|| Error::weights(format!("not a TinyU-Net state_dict: `{name}` is missing")))
}

/// Works out the network a weights file was made for from its tensor shapes.
pub fn infer_config(set: &TensorSet) -> Result<TinyUNetConfig> {
    let dim = |name: &str, axis: usize| -> Result<usize> {
        shape_of(set, name)?
            .get(axis)
            .copied()
            .ok_or_else(|| Error::weights(format!("`{name}` has too few dimensions")))
    };
    let in_channels = dim("encoder1.cmrf.pwconv1.conv.weight", 1)?;
    let classes = dim("final_conv.weight", 0)?;
    let mut widths = [0; 4];
    for (i, width) in widths.iter_mut().enumerate() {
        *width = dim(&format!("encoder{}.cmrf.pwconv2.conv.weight", i + 1), 0)?;
    }
    let cascade = (0..)
        .take_while(|i| set.contains_key(&format!("encoder1.cmrf.m.{i}.conv.weight")))
        .count()
        + 1;
    Ok(TinyUNetConfig {
        in_channels,
        classes,
        widths,
        cascade,
    })
}
