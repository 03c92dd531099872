// Which file is an image and which is its mask, from names and folders alone, so a user can
// drop a mixed pile of files or a whole dataset folder.
//
//   NAME.jpg + NAME_mask.png / NAME_segmentation.png (ISIC) / NAME_seg.png / NAME_gt.png
//   …_Input/NAME.jpg + …_GroundTruth/NAME_segmentation.png   (ISIC 2018 folders)
//   images/NAME.png + masks/NAME.png                          (same stem, told apart by folder)
//
// Pure functions over `{ name, path }`, so node can test them without a browser.

/** Fewest held-back pairs whose before/after Dice means much (the core's MIN_RELIABLE_HELD_OUT). */
export const MIN_RELIABLE_HELD_OUT = 5;

const IMAGE_EXT = /\.(png|jpe?g)$/i;
const MASK_SUFFIX = /[_-](mask|segmentation|seg|gt|label|labels|groundtruth)$/i;
const MASK_DIR = /(^|_)(ground_?truth|masks?|labels?|annotations?|gt|segmentations?)$/i;
const IMAGE_DIR = /(^|_)(input|images?|imgs?|photos?)$/i;

/** True for files the page can use (PNG or JPEG by name). */
export function isImageFile(name) {
  return IMAGE_EXT.test(name);
}

/**
 * Classifies one file.
 * @param {string} path  relative path (`ISIC_Input/ISIC_1.jpg`) or a bare name
 * @returns {{ role: 'image' | 'mask', key: string, stem: string }}
 */
export function classify(path) {
  const parts = path.split(/[\\/]/).filter(Boolean);
  const base = parts.pop() ?? '';
  const stem = base.replace(/\.[^.]+$/, '');
  const dirs = parts.map((d) => d.toLowerCase());
  const suffixed = MASK_SUFFIX.test(stem);
  const key = stem.replace(MASK_SUFFIX, '').toLowerCase();
  // The nearest folder that says what it holds decides; a suffix decides otherwise.
  for (let i = dirs.length - 1; i >= 0; i--) {
    if (MASK_DIR.test(dirs[i])) return { role: 'mask', key, stem };
    if (IMAGE_DIR.test(dirs[i])) return { role: suffixed ? 'mask' : 'image', key, stem };
  }
  return { role: suffixed ? 'mask' : 'image', key, stem };
}

/**
 * Adds files to a pairing table (a Map from key to `{ key, name, image, mask, ... }`), keeping
 * what was there: masks can be added after their images.
 * @template F
 * @param {Map<string, object>} table
 * @param {{ file: F, path: string }[]} files
 * @returns {{ changed: object[], ignored: string[] }}  entries that changed; names not used
 */
export function addToPairs(table, files) {
  const changed = new Set();
  const ignored = [];
  for (const { file, path } of files) {
    if (!isImageFile(path)) {
      ignored.push(path);
      continue;
    }
    const { role, key, stem } = classify(path);
    let entry = table.get(key);
    if (!entry) {
      entry = { key, name: role === 'image' ? stem : key, image: null, mask: null, imagePath: null, maskPath: null };
      table.set(key, entry);
    }
    if (role === 'image') {
      entry.image = file;
      entry.imagePath = path;
      entry.name = stem;
    } else {
      entry.mask = file;
      entry.maskPath = path;
    }
    changed.add(entry);
  }
  return { changed: [...changed], ignored };
}

/**
 * Which pairs to hold back to judge a run by: about 20%, at least one when there are two or more
 * and at least five (MIN_RELIABLE_HELD_OUT, below which the before/after Dice means little) from
 * ten on, spread evenly over the pairs sorted by name (so the choice is stable and not just the
 * last files).
 * @param {string[]} keys
 * @returns {Set<string>}
 */
export function heldOutKeys(keys) {
  const sorted = [...keys].sort();
  const n = sorted.length;
  if (n < 2) return new Set();
  const k = Math.max(n >= 10 ? MIN_RELIABLE_HELD_OUT : 1, Math.round(n * 0.2));
  const out = new Set();
  for (let j = 0; j < k; j++) out.add(sorted[Math.min(n - 1, Math.floor(((j + 0.5) * n) / k))]);
  return out;
}

/**
 * Every file under a drop, folders included (read through the File System entries API).
 * @param {DataTransfer} dataTransfer
 * @returns {Promise<{ file: File, path: string }[]>}
 */
export async function filesFromDrop(dataTransfer) {
  const entries = [...(dataTransfer.items ?? [])]
    .filter((item) => item.kind === 'file')
    .map((item) => item.webkitGetAsEntry?.())
    .filter(Boolean);
  if (entries.length === 0) return [...dataTransfer.files].map((file) => ({ file, path: file.name }));
  const out = [];
  for (const entry of entries) await walk(entry, out);
  return out;
}

async function walk(entry, out) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    out.push({ file, path: entry.fullPath.replace(/^\//, '') });
    return;
  }
  if (!entry.isDirectory) return;
  const reader = entry.createReader();
  // readEntries hands out at most ~100 entries per call; keep asking until it returns none.
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    for (const child of batch) await walk(child, out);
  }
}

/** Files from an `<input type=file>` (with folder paths when it is a `webkitdirectory` one). */
export function filesFromInput(input) {
  return [...input.files].map((file) => ({ file, path: file.webkitRelativePath || file.name }));
}
