// What the "Your patterns" card draws, in SVG (no library): the latent map with every
// training bar and the knobs' point, the decoded bar as step probabilities, and an audio
// loop's waveform with the onsets found and the step grid they landed on.
// Each view is built once and updated in place; the numbers come from GET /api/patterns,
// /api/patterns/map and /api/patterns/loops/<name> (impsy/web/API.md).

const NS = "http://www.w3.org/2000/svg";
const ACCENT = "#1f6feb";
const INK = "#1b1f24";
const MUTED = "#5b636e";
const LINE = "#d8dde3";
const CURRENT = "#d9480f";
const BAND_COLOURS = ["#8250df", "#1a7f37", "#bc4c00"]; // low, mid, high
const SOURCE_COLOURS = ["#1f6feb", "#1a7f37", "#8250df", "#bc4c00", "#bf3989", "#0a7f8f", "#9a6700", "#57606a"];
const round = (x, places = 3) => Number(Number(x).toFixed(places));

/** An SVG element: s("circle", {cx: 1, r: 2}, child...). */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// ------------------------------------------------------------------ the latent map

/**
 * The latent space in two dimensions: every training bar a dot (coloured by its file),
 * the knobs' point a ring, each knob an arrow (moving that knob by 1 moves the point
 * along it). Map y grows upwards.
 */
export function latentMap() {
  const size = 300;
  const svg = s("svg", { class: "learn-map", role: "img", "aria-label": "latent map", viewBox: `0 0 ${size} ${size}`, width: size, height: size });
  const frame = s("g");
  const dots = s("g", { class: "map-points" });
  const arrows = s("g", { class: "map-knobs" });
  const current = s("circle", { class: "map-current", r: 7, fill: "none", stroke: CURRENT, "stroke-width": 3 });
  const centre = s("circle", { r: 2, fill: CURRENT });
  const here = s("g", { "aria-label": "the knobs' point" }, current, centre);
  svg.append(frame, dots, arrows, here);
  const legend = document.createElement("ul");
  legend.className = "learn-legend";
  const caption = document.createElement("p");
  caption.className = "hint";
  let extent = 3;
  let axes = [[1, 0], [0, 1]];

  const px = (x) => round(size / 2 + (x / extent) * (size / 2 - 12), 2);
  const py = (y) => round(size / 2 - (y / extent) * (size / 2 - 12), 2);

  function drawFrame() {
    frame.replaceChildren(
      s("rect", { x: 0, y: 0, width: size, height: size, fill: "#fbfcfd", stroke: LINE }),
      s("line", { x1: px(-extent), x2: px(extent), y1: py(0), y2: py(0), stroke: LINE }),
      s("line", { x1: px(0), x2: px(0), y1: py(-extent), y2: py(extent), stroke: LINE }),
      s("circle", { cx: px(0), cy: py(0), r: round(px(1) - px(0), 2), fill: "none", stroke: LINE, "stroke-dasharray": "3 3" }),
    );
  }

  function setMap(map) {
    axes = map.axes;
    const far = Math.max(3, ...map.points.map(([x, y]) => Math.max(Math.abs(x), Math.abs(y))));
    extent = far * 1.05;
    drawFrame();
    dots.replaceChildren(
      ...map.points.map(([x, y], i) =>
        s("circle", { class: "map-point", cx: px(x), cy: py(y), r: 2.5, fill: SOURCE_COLOURS[map.source[i] % SOURCE_COLOURS.length], "fill-opacity": 0.55 }),
      ),
    );
    dots.setAttribute("data-count", String(map.points.length));
    arrows.replaceChildren(
      ...axes.map(([ax, ay], k) => {
        const tipX = px(ax * 1.5);
        const tipY = py(ay * 1.5);
        return s("g", { class: "map-knob" },
          s("line", { x1: px(0), y1: py(0), x2: tipX, y2: tipY, stroke: MUTED, "stroke-width": 1.5 }),
          s("text", { x: round(tipX + 3, 2), y: round(tipY - 3, 2), "font-size": 11, fill: MUTED }, `knob ${k + 1}`));
      }),
    );
    const shown = map.total > map.points.length ? ` (${map.points.length} of ${map.total} shown)` : "";
    const explained = map.knobs > 2 ? `, ${Math.round(map.explained * 100)} % of how they differ` : "";
    caption.textContent = map.total
      ? `${map.total} training bars${shown}; axes: ${map.plane}${explained}. Arrows: where each knob moves the point.`
      : "This model was trained before maps were kept: train it again to see your bars here.";
    const names = map.sources.map((name, i) => ({ name: name || "(unnamed)", i })).slice(0, SOURCE_COLOURS.length);
    legend.replaceChildren(
      ...names.map(({ name, i }) => {
        const item = document.createElement("li");
        const swatch = document.createElement("span");
        swatch.className = "swatch";
        swatch.style.background = SOURCE_COLOURS[i % SOURCE_COLOURS.length];
        item.append(swatch, name);
        return item;
      }),
    );
    if (map.sources.length > names.length) {
      const more = document.createElement("li");
      more.textContent = `+${map.sources.length - names.length} more (colours repeat)`;
      legend.append(more);
    }
  }

  /** The knobs' point, already on the map (``at``) or as knob values (projected here). */
  function setAt(at) {
    const [x, y] = at;
    const clamp = (v) => Math.max(-extent, Math.min(extent, v));
    for (const el of [current, centre]) {
      el.setAttribute("cx", px(clamp(x)));
      el.setAttribute("cy", py(clamp(y)));
    }
    here.setAttribute("data-x", String(round(x)));
    here.setAttribute("data-y", String(round(y)));
  }

  function setKnobs(point) {
    setAt([0, 1].map((d) => point.reduce((sum, v, k) => sum + v * (axes[k] ? axes[k][d] : 0), 0)));
  }

  drawFrame();
  const el = document.createElement("figure");
  el.className = "learn-view";
  el.append(svg, caption, legend);
  return { el, setMap, setAt, setKnobs };
}

