// Dashboard: what is running and how it is doing, refreshed from the live status.

import { formatBytes, h, setText } from "../dom.js";
import { store } from "../store.js";

const COUNTERS = [
  ["events_in", "events in"],
  ["outputs", "events out"],
  ["predictions", "predictions"],
  ["dropped_predictions", "dropped"],
  ["shed_predictions", "shed (overload)"],
  ["clipped_input", "clipped (out of 0-1)"],
  ["dropped_by_kernel", "lost in the socket"],
  ["bad_input", "bad input"],
  ["model_errors", "model errors"],
  ["resyncs", "resyncs"],
  ["log_rows", "log rows"],
];

const TIMING = [
  ["inference_p50_us", "inference p50", "µs"],
  ["inference_p99_us", "inference p99", "µs"],
  ["lateness_p50_ms", "lateness p50", "ms"],
  ["lateness_p99_ms", "lateness p99", "ms"],
  ["lateness_max_ms", "lateness max", "ms"],
];

function number(value, unit, digits = 1) {
  if (value === null || value === undefined) return "–";
  return `${Number(value).toFixed(digits)} ${unit}`;
}

/** A definition list whose values are updated in place. */
function table(rows) {
  const cells = {};
  const list = h("dl", { class: "facts" });
  for (const [key, label] of rows) {
    cells[key] = h("dd", { dataset: { key } }, "–");
    list.append(h("dt", {}, label), cells[key]);
  }
  return { list, cells };
}

export function mount(root) {
  const perf = table([
    ["mode", "mode"],
    ["paused", "paused"],
    ["responding", "model has the floor"],
    ["log", "log file"],
    ["config", "config"],
  ]);
  const model = table([
    ["file", "file"],
    ["shape", "shape"],
    ["format", "format / engine"],
    ["size", "size"],
  ]);
  const counters = table(COUNTERS);
  const timing = table([...TIMING.map(([key, label]) => [key, label]), ["priority", "loop priority"]]);
  const web = table([
    ["url", "address"],
    ["token", "token"],
    ["rate", "live updates"],
    ["socket", "live socket"],
  ]);
  const adapters = h("tbody");
  root.append(
    h("h1", {}, "Dashboard"),
    h(
      "div",
      { class: "cards three" },
      h("section", { class: "card", "aria-labelledby": "perf-h" }, h("h2", { id: "perf-h" }, "Performance"), perf.list),
      h("section", { class: "card span2", "aria-labelledby": "model-h" }, h("h2", { id: "model-h" }, "Model"), model.list),
      h(
        "section",
        { class: "card wide", "aria-labelledby": "adapters-h" },
        h("h2", { id: "adapters-h" }, "Adapters"),
        h("table", { class: "list" }, h("thead", {}, h("tr", {}, h("th", {}, "adapter"), h("th", {}, "address"), h("th", {}, "status"))), adapters),
      ),
      h("section", { class: "card", "aria-labelledby": "counters-h" }, h("h2", { id: "counters-h" }, "Counters"), counters.list),
      h("section", { class: "card", "aria-labelledby": "timing-h" }, h("h2", { id: "timing-h" }, "Timing"), timing.list),
      h("section", { class: "card", "aria-labelledby": "web-h" }, h("h2", { id: "web-h" }, "Web UI"), web.list),
    ),
  );

  let adapterKey = "";
  const render = (status) => {
    if (!status) return;
    const running = status.running !== false;
    setText(perf.cells.mode, running ? status.mode ?? "–" : "no performance running (impsy webui)");
    setText(perf.cells.paused, running ? (status.paused ? "yes" : "no") : "–");
    setText(perf.cells.responding, running ? (status.responding ? "yes" : "no") : "–");
    if (status.log !== undefined) setText(perf.cells.log, status.log || "not yet written");
    if (status.config !== undefined) setText(perf.cells.config, status.config || "–");
    if (status.model_info !== undefined) {
      const info = status.model_info;
      if (!info) {
        setText(model.cells.file, running ? "none (logging only)" : "–");
        for (const key of ["shape", "format", "size"]) setText(model.cells[key], "–");
      } else {
        setText(model.cells.file, info.file.split("/").pop());
        model.cells.file.title = info.file;
        setText(
          model.cells.shape,
          `dimension ${info.dimension}, ${info.layers} × ${info.units} LSTM units, ${info.mixtures} mixtures`,
        );
        setText(model.cells.format, `${info.format} / ${info.engine}`);
        setText(model.cells.size, formatBytes(info.size_bytes));
      }
    }
    for (const [key] of COUNTERS) {
      if (status[key] !== undefined) setText(counters.cells[key], status[key]);
    }
    for (const [key, , unit] of TIMING) {
      if (key in status) setText(timing.cells[key], number(status[key], unit, unit === "ms" ? 3 : 1));
    }
    if ("realtime" in status) {
      // docs/deployment.md, "Timing and priority": why a run may not get real-time priority
      setText(timing.cells.priority, status.realtime ? "real-time" : "normal (not permitted, or realtime = false)");
    }
    if (status.webui) {
      setText(web.cells.url, status.webui.url);
      setText(web.cells.token, status.webui.token_required ? "required" : "not required (local only)");
    }
    setText(web.cells.rate, `${store.framesPerSecond.toFixed(0)} frames/s`);
    setText(web.cells.socket, store.connected ? "connected" : "reconnecting…");
    if (Array.isArray(status.adapters)) {
      const key = JSON.stringify(status.adapters);
      if (key !== adapterKey) {
        adapterKey = key;
        adapters.replaceChildren(
          ...status.adapters.map((a) =>
            h(
              "tr",
              {},
              h("td", {}, a.name),
              h("td", {}, a.description || ""),
              h("td", {}, h("span", { class: `badge ${a.state}` }, a.state), a.detail ? ` ${a.detail}` : ""),
            ),
          ),
        );
        if (!status.adapters.length) adapters.append(h("tr", {}, h("td", { colspan: 3 }, "no adapters")));
      }
    }
  };
  render(store.status);
  const off = store.on("status", render);
  // The live frames carry the engine's fields; adapters and the model come from /api/status.
  const timer = setInterval(() => store.refreshStatus().catch(() => {}), 2000);
  return () => {
    off();
    clearInterval(timer);
  };
}
