// Scrolling step plots on a <canvas>, drawn by requestAnimationFrame.
//
// Each lane keeps its recent (time, value) points in fixed-size ring buffers
// (typed arrays, so pushing a point allocates nothing). Drawing walks only the
// points inside the visible window. Values are in [0, 1]; a value holds until
// the next one, as a knob or a note does, so lines are drawn as steps.

const CAPACITY = 4096;

export class Ring {
  constructor(capacity = CAPACITY) {
    this.times = new Float64Array(capacity);
    this.values = new Float32Array(capacity);
    this.capacity = capacity;
    this.start = 0;
    this.length = 0;
    this.changedFrom = Infinity; // oldest time pushed since the plot last drew
  }

  push(time, value) {
    if (time < this.changedFrom) this.changedFrom = time;
    const index = (this.start + this.length) % this.capacity;
    this.times[index] = time;
    this.values[index] = value;
    if (this.length < this.capacity) this.length += 1;
    else this.start = (this.start + 1) % this.capacity;
  }

  time(i) {
    return this.times[(this.start + i) % this.capacity];
  }

  value(i) {
    return this.values[(this.start + i) % this.capacity];
  }

  last() {
    return this.length ? this.value(this.length - 1) : null;
  }

  clear() {
    this.start = 0;
    this.length = 0;
    this.changedFrom = -Infinity;
  }

  /** Index of the last point at or before ``time`` (or 0). */
  indexAt(time) {
    let low = 0;
    let high = this.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.time(mid) <= time) low = mid;
      else high = mid - 1;
    }
    return Math.max(0, low);
  }
}

/**
 * Adds a step line for ring[start..] to the current path, one pixel column at a time:
 * however many points fall in a column, it costs at most four vertices (the level it
 * enters at, its lowest and highest values, the level it leaves at), so a burst of
 * thousands of gestures draws as fast as a few.
 */
function drawSteps(g, ring, start, xOf, yOf, width) {
  let column = Math.max(0, Math.floor(xOf(ring.time(start))));
  let level = yOf(ring.value(start));
  let low = level;
  let high = level;
  g.moveTo(column, level);
  for (let i = start + 1; i < ring.length; i += 1) {
    const x = Math.floor(xOf(ring.time(i)));
    const y = yOf(ring.value(i));
    if (x === column) {
      low = Math.min(low, y);
      high = Math.max(high, y);
    } else {
      if (low !== high) {
        g.lineTo(column, low);
        g.lineTo(column, high);
      }
      g.lineTo(column, level);
      g.lineTo(x, level);
      column = x;
      low = high = y;
      g.lineTo(x, y);
    }
    level = y;
  }
  if (low !== high) {
    g.lineTo(column, low);
    g.lineTo(column, high);
  }
  g.lineTo(column, level);
  g.lineTo(width, level);
}

/** Keeps a canvas's backing store matched to its CSS size and the screen's pixel ratio. */
export function autoSize(canvas, onResize) {
  const resize = () => {
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
    const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
      if (onResize) onResize();
    }
  };
  const observer = new ResizeObserver(resize);
  observer.observe(canvas);
  resize();
  return () => observer.disconnect();
}

// Redrawn on every frame anyway: the newest part, where late rows may still land.
const FRESH_SECONDS = 0.3;

/**
 * One lane: a canvas showing several series (here: input and output) over a time window.
 *
 * A strip chart: each frame moves the picture left by whole pixels (one blit) and
 * redraws only the newest strip, so its cost does not grow with the window or with
 * the number of gestures in it. A resize or a gap redraws everything.
 */
export class LanePlot {
  // ``range`` (optional): a function giving the [low, high] values the lane spans, for
  // values not in [0, 1] (the surprise meter's nats); a change of range redraws the lane.
  constructor(canvas, series, windowSeconds = 10, range = null) {
    this.canvas = canvas;
    this.context = canvas.getContext("2d");
    this.series = series.map((s) => ({ ...s, ring: s.ring || new Ring() }));
    this.windowSeconds = windowSeconds;
    this.range = range;
    this.span = [0, 1];
    this.drawnUntil = null; // time at the right edge of the picture, null: redraw all
    this.stopSizing = autoSize(canvas, () => {
      this.drawnUntil = null;
    });
  }

  destroy() {
    this.stopSizing();
  }

  /** Show the window ending at ``now`` (seconds, the clock of the rings' times). */
  draw(now) {
    const { canvas, context: g } = this;
    const width = canvas.width;
    const pxPerSecond = width / this.windowSeconds;
    if (this.range) {
      const [low, high] = this.range();
      if (low !== this.span[0] || high !== this.span[1]) {
        this.span = [low, high];
        this.drawnUntil = null;
      }
    }
    let changedFrom = Infinity;
    for (const { ring } of this.series) {
      changedFrom = Math.min(changedFrom, ring.changedFrom);
      ring.changedFrom = Infinity;
    }
    if (this.drawnUntil === null || Math.abs(now - this.drawnUntil) > 1) {
      this.drawnUntil = now;
      this.paint(0, now);
      return;
    }
    // (The clock estimate may step back a little: then the picture just waits.)
    const shift = Math.floor(Math.max(0, now - this.drawnUntil) * pxPerSecond);
    if (shift === 0 && changedFrom === Infinity) return; // nothing moved, nothing new
    this.drawnUntil += shift / pxPerSecond; // whole pixels: the old picture stays exact
    if (shift > 0) {
      g.save();
      g.globalCompositeOperation = "copy";
      g.drawImage(canvas, -shift, 0);
      g.restore();
    }
    const since = Math.min(changedFrom, this.drawnUntil - FRESH_SECONDS);
    const x0 = Math.max(0, Math.floor(width - (this.drawnUntil - since) * pxPerSecond) - 2);
    this.paint(x0, this.drawnUntil);
  }

