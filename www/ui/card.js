// One result of the Segment panel: an image, its mask over it, its figures, and the user's
// corrected mask once there is one (an annotation, see annotations.js), with what a training run
// changed.

import { el, announce, stem, saveBlob, sentence } from './dom.js';
import { friendly, isAbort } from './client.js';
import { Overlay } from './overlay.js';
import { encodeMaskPng } from './png.js';
import { changedPixels, dice } from './editor/mask-ops.js';
import { areasOf, capitalised, legend, swatch } from './classes.js';
import { WindowControl, dicomFacts } from './ct-window.js';

let added = 0;

/** One image and its result (and, once corrected, the user's mask: an annotation). */
export class Card {
  /** @type {{ mask: Uint8Array, doubtful: Uint8Array, width: number, height: number, classes: number, foreground: number, doubt: number, outOfDomain: { reason: string, message: string } | null } | null} */
  seg = null;
  /** @type {Overlay | null} the result's overlay, in every look drawn so far */
  overlay = null;
  /** @type {import('./annotations.js').Annotation | null} the user's mask, once they opened the editor */
  annotation = null;
  pending = false;
  stale = false;
  #controller = null;
  #listening = new AbortController();
  /** An annotation opened and left unchanged: not stored, but its edits can still be undone. */
  #parked = null;
  /** How the shown result was made ("0.3 s on CPU", "restored"), for its figures' last line. */
  #made = '';
  /**
   * A DICOM slice's: the window the user chose (undefined: the model's), the windowed slice as a
   * PNG (what the card, the editor and a training pair show; the DICOM bytes stay in `file`, in
   * memory only, for re-windowing), its URL, and the window control.
   */
  window = undefined;
  picture = null;
  #pictureUrl = null;
  #windowControl = null;

