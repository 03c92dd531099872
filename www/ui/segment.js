// The Segment panel: samples, file picking and dropping, one card per image with its mask over
// it, area and doubt (with doubtful images flagged and doubtful pixels shown on request), and the
// mask as a PNG download.

import { $, el, announce, stem, saveBlob, sentence } from './dom.js';
import { friendly, isAbort } from './client.js';
import { Overlay } from './overlay.js';
import { encodeGreyPng, maskToGrey } from './png.js';
import { SAMPLES, fetchSample } from './samples.js';

export function setupSegmentPanel(model) {
  const results = $('#results');
  const input = $('#segment-input');
  const opacity = $('#opacity');
  const opacityValue = $('#opacity-value');
  const resegment = $('#resegment');
  const cancelAll = $('#cancel-segment');
  const clear = $('#clear-results');
  /** @type {Set<Card>} */
  const cards = new Set();
  let style = 'filled';
  const showDoubt = $('#show-doubt');

  // Samples: one click gives the first mask. Each image is fetched now, once, for both its
  // thumbnail and its click (the demo server forbids caching, so an <img src> would be fetched
  // again on the click, just when the visitor waits for the first mask).
  const list = $('#sample-list');
  for (const sample of SAMPLES) {
    const thumbnail = el('img', { alt: '', width: 52, height: 52, decoding: 'async' });
    fetchSample(sample, 'image').then((file) => { thumbnail.src = URL.createObjectURL(file); }, () => {});
    const button = el('button', { type: 'button', class: 'sample', 'aria-label': `Segment ${sample.label}`, title: sample.title },
      thumbnail, el('span', {}, sample.label));
    button.addEventListener('click', async () => {
      try {
        add(await fetchSample(sample, 'image'));
      } catch (e) {
        announce(`Could not load ${sample.label}: ${e.message}`);
      }
    });
    list.append(el('li', {}, button));
  }

  input.addEventListener('change', () => {
    for (const file of input.files) add(file);
    // Picking the same file again should segment it again.
    input.value = '';
  });
  enableDrop($('#segment'), (files) => files.forEach(add));

  const applyOpacity = () => {
    results.style.setProperty('--mask-opacity', String(opacity.value / 100));
    opacityValue.textContent = `${opacity.value}%`;
  };
  opacity.addEventListener('input', applyOpacity);
  applyOpacity();
  // A new look is drawn card by card, one per frame and those on screen first, so that switching
  // with many results never blocks the page for long (a worker's messages, the curve, input).
  let redrawQueue = [];
  const redrawNext = () => {
    const card = redrawQueue.shift();
    if (!card) return;
    if (cards.has(card)) card.redraw();
    if (redrawQueue.length) requestAnimationFrame(redrawNext);
  };
  const redrawAll = () => {
    const idle = redrawQueue.length === 0;
    const onScreen = (card) => {
      const r = card.node.getBoundingClientRect();
      return r.bottom > 0 && r.top < innerHeight;
    };
    const all = [...cards];
    redrawQueue = [...all.filter(onScreen), ...all.filter((c) => !onScreen(c))];
    if (idle) requestAnimationFrame(redrawNext);
  };
  for (const radio of document.querySelectorAll('input[name="overlay-style"]')) {
    radio.addEventListener('change', () => {
      style = radio.value;
      redrawAll();
    });
  }
  showDoubt.addEventListener('change', redrawAll);

  resegment.addEventListener('click', () => {
    for (const card of cards) card.run();
    resegment.hidden = true;
  });
  cancelAll.addEventListener('click', () => {
    for (const card of cards) card.cancel();
  });
  clear.addEventListener('click', () => {
    for (const card of [...cards]) card.remove();
  });

  model.addEventListener('weights', () => {
    let stale = 0;
    for (const card of cards) stale += card.markStale();
    resegment.hidden = stale === 0;
  });

  function add(file) {
    const card = new Card(file, model, () => ({ style, doubt: showDoubt.checked }), {
      onRemove: () => {
        cards.delete(card);
        toolbar();
      },
      onSettle: toolbar,
    });
    cards.add(card);
    results.prepend(card.node);
    toolbar();
    card.run();
  }

  function toolbar() {
    const pending = [...cards].filter((c) => c.pending).length;
    cancelAll.hidden = pending === 0;
    clear.hidden = cards.size === 0;
    $('#results-empty').hidden = cards.size > 0;
    if (![...cards].some((c) => c.stale)) resegment.hidden = true;
  }
}

