// Removing a result or a pair that holds a corrected mask deletes that work from this browser:
// one click must not lose it for good, so the page offers it back until the next removal.

import { announce, notice } from './dom.js';

/**
 * Says that corrected masks were deleted and offers them back.
 * @param {import('./annotations.js').Annotations} annotations
 * @param {import('./annotations.js').Annotation[]} list  what `release` deleted
 * @param {'inResults' | 'inTraining'} where  where they come back
 */
export function offerBack(annotations, list, where) {
  if (!list.length) return;
  const n = list.length;
  const what = `${n} corrected mask${n === 1 ? '' : 's'}`;
  notice(
    'removed',
    'info',
    `Removed ${what} (${list
      .slice(0, 3)
      .map((a) => a.name)
      .join(', ')}${n > 3 ? ', …' : ''}).`,
    {
      label: 'Undo',
      run: () => {
        annotations.bringBack(list, where);
        announce(`${what} back.`);
      },
    },
  );
}
