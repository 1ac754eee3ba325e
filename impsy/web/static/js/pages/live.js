// Live: every value's input (your gestures) and output (the model's) as
// scrolling plots, with the last values as numbers. Drawn once per animation
// frame from the shared history; the DOM is touched only when a number changes.

import { h, setText } from "../dom.js";
import { LanePlot } from "../plot.js";
import { store } from "../store.js";

const INPUT_COLOR = "#1f6feb";
const OUTPUT_COLOR = "#d9480f";
const SURPRISE_COLOR = "#7048e8";
const WINDOW_SECONDS = 10;

function formatValue(value) {
  return value === null ? "–" : value.toFixed(3);
}

export function mount(root) {
  const lanes = h("div", { class: "lanes" });
  // The surprise meter: how unexpected each gesture was to the model (its NLL, nats).
  const surpriseCanvas = h("canvas", {
    class: "lane",
    role: "img",
    "aria-label": `surprise: each gesture's surprise over the last ${WINDOW_SECONDS} seconds`,
  });
  const surpriseLast = h("output", { class: "in", "aria-label": "surprise last value" }, "–");
  const surpriseRow = h(
    "div",
    { class: "lane-row surprise", style: "display:none" },
    h("div", { class: "lane-label", title: "each gesture's negative log-likelihood under the model (nats): higher is more unexpected" }, "surprise"),
    surpriseCanvas,
    h("div", { class: "lane-values" }, surpriseLast),
  );
  const surprisePlot = new LanePlot(
    surpriseCanvas,
    [{ color: SURPRISE_COLOR, ring: store.surprise }],
    WINDOW_SECONDS,
    () => store.surpriseRange,
  );
  const rate = h("span", { class: "rate" }, "–");
  const idle = h("p", { class: "notice", role: "status" });
  root.append(
    h("h1", {}, "Live"),
    h(
      "p",
      { class: "legend" },
      h("span", { class: "swatch", style: `background:${INPUT_COLOR}` }),
      " input (your gestures)  ",
      h("span", { class: "swatch", style: `background:${OUTPUT_COLOR}` }),
      ` output (the model)  · last ${WINDOW_SECONDS} s · `,
      rate,
    ),
    idle,
    lanes,
    surpriseRow,
  );

  let rows = [];
  let shape = "";
  const build = () => {
    setText(
      idle,
      store.status && store.status.running === false
        ? "No performance is running (this is impsy webui): start impsy run to see it live."
        : "",
    );
    const labels = store.labels();
    const key = `${store.inputs.length}|${labels.join(",")}`;
    if (key === shape) return;
    shape = key;
    for (const row of rows) row.plot.destroy();
    rows = labels.map((label, index) => {
      const canvas = h("canvas", {
        class: "lane",
        role: "img",
        "aria-label": `${label}: input and output over the last ${WINDOW_SECONDS} seconds`,
      });
      const lastIn = h("output", { class: "in", "aria-label": `${label} last input` }, "–");
      const lastOut = h("output", { class: "out", "aria-label": `${label} last output` }, "–");
      const row = h(
        "div",
        { class: "lane-row", dataset: { index } },
        h("div", { class: "lane-label" }, label),
        canvas,
        h("div", { class: "lane-values" }, lastIn, lastOut),
      );
      // Drawn straight from the shared history rings.
      const plot = new LanePlot(
        canvas,
        [
          { color: INPUT_COLOR, ring: store.inputs[index] },
          { color: OUTPUT_COLOR, ring: store.outputs[index] },
        ],
        WINDOW_SECONDS,
      );
      return { row, plot, lastIn, lastOut };
    });
    lanes.replaceChildren(...rows.map((r) => r.row));
    if (!rows.length) lanes.append(h("p", {}, "Waiting for the server's status…"));
  };
  build();
  const offStatus = store.on("status", build);

  let frame = 0;
  let lastRate = 0;
  let lastDraw = 0;
  const draw = (time) => {
    frame = requestAnimationFrame(draw);
    if (time - lastDraw < 15) return; // at most ~60 draws a second, whatever the display does
    lastDraw = time;
    const now = store.serverNow();
    for (const { plot, lastIn, lastOut } of rows) {
      plot.draw(now);
      setText(lastIn, formatValue(plot.series[0].ring.last()));
      setText(lastOut, formatValue(plot.series[1].ring.last()));
    }
    const metering = Boolean(store.status && store.status.surprise_on) || store.surprise.length > 0;
    surpriseRow.style.display = metering ? "" : "none"; // (a lane row's CSS display beats [hidden])
    if (metering) {
      surprisePlot.draw(now);
      const last = store.surprise.last();
      setText(surpriseLast, last === null ? "–" : last.toFixed(2));
    }
    if (time - lastRate > 500) {
      lastRate = time;
      setText(rate, `${store.framesPerSecond.toFixed(0)} updates/s`);
    }
  };
  frame = requestAnimationFrame(draw);
  return () => {
    cancelAnimationFrame(frame);
    offStatus();
    for (const row of rows) row.plot.destroy();
    surprisePlot.destroy();
  };
}
