// The checks of the options a caller passes to `create`, `segment` and `train`, with a message
// naming the option. Ranges come from the core (`limits()`); values the core checks itself (the
// islands rule's share, the training settings it deserialises) are only checked for their type.

import { failure } from './errors.js';

export function integerOption(value, name, min, max, fallback) {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw failure('config', `${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

export function booleanOption(value, name) {
  if (value !== undefined && typeof value !== 'boolean') {
    throw failure('config', `${name} must be true or false, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function numberOption(value, name, min, max, fallback) {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw failure('config', `${name} must be a number from ${min} to ${max}, got ${value}`);
  }
  return value;
}

/**
 * The CT window a call maps DICOM slices through: `value` (`{ center, width }` in Hounsfield
 * units) when given, checked, else `fallback` (the model card's window; undefined: the lung window).
 */
export function windowOption(value, fallback) {
  if (value === undefined) return fallback ?? undefined;
  const ok =
    value !== null &&
    typeof value === 'object' &&
    Number.isFinite(value.center) &&
    Number.isFinite(value.width) &&
    value.width > 0;
  if (!ok) {
    throw failure(
      'config',
      `window must be { center, width } in Hounsfield units with a width above 0 (e.g. { center: -600, width: 1500 }), got ${JSON.stringify(value)}`,
    );
  }
  return { center: value.center, width: value.width };
}

/** A working size: a multiple of the core's `sizeMultiple` up to its `maxInputSize`. */
export function sizeOption(value, name, limits, fallback) {
  const size = integerOption(value, name, limits.sizeMultiple, limits.maxInputSize, fallback);
  if (size % limits.sizeMultiple !== 0)
    throw failure('config', `${name} must be a multiple of ${limits.sizeMultiple}, got ${size}`);
  return size;
}

/** An `islands` option: a name or a share, whose value the core checks. */
export function islandsOption(value) {
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw failure(
      'config',
      `islands must be "keep", "main" or a share of the image such as 0.002, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** The core's `SegmenterOptions` from `create`'s options, checked against the core's limits. */
export function segmenterOptions(options, limits) {
  const flips = options.flips;
  if (flips !== undefined && !limits.flips.includes(flips)) {
    throw failure(
      'config',
      `flips must be 1 (no mirroring), 2 (left-right) or 4 (left-right and top-bottom), got ${flips}`,
    );
  }
  const settings = {
    classes: integerOption(options.classes, 'classes', 1, limits.maxClasses, 1),
    inputSize: sizeOption(options.inputSize, 'inputSize', limits, 256),
  };
  if (flips !== undefined) settings.flips = flips;
  if (options.islands !== undefined) settings.islands = islandsOption(options.islands);
  return settings;
}
