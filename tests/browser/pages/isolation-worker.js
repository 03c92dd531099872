// Same report as isolation.html's, from inside a dedicated worker.
let sharedMemory = false;
try {
  sharedMemory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
} catch (e) {
  sharedMemory = String(e);
}
postMessage({
  crossOriginIsolated: self.crossOriginIsolated,
  sharedArrayBuffer: typeof SharedArrayBuffer === 'function',
  sharedMemory,
});