// ------------------------------------------------------------------ the decoded bar

/** Per track and step the probability the step plays (opacity), the steps above the
 * threshold outlined, and a scale with the threshold marked. */
export function probabilityGrid() {
  const cell = 22;
  const left = 56;
  const svg = s("svg", { class: "learn-grid", role: "img", "aria-label": "step probabilities" });
  const cells = s("g");
  const scale = s("g");
  svg.append(cells, scale);
  let shape = "";
  let rects = [];

  function set(probability, threshold) {
    const tracks = probability.length;
    const steps = tracks ? probability[0].length : 0;
    const width = left + steps * cell + 4;
    const height = tracks * cell + 44;
    if (shape !== `${tracks}x${steps}`) {
      shape = `${tracks}x${steps}`;
      svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
      svg.setAttribute("width", width);
      svg.setAttribute("height", height);
      rects = probability.map((row, t) => row.map((_, k) =>
        s("rect", { class: "prob-cell", x: left + k * cell + 1, y: t * cell + 1, width: cell - 2, height: cell - 2, rx: 2, fill: ACCENT, "data-track": t, "data-step": k })));
      const labels = probability.map((_, t) => s("text", { x: 0, y: t * cell + 15, "font-size": 11, fill: MUTED }, `track ${t + 1}`));
      const beats = Array.from({ length: Math.floor(steps / 4) + 1 }, (_, b) =>
        s("line", { x1: left + b * 4 * cell, x2: left + b * 4 * cell, y1: 0, y2: tracks * cell, stroke: LINE }));
      cells.replaceChildren(...beats, ...labels, ...rects.flat());
    }
    probability.forEach((row, t) => row.forEach((p, k) => {
      const rect = rects[t][k];
      rect.setAttribute("fill-opacity", String(round(p)));
      rect.setAttribute("data-p", String(p));
      const on = p > threshold;
      rect.setAttribute("stroke", on ? INK : "none");
      rect.setAttribute("stroke-width", on ? 1.5 : 0);
      rect.setAttribute("class", on ? "prob-cell on" : "prob-cell");
    }));
    // The scale: probability 0..1 left to right, the threshold marked on it.
    const y = tracks * cell + 10;
    const w = steps * cell;
    const tx = left + threshold * w;
    scale.replaceChildren(
      s("defs", {}, s("linearGradient", { id: "learn-scale" },
        s("stop", { offset: "0", "stop-color": ACCENT, "stop-opacity": 0 }),
        s("stop", { offset: "1", "stop-color": ACCENT, "stop-opacity": 1 }))),
      s("rect", { x: left, y, width: w, height: 8, fill: "url(#learn-scale)", stroke: LINE }),
      s("text", { x: 0, y: y + 8, "font-size": 10, fill: MUTED }, "p 0 … 1"),
      s("line", { class: "threshold", x1: tx, x2: tx, y1: y - 3, y2: y + 11, stroke: CURRENT, "stroke-width": 2 }),
      s("text", { x: Math.min(tx, left + w - 80), y: y + 24, "font-size": 11, fill: CURRENT }, `threshold ${round(threshold, 2)}`),
    );
  }

  const el = document.createElement("figure");
  el.className = "learn-view";
  const caption = document.createElement("p");
  caption.className = "hint";
  caption.textContent = "The bar the knobs decode to: darker = more likely; outlined steps play (above the threshold).";
  el.append(svg, caption);
  return { el, set };
}

// ------------------------------------------------------------------ an audio loop

/**
 * A loop's waveform (min/max per column), the step grid at its tempo (bars and beats
 * darker), the onsets found (a line per onset in its band's colour) and, per band, the
 * detection function with the threshold a peak had to pass and the steps it gave.
 */
