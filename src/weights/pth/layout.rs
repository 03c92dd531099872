//! A tensor's place in its storage: size, stride and offset checked for overflow, and its elements
//! gathered in row-major order whatever the strides.

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::weights::dtype::ElementType;

use super::pickle::TensorRef;

/// Size, stride and offset in elements, converted to `usize` and checked for overflow.
pub(super) struct Layout {
    pub(super) shape: Vec<usize>,
    /// Strides with those of size-1 dimensions zeroed: they are never stepped, and a huge one must
    /// not overflow the index arithmetic.
    stride: Vec<usize>,
    offset: usize,
    pub(super) numel: usize,
}

impl Layout {
    pub(super) fn new(name: &str, t: &TensorRef) -> Result<Self> {
        let too_big =
            || Error::weights(format!("tensor `{name}`: size, stride or offset overflows"));
        let to_usize = |v: &u64| usize::try_from(*v).map_err(|_| too_big());
        let shape = t.size.iter().map(to_usize).collect::<Result<Vec<_>>>()?;
        let stride = t
            .stride
            .iter()
            .zip(&shape)
            .map(|(s, &d)| if d == 1 { Ok(0) } else { to_usize(s) })
            .collect::<Result<Vec<_>>>()?;
        let offset = to_usize(&t.offset)?;
        let numel = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(too_big)?;
        Ok(Self {
            shape,
            stride,
            offset,
            numel,
        })
    }

    /// The highest element index the tensor touches (`None` on overflow); only meaningful when
    /// `numel > 0`.
    fn last_index(&self) -> Option<usize> {
        self.shape
            .iter()
            .zip(&self.stride)
            .try_fold(self.offset, |acc, (&d, &s)| {
                acc.checked_add(d.checked_sub(1)?.checked_mul(s)?)
            })
    }

    /// True when the elements are consecutive in row-major order.
    fn is_contiguous(&self) -> bool {
        let mut expected = 1;
        for (&d, &s) in self.shape.iter().zip(&self.stride).rev() {
            if d != 1 && s != expected {
                return false;
            }
            expected *= d;
        }
        true
    }
}

/// Copies the tensor's elements out of the storage in row-major order.
pub(super) fn gather<'a>(
    name: &str,
    path: &str,
    storage: &'a [u8],
    ty: ElementType,
    layout: &Layout,
) -> Result<Cow<'a, [u8]>> {
    if layout.numel == 0 {
        return Ok(Cow::Borrowed(&[]));
    }
    let es = ty.size();
    let capacity = storage.len() / es;
    let out_of_range = |reach: String| {
        Error::weights(format!(
            "tensor `{name}`: size {:?}, stride {:?} and storage offset {} reach element {reach}, \
             but storage `{path}` holds only {capacity} {} elements",
            layout.shape,
            layout.stride,
            layout.offset,
            ty.name()
        ))
    };
    let last = layout
        .last_index()
        .ok_or_else(|| out_of_range("beyond usize::MAX".into()))?;
    if last >= capacity {
        return Err(out_of_range(last.to_string()));
    }
    // `last < capacity` bounds every index below, so the slicing cannot fail; `get` keeps it so.
    let slice = |first: usize, count: usize| storage.get(first * es..(first + count) * es);
    if layout.is_contiguous() {
        return slice(layout.offset, layout.numel)
            .map(Cow::Borrowed)
            .ok_or_else(|| out_of_range(last.to_string()));
    }
    let mut out = Vec::with_capacity(layout.numel * es);
    let mut index = vec![0usize; layout.shape.len()];
    let mut pos = layout.offset;
    for _ in 0..layout.numel {
        out.extend_from_slice(slice(pos, 1).ok_or_else(|| out_of_range(pos.to_string()))?);
        advance(&mut index, &mut pos, layout);
    }
    Ok(Cow::Owned(out))
}

/// Steps a row-major multi-index (odometer style) and the matching storage position.
fn advance(index: &mut [usize], pos: &mut usize, layout: &Layout) {
    for ((i, &d), &s) in index
        .iter_mut()
        .zip(&layout.shape)
        .zip(&layout.stride)
        .rev()
    {
        if *i + 1 < d {
            *i += 1;
            *pos += s;
            return;
        }
        // Wrapping this dimension: step back to its first element, carry into the next one.
        *pos -= s * *i;
        *i = 0;
    }
}