  /**
   * @param {Blob} file
   * @param {{ model, annotations, editor, style: () => { style: string, doubt: boolean } }} context
   * @param {{ onRemove: (card: Card) => void, onSettle: () => void, onDeleted: (list: object[]) => void }} hooks
   * @param {import('./annotations.js').Annotation} [restored]  a stored annotation to show as it was
   */
  constructor(file, context, hooks, restored) {
    this.file = file;
    Object.assign(this, context);
    this.hooks = hooks;
    this.added = ++added;
    this.url = URL.createObjectURL(file);
    const name = restored?.name ?? (file.name || 'image');
    this.name = name;

    // A browser cannot show a DICOM file: its windowed slice comes with the result (`picture`).
    this.img = el('img', { alt: `${name}, with its mask drawn over it` });
    isDicomBlob(file).then((dicom) => {
      this.isDicom = dicom;
      if (!dicom) this.img.src = this.url;
    });
    this.canvas = el('canvas', { class: 'overlay', 'aria-hidden': 'true' });
    this.figure = el('div', { class: 'figure', hidden: true }, this.img, this.canvas);
    // The overlay's colours: each class of the model's card.
    this.legend = el('div', { class: 'card-legend', hidden: true });
    // Shown once the browser has decoded the picture; a corrupt one never appears.
    this.img.addEventListener(
      'load',
      () => {
        this.figure.hidden = false;
        // Bring the new result into view, only as far as needed (nothing moves if it is visible).
        if (!restored) this.node.scrollIntoView({ block: 'nearest' });
      },
      { once: true },
    );
    this.img.addEventListener('error', () => this.figure.remove());

    // "Not what this model was made for" (a CT slice, a photo of an object): a boxed note above
    // the figures, unlike the doubt flag (a figure in orange), because it says the whole mask may
    // mean nothing, not that its border needs checking. Filled in the same frame as the figures.
    this.domain = el('div', { class: 'card-domain', role: 'note', hidden: true });
    // A DICOM slice's description and window control.
    this.dicom = el('div', { class: 'card-dicom' });
    this.status = el('p', { class: 'card-status' });
    this.change = el('p', { class: 'card-change', hidden: true });
    this.stats = el('dl', { class: 'stats', hidden: true });
    this.tags = el('p', { class: 'card-tags', hidden: true });
    this.editButton = el(
      'button',
      { type: 'button', class: 'button small primary', hidden: true, 'aria-label': `Correct the mask of ${name}` },
      'Correct mask',
    );
    this.editButton.addEventListener('click', () => this.edit());
    this.download = el('button', { type: 'button', class: 'button small', hidden: true }, 'Download mask (PNG)');
    this.download.addEventListener('click', () => this.saveMask());
    this.cancelButton = el('button', { type: 'button', class: 'button small', hidden: true }, 'Cancel');
    this.cancelButton.addEventListener('click', () => this.cancel());
    const removeButton = el(
      'button',
      { type: 'button', class: 'button small subtle', 'aria-label': `Remove ${name}` },
      'Remove',
    );
    removeButton.addEventListener('click', () => {
      const gone = this.remove();
      if (gone) this.hooks.onDeleted([gone]);
    });

    this.node = el(
      'li',
      { class: 'card', dataset: { state: 'queued', name } },
      el('div', { class: 'card-head' }, el('h3', { class: 'card-title', title: name }, name), removeButton),
      this.figure,
      this.legend,
      this.tags,
      this.domain,
      this.status,
      this.change,
      this.stats,
      this.dicom,
      el('div', { class: 'card-actions' }, this.editButton, this.download, this.cancelButton),
    );

    this.annotations.addEventListener('change', (e) => e.detail === this.annotation && this.#annotationChanged(), {
      signal: this.#listening.signal,
    });
    if (restored) this.#restore(restored);
  }

  /** Shows a stored annotation: the model's mask and figures as stored, the user's mask over it. */
  #restore(a) {
    this.annotation = a;
    this.generation = this.model.generation;
    this.seg = {
      mask: a.modelMask ?? a.mask,
      doubtful: a.doubtful ?? new Uint8Array(a.mask.length),
      width: a.width,
      height: a.height,
      classes: a.classes,
      foreground: a.stats?.foreground ?? a.foreground,
      doubt: a.stats?.doubt ?? 0,
      classAreas: a.stats?.classAreas ?? null,
      classDoubt: a.stats?.classDoubt ?? [],
      outOfDomain: a.stats?.outOfDomain ?? null,
    };
    // A DICOM slice keeps its file and description (never patient data): its window control
    // comes back, and a new window segments the slice itself again.
    if (a.source && a.dicom) {
      this.file = a.source;
      this.window = a.dicom.window;
      this.#showDicom(a.dicom);
    }
    this.#showResult();
    this.#showStats(null);
    this.#state('done', '');
    // Imported masks come without the model's: it is made now, for the figures and for "before".
    if (!a.modelMask) queueMicrotask(() => this.run());
  }

  /** The mask the card shows and downloads: the user's once there is one. */
  get mask() {
    return this.annotation?.mask ?? this.seg?.mask;
  }

  /** @param {{ afterTraining?: boolean }} [why] */
  async run({ afterTraining = false } = {}) {
    this.#controller?.abort();
    const controller = (this.#controller = new AbortController());
    const before = afterTraining ? this.seg : null;
    this.pending = true;
    this.stale = false;
    this.node.dataset.stale = 'false';
    this.generation = this.model.generation;
    this.#state(
      'queued',
      this.model.busy === 'training' ? 'Waiting for training to finish…' : 'Waiting for the model…',
    );
    this.cancelButton.hidden = false;
    this.download.hidden = true;
    this.editButton.hidden = true;
    this.hooks.onSettle();
    let started = performance.now();
    const onStart = () => {
      started = performance.now();
      if (controller === this.#controller)
        this.#state('running', afterTraining ? 'Segmenting with the new weights…' : 'Segmenting…');
    };
    const onPhase = (phase) => {
      if (controller !== this.#controller) return;
      this.#state(
        'running',
        phase === 'dicom'
          ? 'Reading the DICOM slice…'
          : afterTraining
            ? 'Segmenting with the new weights…'
            : 'Segmenting…',
      );
    };
    try {
      const { picture, dicom, ...seg } = await this.model.segment(this.file, controller.signal, onStart, {
        window: this.window,
        onPhase,
      });
      if (controller !== this.#controller) return;
      if (picture) this.#showPicture(picture);
      if (dicom) this.#showDicom(dicom);
      this.seg = seg;
      this.#followModel(seg);
      this.#showResult();
      this.#showStats((performance.now() - started) / 1000);
      this.#showChange(before, seg);
      this.#state('done', '');
      const flagged = seg.doubt > DOUBTFUL_ABOVE;
      const unlike = seg.outOfDomain ? ` Warning: ${seg.outOfDomain.message}` : '';
      const areas = this.#areas()
        .slice(1)
        .map((c) => `${c.name} ${percent(c.fraction)}`)
        .join(', ');
      announce(`${this.name}: ${areas}${flagged ? '; doubtful, check this mask' : ''}.${unlike}`);
    } catch (e) {
      if (controller !== this.#controller) return;
      if (isAbort(e)) {
        this.#state('cancelled', 'Cancelled.');
        if (this.seg) this.#showResult();
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

  /** The windowed DICOM slice, shown in place of the file (which a browser cannot show). */
  #showPicture(picture) {
    this.picture = picture;
    if (this.#pictureUrl) URL.revokeObjectURL(this.#pictureUrl);
    this.#pictureUrl = URL.createObjectURL(picture);
    this.img.src = this.#pictureUrl;
  }

  /** A DICOM slice's description (no patient data) and its window control, set to the window applied. */
  #showDicom(info) {
    this.dicomInfo = info;
    this.node.dataset.dicom = 'true';
    // The window of the result shown (level,width in HU): tests wait on it.
    this.node.dataset.window = `${info.window.center},${info.window.width}`;
    if (!this.#windowControl) {
      this.#windowControl = new WindowControl({
        name: this.name,
        modelWindow: this.model.state?.model?.window,
        onChange: (window) => {
          this.window = window;
          this.run();
        },
      });
    }
    this.#windowControl.show(info.window);
    this.dicom.replaceChildren(dicomFacts(info), this.#windowControl.node);
  }

  /**
   * A new model mask for an annotated image: the model's side is updated; the user's mask follows
   * it only while they have not corrected it (a correction is never overwritten).
   */
  #followModel(seg) {
    const a = this.annotation;
    // A mask of other labels (weights with another class count) or size is not this one's model.
    if (!a || a.width !== seg.width || a.height !== seg.height || a.classes !== seg.classes) return;
    a.modelMask = seg.mask;
    a.doubtful = seg.doubtful;
    // A DICOM slice windowed anew: the annotation's picture of it follows.
    if (this.picture) a.image = this.picture;
    if (a.source && this.dicomInfo) a.dicom = this.dicomInfo;
    a.stats = statsOf(seg);
    // Only an untouched mask that is no pair yet follows the model, and never under the editor's
    // hands: in place, so that nothing holds a stale copy, and with its undo history dropped.
    const editing = this.editor.a === a && this.editor.dialog.open;
    if (!a.corrected && !a.inTraining && !editing) {
      a.mask.set(seg.mask);
      this.editor.forget(a);
    }
    this.annotations.changed(a, { parts: true });
  }

  #showResult() {
    const { seg } = this;
    this.overlay = new Overlay({ ...seg, mask: this.mask });
    this.redraw();
    this.download.hidden = false;
    this.editButton.hidden = false;
    this.node.dataset.doubtful = String(seg.doubt > DOUBTFUL_ABOVE);
    this.node.dataset.doubt = String(seg.doubt);
    this.#showDomain(seg.outOfDomain ?? null);
    this.#showTags();
    const card = this.model.state?.model;
    this.legend.replaceChildren(
      legend(card && card.classes.length === this.#areas().length ? card.classes : this.#areas()),
    );
    this.legend.hidden = false;
  }

  /** The model's classes' areas in its mask (background first): from the result, or counted. */
  #areas() {
    const { seg } = this;
    return seg.classAreas ?? areasOf(seg.mask, this.model.state?.model?.classes);
  }

  /** The core's warning for an image unlike the photos the model was made for, or none. */
  #showDomain(outOfDomain) {
    this.node.dataset.outOfDomain = outOfDomain ? outOfDomain.reason : 'false';
    if (outOfDomain) {
      const kind = this.model.state?.model?.imageKind;
      const title =
        kind === 'ctSlice'
          ? 'Not a CT slice? '
          : kind === 'dermoscopy' || !kind
            ? 'Not a skin photo? '
            : 'Not what this model was made for? ';
      this.domain.replaceChildren(
        el('strong', { class: 'card-domain-title' }, title),
        el('span', { class: 'card-domain-message' }, outOfDomain.message),
      );
    } else {
      this.domain.replaceChildren();
    }
    this.domain.hidden = !outOfDomain;
  }

  #showTags() {
    const a = this.annotation;
    const tags = [];
    if (a?.corrected) tags.push(el('span', { class: 'tag hand' }, 'corrected by hand'));
    if (a?.inTraining) tags.push(el('span', { class: 'tag' }, 'in the fine-tuning set'));
    this.tags.replaceChildren(...tags);
    this.tags.hidden = tags.length === 0;
    this.node.dataset.corrected = String(Boolean(a?.corrected));
    this.editButton.textContent = a?.corrected ? 'Edit mask' : 'Correct mask';
  }

  /** What a training run changed: Dice against the user's mask before and after, or pixels changed. */
  #showChange(before, seg) {
    this.change.hidden = true;
    if (!before || before.mask.length !== seg.mask.length) return;
    const a = this.annotation;
    if (a?.corrected) {
      const was = dice(before.mask, a.mask, seg.classes);
      const now = dice(seg.mask, a.mask, seg.classes);
      const d = now - was;
      this.change.replaceChildren(
        'Model vs your mask: Dice ',
        el('strong', { class: 'dice-before' }, was.toFixed(3)),
        ' → ',
        el('strong', { class: 'dice-after' }, now.toFixed(3)),
        el(
          'span',
          { class: d > 0.0005 ? 'delta up' : d < -0.0005 ? 'delta down' : 'delta same' },
          ` (${d >= 0 ? '+' : '−'}${Math.abs(d).toFixed(3)})`,
        ),
      );
    } else {
      const share = changedPixels(before.mask, seg.mask) / seg.mask.length;
      this.change.textContent = `The new weights changed ${percent(share)} of this mask's pixels.`;
    }
    this.change.hidden = false;
  }

  /** The user's mask changed (in the editor, or flags): redraw, retag, and its figures anew. */
  #annotationChanged() {
    if (!this.seg) return;
    this.overlay = new Overlay({ ...this.seg, mask: this.mask });
    this.redraw();
    this.#showTags();
    if (!this.stats.hidden) this.#showStats(this.#made);
  }

  /**
   * Whose mask the card shows, for its figures: `model` (the result), `corrected` (the user's,
   * changed by hand), or `pair` (the user's as it went into the fine-tuning set, which newer
   * weights' masks no longer change).
   */
  #shownMask() {
    const a = this.annotation;
    if (!a || !this.seg) return 'model';
    if (a.corrected) return 'corrected';
    return sameMask(a.mask, this.seg.mask) ? 'model' : 'pair';
  }

  /** Opens the editor on this image, starting from the model's mask (or the user's, once made). */
  async edit() {
    if (!this.seg) return;
    let a = this.annotation ?? this.#parked;
    if (a === this.#parked && a) {
      // Left unchanged earlier: back in the collection, with its undo history.
      this.#parked = null;
      this.annotation = a;
      this.annotations.bringBack([a], 'inResults', { quiet: true });
    }
    if (!a) {
      const { seg } = this;
      a = this.annotations.add({
        name: this.name,
        image: this.picture ?? this.file,
        // A DICOM slice's own file (kept in the browser only: exports take the windowed picture)
        // and its description, so that a restored card can window it anew.
        ...(this.dicomInfo ? { source: this.file, dicom: this.dicomInfo } : {}),
        width: seg.width,
        height: seg.height,
        classes: seg.classes,
        mask: seg.mask.slice(),
        modelMask: seg.mask,
        doubtful: seg.doubtful,
        stats: statsOf(seg),
        inResults: true,
      });
      this.annotation = a;
    }
    await this.editor.edit(a);
    // Opened and left as the model made it, an annotation is nothing to store; it is kept on the
    // card (with its undo history: "back to the model's mask" can still be undone) until it is.
    if (this.annotation === a && !a.corrected && !a.inTraining) {
      this.annotations.release(a, 'inResults');
      this.annotation = null;
      this.#parked = a;
      this.#annotationChanged();
    }
    this.editButton.focus();
  }

  #state(state, text) {
    this.node.dataset.state = state;
    this.status.textContent = text;
    this.status.className = `card-status${state === 'error' ? ' error' : ''}`;
    this.status.setAttribute('role', state === 'error' ? 'alert' : 'status');
  }

  /**
   * The figures of the mask the card shows, saying whose it is: the model's (its area and doubt)
   * or the user's (its area; the model's doubt says nothing of a mask drawn by hand).
   * @param {number | string | null} seconds  how long the run took (null for a restored result;
   *   a string: the line made earlier, when only the mask changed)
   */
  #showStats(seconds) {
    const { doubt, width, height, classDoubt } = this.seg;
    const whose = this.#shownMask();
    const model = whose === 'model';
    const flagged = model && doubt > DOUBTFUL_ABOVE;
    this.#made =
      typeof seconds === 'string'
        ? seconds
        : seconds == null
          ? 'restored'
          : `${seconds.toFixed(1)} s on ${this.model.state?.backend === 'webgpu' ? 'WebGPU' : 'CPU'}`;
    // The user's mask counted with the classes' names and colours of the result's (known before
    // the model is, for a card restored from an earlier visit).
    const areas = model ? this.#areas() : areasOf(this.mask, this.#areas());
    const area = (fraction, count) =>
      count > 0 ? `${percent(fraction)} (${count.toLocaleString('en')} px)` : 'none found';
    // One line per class for a multi-class model (its name in its colour); "Lesion area" for one.
    const rows =
      areas.length > 2
        ? areas
            .slice(1)
            .map((c, i) =>
              el(
                'div',
                { class: 'class-area', dataset: { class: c.name, pixels: String(c.pixels) } },
                el('dt', {}, swatch(c.colour), capitalised(c.name)),
                el(
                  'dd',
                  { class: 'area' },
                  area(c.fraction, c.pixels),
                  model && classDoubt?.[i] > DOUBTFUL_ABOVE
                    ? el('span', { class: 'doubt flagged' }, ` · doubt ${percent(classDoubt[i])}`)
                    : '',
                ),
              ),
            )
        : [
            el(
              'div',
              {},
              el('dt', {}, `${capitalised(areas[1]?.name ?? 'lesion')} area`),
              el('dd', { class: 'area' }, area(areas[1]?.fraction ?? 0, areas[1]?.pixels ?? 0)),
            ),
          ];
    const source = {
      model: "the model's mask",
      corrected: 'your corrected mask',
      pair: 'your mask in the fine-tuning set',
    }[whose];
    this.stats.dataset.mask = whose;
    const doubtRow = el(
      'div',
      {
        title:
          'Share of the marked pixels (and of any the model was unsure of) whose probability lies between 20% and 80%',
      },
      el('dt', {}, 'Doubt'),
      el(
        'dd',
        { class: `doubt${flagged ? ' flagged' : ''}` },
        // On an image the model was not made for, a low doubt is no reassurance: say so.
        this.seg.outOfDomain
          ? `${percent(doubt)} — no guide for this image (see the note)`
          : flagged
            ? `${percent(doubt)} — check this mask`
            : percent(doubt),
      ),
    );
    this.stats.replaceChildren(
      el('div', { class: 'stats-source' }, el('dt', {}, 'Figures of'), el('dd', {}, source)),
      ...rows,
      ...(model ? [doubtRow] : []),
      el('div', {}, el('dt', {}, 'Image'), el('dd', {}, `${width}×${height} · ${this.#made}`)),
    );
    // The doubt flag is the model's about its own mask: a mask the user drew is not flagged.
    this.node.dataset.doubtful = String(flagged);
    this.stats.hidden = false;
  }

  /** Draws the overlay in the panel's current look. */
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

  /** Stops a segmentation that is queued or running. */
  cancel() {
    if (this.pending) this.#controller?.abort();
  }

  /** Downloads the mask shown (the user's once corrected) as a PNG. */
  async saveMask() {
    const blob = this.annotation
      ? await this.annotation.maskPng()
      : await encodeMaskPng(this.seg.mask, this.seg.classes, this.seg.width, this.seg.height);
    saveBlob(blob, `${stem(this.name)}_mask.png`);
  }

  /**
   * Takes the card away; the corrected annotation this deleted (to be offered back), if any.
   * @returns {import('./annotations.js').Annotation | null}
   */
  remove() {
    this.cancel();
    this.#controller = null;
    URL.revokeObjectURL(this.url);
    if (this.#pictureUrl) URL.revokeObjectURL(this.#pictureUrl);
    this.node.remove();
    this.#listening.abort();
    const gone = this.annotation ? this.annotations.release(this.annotation, 'inResults') : null;
    this.hooks.onRemove(this);
    return gone?.corrected ? gone : null;
  }
}

