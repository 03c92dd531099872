// The mask editor: a dialog over the page where the user corrects one image's mask with a brush
// and an eraser (mouse, pen or touch: pointer events), with undo/redo, fill holes, back to the
// model's mask, the model's doubtful pixels, zoom and pan. Edits are made on the mask at the
// image's own size, so what is seen is what is trained on, exported and downloaded; each finished
// stroke is handed to `annotations`, which stores it.
//
// Keys (not while typing in a field): B brush, E eraser, H move, [ ] brush size, Ctrl+Z undo,
// Ctrl+Shift+Z / Ctrl+Y redo, D doubtful pixels, + − zoom, 0 fit, 1 actual size, arrows move the
// image (when it has focus), Space held moves it with the pointer, Esc closes.

import { $, announce, saveBlob, stem } from '../dom.js';
import { History, changedPixels, dice, fillHoles, paintSegment, union } from './mask-ops.js';
import { MaskLayer, doubtLayer } from './layers.js';
import { Viewport } from './viewport.js';
import { className } from '../overlay.js';

/** Undo histories live as long as the page, per annotation, so reopening an image can undo. */
const histories = new WeakMap();

/** The editor dialog (one per page), opened on one annotation at a time with `edit`. */
export class MaskEditor {
  /** @type {import('../annotations.js').Annotation | null} */
  a = null;
  tool = 'brush';
  #layer = null;
  #doubt = null;
  #image = null;
  #view = null;
  #history = null;
  #stroke = null; // { id, snapshot, box, last }
  #pointers = new Map(); // pointerId → { x, y } client coordinates
  #pinch = null;
  #touches = new Set(); // pointerIds of fingers (a pen or mouse never starts a pinch)
  #pan = null;
  #cursor = null;
  #spaceHeld = false;
  /** The view is "whole image" (refitted when the stage changes size, e.g. a phone turned). */
  #fitted = false;
  /** Pixels where the user's mask differs from the model's (null: not counted yet). */
  #changedFromModel = null;
  #frame = 0;
  #onClose = null;

  /**
   * @param {import('../annotations.js').Annotations} annotations
   * @param {{ opacity: () => number }} look  the page's mask opacity (0..1)
   */
  constructor(annotations, look) {
    this.annotations = annotations;
    this.look = look;
    this.dialog = $('#editor');
    this.canvas = $('#editor-canvas');
    this.size = $('#editor-size');
    this.classSelect = $('#editor-class');
    this.showDoubt = $('#editor-doubt');
    this.status = $('#editor-status');
    this.saved = $('#editor-saved');
    this.addButton = $('#editor-add');
    this.#wire();
  }

  /** Drops `a`'s undo history: its mask was replaced from outside (by a new model mask). */
  forget(a) {
    histories.delete(a);
  }

  /**
   * Opens `a` for editing; resolves when the dialog closes.
   * @param {import('../annotations.js').Annotation} a
   */
  async edit(a) {
    if (this.dialog.open) this.dialog.close();
    this.a = a;
    $('#editor-name').textContent = a.name;
    this.dialog.dataset.ready = 'false';
    this.status.textContent = 'Loading the image…';
    this.dialog.showModal();
    if (!histories.has(a)) histories.set(a, new History());
    this.#history = histories.get(a);
    this.#changedFromModel = null;
    this.#layer = new MaskLayer(a.width, a.height);
    this.#layer.update(a.mask);
    this.#doubt = a.doubtful ? doubtLayer(a.doubtful, a.width, a.height) : null;
    this.showDoubt.disabled = !a.doubtful;
    this.showDoubt.closest('label').title = a.doubtful
      ? ''
      : 'This mask did not come from the model: there are no doubtful pixels to show';
    $('#editor-reset').disabled = !a.modelMask;
    this.#classes(a.classes);
    const side = Math.max(a.width, a.height);
    this.size.max = String(Math.max(50, Math.round(side / 10)));
    if (!this.dialog.dataset.sizeChosen)
      this.size.value = String(Math.min(Number(this.size.max), Math.max(2, Math.round(side / 40))));
    this.#showSize();
    this.#view = new Viewport(this.canvas, a.width, a.height);
    try {
      this.#image = await createImageBitmap(a.image);
    } catch (e) {
      this.status.textContent = `The image could not be shown: ${e.message}`;
      return this.#closed();
    }
    if (this.a !== a) return this.#closed();
    this.#view.fit();
    this.#fitted = true;
    this.dialog.dataset.ready = 'true';
    this.#refresh();
    this.canvas.focus();
    return this.#closed();
  }

