// The demo's own transport for its weights: a safetensors file whose data section is split into
// two byte planes (the bytes at even offsets, then those at odd offsets), gzipped. The demo
// weights are f16, and an f16's high byte (sign, exponent, two mantissa bits) repeats far more
// than its low byte: apart, gzip -9 packs them in 852 KB instead of 919 KB for the plain file, and a
// gzip file arrives compressed from any static host. The page unpacks models/NAME.packed.gz to the
// very bytes of www/models/NAME.safetensors, which is what the package is given; exports stay
// safetensors.
// Pure functions (no DOM, no fetch), shared by the worker and build.sh's packing step.

/** The first 8 bytes of a packed file. */
export const PACKED_MAGIC = new TextEncoder().encode('TUWPACK1');

/** Bytes of a safetensors file up to its data section: its 8-byte header length and header. */
function prefixLength(bytes, what) {
  if (bytes.length < 8) throw new Error(`${what} is ${bytes.length} bytes: too short for a safetensors header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = view.getBigUint64(0, true);
  if (header > BigInt(bytes.length - 8)) {
    throw new Error(`${what} declares a ${header}-byte header but has ${bytes.length - 8} bytes after its length`);
  }
  return 8 + Number(header);
}

/** safetensors bytes → packed bytes (magic, the header as is, the data as two byte planes). */
export function packWeights(safetensors) {
  const start = prefixLength(safetensors, 'the safetensors file');
  const data = safetensors.subarray(start);
  const out = new Uint8Array(PACKED_MAGIC.length + safetensors.length);
  out.set(PACKED_MAGIC, 0);
  out.set(safetensors.subarray(0, start), PACKED_MAGIC.length);
  const even = PACKED_MAGIC.length + start;
  const odd = even + Math.ceil(data.length / 2);
  for (let i = 0; i < data.length; i++) out[(i & 1 ? odd : even) + (i >> 1)] = data[i];
  return out;
}

/** Packed bytes → the safetensors bytes they were made from; a clear error for anything else. */
export function unpackWeights(packed) {
  if (packed.length < PACKED_MAGIC.length || PACKED_MAGIC.some((b, i) => packed[i] !== b)) {
    throw new Error('the packed weights do not start with TUWPACK1: not a file made by build.sh');
  }
  const body = packed.subarray(PACKED_MAGIC.length);
  const start = prefixLength(body, 'the packed weights');
  const out = new Uint8Array(body.length);
  out.set(body.subarray(0, start), 0);
  const length = body.length - start;
  const even = start;
  const odd = even + Math.ceil(length / 2);
  for (let i = 0; i < length; i++) out[start + i] = body[(i & 1 ? odd : even) + (i >> 1)];
  return out;
}

/** Gunzips `bytes` when they are gzip (a host that sent the file with Content-Encoding: gzip
 * has had the browser do it already). */
export async function gunzipIfNeeded(bytes) {
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
