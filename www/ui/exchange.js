// The user's corrected pairs out of the browser and back: a zip in the layout the CLI and this page
// read (`images/NAME.jpg` + `masks/NAME_segmentation.png`, so `tinyunet train --data` takes the
// unzipped folder), with `annotations.json` saying which masks were corrected by hand and where
// each pair was (results, fine-tuning set), so that an import restores the work as it was.

import { makeZip, readZip } from './zip.js';
import { classify, isImageFile } from './pairs.js';

const MANIFEST = 'annotations.json';
const FORMAT = 'tinyunet-annotations/1';

/** The file name's extension for an image blob (its own name's, else from its type). */
function extension(a) {
  const fromName = /\.(png|jpe?g|webp|gif|bmp)$/i.exec(a.image.name ?? '')?.[1]?.toLowerCase();
  if (fromName) return fromName === 'jpeg' ? 'jpg' : fromName;
  return { 'image/jpeg': 'jpg', 'image/png': 'png', 'image/webp': 'webp' }[a.image.type] ?? 'png';
}

/** A file-name stem that is safe in a zip and in every file system. */
function safeStem(name) {
  const s = name
    .replace(/\.[^.]+$/, '')
    .replace(/[^\p{L}\p{N}._-]+/gu, '_')
    .replace(/^[._]+/, '');
  return s || 'image';
}

/**
 * The annotations as one zip: the images as the user gave them (byte for byte) and the masks as
 * the PNGs the page downloads and trains on.
 * @param {import('./annotations.js').Annotation[]} list
 * @returns {Promise<Blob>}
 */
export async function exportZip(list) {
  const used = new Set();
  const files = [];
  const entries = [];
  for (const a of list) {
    let stem = safeStem(a.name);
    for (let n = 2; used.has(stem.toLowerCase()); n++) stem = `${safeStem(a.name)}-${n}`;
    used.add(stem.toLowerCase());
    const image = `images/${stem}.${extension(a)}`;
    const mask = `masks/${stem}_segmentation.png`;
    files.push({ name: image, data: a.image }, { name: mask, data: await a.maskPng() });
    entries.push({
      name: a.name,
      image,
      mask,
      classes: a.classes,
      corrected: a.corrected,
      inResults: a.inResults,
      inTraining: a.inTraining,
    });
  }
  const manifest = { format: FORMAT, exported: new Date().toISOString(), pairs: entries };
  files.push({ name: MANIFEST, data: new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`) });
  return makeZip(files);
}

/**
 * The image/mask pairs in a zip (ours, or any with images and masks paired by name and folder as
 * the page pairs dropped files), with what the manifest says of each.
 * @param {Blob} zip
 * @returns {Promise<{ pairs: { name: string, image: File, mask: File, classes: number | null, corrected: boolean, inResults: boolean, inTraining: boolean }[], unpaired: string[] }>}
 */
export async function importZip(zip) {
  const entries = await readZip(zip);
  const byName = new Map(entries.map((e) => [e.name, e]));
  const file = (entry) => new File([entry.data], entry.name.split('/').pop(), { type: mimeOf(entry.name) });
  const manifestEntry = byName.get(MANIFEST);
  if (manifestEntry) {
    let manifest;
    try {
      manifest = JSON.parse(new TextDecoder().decode(manifestEntry.data));
    } catch (e) {
      throw new Error(`${MANIFEST} in the zip is not valid JSON (${e.message})`);
    }
    if (manifest?.format !== FORMAT || !Array.isArray(manifest.pairs)) {
      throw new Error(`${MANIFEST} in the zip is not a tinyunet annotations list`);
    }
    const pairs = [];
    const unpaired = [];
    for (const p of manifest.pairs) {
      const image = byName.get(p.image);
      const mask = byName.get(p.mask);
      if (!image || !mask) {
        unpaired.push(String(p.name));
        continue;
      }
      pairs.push({
        name: String(p.name),
        image: file(image),
        mask: file(mask),
        classes: Number.isInteger(p.classes) ? p.classes : null,
        corrected: Boolean(p.corrected),
        inResults: Boolean(p.inResults),
        inTraining: p.inTraining !== false,
      });
    }
    return { pairs, unpaired };
  }
  // No manifest: pair by name and folder, as files dropped on the page are.
  const found = new Map();
  const unpaired = [];
  for (const e of entries) {
    if (!isImageFile(e.name)) continue;
    const { role, key, stem } = classify(e.name);
    const slot = found.get(key) ?? { name: stem };
    if (role === 'image') slot.name = stem;
    slot[role] = file(e);
    found.set(key, slot);
  }
  const pairs = [];
  for (const slot of found.values()) {
    if (slot.image && slot.mask)
      pairs.push({ ...slot, classes: null, corrected: false, inResults: false, inTraining: true });
    else unpaired.push(slot.name);
  }
  return { pairs, unpaired };
}

function mimeOf(name) {
  const ext = name.split('.').pop().toLowerCase();
  return (
    { jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', gif: 'image/gif', bmp: 'image/bmp' }[
      ext
    ] ?? ''
  );
}
