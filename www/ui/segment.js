// The Segment panel: samples, file picking and dropping, one card per image with its mask over
// it, area and doubt (with doubtful images flagged, doubtful pixels shown on request, and the
// least certain first on request), the mask as a PNG download, and "Correct mask", which opens
// the editor on the card's image; corrected masks persist (annotations.js). After a training run
// every result is made again with the new weights and says what changed.

import { $, el, announce } from './dom.js';
import { Card } from './card.js';
import { SAMPLES, fetchSample } from './samples.js';
import { offerBack } from './removed.js';

/**
 * @param {import('./model.js').Model} model
 * @param {import('./annotations.js').Annotations} annotations
 * @param {import('./editor/editor.js').MaskEditor} editor
 */
export function setupSegmentPanel(model, annotations, editor) {
  const results = $('#results');
  const input = $('#segment-input');
  const opacity = $('#opacity');
  const opacityValue = $('#opacity-value');
  const resegment = $('#resegment');
  const cancelAll = $('#cancel-segment');
  const clear = $('#clear-results');
  const sort = $('#sort-results');
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
    fetchSample(sample, 'image').then(
      (file) => {
        thumbnail.src = URL.createObjectURL(file);
      },
      () => {},
    );
    const button = el(
      'button',
      { type: 'button', class: 'sample', 'aria-label': `Segment ${sample.label}`, title: sample.title },
      thumbnail,
      el('span', {}, sample.label),
    );
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
    offerBack(annotations, [...cards].map((card) => card.remove()).filter(Boolean), 'inResults');
  });

  /** Newest first, or the least certain first ("review those first"); unfinished ones last. */
  function order() {
    const all = [...cards].sort((a, b) => b.added - a.added);
    if (sort.value === 'doubt') {
      // An image the model was not made for (a CT slice, say) comes before any doubtful mask.
      const doubt = (c) => (c.seg?.outOfDomain ? 2 : (c.seg?.doubt ?? -1));
      all.sort((a, b) => doubt(b) - doubt(a));
    }
    // Only what moved is touched, so focus inside a card that stays put is kept.
    all.forEach((card, i) => {
      if (results.children[i] !== card.node) results.insertBefore(card.node, results.children[i] ?? null);
    });
    results.dataset.order = sort.value;
  }
  sort.addEventListener('change', () => {
    order();
    announce(
      sort.value === 'doubt' ? 'Results ordered by doubt, the least certain first.' : 'Results ordered newest first.',
    );
  });

  model.addEventListener('weights', () => {
    let stale = 0;
    for (const card of cards) stale += card.markStale();
    resegment.hidden = stale === 0;
  });
  // A run's weights are what the user wants to see at work: every result is made again with them.
  model.addEventListener('trained', () => {
    for (const card of cards) card.run({ afterTraining: true });
    resegment.hidden = true;
  });

  const context = { model, annotations, editor, style: () => ({ style, doubt: showDoubt.checked }) };
  const hooks = {
    onRemove: (card) => {
      cards.delete(card);
      toolbar();
    },
    onDeleted: (list) => offerBack(annotations, list, 'inResults'),
    onSettle: () => {
      toolbar();
      if (sort.value === 'doubt') order();
    },
  };

  function add(file) {
    const card = new Card(file, context, hooks);
    cards.add(card);
    results.prepend(card.node);
    toolbar();
    card.run();
    if (sort.value === 'doubt') order();
  }

  // Corrected masks from earlier visits come back as results with their edits (no new run: the
  // model's mask and figures were stored with them).
  annotations.addEventListener('restored', (e) => {
    for (const a of e.detail.filter((x) => x.inResults)) {
      const card = new Card(a.image, context, hooks, a);
      cards.add(card);
      results.prepend(card.node);
    }
    order();
    toolbar();
  });

  function toolbar() {
    const pending = [...cards].filter((c) => c.pending).length;
    cancelAll.hidden = pending === 0;
    clear.hidden = cards.size === 0;
    $('#results-empty').hidden = cards.size > 0;
    if (![...cards].some((c) => c.stale)) resegment.hidden = true;
  }
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
