// Tests of the demo's packed weights (www/ui/packed-weights.js): pure functions, so Node runs
// them without a browser (Node has DecompressionStream too). The file build.sh made must unpack
// to the shipped safetensors byte for byte; damaged files get errors that name the problem.
//
// Run: cd tests/browser && node --test packed-weights.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { PACKED_MAGIC, gunzipIfNeeded, packWeights, unpackWeights } from '../../www/ui/packed-weights.js';

const WWW = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'www');
/** The shipped models: www/models/NAME.safetensors, each packed by build.sh into NAME.packed.gz. */
const MODELS = ['skin-lesion', 'lung-ct'];
const plain = (name) => new Uint8Array(fs.readFileSync(path.join(WWW, 'models', `${name}.safetensors`)));
const PLAIN = plain('skin-lesion');

/** A safetensors-shaped file: 8-byte length, `header`, then `data`. */
function safetensors(header, data) {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

test('each file build.sh packed unpacks to its shipped model byte for byte, and is smaller gzipped', async () => {
  const packedFiles = fs
    .readdirSync(path.join(WWW, 'models'))
    .filter((f) => f.endsWith('.packed.gz'))
    .sort();
  assert.deepEqual(
    packedFiles,
    MODELS.map((m) => `${m}.packed.gz`).sort(),
    'www/models/ should hold one packed file per model: build the package (./build.sh pkg, or ./build.sh models)',
  );
  for (const name of MODELS) {
    const file = path.join(WWW, 'models', `${name}.packed.gz`);
    const served = new Uint8Array(fs.readFileSync(file));
    const original = plain(name);
    const unpacked = unpackWeights(await gunzipIfNeeded(served));
    assert.equal(
      Buffer.compare(unpacked, original),
      0,
      `the packed ${name} weights are not the shipped ones (stale? rebuild with ./build.sh models)`,
    );
    const plainGzip = zlib.gzipSync(original, { level: 9 }).length;
    console.log(`${name}: ${original.length} B raw, ${plainGzip} B gzip -9, ${served.length} B packed`);
    // The reason it exists: byte planes gzip better than the interleaved f16 values.
    assert.ok(
      served.length < 0.95 * plainGzip,
      `${name}: packed ${served.length} B is not 5 % below plain gzip ${plainGzip} B`,
    );
  }
});

test('pack → unpack is the identity: odd and even data lengths, no data, every byte value', () => {
  for (const n of [0, 1, 2, 7, 512]) {
    const data = Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff);
    const file = safetensors('{"t":{"dtype":"U8","shape":[' + n + '],"data_offsets":[0,' + n + ']}}', data);
    const packed = packWeights(file);
    assert.deepEqual(packed.subarray(0, 8), PACKED_MAGIC);
    assert.equal(packed.length, file.length + 8);
    assert.deepEqual(unpackWeights(packed), file, `length ${n}`);
  }
  // The planes: the data's even-offset bytes, then its odd-offset ones.
  const packed = packWeights(safetensors('{}', Uint8Array.of(1, 2, 3, 4, 5)));
  assert.deepEqual([...packed.subarray(-5)], [1, 3, 5, 2, 4]);
});

test('damaged packed files and non-safetensors inputs are refused with what is wrong', async () => {
  assert.throws(() => unpackWeights(new TextEncoder().encode('not a packed file')), /do not start with TUWPACK1/);
  assert.throws(() => unpackWeights(new Uint8Array(3)), /do not start with TUWPACK1/);
  // The plain safetensors is not a packed file.
  assert.throws(() => unpackWeights(PLAIN), /do not start with TUWPACK1/);
  // Truncated: the header length says more than is there.
  const packed = packWeights(PLAIN);
  assert.throws(
    () => unpackWeights(packed.subarray(0, 8 + 100)),
    /declares a \d+-byte header but has 92 bytes after its length/,
  );
  assert.throws(
    () => unpackWeights(packed.subarray(0, 12)),
    /the packed weights is 4 bytes: too short for a safetensors header/,
  );
  assert.throws(() => packWeights(new Uint8Array(5)), /the safetensors file is 5 bytes: too short/);
  // Bytes that are not gzip pass through untouched; gzip is undone.
  assert.equal(await gunzipIfNeeded(packed), packed);
  assert.deepEqual(await gunzipIfNeeded(new Uint8Array(zlib.gzipSync(packed))), packed);
  // A damaged gzip stream fails (the page shows the message; it is the browser's own).
  const gz = new Uint8Array(zlib.gzipSync(packed));
  await assert.rejects(gunzipIfNeeded(gz.subarray(0, gz.length / 2)));
});
