// Image and weights files as users have them, through the package in headless Chromium: formats
// beyond PNG and JPEG, headers that lie or pad, empty files, transparency, masks drawn in the
// alpha channel, and safetensors offsets past 4 GiB (which a 32-bit wasm must not misread).
//
// Run: cd tests/browser && node --test --test-concurrency=1 inputs.test.mjs
// Needs the built package (`./build.sh pkg`).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser, onHelpersPage, evaluateWithTimeout, pngWith, rgbaPng } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const PKG = path.join(ROOT, 'pkg');
const SLOW = 300_000;

/** A 24-bit BMP of one colour (bottom-up rows padded to 4 bytes, as the format has them). */
function bmp(width, height, [r, g, b]) {
  const row = Math.ceil((width * 3) / 4) * 4;
  const out = Buffer.alloc(54 + row * height);
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(24, 28);
  out.writeUInt32LE(row * height, 34);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) out.set([b, g, r], 54 + y * row + x * 3);
  }
  return out;
}

/** A JPEG's start with `fill` 0xFF padding bytes before each marker and a frame claiming w×h. */
function paddedJpegHeader(width, height, fill) {
  const pad = Buffer.alloc(fill, 0xff);
  const app0 = Buffer.from([
    0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
  ]);
  const sof = Buffer.from([
    0xff,
    0xc0,
    0x00,
    0x0b,
    0x08,
    height >> 8,
    height & 0xff,
    width >> 8,
    width & 0xff,
    0x01,
    0x01,
    0x11,
    0x00,
  ]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), pad, app0, pad, sof, Buffer.alloc(64)]);
}

/** A one-tensor safetensors file whose offsets say [0, end] over a 4-byte data section. */
function safetensorsWithEnd(end) {
  const header = Buffer.from(JSON.stringify({ final_conv: { dtype: 'F32', shape: [1], data_offsets: [0, end] } }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, Buffer.alloc(4)]);
}

const FILES = {
  bmp: bmp(30, 20, [120, 60, 40]),
  pngGarbage: Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    Buffer.from('not a chunk, just text that follows the signature'),
  ]),
  paddedHuge: paddedJpegHeader(20_000, 20, 5),
  // Colour under alpha 0 (left pixel), opaque colour (right pixel).
  transparent: rgbaPng(2, 1, Uint8Array.from([200, 100, 50, 0, 10, 20, 30, 255])),
  // A lesion drawn only in the alpha channel: black, opaque on the left half, transparent elsewhere.
  alphaMask: rgbaPng(
    40,
    30,
    Uint8Array.from({ length: 40 * 30 * 4 }, (_, i) => (i % 4 === 3 && (i >> 2) % 40 < 20 ? 255 : 0)),
  ),
  offsetsPast4GiB: safetensorsWithEnd(2 ** 33),
  hugeClaim: pngWith(9000, 10, Buffer.alloc(16)),
};

let server;
let browser;

before(async () => {
  assert.ok(fs.existsSync(path.join(PKG, 'wasm/tinyunet_cpu.js')), 'pkg/wasm/ is missing: run ./build.sh pkg first');
  const routes = Object.fromEntries(
    Object.entries(FILES).map(([name, body]) => [`/files/${name}`, { body, type: 'application/octet-stream' }]),
  );
  server = await startServer({ root: path.join(HERE, 'package-pages'), mounts: { '/pkg/': PKG }, routes });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test(
  'formats, lying and padded headers, empty files, transparency and alpha-drawn masks',
  { timeout: SLOW },
  async () => {
    const r = await onHelpersPage(browser, server, (page) =>
      evaluateWithTimeout(
        page,
        async () => {
          const { Segmenter, decodeImage } = window.tinyunet;
          const { errorOf, fetchBytes } = window;
          const seg = await Segmenter.create({ backend: 'cpu', inputSize: 64 });
          const canvasBlob = async (type) => {
            const canvas = new OffscreenCanvas(48, 32);
            const ctx = canvas.getContext('2d');
            ctx.fillStyle = 'rgb(210, 160, 130)';
            ctx.fillRect(0, 0, 48, 32);
            return canvas.convertToBlob({ type });
          };
          const size = async (source) => {
            const s = await seg.segment(source);
            return [s.width, s.height];
          };
          const transparent = await decodeImage(await fetchBytes('/files/transparent'));
          const alphaMask = await fetchBytes('/files/alphaMask');
          const image = new ImageData(40, 30);
          image.data.fill(200);
          const run = await seg.train([{ name: 'alpha', image, mask: new Blob([alphaMask], { type: 'image/png' }) }], {
            epochs: 1,
            size: 32,
          });
          return {
            webp: await size(await canvasBlob('image/webp')),
            bmp: await size(new Blob([await fetchBytes('/files/bmp')])),
            empty: await errorOf(() => seg.segment(new Uint8Array(0))),
            pngGarbage: await errorOf(async () => seg.segment(await fetchBytes('/files/pngGarbage'))),
            paddedHuge: await errorOf(async () => seg.segment(await fetchBytes('/files/paddedHuge'))),
            hugeClaim: await errorOf(async () => seg.segment(await fetchBytes('/files/hugeClaim'))),
            transparent: [...transparent.data],
            alphaMaskTrained: run.stepsDone,
            offsets: await errorOf(async () => seg.loadWeights(await fetchBytes('/files/offsetsPast4GiB'))),
            stillWorks: await size(await canvasBlob('image/png')),
          };
        },
        undefined,
        SLOW,
      ),
    );
    assert.deepEqual(r.webp, [48, 32], 'WebP is decoded where the browser decodes it');
    assert.deepEqual(r.bmp, [30, 20], 'BMP is decoded where the browser decodes it');
    assert.equal(r.empty.message, 'input: image: the file is empty (0 bytes)');
    assert.equal(r.pngGarbage.message, 'input: image: the PNG data is corrupt or truncated and cannot be decoded');
    // Fill bytes before the frame marker do not hide a 20,000 px side: refused from the header.
    assert.match(r.paddedHuge.message, /^input: image: 20000×20 pixels is too large/);
    assert.match(r.hugeClaim.message, /^input: image: 9000×10 pixels is too large/);
    // What the browser's decoding does with transparency (README, "Inputs"): a fully transparent
    // pixel comes out as transparent black, its colour gone; opaque ones keep theirs.
    assert.deepEqual(r.transparent, [0, 0, 0, 0, 10, 20, 30, 255]);
    assert.equal(r.alphaMaskTrained, 1);
    assert.equal(
      r.offsets.message,
      'weights: tensor `final_conv`: data_offsets [0, 8589934592] lie outside the 4-byte data section (truncated file?)',
    );
    assert.deepEqual(r.stillWorks, [48, 32]);
  },
);
