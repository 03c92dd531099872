//! Weight interpolation between two trainings of one network (WiSE-FT's "robust fine-tuning"):
//! every float tensor becomes `(1 − share)·a + share·b`. A run that went on training on a new kind
//! of photo (b) often wins there and loses on the kind it knew (a); a point between the two keeps
//! much of the gain and most of what was known (docs/MODELS.md, "skin-lesion": the shipped
//! weights are such a blend).
//!
//! BatchNorm's running statistics are blended like any float tensor: an approximation of the
//! statistics the blended network would see, measured good enough on the validation photos.

use super::tensor_set::{NamedTensor, TensorSet, TensorValues};
use crate::error::{Error, Result};

/// Blends `a` towards `b` by `share` (0: `a`, 1: `b`), tensor by tensor. The two must hold the same
/// names with the same shapes (one network, two trainings); integer tensors (BatchNorm's
/// `num_batches_tracked`) are taken from `b`.
pub fn blend(a: &TensorSet, b: &TensorSet, share: f32) -> Result<TensorSet> {
    if !(0.0..=1.0).contains(&share) {
        return Err(Error::config(format!(
            "the blend's share of the second weights must be between 0 and 1, got {share}"
        )));
    }
    if let Some(name) = a.keys().find(|name| !b.contains_key(*name)) {
        return Err(Error::weights(format!(
            "the weights to blend are not the same network: {name} is only in the first file"
        )));
    }
    if let Some(name) = b.keys().find(|name| !a.contains_key(*name)) {
        return Err(Error::weights(format!(
            "the weights to blend are not the same network: {name} is only in the second file"
        )));
    }
    a.iter()
        .map(|(name, ta)| {
            let tb = &b[name];
            if ta.shape != tb.shape {
                return Err(Error::weights(format!(
                    "the weights to blend are not the same network: {name} is {:?} in the first file and {:?} in the second",
                    ta.shape, tb.shape
                )));
            }
            let values = match (&ta.values, &tb.values) {
                (TensorValues::Float(x), TensorValues::Float(y)) => TensorValues::Float(
                    x.iter()
                        .zip(y)
                        .map(|(x, y)| (1.0 - share) * x + share * y)
                        .collect(),
                ),
                (TensorValues::Int(_), TensorValues::Int(y)) => TensorValues::Int(y.clone()),
                _ => {
                    return Err(Error::weights(format!(
                        "the weights to blend are not the same network: {name} is a float tensor in one file and an integer one in the other"
                    )));
                }
            };
            Ok((
                name.clone(),
                NamedTensor {
                    shape: ta.shape.clone(),
                    values,
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(entries: &[(&str, Vec<usize>, TensorValues)]) -> TensorSet {
        entries
            .iter()
            .map(|(name, shape, values)| {
                (
                    name.to_string(),
                    NamedTensor {
                        shape: shape.clone(),
                        values: values.clone(),
                    },
                )
            })
            .collect()
    }

    fn pair() -> (TensorSet, TensorSet) {
        let a = set(&[
            ("w", vec![2], TensorValues::Float(vec![0.0, 4.0])),
            ("n", vec![], TensorValues::Int(vec![3])),
        ]);
        let b = set(&[
            ("w", vec![2], TensorValues::Float(vec![2.0, 0.0])),
            ("n", vec![], TensorValues::Int(vec![7])),
        ]);
        (a, b)
    }

    #[test]
    fn shares_interpolate_floats_and_take_the_second_counts() {
        let (a, b) = pair();
        assert_eq!(blend(&a, &b, 0.0).unwrap()["w"].values, a["w"].values);
        assert_eq!(blend(&a, &b, 1.0).unwrap()["w"].values, b["w"].values);
        let half = blend(&a, &b, 0.5).unwrap();
        assert_eq!(half["w"].values, TensorValues::Float(vec![1.0, 2.0]));
        assert_eq!(half["n"].values, TensorValues::Int(vec![7]));
    }

    #[test]
    fn different_networks_and_shares_out_of_range_are_refused_by_name() {
        let (a, mut b) = pair();
        let err = blend(&a, &b, 1.5).unwrap_err().to_string();
        assert!(err.contains("between 0 and 1"), "{err}");
        b.get_mut("w").unwrap().shape = vec![1, 2];
        let err = blend(&a, &b, 0.5).unwrap_err().to_string();
        assert!(err.contains("w is [2] in the first file"), "{err}");
        b.remove("w");
        let err = blend(&a, &b, 0.5).unwrap_err().to_string();
        assert!(err.contains("w is only in the first file"), "{err}");
    }
}