  /** Paint columns ``x0``..right edge of the window ending at ``right``. */
  paint(x0, right) {
    const { canvas, context: g } = this;
    const width = canvas.width;
    const height = canvas.height;
    const pad = Math.max(2, Math.round(height * 0.06));
    const span = height - 2 * pad;
    const left = right - this.windowSeconds;
    const xOf = (t) => ((t - left) / this.windowSeconds) * width;
    const [low, high] = this.span;
    const yOf = (v) => pad + (1 - Math.min(1, Math.max(0, (v - low) / (high - low)))) * span;
    const from = left + (x0 / width) * this.windowSeconds - 0.05;
    g.save();
    g.beginPath();
    g.rect(x0, 0, width - x0, height);
    g.clip();
    g.clearRect(x0, 0, width - x0, height);
    g.strokeStyle = "rgba(0, 0, 0, 0.08)";
    g.lineWidth = 1;
    g.beginPath();
    for (const v of [low, (low + high) / 2, high]) {
      const y = Math.round(yOf(v)) + 0.5;
      g.moveTo(x0, y);
      g.lineTo(width, y);
    }
    for (let s = Math.ceil(Math.max(left, from)); s <= right; s += 1) {
      const x = Math.round(xOf(s)) + 0.5;
      g.moveTo(x, pad);
      g.lineTo(x, height - pad);
    }
    g.stroke();
    g.lineWidth = Math.max(1.5, (window.devicePixelRatio || 1) * 1.5);
    // The first series (the input) is drawn last, on top.
    for (let k = this.series.length - 1; k >= 0; k -= 1) {
      const { ring, color } = this.series[k];
      if (!ring.length) continue;
      g.strokeStyle = color;
      g.beginPath();
      drawSteps(g, ring, ring.indexAt(Math.max(left, from)), xOf, yOf, width);
      g.stroke();
    }
    g.restore();
  }
}

/** A static x/y line chart (training losses): redraw whenever the data changes. */
export function drawLineChart(canvas, series, { xLabel = "", yLabel = "" } = {}) {
  const g = canvas.getContext("2d");
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.width;
  const height = canvas.height;
  const pad = { left: 72 * ratio, right: 12 * ratio, top: 12 * ratio, bottom: 28 * ratio };
  g.clearRect(0, 0, width, height);
  const points = series.flatMap((s) => s.points.filter(([, y]) => Number.isFinite(y)));
  g.font = `${12 * ratio}px system-ui, sans-serif`;
  g.fillStyle = "#555";
  if (!points.length) {
    g.fillText("no data yet", pad.left, height / 2);
    return;
  }
  let [xMin, xMax] = [Math.min(...points.map((p) => p[0])), Math.max(...points.map((p) => p[0]))];
  let [yMin, yMax] = [Math.min(...points.map((p) => p[1])), Math.max(...points.map((p) => p[1]))];
  if (xMax === xMin) xMax = xMin + 1;
  if (yMax === yMin) {
    yMax += 0.5;
    yMin -= 0.5;
  }
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const xOf = (x) => pad.left + ((x - xMin) / (xMax - xMin)) * plotW;
  const yOf = (y) => pad.top + (1 - (y - yMin) / (yMax - yMin)) * plotH;
  g.strokeStyle = "#bbb";
  g.lineWidth = ratio;
  g.strokeRect(pad.left, pad.top, plotW, plotH);
  g.textAlign = "right";
  for (const y of [yMin, (yMin + yMax) / 2, yMax]) {
    g.fillText(y.toFixed(2), pad.left - 6 * ratio, yOf(y) + 4 * ratio);
  }
  g.textAlign = "center";
  g.fillText(`${xLabel} ${xMin}–${xMax}`.trim(), pad.left + plotW / 2, height - 8 * ratio);
  g.save();
  g.translate(12 * ratio, pad.top + plotH / 2);
  g.rotate(-Math.PI / 2);
  g.fillText(yLabel, 0, 0);
  g.restore();
  g.lineWidth = 2 * ratio;
  for (const { points: pts, color } of series) {
    const shown = pts.filter(([, y]) => Number.isFinite(y));
    if (!shown.length) continue;
    g.strokeStyle = color;
    g.fillStyle = color;
    g.beginPath();
    shown.forEach(([x, y], i) => (i ? g.lineTo(xOf(x), yOf(y)) : g.moveTo(xOf(x), yOf(y))));
    g.stroke();
    for (const [x, y] of shown) g.fillRect(xOf(x) - 2 * ratio, yOf(y) - 2 * ratio, 4 * ratio, 4 * ratio);
  }
}
