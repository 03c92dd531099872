// The live training curve: loss (left axis) and training Dice (right axis, 0–1) against steps,
// and the Dice on the held-back pairs before training and after each epoch, drawn on a plain
// canvas so no charting library (and no third-party code) is needed.
//
// A batch of a few real photos is easy or hard by chance, so per-step values zigzag in a way that
// reads like divergence: they are drawn faintly, under a moving average about one epoch wide.

const COLOURS = {
  loss: '#c2410c',
  dice: '#1d4ed8',
  held: '#15803d',
  grid: '#d4d4d8',
  text: '#3f3f46',
  epoch: '#a1a1aa',
};

export class TrainingChart {
  #canvas;
  #points = [];
  /** Held-back Dice: `{ epoch, dice }`, epoch 0 before training. */
  #heldOut = [];
  #totalSteps = 1;
  #stepsPerEpoch = 0;
  #frame = 0;

  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    this.#canvas = canvas;
    // Redraw at the new size (and device pixel ratio) whenever the layout changes.
    new ResizeObserver(() => this.#schedule()).observe(canvas);
  }

  reset(totalSteps = 1, stepsPerEpoch = 0) {
    this.#points = [];
    this.#heldOut = [];
    this.#totalSteps = Math.max(1, totalSteps);
    this.#stepsPerEpoch = stepsPerEpoch;
    this.#update();
  }

  /** Adds one step's `{ loss, dice, totalSteps, stepsPerEpoch }`. */
  push(p) {
    this.#totalSteps = Math.max(1, p.totalSteps ?? this.#totalSteps);
    this.#stepsPerEpoch = p.stepsPerEpoch ?? this.#stepsPerEpoch;
    this.#points.push({ loss: p.loss, dice: p.dice });
    this.#update();
  }

  /** Adds the held-back Dice after `epoch` epochs (0: before training). */
  pushHeldOut(epoch, dice) {
    this.#heldOut.push({ epoch, dice });
    this.#update();
  }

