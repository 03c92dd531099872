// TinyU-Net written with TensorFlow.js ops (tfjs-core only, no tfjs-layers), for ./build.sh bench:
// the same layers as src/model/*.rs, so that tfjs's wasm and WebGPU backends can be timed on the
// same network as tinyunet and onnxruntime-web. Random weights: it is a speed comparison, not a
// port of trained weights, so no output is compared with tinyunet's (only checked to be finite).
//
// Differences from tinyunet, both allowed for a speed comparison:
// - ×2 upsampling is bilinear (tf.image.resizeBilinear, half-pixel centres as PyTorch's
//   align_corners=False) where ours is bicubic: tfjs has no bicubic resize.
// - Layout NHWC, tfjs's native one (its NCHW convolutions are not implemented on every backend);
//   the channel split below is written for channels-last.
// Each layer is applied as written, with no folding of BatchNorm into the convolution, as
// src/model does: conv → BatchNorm (running statistics) → exact GELU.

/** BatchNorm epsilon of every TinyU-Net BatchNorm (src/model/conv_bn.rs, BN_EPS). */
const BN_EPS = 1e-3;
/** The paper's network for one class: widths, cascade depth, and its trainable parameter count. */
const WIDTHS = [64, 128, 256, 512];
const CASCADE = 8;
export const PARAMS_1_CLASS = 481_105;

/**
 * Builds the network's weights on tfjs's current backend and returns `{ forward, params, dispose }`.
 * `forward(x)` takes `[N, H, W, inChannels]` and returns logits `[N, H, W, classes]`; call it
 * inside `tf.tidy`.
 */
export function tinyUNet(tf, { inChannels = 3, classes = 1, seed = 1 } = {}) {
  const weights = [];
  let nextSeed = seed;
  // PyTorch's default convolution initialisation, as src/model/init.rs: U(±1/√fan_in).
  const uniform = (shape, fanIn) => {
    const bound = 1 / Math.sqrt(fanIn);
    const t = tf.randomUniform(shape, -bound, bound, 'float32', nextSeed++);
    weights.push(t);
    return t;
  };
  const constant = (channels, value) => {
    const t = tf.fill([channels], value);
    weights.push(t);
    return t;
  };
  // Running statistics are state, not parameters: kept out of `weights` so the count below is
  // the trainable one, as TinyUNet::trainable_params counts it.
  const state = [];
  const stat = (channels, value) => {
    const t = tf.fill([channels], value);
    state.push(t);
    return t;
  };

  /** Conv (no bias, stride 1, "same") → BatchNorm → exact GELU or nothing (src/model/conv_bn.rs). */
  function convBn(cIn, cOut, kernel, depthwise, act) {
    // tfjs filters: [k, k, in, out] for a convolution, [k, k, channels, 1] for a depthwise one.
    const filter = depthwise
      ? uniform([kernel, kernel, cIn, 1], kernel * kernel)
      : uniform([kernel, kernel, cIn, cOut], cIn * kernel * kernel);
    // A fresh BatchNorm: γ = 1, β = 0, running mean 0, running variance 1.
    const gamma = constant(cOut, 1);
    const beta = constant(cOut, 0);
    const mean = stat(cOut, 0);
    const variance = stat(cOut, 1);
    return (x) => {
      const conv = depthwise ? tf.depthwiseConv2d(x, filter, 1, 'same') : tf.conv2d(x, filter, 1, 'same');
      const y = tf.batchNorm(conv, mean, variance, beta, gamma, BN_EPS);
      // Exact (erf) GELU, as ours: ½·y·(1 + erf(y/√2)). tfjs has no GELU op.
      return act ? tf.mul(tf.mul(y, 0.5), tf.add(tf.erf(tf.mul(y, Math.SQRT1_2)), 1)) : y;
    };
  }

  /** CMRF(c1 → c2), src/model/cmrf.rs: c = ⌊c2·0.5/n⌋ channels per cascade branch. */
  function cmrf(c1, c2, n) {
    const c = Math.floor((c2 * 0.5) / n);
    const pwconv1 = convBn(c1, 2 * c, 1, false, true);
    const m = Array.from({ length: n - 1 }, () => convBn(c, c, 3, true, false));
    const pwconv2 = convBn(n * c, c2, 1, false, true);
    return (x) => {
      const y = pwconv1(x);
      const [batch, h, w] = y.shape;
      // The even and odd channels of y (the reference's y[:, 0::2] and y[:, 1::2]): a stride-2
      // slice of the channel axis, last in NHWC.
      const even = tf.stridedSlice(y, [0, 0, 0, 0], [batch, h, w, 2 * c], [1, 1, 1, 2]);
      const odd = tf.stridedSlice(y, [0, 0, 0, 1], [batch, h, w, 2 * c], [1, 1, 1, 2]);
      const branches = [tf.add(even, odd)];
      let d = odd;
      for (const block of m) {
        d = block(d);
        branches.push(d);
      }
      return pwconv2(tf.concat(branches, 3));
    };
  }

  const [w1, w2, w3, w4] = WIDTHS;
  const n = CASCADE;
  const encoders = [cmrf(inChannels, w1, n), cmrf(w1, w2, n), cmrf(w2, w3, n), cmrf(w3, w4, n)];
  const decoders = [cmrf(w4 + w4, w4, n), cmrf(w4 + w3, w3, n), cmrf(w3 + w2, w2, n), cmrf(w2 + w1, w1, n)];
  // The final 1×1 classifier, the only layer with a bias.
  const finalWeight = uniform([1, 1, w1, classes], w1);
  const finalBias = uniform([classes], w1);

  function forward(x) {
    const skips = [];
    for (const encoder of encoders) {
      const skip = encoder(x);
      skips.push(skip);
      x = tf.maxPool(skip, 2, 2, 'valid');
    }
    for (const decoder of decoders) {
      const skip = skips.pop();
      const [, h, w] = x.shape;
      const up = tf.image.resizeBilinear(x, [2 * h, 2 * w], false, true);
      x = decoder(tf.concat([up, skip], 3));
    }
    return tf.add(tf.conv2d(x, finalWeight, 1, 'same'), finalBias);
  }

  const params = weights.reduce((sum, t) => sum + t.size, 0);
  const dispose = () => [...weights, ...state].forEach((t) => t.dispose());
  return { forward, params, dispose };
}
