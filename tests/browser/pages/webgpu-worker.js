// Dedicated worker: runs the shared probe and posts the report back.
/* global probeWebGPU */ // from webgpu-probe.js
importScripts('webgpu-probe.js');
probeWebGPU().then(
  (report) => postMessage({ report }),
  (e) => postMessage({ error: `${e.name}: ${e.message}` }),
);
