// The user's weights, kept in this browser's IndexedDB (never sent anywhere): one record with the
// safetensors bytes and what the page knows about them.

const DB_NAME = 'tinyunet-demo';
const STORE = 'weights';
const KEY = 'current';

/**
 * @typedef {object} WeightsMeta
 * @property {'trained' | 'uploaded'} source
 * @property {string} savedAt          ISO time
 * @property {string} [fileName]       uploaded file
 * @property {number} [pairs]          training pairs used
 * @property {number} [heldOut]        pairs held back for the Dice scores
 * @property {number} [epochs]
 * @property {number} [stepsDone]
 * @property {number} [totalSteps]
 * @property {boolean} [cancelled]
 * @property {number} [diceBefore]
 * @property {number} [diceAfter]
 * @property {number} [resolution]
 * @property {string} [backend]
 * @property {boolean} [basedOnUser]   training started from weights that were already the user's
 */

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB could not be opened'));
    request.onblocked = () => reject(new Error('IndexedDB is blocked by another tab of this page'));
  });
}

async function withStore(mode, fn) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request?.result);
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction was aborted (is the disk full?)'));
    });
  } finally {
    db.close();
  }
}

/** @returns {Promise<{ bytes: ArrayBuffer, meta: WeightsMeta } | null>} */
export async function loadWeights() {
  const record = await withStore('readonly', (s) => s.get(KEY));
  return record && record.bytes instanceof ArrayBuffer ? record : null;
}

/** @param {ArrayBuffer} bytes  @param {WeightsMeta} meta */
export async function saveWeights(bytes, meta) {
  await withStore('readwrite', (s) => s.put({ bytes, meta }, KEY));
}

export async function clearWeights() {
  await withStore('readwrite', (s) => s.delete(KEY));
}