  /** An epoch ended (`{ epoch, loss, dice, heldOut }`); its held-back Dice came with its scoring. */
  pushEpoch(p) {
    if (p.heldOut && !this.#heldOut.some((h) => h.epoch === p.epoch)) this.pushHeldOut(p.epoch, p.heldOut.dice);
  }

  get points() {
    return this.#points.length;
  }

  #update() {
    const last = this.#points.at(-1);
    const held = this.#heldOut.at(-1);
    // Written only when it changes: a held-out marker redraws the chart without a new step.
    const count = String(this.#points.length);
    if (this.#canvas.dataset.points !== count) this.#canvas.dataset.points = count;
    this.#canvas.dataset.heldOut = String(this.#heldOut.length);
    const heldText = held
      ? `, held-back Dice ${held.dice.toFixed(3)} ${held.epoch ? `after epoch ${held.epoch}` : 'before training'}`
      : '';
    this.#canvas.setAttribute(
      'aria-label',
      last
        ? `Training curve: ${this.#points.length} of ${this.#totalSteps} steps, latest loss ${last.loss.toFixed(3)}, Dice ${last.dice.toFixed(3)}${heldText}`
        : `Training curve: no steps yet${heldText}`,
    );
    this.#schedule();
  }

  #schedule() {
    if (this.#frame) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      this.#draw();
    });
  }

  #draw() {
    const canvas = this.#canvas;
    const cssWidth = canvas.clientWidth;
    const cssHeight = canvas.clientHeight;
    if (!cssWidth || !cssHeight) return;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(cssWidth * dpr);
    canvas.height = Math.round(cssHeight * dpr);
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssWidth, cssHeight);

    const pad = { left: 44, right: 40, top: 10, bottom: 26 };
    const w = cssWidth - pad.left - pad.right;
    const h = cssHeight - pad.top - pad.bottom;
    const maxLoss = niceCeil(Math.max(0.1, ...this.#points.map((p) => (Number.isFinite(p.loss) ? p.loss : 0))));
    const x = (i) => pad.left + (w * (i + 1)) / this.#totalSteps;
    const yLoss = (v) => pad.top + h * (1 - Math.min(v, maxLoss) / maxLoss);
    const yDice = (v) => pad.top + h * (1 - Math.max(0, Math.min(1, v)));

    ctx.font = '11px system-ui, sans-serif';
    ctx.lineWidth = 1;
    // Horizontal grid with both axes' labels.
    for (let k = 0; k <= 4; k++) {
      const y = pad.top + (h * k) / 4;
      ctx.strokeStyle = COLOURS.grid;
      ctx.beginPath();
      ctx.moveTo(pad.left, y);
      ctx.lineTo(pad.left + w, y);
      ctx.stroke();
      ctx.fillStyle = COLOURS.loss;
      ctx.textAlign = 'right';
      ctx.textBaseline = 'middle';
      ctx.fillText(formatTick(maxLoss * (1 - k / 4)), pad.left - 6, y);
      ctx.fillStyle = COLOURS.dice;
      ctx.textAlign = 'left';
      ctx.fillText((1 - k / 4).toFixed(2), pad.left + w + 6, y);
    }
    // Epoch boundaries, when there are few enough to tell apart.
    const epochs = this.#stepsPerEpoch ? Math.round(this.#totalSteps / this.#stepsPerEpoch) : 0;
    if (epochs > 1 && epochs <= 50) {
      ctx.strokeStyle = COLOURS.epoch;
      ctx.setLineDash([2, 3]);
      for (let e = 1; e < epochs; e++) {
        const xe = pad.left + (w * e * this.#stepsPerEpoch) / this.#totalSteps;
        ctx.beginPath();
        ctx.moveTo(xe, pad.top);
        ctx.lineTo(xe, pad.top + h);
        ctx.stroke();
      }
      ctx.setLineDash([]);
    }
    ctx.fillStyle = COLOURS.text;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    ctx.fillText('step', pad.left + w / 2, pad.top + h + 8);
    ctx.textAlign = 'left';
    ctx.fillText('0', pad.left, pad.top + h + 8);
    ctx.textAlign = 'right';
    ctx.fillText(String(this.#totalSteps), pad.left + w, pad.top + h + 8);

    const span = Math.max(1, this.#stepsPerEpoch || Math.ceil(this.#totalSteps / 10));
    this.#series(
      ctx,
      this.#points.map((p) => p.loss),
      yLoss,
      x,
      COLOURS.loss,
      span,
    );
    this.#series(
      ctx,
      this.#points.map((p) => p.dice),
      yDice,
      x,
      COLOURS.dice,
      span,
    );
    this.#held(ctx, yDice, pad.left, w);
  }

  /** Raw values faintly, then their moving average over `window` steps on top. */
  #series(ctx, values, y, x, colour, window) {
    if (!values.length) return;
    const line = (vs, width, alpha) => {
      ctx.globalAlpha = alpha;
      ctx.lineWidth = width;
      ctx.beginPath();
      vs.forEach((v, i) => (i ? ctx.lineTo(x(i), y(v)) : ctx.moveTo(x(i), y(v))));
      ctx.stroke();
    };
    ctx.strokeStyle = colour;
    ctx.fillStyle = colour;
    const smooth = window > 1 && values.length > 2;
    line(values, smooth ? 1 : 2, smooth ? 0.3 : 1);
    if (smooth) line(movingAverage(values, window), 2.5, 1);
    ctx.globalAlpha = 1;
    // Dots while there are few steps, so a two-step run is visibly a curve.
    if (values.length <= 60) {
      values.forEach((v, i) => {
        ctx.beginPath();
        ctx.arc(x(i), y(v), smooth ? 2 : 3, 0, Math.PI * 2);
        ctx.fill();
      });
    }
    ctx.lineWidth = 1;
  }

  /** The held-back Dice as squares at each epoch's end (and at 0, before training). */
  #held(ctx, y, left, width) {
    if (!this.#heldOut.length) return;
    const x = (epoch) => left + (width * epoch * (this.#stepsPerEpoch || 1)) / this.#totalSteps;
    ctx.strokeStyle = COLOURS.held;
    ctx.fillStyle = COLOURS.held;
    ctx.lineWidth = 2;
    ctx.setLineDash([5, 3]);
    ctx.beginPath();
    this.#heldOut.forEach((h, i) => (i ? ctx.lineTo(x(h.epoch), y(h.dice)) : ctx.moveTo(x(h.epoch), y(h.dice))));
    ctx.stroke();
    ctx.setLineDash([]);
    for (const h of this.#heldOut) ctx.fillRect(x(h.epoch) - 4, y(h.dice) - 4, 8, 8);
    ctx.lineWidth = 1;
  }
}

/** Trailing mean over up to `window` values (a short start averages what there is). */
export function movingAverage(values, window) {
  const out = [];
  let sum = 0;
  values.forEach((v, i) => {
    sum += v;
    if (i >= window) sum -= values[i - window];
    out.push(sum / Math.min(i + 1, window));
  });
  return out;
}

/** 0.83 → 1, 1.7 → 2, 0.23 → 0.4: a round upper bound whose quarters are round too. */
function niceCeil(v) {
  const exp = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 4, 6, 8, 10]) if (v <= m * exp) return m * exp;
  return 10 * exp;
}

function formatTick(v) {
  return v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2);
}
