// What bench.js (the page) and threads-worker.js (the threaded build's Worker) time the same way.

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** A deterministic float input `[batch, 3, size, size]`. */
export function input(batch, size) {
  const data = new Float32Array(batch * 3 * size * size);
  let s = 1;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = (s >>> 8) / 16777216;
  }
  return data;
}

/** `count` synthetic `{ image, mask }` pairs of `size`²: a dark rectangle on light skin. */
export function trainingPairs(count, size) {
  const samples = [];
  for (let i = 0; i < count; i++) {
    const image = new ImageData(size, size);
    const mask = new ImageData(size, size);
    for (let p = 0; p < size * size; p++) {
      const inside = p % size > size / 3 && Math.floor(p / size) > size / 4;
      image.data.set(inside ? [90, 60, 40, 255] : [220, 170, 150, 255], 4 * p);
      mask.data.set(inside ? [255, 255, 255, 255] : [0, 0, 0, 255], 4 * p);
    }
    samples.push({ image, mask });
  }
  return samples;
}

/**
 * Median ms per training step (forward, backward, Adam) of `seg` at `batch` × `size`²;
 * `options` are further `train` options (e.g. `microBatch`).
 */
export async function trainStepMs(seg, batch, size, iters, warmup, options = {}) {
  const samples = trainingPairs(batch, size);
  const stamps = [];
  await seg.train(samples, {
    ...options,
    epochs: iters + warmup,
    batchSize: batch,
    size,
    augment: false,
    // One stamp per training step: `train` reports other phases too ('epoch' right after each
    // step, 'score' with held-out pairs), and stamping those made the "step" the gap between a
    // step's report and its epoch's (≈ 0 ms).
    onProgress: (p) => {
      if (p.phase === 'train') stamps.push(performance.now());
    },
  });
  return median(
    stamps
      .slice(warmup)
      .map((t, i) => t - stamps[warmup + i - 1])
      .filter((d) => !Number.isNaN(d)),
  );
}