/**
 * A mask whose doubt is above this is flagged for checking (`doubt::DOUBTFUL_ABOVE` in the core):
 * chosen on real training photos with weights that had not seen them, re-checked on all 331 real
 * photos; on the 66 validation photos (PH2, ISIC 2016, ISIC 2017) it flags 16 masks, 11 of the 12
 * with Dice below 0.85 among them (docs/DOUBT.md).
 */
export const DOUBTFUL_ABOVE = 0.25;

/** Whether a file is DICOM Part 10: "DICM" after the 128-byte preamble, whatever its name. */
async function isDicomBlob(blob) {
  if (!(blob instanceof Blob) || blob.size < 132) return false;
  try {
    const b = new Uint8Array(await blob.slice(128, 132).arrayBuffer());
    return b[0] === 0x44 && b[1] === 0x49 && b[2] === 0x43 && b[3] === 0x4d;
  } catch {
    return false;
  }
}

/** True when two label masks are the same, pixel for pixel. */
function sameMask(a, b) {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** What an annotation keeps of the model's result for its figures. */
function statsOf(seg) {
  return {
    foreground: seg.foreground,
    doubt: seg.doubt,
    outOfDomain: seg.outOfDomain ?? null,
    classAreas: seg.classAreas ?? null,
    classDoubt: seg.classDoubt ?? [],
  };
}

function percent(x) {
  return `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`;
}
