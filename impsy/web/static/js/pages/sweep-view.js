// A sweep's trials as a table: per trial its options, state and epoch progress while it
// runs; when done its epochs, best epoch, validation NLL and time, the chosen trial
// (lowest validation NLL) marked. The same view shows a running sweep job and a
// finished sweep's NAME-sweep.json from the models folder (see impsy/web/sweeps.py).

import { h, setText } from "../dom.js";

export const TRIAL_COLORS = ["#1f6feb", "#d9480f", "#1a7f37", "#8250df", "#bf8700", "#cf222e", "#0a7c86", "#6e7781"];

const fixed = (value, digits) => (value === null || value === undefined ? "–" : Number(value).toFixed(digits));
const plain = (value) => (value === null || value === undefined ? "–" : String(value));

/** The sweep's chart series: each trial's validation loss per epoch, in its colour. */
export function trialSeries(view) {
  return (view.trials || []).map((t, i) => ({
    color: TRIAL_COLORS[i % TRIAL_COLORS.length],
    points: (t.progress || []).map((p) => [p.epoch, p.val_loss ?? NaN]),
  }));
}

/** How far the sweep is, in trials: a finished trial counts 1, a running one its epochs' share. */
export function trialsDone(view) {
  return (view.trials || []).reduce((sum, t) => {
    if (t.state === "done" || t.state === "failed") return sum + 1;
    return sum + (t.epoch && t.epochs ? t.epoch / t.epochs : 0);
  }, 0);
}

export function sweepTable() {
  const caption = h("caption", {});
  const head = h("thead");
  const body = h("tbody");
  const table = h("table", { class: "list sweep-table", "aria-label": "sweep trials" }, caption, head, body);

  function show(view, running = false) {
    const columns = view.columns || [];
    head.replaceChildren(
      h(
        "tr",
        {},
        h("th", { scope: "col", class: "num" }, "trial"),
        ...columns.map((c) => h("th", { scope: "col", class: "num" }, c)),
        h("th", { scope: "col" }, "state"),
        h("th", { scope: "col" }, "progress"),
        ...["epochs", "best epoch", "val_nll", "seconds"].map((c) => h("th", { scope: "col", class: "num" }, c)),
        h("th", { scope: "col" }, ""),
      ),
    );
    body.replaceChildren(
      ...(view.trials || []).map((t, i) => {
        const chosen = view.best !== null && view.best !== undefined && t.number === view.best;
        const epochs = t.epochs_run ?? t.epoch;
        const bar = h("progress", {
          max: t.epochs || 1,
          value: t.state === "done" ? t.epochs || 1 : t.epoch || 0,
          "aria-label": `trial ${t.number} progress`,
        });
        return h(
          "tr",
          { class: chosen ? "best" : t.state, dataset: { trial: t.number }, "aria-current": chosen ? "true" : null },
          h("td", { class: "num" }, h("span", { class: "swatch", style: `background:${TRIAL_COLORS[i % TRIAL_COLORS.length]}` }), ` ${t.number}`),
          ...columns.map((c) => h("td", { class: "num" }, plain(t.params[c]))),
          h("td", { class: t.state === "failed" ? "bad" : "" }, t.state === "failed" && t.error ? `failed: ${t.error}` : t.state),
          h("td", {}, bar, t.epoch && t.state === "running" ? ` ${t.epoch} / ${t.epochs}` : ""),
          h("td", { class: "num" }, plain(epochs)),
          h("td", { class: "num" }, plain(t.best_epoch)),
          h("td", { class: "num" }, fixed(t.val_nll, 4)),
          h("td", { class: "num" }, fixed(t.seconds, 1)),
          h("td", { class: "chosen" }, chosen ? "★ chosen" : ""),
        );
      }),
    );
    const count = (view.trials || []).length;
    const where = view.studio ? ` on ${view.studio}` : "";
    const time = view.wall_seconds !== null && view.wall_seconds !== undefined ? `, ${view.wall_seconds.toFixed(1)} s` : "";
    const chosen = view.best ? `; chosen by lowest val_nll: trial ${view.best}` : running ? "" : "; no trial finished";
    setText(caption, `${count} trial${count === 1 ? "" : "s"}${where}${time}${chosen}`);
  }

  return { el: table, show };
}
