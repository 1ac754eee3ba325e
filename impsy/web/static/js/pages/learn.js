// "Your patterns" on the Sequencer page: the pattern model's latent knobs as sliders,
// generate / vary, the threshold, and training on the bank while the sequencer plays.
// Every control is one row of the command table (POST /api/command): the same
// learn/... commands OSC and controller rules send. The grid above shows each new bar
// once the server has written it (at the next bar line while playing).

import { post } from "../api.js";
import { h, setText } from "../dom.js";

const shown = (value) => String(Number(Number(value).toFixed(2)));

export function learnCard(message) {
  const state = h("output", { "aria-label": "pattern model" }, "–");
  const knobs = h("div", { class: "learn-knobs" });
  const threshold = h("input", { type: "range", id: "learn-threshold", min: 0.05, max: 0.95, step: 0.01, "aria-label": "threshold" });
  const seconds = h("input", { type: "number", id: "learn-seconds", min: 1, max: 600, step: 1, value: 10 });
  const train = h("button", { type: "button" }, "Train on this bank");
  let sliders = [];

  async function run(name, args = [], said = name) {
    try {
      const answer = await post("/api/command", { name, args });
      message.show(said, "ok");
      await refresh();
      return answer.result;
    } catch (err) {
      message.show(err.message, "error");
      return null;
    }
  }

  async function refresh() {
    let status;
    try {
      status = (await post("/api/command", { name: "learn/status", args: [] })).result;
    } catch (err) {
      setText(state, err.message);
      return;
    }
    if (!status || !status.knobs) {
      setText(state, status && status.training ? "training…" : "no pattern model yet: train one on this bank");
      knobs.replaceChildren();
      sliders = [];
      return;
    }
    setText(state, `${status.knobs} knobs, ${status.tracks} tracks${status.training ? " · training…" : ""}${status.pending ? " · a new bar at the next bar line" : ""}`);
    if (sliders.length !== status.knobs) {
      sliders = Array.from({ length: status.knobs }, (_, k) => {
        const slider = h("input", { type: "range", min: -3, max: 3, step: 0.01, "aria-label": `knob ${k + 1}` });
        const value = h("output", { "aria-label": `knob ${k + 1} value` }, "0");
        let timer = null;
        slider.addEventListener("input", () => {
          setText(value, shown(slider.value));
          clearTimeout(timer); // a drag sends at most ~10 changes a second, the last always
          timer = setTimeout(() => run("learn/knob", [k, Number(slider.value)], `knob ${k + 1}: ${shown(slider.value)}`), 100);
        });
        return { slider, value, row: h("label", { class: "learn-knob" }, `knob ${k + 1} `, slider, value) };
      });
      knobs.replaceChildren(...sliders.map((s) => s.row));
    }
    sliders.forEach((s, k) => {
      const value = status[`knob${k}`];
      if (document.activeElement !== s.slider) s.slider.value = value;
      setText(s.value, shown(value));
    });
    if (document.activeElement !== threshold) threshold.value = status.threshold;
  }

  threshold.addEventListener("change", () => run("learn/threshold", [Number(threshold.value)], `threshold: ${threshold.value}`));
  train.addEventListener("click", async () => {
    train.disabled = true;
    setText(state, "training…");
    message.show("training on this bank and the patterns folder…", "info");
    const where = await run("learn/train", [Number(seconds.value) || 10], "trained: the new model comes in at the next bar line");
    train.disabled = false;
    if (where) message.show(`trained: ${where}`, "ok");
  });

  const card = h(
    "section",
    { class: "card learn", "aria-labelledby": "learn-h" },
    h("h2", { id: "learn-h" }, "Your patterns"),
    h("p", {}, "Pattern model: ", state),
    knobs,
    h("p", { class: "inline" },
      h("button", { type: "button", onclick: () => run("learn/generate", [], "a new bar") }, "Generate"), " ",
      h("button", { type: "button", onclick: () => run("learn/vary", [1], "a variation") }, "Vary"), " ",
      h("label", { for: "learn-threshold" }, "Threshold (lower: denser) "), threshold),
    h("p", { class: "inline" }, h("label", { for: "learn-seconds" }, "Training seconds "), seconds, " ", train),
  );
  refresh();
  return { card, refresh };
}
