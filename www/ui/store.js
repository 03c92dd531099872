// What the user made, kept in this browser's IndexedDB (never sent anywhere): the weights (one
// record per model with the safetensors bytes and what the page knows about them) and the masks
// they corrected by hand (one record per image, see annotations.js). Each model (ui/models.js) has
// its own: the skin-lesion model's weights keep the key they had before there were two models
// ('current'), and annotations without a `model` are the skin-lesion model's, so a visitor's
// earlier work stays theirs; nothing of one model is ever shown to or trained into another.

const DB_NAME = 'tinyunet-demo';
const STORE = 'weights';
const ANNOTATIONS = 'annotations';
/** Each annotation's image and model masks: large, written only when they change. */
const PARTS = 'annotation-parts';
const KEY = 'current';
/** The model whose data were stored before there were several (no model named on them). */
const FIRST_MODEL = 'skin-lesion';

/** The key of a model's weights record. */
function weightsKey(model) {
  return !model || model === FIRST_MODEL ? KEY : `${KEY}:${model}`;
}

/** The model an annotation record belongs to. */
export function modelOf(record) {
  return record?.model ?? FIRST_MODEL;
}

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
    // Version 2 added the annotations; a version-1 database keeps its weights.
    const request = indexedDB.open(DB_NAME, 2);
    request.onupgradeneeded = () => {
      const db = request.result;
      for (const name of [STORE, ANNOTATIONS, PARTS])
        if (!db.objectStoreNames.contains(name)) db.createObjectStore(name);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB could not be opened'));
    request.onblocked = () => reject(new Error('IndexedDB is blocked by another tab of this page'));
  });
}

/** The one connection of this page, opened on first use (a failed open is tried again next time). */
let connection = null;

function db() {
  connection ??= open().then((d) => {
    // Another tab upgrading the database asks us to let go; the next call opens it again.
    d.onversionchange = () => {
      d.close();
      connection = null;
    };
    return d;
  });
  connection.catch(() => {
    connection = null;
  });
  return connection;
}

/**
 * Runs `fn` on the object store(s) in one transaction; resolves with its request's result once the
 * transaction has committed. `fn` gets one store, or an object of them when `store` is a list.
 */
async function withStore(mode, fn, store = STORE) {
  const database = await db();
  return new Promise((resolve, reject) => {
    let tx;
    let request;
    try {
      tx = database.transaction(store, mode);
      request = fn(
        Array.isArray(store) ? Object.fromEntries(store.map((n) => [n, tx.objectStore(n)])) : tx.objectStore(store),
      );
    } catch (e) {
      // Some refusals (a value that cannot be stored, a closing database) throw here at once.
      reject(storageError(e, 'IndexedDB refused the request'));
      return;
    }
    tx.oncomplete = () => resolve(request?.result);
    tx.onerror = () => reject(storageError(tx.error, 'IndexedDB transaction failed'));
    tx.onabort = () => reject(storageError(tx.error, 'IndexedDB transaction was aborted (is the disk full?)'));
  });
}

/** A storage failure, with a full or refused quota said in words (and `quota: true`). */
function storageError(error, fallback) {
  if (error?.name === 'QuotaExceededError') {
    return Object.assign(new Error("this browser's storage for the page is full"), { quota: true });
  }
  return error ?? new Error(fallback);
}

/**
 * The user's weights for `model` (a name of ui/models.js), or null.
 * @returns {Promise<{ bytes: ArrayBuffer, meta: WeightsMeta } | null>}
 */
export async function loadWeights(model = FIRST_MODEL) {
  const record = await withStore('readonly', (s) => s.get(weightsKey(model)));
  return record && record.bytes instanceof ArrayBuffer ? record : null;
}

/** @param {ArrayBuffer} bytes  @param {WeightsMeta} meta  @param {string} [model] */
export async function saveWeights(bytes, meta, model = FIRST_MODEL) {
  await withStore('readwrite', (s) => s.put({ bytes, meta }, weightsKey(model)));
}

export async function clearWeights(model = FIRST_MODEL) {
  await withStore('readwrite', (s) => s.delete(weightsKey(model)));
}

/**
 * Every stored annotation of `model` (see annotations.js; all of them when null), oldest first,
 * its large parts joined in. Those of other models stay stored, untouched.
 */
export async function loadAnnotations(model = null) {
  const [records, parts] = await withStore(
    'readonly',
    (s) => {
      const out = { result: null };
      const all = s[ANNOTATIONS].getAll();
      const big = s[PARTS].getAll();
      const keys = s[PARTS].getAllKeys();
      // The transaction's own completion resolves; the three requests are done by then.
      Object.defineProperty(out, 'result', {
        get: () => [all.result, new Map(keys.result.map((k, i) => [k, big.result[i]]))],
      });
      return out;
    },
    [ANNOTATIONS, PARTS],
  );
  return (records ?? [])
    .filter((r) => model === null || modelOf(r) === model)
    .map((r) => ({ ...parts.get(r.id), ...r }))
    .sort((a, b) => a.created - b.created);
}

/** Stores (or replaces) one annotation under its `id`; its large `parts` too unless null. */
export async function saveAnnotation(record, parts) {
  await withStore(
    'readwrite',
    (s) => {
      s[ANNOTATIONS].put(record, record.id);
      if (parts) s[PARTS].put(parts, record.id);
    },
    [ANNOTATIONS, PARTS],
  );
}

/** Deletes one annotation and its large parts. */
export async function deleteAnnotation(id) {
  await withStore(
    'readwrite',
    (s) => {
      s[ANNOTATIONS].delete(id);
      s[PARTS].delete(id);
    },
    [ANNOTATIONS, PARTS],
  );
}
