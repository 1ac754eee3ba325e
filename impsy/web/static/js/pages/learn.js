// "Your patterns" on the Sequencer page: the pattern model's latent knobs as sliders,
// generate / vary, the threshold, where decoded bars go (into the tracks or as ghost
// steps), training on the bank while the sequencer plays, and what the model is doing:
// the latent map with every training bar and the knobs' point, the decoded bar as step
// probabilities, and an audio loop's waveform with its onsets (learn-views.js).
// Every control is one row of the command table (POST /api/command): the same
// learn/... commands OSC and controller rules send. The views only read
// (GET /api/patterns...); the card polls once a second, so a knob moved over OSC or by
// a controller moves the point here too.

import { get, post } from "../api.js";
import { h, setText } from "../dom.js";
import { latentMap, loopView, probabilityGrid } from "./learn-views.js";

const shown = (value) => String(Number(Number(value).toFixed(2)));
const POLL_MS = 1000;

export function learnCard(message) {
  const state = h("output", { "aria-label": "pattern model" }, "–");
  const knobs = h("div", { class: "learn-knobs" });
  const threshold = h("input", { type: "range", id: "learn-threshold", min: 0.05, max: 0.95, step: 0.01, "aria-label": "threshold" });
  const target = h("select", { id: "learn-to" },
    h("option", { value: "track" }, "into the tracks"),
    h("option", { value: "ghost" }, "as ghost steps (Accept or Reject above)"));
  const seconds = h("input", { type: "number", id: "learn-seconds", min: 1, max: 600, step: 1, value: 10 });
  const train = h("button", { type: "button" }, "Train on this bank");
  const map = latentMap();
  const grid = probabilityGrid();
  const loop = loopView();
  const loopChoice = h("select", { id: "learn-loop" }, h("option", { value: "" }, "(no loops in the patterns folder)"));
  const loopTempo = h("input", { type: "number", id: "learn-loop-tempo", min: 20, max: 400, step: "any", value: 120 });
  const views = h("div", { class: "learn-views", hidden: true }, map.el, grid.el);
  loop.el.hidden = true;
  let sliders = [];
  let generation = -1;
  let loopsKnown = null;

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

  function showKnobs(status) {
    if (sliders.length !== status.knobs) {
      sliders = Array.from({ length: status.knobs }, (_, k) => {
        const slider = h("input", { type: "range", min: -3, max: 3, step: 0.01, "aria-label": `knob ${k + 1}` });
        const value = h("output", { "aria-label": `knob ${k + 1} value` }, "0");
        let timer = null;
        slider.addEventListener("input", () => {
          setText(value, shown(slider.value));
          map.setKnobs(sliders.map((s) => Number(s.slider.value))); // the point follows at once
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
  }

  async function refresh() {
    let view;
    try {
      view = await get("/api/patterns");
    } catch (err) {
      setText(state, err.message);
      return;
    }
    const status = view.status;
    if (document.activeElement !== target) target.value = status.to;
    if (loopsKnown === null) {
      loopsKnown = [];
      listLoops();
    }
    if (!status.knobs) {
      setText(state, status.training ? "training…" : "no pattern model yet: train one on this bank");
      knobs.replaceChildren();
      sliders = [];
      views.hidden = true;
      return;
    }
    setText(state, `${status.knobs} knobs, ${status.tracks} tracks${status.training ? " · training…" : ""}${status.pending ? " · a new bar at the next bar line" : ""}`);
    showKnobs(status);
    if (document.activeElement !== threshold) threshold.value = status.threshold;
    if (view.generation !== generation) {
      try {
        map.setMap(await get("/api/patterns/map"));
        generation = view.generation;
      } catch (err) {
        message.show(err.message, "error");
      }
    }
    const dragging = sliders.some((s) => document.activeElement === s.slider);
    if (dragging) map.setKnobs(sliders.map((s) => Number(s.slider.value)));
    else map.setAt(view.at);
    grid.set(view.probability, view.threshold);
    views.hidden = false;
  }

  async function listLoops() {
    try {
      const answer = await get("/api/patterns/loops");
      loopsKnown = answer.loops;
      const before = loopChoice.value;
      loopChoice.replaceChildren(
        ...(answer.loops.length
          ? answer.loops.map((name) => h("option", { value: name }, name))
          : [h("option", { value: "" }, `(no loops in ${answer.folder})`)]),
      );
      if (answer.loops.includes(before)) loopChoice.value = before;
    } catch (err) {
      message.show(err.message, "error");
    }
  }

  async function showLoop() {
    const name = loopChoice.value;
    if (!name) return;
    try {
      const query = `?tempo=${encodeURIComponent(loopTempo.value || 120)}`;
      loop.set(await get(`/api/patterns/loops/${encodeURIComponent(name)}${query}`));
      loop.el.hidden = false;
    } catch (err) {
      message.show(err.message, "error");
    }
  }

  threshold.addEventListener("change", () => run("learn/threshold", [Number(threshold.value)], `threshold: ${threshold.value}`));
  target.addEventListener("change", () => run("learn/to", [target.value], target.value === "ghost" ? "new bars come as ghost steps" : "new bars go into the tracks"));
  loopChoice.addEventListener("change", showLoop);
  loopTempo.addEventListener("change", showLoop);
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
      h("label", { for: "learn-threshold" }, "Threshold (lower: denser) "), threshold, " ",
      h("label", { for: "learn-to" }, "New bars go "), target),
    h("p", { class: "inline" }, h("label", { for: "learn-seconds" }, "Training seconds "), seconds, " ", train),
    views,
    h("p", { class: "inline" },
      h("label", { for: "learn-loop" }, "Audio loop "), loopChoice, " ",
      h("label", { for: "learn-loop-tempo" }, "the loop's BPM "), loopTempo, " ",
      h("button", { type: "button", onclick: () => listLoops().then(showLoop) }, "Show loop")),
    loop.el,
  );

  // Follow the server (knobs moved over OSC, a model trained elsewhere) while the card is
  // on the page; stop once it has left it.
  let attached = false;
  let busy = false;
  const timer = setInterval(async () => {
    if (card.isConnected) attached = true;
    else if (attached) {
      clearInterval(timer);
      return;
    }
    if (busy || document.hidden || !card.isConnected) return;
    busy = true;
    try {
      await refresh();
    } finally {
      busy = false;
    }
  }, POLL_MS);
  refresh();
  return { card, refresh };
}