/** One image and its result. */
class Card {
  /** @type {{ mask: Uint8Array, doubtful: Uint8Array, width: number, height: number, classes: number, foreground: number, doubt: number } | null} */
  seg = null;
  /** @type {Overlay | null} the result's overlay, in every look drawn so far */
  overlay = null;
  pending = false;
  stale = false;
  #controller = null;

  constructor(file, model, style, hooks) {
    this.file = file;
    this.model = model;
    this.style = style;
    this.hooks = hooks;
    this.url = URL.createObjectURL(file);
    const name = file.name || 'image';

    this.img = el('img', { src: this.url, alt: `${name}, with its lesion mask drawn over it` });
    this.canvas = el('canvas', { class: 'overlay', 'aria-hidden': 'true' });
    this.figure = el('div', { class: 'figure', hidden: true }, this.img, this.canvas);
    // Shown once the browser has decoded the picture; a corrupt one never appears.
    this.img.addEventListener('load', () => {
      this.figure.hidden = false;
      // Bring the new result into view, only as far as needed (nothing moves if it is visible).
      this.node.scrollIntoView({ block: 'nearest' });
    }, { once: true });
    this.img.addEventListener('error', () => this.figure.remove());

    this.status = el('p', { class: 'card-status' });
    this.stats = el('dl', { class: 'stats', hidden: true });
    this.download = el('button', { type: 'button', class: 'button small', hidden: true }, 'Download mask (PNG)');
    this.download.addEventListener('click', () => this.saveMask());
    this.cancelButton = el('button', { type: 'button', class: 'button small', hidden: true }, 'Cancel');
    this.cancelButton.addEventListener('click', () => this.cancel());
    const removeButton = el('button', { type: 'button', class: 'button small subtle', 'aria-label': `Remove ${name}` }, 'Remove');
    removeButton.addEventListener('click', () => this.remove());

    this.node = el('li', { class: 'card', dataset: { state: 'queued', name } },
      el('div', { class: 'card-head' }, el('h3', { class: 'card-title', title: name }, name), removeButton),
      this.figure,
      this.status,
      this.stats,
      el('div', { class: 'card-actions' }, this.download, this.cancelButton));
  }

  get name() {
    return this.file.name || 'image';
  }

