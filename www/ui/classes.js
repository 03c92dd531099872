// The model's classes as the page shows them: swatches in the card's colours, a legend, and the
// classes' areas when the result does not carry them (a result restored from an earlier visit).

import { el } from './dom.js';

/** A small square in a class's colour (set through the CSSOM: the CSP forbids style attributes). */
export function swatch(colour) {
  const node = el('span', { class: 'swatch-class', 'aria-hidden': 'true' });
  node.style.backgroundColor = colour;
  return node;
}

/** The legend of a mask's overlay: each foreground class of `classes` (a card's) in its colour. */
export function legend(classes) {
  return el(
    'ul',
    { class: 'legend', 'aria-label': 'Mask colours' },
    (classes ?? []).slice(1).map((c) => el('li', { dataset: { class: c.name } }, swatch(c.colour), c.name)),
  );
}

/**
 * Each class's `{ name, colour, fraction, pixels }` in a label mask, background first, for a
 * card's `classes` (what `segment` returns as `classAreas`).
 */
export function areasOf(mask, classes) {
  const counts = new Array(Math.max(2, classes?.length ?? 2)).fill(0);
  for (const label of mask) if (label < counts.length) counts[label]++;
  return counts.map((pixels, i) => ({
    name: classes?.[i]?.name ?? `class ${i}`,
    colour: classes?.[i]?.colour ?? '#808080',
    fraction: pixels / Math.max(1, mask.length),
    pixels,
  }));
}

/** "Ground-glass opacity" from "ground-glass opacity". */
export function capitalised(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}
