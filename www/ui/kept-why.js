// Why a fine-tuning run left the weights it did, in a sentence for the Fine-tune panel. The core
// keeps the last epoch's weights unless the previous ones or an earlier epoch's scored more than a
// tolerance better on the held-back pairs (src/train/fine_tune.rs, HELD_OUT_TOLERANCE): on a
// handful of pairs, closer than that cannot be told apart. Which of those it was comes decided in
// `result.why` (src/app/outcome_report.rs, shared with the CLI); this only words it. Pure, so its
// wording is tested in Node (tests/browser/kept-why.test.mjs).

/**
 * Which epoch's weights are in use and why, for a run judged by `n` held-back pairs that kept one
 * of its epochs (`why`: `earlierBeatLast`, `lastAndBest` or `withinTolerance`), said plainly when
 * the last was kept although others scored a little better.
 */
export function keptWhy(result, n) {
  const kept = `Kept epoch ${result.chosenEpoch} of ${result.epochs.length}`;
  if (result.why === 'earlierBeatLast') {
    const last = result.epochs.findLast((e) => e.heldOut);
    return `${kept}: it beat the last epoch${last ? ` (${last.heldOut.dice.toFixed(3)})` : ''} by more than ${result.tolerance} on the held-back pairs.`;
  }
  // Cancelled while an epoch was being scored: the kept epoch is the last one scored.
  const last = result.chosenEpoch === result.epochs.length ? 'the last' : 'the last scored';
  if (result.why === 'lastAndBest') return `${kept}, ${last} and the best on the held-back pairs.`;
  const best =
    result.bestEpoch === 0 ? result.before : result.epochs.find((e) => e.epoch === result.bestEpoch)?.heldOut;
  const who = result.bestEpoch === 0 ? 'your previous weights' : `epoch ${result.bestEpoch}`;
  const lead = best
    ? ` scored ${best.dice.toFixed(3)}, ${(best.dice - result.after.dice).toFixed(3)} more,`
    : ' scored a little more';
  return `${kept}, ${last}: ${who}${lead} too little for ${n} pair${n > 1 ? 's' : ''} to tell apart (within ${result.tolerance}).`;
}