  async run() {
    this.#controller?.abort();
    const controller = (this.#controller = new AbortController());
    this.pending = true;
    this.stale = false;
    this.generation = this.model.generation;
    this.#state('queued', this.model.busy === 'training' ? 'Waiting for training to finish…' : 'Waiting for the model…');
    this.cancelButton.hidden = false;
    this.download.hidden = true;
    this.hooks.onSettle();
    let started = performance.now();
    const onStart = () => {
      started = performance.now();
      if (controller === this.#controller) this.#state('running', 'Segmenting…');
    };
    try {
      const seg = await this.model.segment(this.file, controller.signal, onStart);
      if (controller !== this.#controller) return;
      this.seg = seg;
      this.overlay = new Overlay(seg);
      this.redraw();
      this.#showStats((performance.now() - started) / 1000);
      this.#state('done', '');
      this.download.hidden = false;
      const flagged = seg.doubt > DOUBTFUL_ABOVE;
      this.node.dataset.doubtful = String(flagged);
      announce(`${this.name}: lesion area ${percent(seg.foreground)}${flagged ? '; doubtful, check this mask' : ''}.`);
    } catch (e) {
      if (controller !== this.#controller) return;
      if (isAbort(e)) {
        this.#state('cancelled', 'Cancelled.');
      } else {
        const message = sentence(friendly(e).replace(/^image:\s*/, ''));
        this.#state('error', message);
        this.figure.remove();
        announce(`${this.name}: ${message}`);
      }
    } finally {
      if (controller === this.#controller) {
        this.pending = false;
        this.cancelButton.hidden = true;
        this.hooks.onSettle();
      }
    }
  }

  #state(state, text) {
    this.node.dataset.state = state;
    this.status.textContent = text;
    this.status.className = `card-status${state === 'error' ? ' error' : ''}`;
    this.status.setAttribute('role', state === 'error' ? 'alert' : 'status');
  }

  #showStats(seconds) {
    const { foreground, doubt, width, height } = this.seg;
    const pixels = Math.round(foreground * width * height);
    const flagged = doubt > DOUBTFUL_ABOVE;
    this.stats.replaceChildren(
      el('div', {}, el('dt', {}, 'Lesion area'),
        el('dd', { class: 'area' }, foreground > 0 ? `${percent(foreground)} (${pixels.toLocaleString('en')} px)` : 'none found')),
      el('div', { title: 'Share of the marked pixels (and of any the model was unsure of) whose probability lies between 20% and 80%' },
        el('dt', {}, 'Doubt'),
        el('dd', { class: `doubt${flagged ? ' flagged' : ''}` }, flagged ? `${percent(doubt)} — check this mask` : percent(doubt))),
      el('div', {}, el('dt', {}, 'Image'), el('dd', {}, `${width}×${height} · ${seconds.toFixed(1)} s on ${this.model.state?.backend === 'webgpu' ? 'WebGPU' : 'CPU'}`)),
    );
    this.stats.hidden = false;
  }

  redraw() {
    if (!this.overlay) return;
    const { style, doubt } = this.style();
    this.overlay.draw(this.canvas, style, doubt);
  }

  /**
   * Marks a finished result as made with other weights than those in use (or, back on the ones it
   * was made with, as current again); returns 1 if it is out of date.
   */
  markStale() {
    if (!this.seg || this.pending) return 0;
    this.stale = this.generation !== this.model.generation;
    this.node.dataset.stale = String(this.stale);
    this.status.textContent = this.stale ? 'Made with other weights than those in use now.' : '';
    return this.stale ? 1 : 0;
  }

  cancel() {
    if (this.pending) this.#controller?.abort();
  }

  async saveMask() {
    const { mask, width, height, classes } = this.seg;
    const png = await encodeGreyPng(maskToGrey(mask, classes), width, height);
    saveBlob(png, `${stem(this.name)}_mask.png`);
  }

  remove() {
    this.cancel();
    this.#controller = null;
    URL.revokeObjectURL(this.url);
    this.node.remove();
    this.hooks.onRemove();
  }
}

/**
 * A mask whose doubt is above this is flagged for checking: chosen on real training photos with
 * weights that had not seen them; on the validation photos it flags 8 of 56 masks, 4 of the 5 with
 * Dice below 0.85 among them (README "Doubt").
 */
export const DOUBTFUL_ABOVE = 0.25;

function percent(x) {
  return `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`;
}

/**
 * Makes `zone` accept dropped files; `onFiles` gets plain Files (folders are walked by the
 * training panel, which needs their paths; here every file is an image to segment).
 */
export function enableDrop(zone, onFiles, { withPaths = false } = {}) {
  let depth = 0;
  zone.addEventListener('dragenter', (e) => {
    if (!e.dataTransfer?.types.includes('Files')) return;
    e.preventDefault();
    depth++;
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragover', (e) => {
    if (!e.dataTransfer?.types.includes('Files')) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
  });
  zone.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) zone.classList.remove('dragging');
  });
  zone.addEventListener('drop', async (e) => {
    e.preventDefault();
    depth = 0;
    zone.classList.remove('dragging');
    if (withPaths) {
      onFiles(e.dataTransfer);
      return;
    }
    onFiles([...e.dataTransfer.files]);
  });
}