  #closed() {
    return new Promise((resolve) => {
      this.#onClose = resolve;
    });
  }

  #classes(classes) {
    const field = $('#editor-class-field');
    field.hidden = classes <= 1;
    if (classes <= 1) return;
    const keep = this.classSelect.value;
    this.classSelect.replaceChildren(
      ...Array.from({ length: classes - 1 }, (_, i) => {
        const option = document.createElement('option');
        option.value = String(i + 1);
        option.textContent = className(i + 1);
        return option;
      }),
    );
    if (Number(keep) < classes) this.classSelect.value = keep || '1';
  }

  /** The label the current tool paints. */
  get #label() {
    return this.tool === 'eraser' ? 0 : Math.max(1, Number(this.classSelect.value) || 1);
  }

  get #radius() {
    return Number(this.size.value) / 2;
  }

  #wire() {
    const { canvas, dialog } = this;
    for (const radio of dialog.querySelectorAll('input[name="editor-tool"]')) {
      radio.addEventListener('change', () => this.#setTool(radio.value));
    }
    this.size.addEventListener('input', () => {
      dialog.dataset.sizeChosen = 'true';
      this.#showSize();
    });
    this.showDoubt.addEventListener('change', () => this.#draw());
    $('#editor-undo').addEventListener('click', () => this.undo());
    $('#editor-redo').addEventListener('click', () => this.redo());
    $('#editor-fill').addEventListener('click', () => this.fillHoles());
    $('#editor-reset').addEventListener('click', () => this.backToModel());
    $('#editor-zoom-in').addEventListener('click', () => this.#zoom(1.5));
    $('#editor-zoom-out').addEventListener('click', () => this.#zoom(1 / 1.5));
    $('#editor-fit').addEventListener('click', () => this.#fit());
    $('#editor-actual').addEventListener('click', () => this.#viewChange(() => this.#view.actualSize()));
    $('#editor-close').addEventListener('click', () => dialog.close());
    $('#editor-download').addEventListener('click', () => this.download());
    this.addButton.addEventListener('click', () => this.addToTraining());
    dialog.addEventListener('close', () => {
      this.#endStroke();
      this.#resetPointers();
      this.#image?.close?.();
      this.#image = null;
      const done = this.#onClose;
      this.#onClose = null;
      done?.();
    });
    dialog.addEventListener('keydown', (e) => this.#key(e));
    dialog.addEventListener('keyup', (e) => {
      if (e.code === 'Space') this.#spaceHeld = false;
    });
    this.annotations.addEventListener('storage', () => this.#showSaved());

    canvas.addEventListener('pointerdown', (e) => this.#down(e));
    canvas.addEventListener('pointermove', (e) => this.#move(e));
    canvas.addEventListener('pointerup', (e) => this.#up(e));
    canvas.addEventListener('pointercancel', (e) => this.#up(e));
    canvas.addEventListener('pointerleave', () => {
      this.#cursor = null;
      this.#draw();
    });
    canvas.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        const r = canvas.getBoundingClientRect();
        // Lines or pages of scrolling (some mice, some systems) count as about 16 or 400 pixels.
        const dy = e.deltaY * ([1, 16, 400][e.deltaMode] ?? 1);
        this.#viewChange(() => this.#view.zoomAt(Math.exp(-dy * 0.0015), e.clientX - r.left, e.clientY - r.top));
      },
      { passive: false },
    );
    canvas.addEventListener('contextmenu', (e) => e.preventDefault());
    // A pointer the browser stops reporting (its capture lost) ends its stroke; leaving the
    // window forgets a held Space.
    canvas.addEventListener('lostpointercapture', (e) => this.#up(e));
    addEventListener('blur', () => {
      this.#spaceHeld = false;
    });
    new ResizeObserver(() => {
      if (this.#fitted && this.#view && this.dialog.dataset.ready === 'true') this.#view.fit();
      this.#draw();
    }).observe(canvas);
  }

  #setTool(tool) {
    this.tool = tool;
    const radio = this.dialog.querySelector(`input[name="editor-tool"][value="${tool}"]`);
    if (radio) radio.checked = true;
    this.canvas.dataset.tool = tool;
    this.#draw();
  }

  #showSize() {
    $('#editor-size-value').textContent = `${this.size.value} px`;
    this.#draw();
  }

  #zoom(factor) {
    this.#viewChange(() => this.#view.zoom(factor));
  }

  #fit() {
    this.#viewChange(() => this.#view.fit());
    this.#fitted = true;
  }

  #viewChange(change) {
    if (!this.#view || this.dialog.dataset.ready !== 'true') return;
    this.#fitted = false;
    change();
    $('#editor-zoom').textContent = `${Math.round(this.#view.scale * 100)}%`;
    this.#draw();
  }

  #key(e) {
    if (this.dialog.dataset.ready !== 'true') return;
    const ctrl = e.ctrlKey || e.metaKey;
    // A select takes letters and digits for its own options: only Ctrl shortcuts reach the editor.
    if (e.target.matches?.('select, input[type="number"], input[type="text"], textarea') && !ctrl) return;
    const key = e.key.toLowerCase();
    let handled = true;
    if (ctrl && key === 'z' && !e.shiftKey) this.undo();
    else if (ctrl && ((key === 'z' && e.shiftKey) || key === 'y')) this.redo();
    else if (ctrl || e.altKey) handled = false;
    else if (key === '[' || key === ']') {
      const v = Number(this.size.value);
      const step = Math.max(1, Math.round(v * 0.15));
      this.size.value = String(key === '[' ? v - step : v + step);
      this.dialog.dataset.sizeChosen = 'true';
      this.#showSize();
    } else if (key === 'b') this.#setTool('brush');
    else if (key === 'e') this.#setTool('eraser');
    else if (key === 'h') this.#setTool('pan');
    else if (key === 'd' && !this.showDoubt.disabled) {
      this.showDoubt.checked = !this.showDoubt.checked;
      this.#draw();
    } else if (key === '+' || key === '=') this.#zoom(1.5);
    else if (key === '-') this.#zoom(1 / 1.5);
    else if (key === '0') this.#fit();
    else if (key === '1') this.#viewChange(() => this.#view.actualSize());
    else if (e.code === 'Space' && e.target === this.canvas) this.#spaceHeld = true;
    else if (e.key.startsWith('Arrow') && e.target === this.canvas) {
      const d = 40;
      const [dx, dy] = { ArrowLeft: [d, 0], ArrowRight: [-d, 0], ArrowUp: [0, d], ArrowDown: [0, -d] }[e.key];
      this.#viewChange(() => this.#view.pan(dx, dy));
    } else handled = false;
    if (handled) e.preventDefault();
  }

  // Pointers: one draws (or moves the image, with the Move tool, the middle button or Space held);
  // a second finger turns a touch into a pinch that zooms and moves.

  #down(e) {
    if (this.dialog.dataset.ready !== 'true') return;
    if (e.pointerType === 'mouse' && e.button !== 0 && e.button !== 1) return;
    // The same pointer down again: its earlier stroke's end was never reported; keep that stroke
    // (undoable and saved) before this one begins.
    if (this.#stroke?.id === e.pointerId) this.#endStroke();
    e.preventDefault();
    this.canvas.focus({ preventScroll: true });
    try {
      this.canvas.setPointerCapture(e.pointerId);
    } catch {
      // A pointer the browser no longer tracks: the stroke still works without capture.
    }
    this.#pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    if (e.pointerType === 'touch') this.#touches.add(e.pointerId);
    if (this.#touches.size === 2 && this.#pointers.size === 2) {
      // The first finger's stroke was the start of a pinch: take it back.
      this.#cancelStroke();
      this.#pan = null;
      this.#pinch = this.#pinchState();
      return;
    }
    // A second finger or a resting palm while a stroke runs: the first pointer keeps drawing.
    if (this.#stroke || this.#pan) return;
    if (this.tool === 'pan' || e.button === 1 || this.#spaceHeld) {
      this.#pan = { id: e.pointerId, x: e.clientX, y: e.clientY };
      return;
    }
    const p = this.#view.toImage(e.clientX, e.clientY);
    // A pen's eraser end (button 5) erases whatever the tool.
    this.#stroke = {
      id: e.pointerId,
      snapshot: this.a.mask.slice(),
      box: null,
      last: p,
      label: e.button === 5 ? 0 : this.#label,
    };
    this.#paint(p, p);
  }

  #move(e) {
    if (this.dialog.dataset.ready !== 'true') return;
    const tracked = this.#pointers.get(e.pointerId);
    if (tracked) {
      tracked.x = e.clientX;
      tracked.y = e.clientY;
    }
    if (this.#pinch) {
      const now = this.#pinchState();
      const r = this.canvas.getBoundingClientRect();
      this.#viewChange(() => {
        this.#view.pan(now.cx - this.#pinch.cx, now.cy - this.#pinch.cy);
        this.#view.zoomAt(now.d / this.#pinch.d, now.cx - r.left, now.cy - r.top);
      });
      this.#pinch = now;
      return;
    }
    if (this.#pan?.id === e.pointerId) {
      const { x, y } = this.#pan;
      this.#pan = { id: e.pointerId, x: e.clientX, y: e.clientY };
      this.#viewChange(() => this.#view.pan(e.clientX - x, e.clientY - y));
      return;
    }
    const at = this.#view?.toImage(e.clientX, e.clientY);
    if (this.#stroke?.id === e.pointerId) {
      // Every position the browser saw since the last event, so fast strokes have no gaps.
      const events = e.getCoalescedEvents?.() ?? [];
      for (const c of events.length ? events : [e]) {
        const p = this.#view.toImage(c.clientX, c.clientY);
        this.#paint(this.#stroke.last, p);
        this.#stroke.last = p;
      }
    }
    this.#cursor = this.tool === 'pan' || e.pointerType === 'touch' ? null : at;
    this.#draw();
  }

  #up(e) {
    this.#pointers.delete(e.pointerId);
    this.#touches.delete(e.pointerId);
    if (this.#pinch) {
      if (this.#pointers.size < 2) this.#pinch = null;
      return;
    }
    if (this.#pan?.id === e.pointerId) this.#pan = null;
    if (this.#stroke?.id === e.pointerId) this.#endStroke();
  }

  #resetPointers() {
    this.#pointers.clear();
    this.#touches.clear();
    this.#pinch = null;
    this.#pan = null;
    this.#spaceHeld = false;
    this.#cursor = null;
  }

  #pinchState() {
    const [a, b] = [...this.#pointers.values()];
    return { cx: (a.x + b.x) / 2, cy: (a.y + b.y) / 2, d: Math.max(1, Math.hypot(a.x - b.x, a.y - b.y)) };
  }

  #paint(from, to) {
    const { a } = this;
    const box = paintSegment(a.mask, a.width, a.height, from.x, from.y, to.x, to.y, this.#radius, this.#stroke.label);
    if (!box) return;
    this.#stroke.box = union(this.#stroke.box, box);
    this.#layer.update(a.mask, box);
    this.#draw();
  }

  #cancelStroke() {
    const s = this.#stroke;
    if (!s) return;
    this.#stroke = null;
    this.a.mask.set(s.snapshot);
    if (s.box) this.#layer.update(this.a.mask, s.box);
    this.#draw();
  }

  #endStroke() {
    const s = this.#stroke;
    if (!s) return;
    this.#stroke = null;
    this.#commit(s.box, s.snapshot);
  }

  /** Records an edit of `box` (the mask was `before`), marks the annotation and saves it. */
  #commit(box, before) {
    const { a } = this;
    if (!this.#history.record(box, before, a.mask, a.width)) return;
    this.#edited();
  }

  #edited() {
    const { a } = this;
    this.#changedFromModel = a.modelMask ? changedPixels(a.mask, a.modelMask) : null;
    a.corrected = this.#changedFromModel == null || this.#changedFromModel > 0;
    this.annotations.changed(a);
    this.#refresh();
  }

  /** A change of the whole mask as one undoable edit. */
  #wholeEdit(change) {
    const { a } = this;
    const before = a.mask.slice();
    const box = change();
    if (!box) return false;
    if (!this.#history.record(box, before, a.mask, a.width)) return false;
    this.#layer.update(a.mask, box);
    this.#edited();
    return true;
  }

  undo() {
    this.#endStroke();
    const box = this.#history?.undo(this.a.mask, this.a.width);
    if (box) this.#afterHistory(box, 'Undone.');
  }

  redo() {
    this.#endStroke();
    const box = this.#history?.redo(this.a.mask, this.a.width);
    if (box) this.#afterHistory(box, 'Redone.');
  }

  #afterHistory(box, said) {
    this.#layer.update(this.a.mask, box);
    this.#edited();
    announce(said);
  }

  fillHoles() {
    const { a } = this;
    let filled = 0;
    const changed = this.#wholeEdit(() => {
      const r = fillHoles(a.mask, a.width, a.height);
      filled = r.filled;
      return r.box;
    });
    announce(changed ? `Filled ${filled.toLocaleString('en')} pixels of holes.` : 'The mask has no holes.');
  }

  backToModel() {
    const { a } = this;
    if (!a.modelMask) return;
    const changed = this.#wholeEdit(() => {
      a.mask.set(a.modelMask);
      return { x0: 0, y0: 0, x1: a.width, y1: a.height };
    });
    announce(changed ? "Back to the model's mask (Undo brings your edits back)." : "This is the model's mask already.");
  }

  addToTraining() {
    const { a } = this;
    if (a.inTraining) return;
    a.inTraining = true;
    this.annotations.changed(a);
    this.#refresh();
    announce(`${a.name} is one of the fine-tuning pairs now.`);
  }

  async download() {
    saveBlob(await this.a.maskPng(), `${stem(this.a.name)}_mask.png`);
  }

  /** Buttons, figures and the picture after any change. */
  #refresh() {
    const { a } = this;
    if (!a) return;
    $('#editor-undo').disabled = !this.#history.canUndo;
    $('#editor-redo').disabled = !this.#history.canRedo;
    this.addButton.disabled = a.inTraining;
    this.addButton.textContent = a.inTraining ? 'In the fine-tuning set' : 'Add to fine-tuning';
    const parts = [];
    if (a.modelMask) {
      // Counted once per edit (a pass over every pixel), not on every refresh.
      this.#changedFromModel ??= changedPixels(a.mask, a.modelMask);
      const changed = this.#changedFromModel;
      parts.push(
        changed
          ? `${changed.toLocaleString('en')} pixels changed from the model's mask (Dice ${dice(a.mask, a.modelMask, a.classes).toFixed(3)} between them)`
          : "The model's mask, unchanged",
      );
    } else {
      parts.push(a.corrected ? 'Corrected by hand' : 'The mask from your file');
    }
    parts.push(`${a.width}×${a.height}`);
    this.status.textContent = parts.join(' · ');
    this.dialog.dataset.version = String(a.version);
    this.#showSaved();
    this.#draw();
  }

  #showSaved() {
    const { problem, saving } = this.annotations;
    // A mask left as the model made it and not a pair is not kept (the card lets it go on
    // closing): nothing to say about saving until it is changed or added to fine-tuning.
    const kept = this.a && (this.a.corrected || this.a.inTraining);
    this.saved.className = `editor-saved${problem ? ' error' : ''}`;
    this.saved.textContent = !kept
      ? ''
      : problem
        ? `Not saved: ${problem}. Your edits stay in this tab; export them under Fine-tune to keep them.`
        : saving
          ? 'Saving…'
          : 'Saved in this browser.';
    this.saved.dataset.state = problem ? 'problem' : saving ? 'saving' : 'saved';
  }

  #draw() {
    if (this.#frame || !this.#image) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      if (!this.#image || !this.dialog.open) return;
      const layers = [{ source: this.#layer.canvas, alpha: this.look.opacity() }];
      if (this.showDoubt.checked && this.#doubt) layers.push({ source: this.#doubt, alpha: 0.85 });
      const cursor = this.#cursor && this.tool !== 'pan' ? { ...this.#cursor, radius: this.#radius } : null;
      this.#view.draw({ image: this.#image, layers, cursor });
      $('#editor-zoom').textContent = `${Math.round(this.#view.scale * 100)}%`;
    });
  }
}
