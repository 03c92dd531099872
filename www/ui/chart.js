// The live training curve: loss (left axis) and batch Dice (right axis, 0–1) against steps,
// drawn on a plain canvas so no charting library (and no third-party code) is needed.

const COLOURS = { loss: '#c2410c', dice: '#1d4ed8', grid: '#d4d4d8', text: '#3f3f46', epoch: '#a1a1aa' };

export class TrainingChart {
  #canvas;
  #points = [];
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

  get points() {
    return this.#points.length;
  }

  #update() {
    const last = this.#points.at(-1);
    this.#canvas.dataset.points = String(this.#points.length);
    this.#canvas.setAttribute(
      'aria-label',
      last
        ? `Training curve: ${this.#points.length} of ${this.#totalSteps} steps, latest loss ${last.loss.toFixed(3)}, Dice ${last.dice.toFixed(3)}`
        : 'Training curve: no steps yet',
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

    this.#series(ctx, (p) => p.loss, yLoss, x, COLOURS.loss);
    this.#series(ctx, (p) => p.dice, yDice, x, COLOURS.dice);
  }

  #series(ctx, value, y, x, colour) {
    const pts = this.#points;
    if (!pts.length) return;
    ctx.strokeStyle = colour;
    ctx.fillStyle = colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    pts.forEach((p, i) => (i ? ctx.lineTo(x(i), y(value(p))) : ctx.moveTo(x(i), y(value(p)))));
    ctx.stroke();
    // Dots while there are few steps, so a two-step run is visibly a curve.
    if (pts.length <= 60) {
      pts.forEach((p, i) => {
        ctx.beginPath();
        ctx.arc(x(i), y(value(p)), 3, 0, Math.PI * 2);
        ctx.fill();
      });
    }
    ctx.lineWidth = 1;
  }
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
