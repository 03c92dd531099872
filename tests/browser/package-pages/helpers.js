// Helpers the package tests (tests/browser/package.test.mjs) call through page.evaluate.
import * as tinyunet from '/pkg/tinyunet.js';
import * as cpuGlue from '/pkg/wasm/tinyunet_cpu.js';
import * as webgpuGlue from '/pkg/wasm/tinyunet_webgpu.js';
import { parseSafetensors, blobImage, blobMask, blobPairs, maxAbsDiff } from './shared.js';

export { parseSafetensors, blobImage, blobMask, blobPairs, maxAbsDiff };

/** The bindings of each build of the core, by backend (initialised by `Segmenter.create`). */
const glue = { cpu: cpuGlue, webgpu: webgpuGlue };

export async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** PNG bytes of an ImageData (through a canvas). */
export async function pngBytes(imageData) {
  const canvas = new OffscreenCanvas(imageData.width, imageData.height);
  canvas.getContext('2d').putImageData(imageData, 0, 0);
  const blob = await canvas.convertToBlob({ type: 'image/png' });
  return new Uint8Array(await blob.arrayBuffer());
}

/** Runs `fn` and returns the message of what it throws (or null), for error-path tests. */
export async function errorOf(fn) {
  try {
    await fn();
    return null;
  } catch (e) {
    return { message: e.message, isError: e instanceof Error, kind: e.kind };
  }
}

/**
 * Makes SwiftShader's adapter say it is a hardware one (`adapter.info`), so that `auto` treats
 * it as a real GPU: the only way to reach those paths on this machine.
 */
export function poseAsHardwareAdapter() {
  const request = navigator.gpu.requestAdapter.bind(navigator.gpu);
  navigator.gpu.requestAdapter = async (options) => {
    const adapter = await request(options);
    Object.defineProperty(adapter, 'info', {
      value: { vendor: 'test', architecture: 'hardware', device: '', description: '', isFallbackAdapter: false },
    });
    return adapter;
  };
}

Object.assign(window, {
  tinyunet,
  glue,
  parseSafetensors,
  fetchBytes,
  blobImage,
  blobMask,
  blobPairs,
  pngBytes,
  maxAbsDiff,
  errorOf,
  poseAsHardwareAdapter,
});
window.helpersReady = true;