export function loopView() {
  const width = 1000;
  const wave = 120;
  const lane = 46;
  const svg = s("svg", { class: "learn-loop", role: "img", "aria-label": "loop waveform", viewBox: `0 0 ${width} ${wave + 3 * lane + 8}` });
  const caption = document.createElement("p");
  caption.className = "hint";

  function set(view) {
    const seconds = view.seconds;
    const x = (t) => round((t / seconds) * width, 2);
    const height = wave + view.bands.length * lane + 8;
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("data-seconds", String(seconds));
    // The waveform: the envelope as one closed shape, top edge then bottom edge back.
    const { low, high } = view.envelope;
    const columns = high.length;
    const peak = Math.max(1e-9, ...high.map(Math.abs), ...low.map(Math.abs));
    const wy = (v) => round(wave / 2 - (v / peak) * (wave / 2 - 4), 2);
    const cx = (i) => round(((i + 0.5) / columns) * width, 2);
    const top = high.map((v, i) => `${cx(i)},${wy(v)}`);
    const bottom = low.map((v, i) => `${cx(i)},${wy(v)}`).reverse();
    const envelope = s("polygon", { class: "waveform", points: [...top, ...bottom].join(" "), fill: "#8c959f", stroke: "#6e7781", "stroke-width": 0.5 });
    // The step grid at the loop's tempo.
    const total = view.bars * view.steps;
    const grid = [];
    for (let k = 0; k <= total; k += 1) {
      const t = k * view.step_s;
      if (t > seconds + 1e-9) break;
      const strong = k % view.steps === 0 ? 1.6 : k % 4 === 0 ? 0.9 : 0.4;
      grid.push(s("line", { class: "step-line", x1: x(t), x2: x(t), y1: 0, y2: height - 8, stroke: k % 4 === 0 ? MUTED : LINE, "stroke-width": strong }));
    }
    // Per band: the detection function, its threshold, the steps the onsets landed on.
    const lanes = view.bands.map((band, b) => {
      const y0 = wave + b * lane;
      const topFlux = Math.max(band.threshold * 1.5, ...band.flux);
      const fy = (v) => round(y0 + lane - 4 - (v / topFlux) * (lane - 10), 2);
      const span = band.flux_end - band.flux_start;
      const fx = (i) => x(band.flux_start + ((i + 0.5) / band.flux.length) * span);
      const steps = view.onsets.filter((o) => o.band === b).map((o) => {
        const t = o.step * view.step_s;
        return s("rect", { class: "found-step", x: x(t) - round((view.step_s / seconds) * width / 2, 2), y: y0 + 2, width: round((view.step_s / seconds) * width, 2), height: lane - 6, fill: BAND_COLOURS[b], "fill-opacity": 0.18, "data-band": b, "data-step": o.step });
      });
      return s("g", { class: "band", "data-band": band.name },
        s("rect", { x: 0, y: y0, width, height: lane, fill: b % 2 ? "#f6f8fa" : "#ffffff" }),
        ...steps,
        s("polyline", { class: "flux", points: band.flux.map((v, i) => `${fx(i)},${fy(v)}`).join(" "), fill: "none", stroke: BAND_COLOURS[b], "stroke-width": 1 }),
        s("line", { class: "flux-threshold", x1: 0, x2: width, y1: fy(band.threshold), y2: fy(band.threshold), stroke: BAND_COLOURS[b], "stroke-dasharray": "6 4", "stroke-width": 1 }),
        s("text", { x: 4, y: y0 + 13, "font-size": 12, fill: BAND_COLOURS[b] }, band.name));
    });
    const onsets = view.onsets.map((o) =>
      s("line", { class: "onset", x1: x(o.time), x2: x(o.time), y1: 0, y2: height - 8, stroke: BAND_COLOURS[o.band], "stroke-width": 2, "stroke-opacity": round(0.35 + 0.65 * o.strength, 2), "data-band": o.band, "data-time": o.time },
        s("title", {}, `${view.bands[o.band].name} onset at ${o.time.toFixed(3)} s → step ${(o.step % view.steps) + 1} of bar ${Math.floor(o.step / view.steps) + 1} (${o.offset >= 0 ? "+" : ""}${Math.round(o.offset * 100)} % of a step)`)));
    svg.replaceChildren(s("rect", { x: 0, y: 0, width, height: wave, fill: "#ffffff" }), envelope, ...lanes, ...grid, ...onsets);
    const counts = view.bands.map((band, b) => `${view.onsets.filter((o) => o.band === b).length} ${band.name}`).join(", ");
    caption.textContent = `${view.name}: ${view.seconds.toFixed(2)} s, ${view.bars} bar${view.bars === 1 ? "" : "s"} at ${view.tempo} BPM; onsets ${counts}. ` +
      "Each band's line is its level's rise; a peak above the dashed threshold is an onset (a coloured line), and it plays the nearest step (shaded)." +
      (view.problem ? ` Not used for training: ${view.problem}.` : "");
  }

  const el = document.createElement("figure");
  el.className = "learn-view wide";
  el.append(svg, caption);
  return { el, set };
}
