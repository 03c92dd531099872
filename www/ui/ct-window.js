// A DICOM slice on its card: what its header says about the image (never about the patient: the
// package's description holds no patient field, and only the fields named here are shown), and
// the CT window control — level and width in Hounsfield units, with the usual presets and the
// model's own window as the default — that maps the slice to grey again and re-segments it.

import { el } from './dom.js';

/** The usual windows (level/width in HU). */
export const PRESETS = [
  { key: 'lung', label: 'Lung', center: -600, width: 1500 },
  { key: 'mediastinum', label: 'Mediastinum', center: 40, width: 400 },
];

/** The lung window: what the package applies when the model has no window of its own. */
const LUNG = PRESETS[0];

/** A figure in HU with a true minus sign: "−600". */
export function hu(value) {
  const text = String(Math.round(value * 10) / 10);
  return text.replace(/^-/, '−');
}

/** "level −600 HU, width 1500 HU". */
export function windowText(w) {
  return `level ${hu(w.center)} HU, width ${hu(w.width)} HU`;
}

const same = (a, b) => a && b && a.center === b.center && a.width === b.width;

/**
 * The slice's description as a definition list: size, modality, transfer syntax, pixel spacing
 * and the window applied. Only these fields are read from `info` (the package's `dicom`).
 */
export function dicomFacts(info) {
  const row = (label, value, key) => el('div', { dataset: { fact: key } }, el('dt', {}, label), el('dd', {}, value));
  const spacing = info.pixelSpacing;
  return el(
    'dl',
    { class: 'stats dicom-facts', 'aria-label': 'DICOM slice' },
    row('DICOM slice', `${info.columns}×${info.rows}${info.modality ? ` · ${info.modality}` : ''}`, 'size'),
    row('Transfer syntax', info.transferSyntax, 'syntax'),
    row('Pixel spacing', spacing ? `${spacing[0]} × ${spacing[1]} mm` : 'not given', 'spacing'),
    row('Window', windowText(info.window), 'window'),
  );
}

/**
 * The window control of one card: a preset select and level/width inputs. `onChange(window)`
 * is called with a checked window when the user picks or types one.
 */
export class WindowControl {
  /**
   * @param {{ name: string, modelWindow?: { center: number, width: number } | null,
   *           onChange: (window: { center: number, width: number }) => void }} options
   */
  constructor({ name, modelWindow, onChange }) {
    this.onChange = onChange;
    // The model's own window is the default; it is a preset of its own unless it is one of them.
    const own = modelWindow ?? LUNG;
    this.presets = PRESETS.map((p) => ({ ...p, label: same(p, own) ? `${p.label} (the model's window)` : p.label }));
    if (!this.presets.some((p) => same(p, own))) {
      this.presets.unshift({ key: 'model', label: "The model's window", center: own.center, width: own.width });
    }
    this.preset = el(
      'select',
      { class: 'window-preset', 'aria-label': `CT window preset for ${name}` },
      ...this.presets.map((p) => el('option', { value: p.key }, `${p.label}: ${hu(p.center)} / ${hu(p.width)}`)),
      el('option', { value: 'custom' }, 'Custom'),
    );
    this.level = el('input', {
      type: 'number',
      class: 'window-level',
      step: '10',
      'aria-label': `Window level of ${name} in HU`,
    });
    this.width = el('input', {
      type: 'number',
      class: 'window-width',
      step: '10',
      min: '1',
      'aria-label': `Window width of ${name} in HU`,
    });
    this.problem = el('p', { class: 'window-problem', role: 'alert', hidden: true });
    this.node = el(
      'fieldset',
      { class: 'card-window' },
      el('legend', {}, 'CT window'),
      el('label', { class: 'window-field' }, 'Preset ', this.preset),
      el('label', { class: 'window-field' }, 'Level ', this.level, ' HU'),
      el('label', { class: 'window-field' }, 'Width ', this.width, ' HU'),
      this.problem,
    );

    this.preset.addEventListener('change', () => {
      const p = this.presets.find((x) => x.key === this.preset.value);
      if (!p) return; // "Custom": the figures are typed
      this.level.value = String(p.center);
      this.width.value = String(p.width);
      this.#apply();
    });
    for (const input of [this.level, this.width]) input.addEventListener('change', () => this.#apply());
  }

  /** Shows the window a result was made with. */
  show(window) {
    this.level.value = String(window.center);
    this.width.value = String(window.width);
    this.preset.value = this.presets.find((p) => same(p, window))?.key ?? 'custom';
    this.problem.hidden = true;
  }

  #apply() {
    const center = Number(this.level.value);
    const width = Number(this.width.value);
    if (
      this.level.value === '' ||
      this.width.value === '' ||
      !Number.isFinite(center) ||
      !Number.isFinite(width) ||
      width < 1
    ) {
      this.problem.textContent = 'The window needs a level and a width of at least 1 HU.';
      this.problem.hidden = false;
      return;
    }
    this.problem.hidden = true;
    const window = { center, width };
    this.preset.value = this.presets.find((p) => same(p, window))?.key ?? 'custom';
    this.onChange(window);
  }
}
