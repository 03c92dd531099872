//! CPU kernels for burn-flex: plain loops over contiguous `f32` rows that the compiler
//! vectorises (wasm SIMD in the browser).

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ActivationOps;
use burn::backend::tensor::FloatTensor;
use burn::prelude::*;
use burn::tensor::DType;

use super::TinyKernels;
use crate::model::bicubic::taps_for_output;

/// For each of `2n` outputs along an axis: its four source indices (clamped) and weights.
fn tap_table(n: usize) -> Vec<([usize; 4], [f32; 4])> {
    (0..2 * n).map(|o| taps_for_output(o, n)).collect()
}

fn dims4(t: &FlexTensor) -> [usize; 4] {
    let shape = t.layout().shape();
    [shape[0], shape[1], shape[2], shape[3]]
}

fn f32_input(t: FloatTensor<Flex>) -> FlexTensor {
    assert_eq!(t.dtype(), DType::F32, "tinyunet's kernels take f32 tensors");
    if t.is_contiguous() {
        t
    } else {
        t.to_contiguous()
    }
}

impl TinyKernels for Flex {
    fn gelu_exact_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        // burn-flex's own GELU backward is the exact erf derivative, in one fused pass.
        <Self as ActivationOps<Self>>::gelu_backward(x, grad)
    }

    fn max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let x = f32_input(x);
        let [n, c, h, w] = dims4(&x);
        let (oh, ow) = (h / 2, w / 2);
        let src = x.as_slice::<f32>().expect("a contiguous f32 tensor");
        let mut out = FlexTensor::empty(Shape::new([n, c, oh, ow]), DType::F32);
        let dst = out.storage_mut::<f32>();
        for (plane_in, plane_out) in src.chunks_exact(h * w).zip(dst.chunks_exact_mut(oh * ow)) {
            for y in 0..oh {
                let top = &plane_in[2 * y * w..2 * y * w + 2 * ow];
                let bottom = &plane_in[(2 * y + 1) * w..(2 * y + 1) * w + 2 * ow];
                let target = &mut plane_out[y * ow..(y + 1) * ow];
                for x in 0..ow {
                    target[x] = top[2 * x]
                        .max(top[2 * x + 1])
                        .max(bottom[2 * x].max(bottom[2 * x + 1]));
                }
            }
        }
        out
    }

    fn bicubic_up2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let x = f32_input(x);
        let [n, c, h, w] = dims4(&x);
        let src = x.as_slice::<f32>().expect("a contiguous f32 tensor");
        let (cols, rows) = (tap_table(w), tap_table(h));
        let planes = n * c;
        // Along the width: [planes·h, w] → [planes·h, 2w].
        let mut wide = vec![0f32; planes * h * 2 * w];
        for (line, out) in src.chunks_exact(w).zip(wide.chunks_exact_mut(2 * w)) {
            for (o, (j, k)) in cols.iter().enumerate() {
                out[o] =
                    k[0] * line[j[0]] + k[1] * line[j[1]] + k[2] * line[j[2]] + k[3] * line[j[3]];
            }
        }
        // Along the height, one whole output row at a time (contiguous, vectorised).
        let mut out = FlexTensor::empty(Shape::new([n, c, 2 * h, 2 * w]), DType::F32);
        let dst = out.storage_mut::<f32>();
        let row = 2 * w;
        for (plane_in, plane_out) in wide
            .chunks_exact(h * row)
            .zip(dst.chunks_exact_mut(2 * h * row))
        {
            for (o, (j, k)) in rows.iter().enumerate() {
                let target = &mut plane_out[o * row..(o + 1) * row];
                let [a, b, cc, d] = j.map(|r| &plane_in[r * row..(r + 1) * row]);
                for x in 0..row {
                    target[x] = k[0] * a[x] + k[1] * b[x] + k[2] * cc[x] + k[3] * d[x];
                }
            }
        }
        out
    }

    fn bicubic_up2_backward(grad: FloatTensor<Self>) -> FloatTensor<Self> {
        let grad = f32_input(grad);
        let [n, c, h2, w2] = dims4(&grad);
        let (h, w) = (h2 / 2, w2 / 2);
        let src = grad.as_slice::<f32>().expect("a contiguous f32 tensor");
        let (cols, rows) = (tap_table(w), tap_table(h));
        let planes = n * c;
        // Adjoint along the height: each output row scatters into its four source rows.
        let mut tall = vec![0f32; planes * h * w2];
        for (plane_in, plane_out) in src.chunks_exact(h2 * w2).zip(tall.chunks_exact_mut(h * w2)) {
            for (o, (j, k)) in rows.iter().enumerate() {
                let g = &plane_in[o * w2..(o + 1) * w2];
                for t in 0..4 {
                    let target = &mut plane_out[j[t] * w2..(j[t] + 1) * w2];
                    for x in 0..w2 {
                        target[x] += k[t] * g[x];
                    }
                }
            }
        }
        // Adjoint along the width.
        let mut out = FlexTensor::zeros(Shape::new([n, c, h, w]), DType::F32);
        let dst = out.storage_mut::<f32>();
        for (line, target) in tall.chunks_exact(w2).zip(dst.chunks_exact_mut(w)) {
            for (o, (j, k)) in cols.iter().enumerate() {
                let g = line[o];
                for t in 0..4 {
                    target[j[t]] += k[t] * g;
                }
            }
        }
        out
    }
}
