// The Fine-tune panel's sentence on which weights a run kept (www/ui/kept-why.js), for each of the
// core's choices: the last epoch as the best, the last within the tolerance of the previous
// weights or of an earlier epoch, and an earlier epoch that beat the last by more.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { keptWhy } from '../../www/ui/kept-why.js';

/** A TrainResult's fields keptWhy reads: held-back Dice before, after each epoch, and the choice. */
function result({ before, epochs, why, chosenEpoch, bestEpoch }) {
  const scored = epochs.map((dice, i) => ({ epoch: i + 1, heldOut: { dice, iou: dice } }));
  const after = chosenEpoch === 0 ? before : epochs[chosenEpoch - 1];
  return {
    why,
    chosenEpoch,
    bestEpoch,
    tolerance: 0.005,
    before: { dice: before },
    after: { dice: after },
    epochs: scored,
  };
}

test('the last epoch, also the best, is said to be both', () => {
  const r = result({ before: 0.7, epochs: [0.71, 0.72], why: 'lastAndBest', chosenEpoch: 2, bestEpoch: 2 });
  assert.equal(keptWhy(r, 5), 'Kept epoch 2 of 2, the last and the best on the held-back pairs.');
});

test('the last epoch kept within the tolerance of the previous weights says so, with the figures', () => {
  const r = result({ before: 0.748, epochs: [0.745, 0.746], why: 'withinTolerance', chosenEpoch: 2, bestEpoch: 0 });
  assert.equal(
    keptWhy(r, 5),
    'Kept epoch 2 of 2, the last: your previous weights scored 0.748, 0.002 more, too little for 5 pairs to tell apart (within 0.005).',
  );
});

test('the last epoch kept within the tolerance of an earlier epoch names that epoch', () => {
  const r = result({
    before: 0.7,
    epochs: [0.7521, 0.75, 0.7495],
    why: 'withinTolerance',
    chosenEpoch: 3,
    bestEpoch: 1,
  });
  assert.match(
    keptWhy(r, 1),
    /^Kept epoch 3 of 3, the last: epoch 1 scored 0\.752, 0\.003 more, too little for 1 pair to tell apart/,
  );
});

test('a run cancelled while its last epoch was being scored names the epoch kept the last scored', () => {
  const r = result({ before: 0.7, epochs: [0.71, 0.72], why: 'lastAndBest', chosenEpoch: 2, bestEpoch: 2 });
  r.epochs.push({ epoch: 3, heldOut: null });
  assert.equal(keptWhy(r, 5), 'Kept epoch 2 of 3, the last scored and the best on the held-back pairs.');
});

test('an earlier epoch that beat the last by more than the tolerance is kept, and the last figure shown', () => {
  const r = result({ before: 0.41, epochs: [0.42, 0.43, 0.36], why: 'earlierBeatLast', chosenEpoch: 2, bestEpoch: 2 });
  assert.equal(
    keptWhy(r, 5),
    'Kept epoch 2 of 3: it beat the last epoch (0.360) by more than 0.005 on the held-back pairs.',
  );
});
