// The log view: one logged performance drawn over time, and feedback on it.
// Mark a span good (more of this) or bad (never this) by dragging across the plot
// or typing its start and end; the marks are saved beside the log
// (PUT /api/logs/<name>/marks, NAME.log.marks.json) and `impsy dataset` applies them.

import { get, put } from "./api.js";
import { autoSize } from "./plot.js";
import { h, notice, setText } from "./dom.js";

const COLOURS = ["#1f6feb", "#d2691e", "#2e8b57", "#8a2be2", "#c71585", "#008b8b", "#b8860b", "#696969"];
const SHADE = { good: "rgba(46, 139, 87, 0.22)", bad: "rgba(200, 40, 40, 0.22)" };

/** A card that shows one log when asked: ``view.open(name)``. */
export function logView() {
  const message = notice();
  const title = h("h2", { id: "logview-title" }, "Log");
  const canvas = h("canvas", { class: "log-plot", role: "img", "aria-label": "the performance over time" });
  const from = h("input", { type: "number", id: "mark-from", min: "0", step: "0.1", size: 6 });
  const to = h("input", { type: "number", id: "mark-to", min: "0", step: "0.1", size: 6 });
  const list = h("ul", { class: "marks", "aria-label": "marked spans" });
  const summary = h("p", { class: "muted" });
  let view = null;
  let spans = [];
  let drag = null;

  const card = h(
    "section",
    { class: "card wide logview", "aria-labelledby": "logview-title", hidden: true },
    title,
    summary,
    canvas,
    h(
      "p",
      { class: "buttons" },
      h("label", { for: "mark-from" }, "from (s)"), " ", from, " ",
      h("label", { for: "mark-to" }, "to (s)"), " ", to, " ",
      h("button", { type: "button", onclick: () => add("good") }, "Mark good"),
      h("button", { type: "button", class: "danger", onclick: () => add("bad") }, "Mark bad"),
      h("button", { type: "button", onclick: () => save() }, "Save marks"),
    ),
    list,
    message,
  );

  const pad = () => ({ left: 8 * (window.devicePixelRatio || 1), right: 8 * (window.devicePixelRatio || 1) });
  const seconds = () => Math.max(view ? view.seconds : 1, 1e-6);
  const xOf = (t) => pad().left + (t / seconds()) * (canvas.width - pad().left - pad().right);
  const tOf = (x) => Math.max(0, Math.min(seconds(), ((x - pad().left) / (canvas.width - pad().left - pad().right)) * seconds()));

  function draw() {
    const g = canvas.getContext("2d");
    g.clearRect(0, 0, canvas.width, canvas.height);
    if (!view || !view.times.length) return;
    const top = 6;
    const height = canvas.height - 2 * top;
    for (const span of [...spans, ...(drag ? [{ ...drag, mark: "selecting" }] : [])]) {
      g.fillStyle = SHADE[span.mark] || "rgba(120, 120, 120, 0.2)";
      g.fillRect(xOf(span.start), 0, Math.max(1, xOf(span.end) - xOf(span.start)), canvas.height);
    }
    const dims = view.values[0].length;
    g.lineWidth = window.devicePixelRatio || 1;
    for (let d = 0; d < dims; d += 1) {
      g.strokeStyle = COLOURS[d % COLOURS.length];
      g.beginPath();
      view.times.forEach((t, i) => {
        const y = top + (1 - Math.max(0, Math.min(1, view.values[i][d]))) * height;
        if (i) g.lineTo(xOf(t), y);
        else g.moveTo(xOf(t), y);
      });
      g.stroke();
    }
  }

  function showList() {
    list.replaceChildren(
      ...spans.map((span, index) =>
        h(
          "li",
          { class: span.mark },
          `${span.mark} ${span.start.toFixed(1)}–${span.end.toFixed(1)} s `,
          h("button", { type: "button", "aria-label": `remove ${span.mark} ${span.start.toFixed(1)}–${span.end.toFixed(1)} s`, onclick: () => { spans.splice(index, 1); showList(); draw(); } }, "Remove"),
        ),
      ),
    );
    if (!spans.length) list.append(h("li", {}, "no marks yet: drag across the plot, or type from and to"));
  }

  function add(mark) {
    const start = Number(from.value);
    const end = Number(to.value);
    if (!(Number.isFinite(start) && Number.isFinite(end) && end > start && start >= 0)) {
      message.show("choose a span first: from must be below to", "error");
      return;
    }
    spans.push({ start, end, mark });
    spans.sort((a, b) => a.start - b.start);
    message.show(`${mark} ${start.toFixed(1)}–${end.toFixed(1)} s: not saved yet`);
    showList();
    draw();
  }

  async function save() {
    try {
      const saved = await put(`/api/logs/${encodeURIComponent(view.name)}/marks`, { spans });
      spans = saved.spans;
      message.show(`saved ${spans.length} mark(s) beside ${view.name}`, "ok");
    } catch (err) {
      message.show(err.message, "error");
    }
  }

  canvas.addEventListener("pointerdown", (event) => {
    const x = (event.offsetX * canvas.width) / canvas.clientWidth;
    drag = { start: tOf(x), end: tOf(x) };
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drag) return;
    drag.end = tOf((event.offsetX * canvas.width) / canvas.clientWidth);
    draw();
  });
  window.addEventListener("pointerup", () => {
    if (!drag) return;
    const [start, end] = [Math.min(drag.start, drag.end), Math.max(drag.start, drag.end)];
    from.value = start.toFixed(1);
    to.value = end.toFixed(1);
    drag = null;
    draw();
  });
  const stopSizing = autoSize(canvas, draw);

  card.open = async (name) => {
    card.hidden = false;
    setText(title, `Log ${name}`);
    message.show("reading the log…");
    try {
      view = await get(`/api/logs/${encodeURIComponent(name)}/performance`);
    } catch (err) {
      message.show(err.message, "error");
      return;
    }
    spans = view.marks.map((s) => ({ ...s }));
    setText(summary, `${view.rows} rows over ${view.seconds.toFixed(1)} s, dimension ${view.dimension}; green: good, red: bad`);
    message.clear();
    showList();
    draw();
    card.scrollIntoView({ block: "nearest" });
  };
  card.close = () => stopSizing();
  return card;
}
