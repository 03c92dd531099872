// Reports what WebGPU offers in the current global (window or worker).
// Plain script on purpose (no modules): it is loaded with <script> in the
// page and with importScripts() in the classic worker.

/* exported probeWebGPU */

// The limits the tinyunet kernels care about; everything else is reported too.
const KEY_LIMITS = [
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeInvocationsPerWorkgroup',
];

// GPUSupportedLimits exposes its values as prototype getters, so
// Object.keys / JSON.stringify see nothing; walk the prototype instead.
function limitsToObject(limits) {
  const out = {};
  for (const key in limits) {
    if (typeof limits[key] === 'number') out[key] = limits[key];
  }
  return out;
}

// Doubles 256 floats on the GPU and reads them back, so "we got a device"
// also means "compute shaders actually run here".
async function runDoubleKernel(device) {
  const n = 256;
  const input = new Float32Array(n).map((_, i) => i);
  const storage = device.createBuffer({
    size: input.byteLength,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  const readback = device.createBuffer({
    size: input.byteLength,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(storage, 0, input);
  const module = device.createShaderModule({
    code: `@group(0) @binding(0) var<storage, read_write> data: array<f32>;
           @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3<u32>) {
             if (id.x < arrayLength(&data)) { data[id.x] = data[id.x] * 2.0; }
           }`,
  });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const bind = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: storage } }],
  });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bind);
  pass.dispatchWorkgroups(Math.ceil(n / 64));
  pass.end();
  enc.copyBufferToBuffer(storage, 0, readback, 0, input.byteLength);
  device.queue.submit([enc.finish()]);
  await readback.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(readback.getMappedRange().slice(0));
  readback.unmap();
  storage.destroy();
  readback.destroy();
  return out.every((v, i) => v === i * 2) ? 'ok' : `wrong result: ${Array.from(out.slice(0, 8))}`;
}

// An adapter hands out one device only (it is "consumed" afterwards), so
// each attempt asks for a fresh adapter.
async function tryDevice(makeDescriptor) {
  try {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return { ok: false, error: 'second requestAdapter() gave null' };
    const device = await adapter.requestDevice(makeDescriptor(adapter));
    const result = { ok: true, limits: limitsToObject(device.limits) };
    result.kernel = await runDoubleKernel(device);
    device.destroy();
    return result;
  } catch (e) {
    return { ok: false, error: `${e.name}: ${e.message}` };
  }
}

async function probeWebGPU() {
  const report = {
    global: typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope ? 'worker' : 'window',
    isSecureContext: self.isSecureContext,
    crossOriginIsolated: self.crossOriginIsolated,
    sharedArrayBuffer: typeof SharedArrayBuffer === 'function',
    hasNavigatorGpu: typeof navigator !== 'undefined' && !!navigator.gpu,
  };
  if (!report.hasNavigatorGpu) return report;
  report.wgslLanguageFeatures = navigator.gpu.wgslLanguageFeatures
    ? [...navigator.gpu.wgslLanguageFeatures].sort()
    : null;
  report.preferredCanvasFormat = navigator.gpu.getPreferredCanvasFormat?.() ?? null;
  const adapter = await navigator.gpu.requestAdapter();
  report.adapter = !!adapter;
  if (!adapter) return report;
  const info = adapter.info ?? {};
  report.adapterInfo = {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallbackAdapter: info.isFallbackAdapter,
    subgroupMinSize: info.subgroupMinSize,
    subgroupMaxSize: info.subgroupMaxSize,
  };
  report.features = [...adapter.features].sort();
  report.adapterLimits = limitsToObject(adapter.limits);
  report.keyLimits = KEY_LIMITS;
  // 1. No descriptor: the device gets the spec's default limits.
  report.deviceDefault = await tryDevice(() => undefined);
  // 2. The adapter's GPUSupportedLimits object passed as-is (a common idiom).
  report.deviceAdapterLimitsObject = await tryDevice((a) => ({ requiredLimits: a.limits }));
  // 3. A plain-object copy of every adapter limit.
  report.deviceAllLimits = await tryDevice((a) => ({ requiredLimits: limitsToObject(a.limits) }));
  return report;
}
