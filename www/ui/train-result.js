// The end of a training run in the Fine-tune panel: how it went (Dice before and after on the
// held-back pairs), which weights are in use now, the others one click away, and the held-back
// pairs one by one. A run that did not help is said as a warning, not in the success colours,
// with its pairs' figures shown at once: that is when the user needs them to see why.

import { $, el, announce, formatDuration, sentence } from './dom.js';
import { friendly } from './client.js';
import { MIN_RELIABLE_HELD_OUT } from './pairs.js';
import { capitalised, swatch } from './classes.js';
import { keptWhy } from './kept-why.js';

/**
 * @param {import('./model.js').Model} model
 * @param {HTMLElement} status  the panel's status line (steps, time)
 */
export function setupTrainResult(model, status) {
  const resultLine = $('#train-result');
  const perPair = $('#train-per-pair');
  const perClass = $('#train-per-class');
  let resultWeights = null; // the weights generation the result line describes
  let switchingFromResult = false;

  /** Hides the last run's result (a new run starts). */
  function clear() {
    resultLine.hidden = true;
    perPair.hidden = true;
    perClass.hidden = true;
  }

  // The last run's result speaks of the weights it left; once others are loaded (reset, upload)
  // it would mislead, so it gives way to a line that says so.
  model.addEventListener('weights', () => {
    if (resultWeights === null || model.busy === 'training' || resultLine.hidden) return;
    if (model.generation === resultWeights) return;
    queueMicrotask(() => {
      // A switch made from the result's own buttons updates resultWeights when it is done.
      if (switchingFromResult || model.generation === resultWeights) return;
      resultWeights = null;
      clear();
      status.textContent = 'Other weights are in use since the last training run.';
    });
  });

  /** A run that failed: said where the result would be. */
  function fail(e) {
    status.textContent = '';
    resultLine.hidden = false;
    resultLine.className = 'train-result error';
    resultLine.setAttribute('role', 'alert');
    resultLine.textContent = `Training failed: ${sentence(friendly(e))}`;
    announce(resultLine.textContent);
  }

  /** Says how the run went, which weights are in use now, and offers the others. */
  function show(result, heldOut, seconds) {
    // Kept the weights from before the run although it ran: the run did not help.
    const notHelped = result.kept === 'previous' && result.stepsDone > 0;
    // Kept the run's weights although the held-back Dice did not rise (within the tolerance: the
    // pairs cannot tell them apart): neither a success nor a warning.
    const tooClose = !notHelped && result.improved === false;
    resultLine.className = `train-result${notHelped ? ' not-helped' : tooClose ? ' too-close' : ''}`;
    resultLine.dataset.outcome = notHelped ? 'not-helped' : tooClose ? 'too-close' : result.kept;
    resultLine.removeAttribute('role');
    if (result.stepsDone === 0) {
      status.textContent = 'Cancelled before the first step; the weights are unchanged.';
      resultLine.hidden = true;
      announce(status.textContent);
      return;
    }
    resultLine.hidden = false;
    const steps = `${result.stepsDone} of ${result.totalSteps} steps`;
    status.textContent =
      result.stop === 'diverged'
        ? `Stopped at step ${result.divergedAtStep}: the loss is no longer a number (try a lower learning rate).`
        : result.cancelled
          ? `Cancelled after ${steps} (${formatDuration(seconds)}).`
          : `Done: ${result.totalSteps} step${result.totalSteps === 1 ? '' : 's'} in ${formatDuration(seconds)}.`;
    const parts = [];
    const n = heldOut.length;
    const scoredOn = `${n} held-back pair${n > 1 ? 's' : ''}`;
    if (notHelped) {
      // The verdict first, where the eye lands.
      const best = bestEpoch(result);
      parts.push(
        el('strong', { class: 'not-helped' }, 'This run did not improve on your previous weights, so they are kept'),
        best ? `: its best epoch scored ${best.heldOut.dice.toFixed(3)}` : '',
        result.before ? `, yours ${result.before.dice.toFixed(3)}, on ${scoredOn}.` : '.',
      );
    } else if (result.before && result.after) {
      const before = result.before.dice;
      const after = result.after.dice;
      const delta = after - before;
      parts.push(
        el('span', {}, `Dice on ${scoredOn}: `),
        el('strong', { class: 'dice-before' }, before.toFixed(3)),
        ' → ',
        el('strong', { class: 'dice-after' }, after.toFixed(3)),
        el(
          'span',
          { class: result.improved ? 'delta up' : 'delta same' },
          ` (${delta > 0 ? '+' : delta < 0 ? '−' : '±'}${Math.abs(delta).toFixed(3)}).`,
        ),
        ` ${keptWhy(result, n)}`,
      );
    }
    if (result.why === 'nothingHeldBack') {
      parts.push("Nothing was held back to judge the run by (add a second pair): the last step's weights are in use.");
    }
    if (n > 0 && !result.reliable) {
      parts.push(
        el(
          'span',
          { class: 'muted' },
          ` With only ${scoredOn} this figure means little; from 10 pairs on, ${MIN_RELIABLE_HELD_OUT} are held back.`,
        ),
      );
    }
    if (result.kept !== 'previous') {
      parts.push(
        result.persistError
          ? el(
              'span',
              { class: 'error' },
              ` The weights could not be saved in this browser (${result.persistError}); download them to keep them.`,
            )
          : el('span', {}, ' The new weights are saved in this browser.'),
      );
    }
    /** A button that switches weights and then says what is in use. */
    const offer = (id, label, action, done) => {
      const button = el('button', { type: 'button', class: 'button small', id }, label);
      button.addEventListener('click', async () => {
        for (const b of resultLine.querySelectorAll('button')) b.disabled = true;
        switchingFromResult = true;
        try {
          const problem = await action();
          resultWeights = model.generation;
          button.replaceWith(
            el('span', { class: 'ok' }, ` ${done}${problem ? ` (not saved in this browser: ${problem})` : ''}.`),
          );
          for (const b of resultLine.querySelectorAll('button')) b.remove();
          announce(`${done}.`);
        } catch (e) {
          button.replaceWith(el('span', { class: 'error' }, ` ${sentence(friendly(e))}`));
        } finally {
          switchingFromResult = false;
        }
      });
      return button;
    };
    if (result.lastAvailable) {
      const label = result.kept === 'previous' ? 'Use the new weights anyway' : "Use the last step's weights instead";
      parts.push(
        ' ',
        offer('train-use-last', label, () => model.useLastTrained(), "The last step's weights are in use"),
      );
    }
    if (result.kept !== 'previous') {
      parts.push(
        ' ',
        offer(
          'train-use-previous',
          'Keep my previous weights',
          () => model.usePrevious(),
          'Your previous weights are back in use',
        ),
      );
    }
    resultLine.replaceChildren(...parts);
    resultWeights = model.generation;
    perPairTable(result, heldOut, notHelped);
    perClassTable(result);
    announce(`${status.textContent} ${resultLine.textContent}`);
  }

  /** A multi-class model's held-back Dice before training and with the weights kept, per class. */
  function perClassTable(result) {
    const rows = result.classScores ?? [];
    perClass.hidden = rows.length === 0;
    if (perClass.hidden) return;
    const dice = (s) => (s ? s.dice.toFixed(3) : '—');
    perClass.tBodies[0].replaceChildren(
      ...rows.map((c) => {
        const d = c.before && c.after ? c.after.dice - c.before.dice : null;
        return el(
          'tr',
          { dataset: { class: c.name } },
          el('th', { scope: 'row' }, swatch(c.colour), capitalised(c.name)),
          el('td', { class: 'dice-before' }, dice(c.before)),
          el('td', { class: 'dice-after' }, dice(c.after)),
          d === null ? el('td', { class: 'delta same', title: 'in no held-back pair' }, '—') : deltaCell(d),
        );
      }),
    );
  }

  /**
   * Each held-back pair's Dice before training and after: with the weights kept, or, when the run
   * did not help (the weights before it are kept), with the run's last weights (`runPerPair`, the
   * worker scores them), so that the user sees which pairs it made worse.
   */
  function perPairTable(result, heldOut, notHelped) {
    const before = result.before?.perPair;
    const after = notHelped ? result.runPerPair : result.after?.perPair;
    perPair.hidden = !before || (!after && !notHelped);
    if (perPair.hidden) return;
    perPair.caption.textContent = notHelped
      ? after
        ? "Held-back pairs: your weights (kept) and this run's last weights, worst change first"
        : 'Held-back pairs with your weights (kept); this run left no weights to score'
      : 'Held-back pairs, worst change first';
    const heads = perPair.tHead.rows[0].cells;
    heads[1].textContent = notHelped ? 'Your weights' : 'Dice before';
    heads[2].textContent = notHelped ? 'This run' : 'Dice now';
    const rows = heldOut
      .map((pair, i) => ({ name: pair.name, before: before[i].dice, after: after?.[i]?.dice ?? null }))
      .sort((a, b) => (a.after ?? a.before) - a.before - ((b.after ?? b.before) - b.before));
    perPair.tBodies[0].replaceChildren(
      ...rows.map((r) =>
        el(
          'tr',
          {},
          el('th', { scope: 'row' }, r.name),
          el('td', {}, r.before.toFixed(3)),
          el('td', {}, r.after === null ? '—' : r.after.toFixed(3)),
          r.after === null ? el('td', { class: 'delta same' }, '—') : deltaCell(r.after - r.before),
        ),
      ),
    );
  }

  return { show, clear, fail };
}

/** A table cell with a Dice change, coloured by its sign. */
function deltaCell(d) {
  return el(
    'td',
    { class: d > 0.0005 ? 'delta up' : d < -0.0005 ? 'delta down' : 'delta same' },
    `${d >= 0 ? '+' : '−'}${Math.abs(d).toFixed(3)}`,
  );
}

/** The epoch with the best held-back Dice, if any was scored. */
function bestEpoch(result) {
  return result.epochs
    .filter((e) => e.heldOut)
    .reduce((best, e) => (!best || e.heldOut.dice > best.heldOut.dice ? e : best), null);
}
