// Control: the live settings. Every control shows what the server answered
// (POST /api/control returns the new status), never what was typed or clicked.

import { post } from "../api.js";
import { h, notice, setText } from "../dom.js";
import { store } from "../store.js";
import { steeringCard } from "./steering.js";

const MODES = [
  ["callresponse", "the model answers when you stop"],
  ["polyphony", "the model plays along with you"],
  ["battle", "the model plays on its own"],
  ["accompany", "the model fills in the rest of each of your gestures, at once"],
  ["useronly", "the model is silent; record training data"],
];

const NUMBERS = [
  ["pitemp", "pi temperature", "mixture choice; higher = more variety", 0.01, 10],
  ["sigmatemp", "sigma temperature", "spread of each value; higher = wilder", 0.0001, 10],
  ["timescale", "timescale", "multiplies the model's time gaps; 2 = half as fast", 0.05, 20],
  ["threshold", "threshold (s)", "silence before the model answers (callresponse)", 0.01, 10],
];

const NAMES = Object.fromEntries(NUMBERS.map(([key]) => [key, true]));

// Sliders move on a log scale: these values span orders of magnitude.
const toSlider = (value, low, high) =>
  Math.round((1000 * Math.log(value / low)) / Math.log(high / low));
const fromSlider = (position, low, high) => low * (high / low) ** (position / 1000);

function shown(value) {
  if (value === null || value === undefined) return "–";
  return String(Number(Number(value).toPrecision(4)));
}

export function mount(root) {
  const message = notice();
  const modeButtons = {};
  const modeGroup = h("div", { class: "segmented", role: "group", "aria-label": "Mode" });
  for (const [mode, hint] of MODES) {
    modeButtons[mode] = h(
      "button",
      { type: "button", "aria-pressed": "false", title: hint, onclick: () => apply({ mode }) },
      mode,
    );
    modeGroup.append(modeButtons[mode]);
  }
  const pause = h("input", {
    type: "checkbox",
    id: "paused",
    onchange: (event) => {
      const wanted = event.target.checked;
      event.target.checked = !wanted; // shown as the server answers, not as clicked
      apply({ pause: wanted });
    },
  });
  const currentMode = h("output", { "aria-label": "current mode" }, "–");
  const rows = {};
  const numberRows = NUMBERS.map(([key, label, hint, low, high]) => {
    const id = `control-${key}`;
    const slider = h("input", {
      type: "range",
      min: 0,
      max: 1000,
      "aria-label": `${label} slider`,
      oninput: () => queue(key, fromSlider(Number(slider.value), low, high)),
    });
    const field = h("input", {
      type: "number",
      id,
      step: "any",
      min: 0,
      inputmode: "decimal",
      onchange: () => apply({ [key]: Number(field.value) }),
    });
    const current = h("output", { for: id, "aria-label": `current ${key}` }, "–");
    rows[key] = { slider, field, current, low, high };
    return h(
      "div",
      { class: "control-row" },
      h("label", { for: id }, label, h("small", {}, hint)),
      slider,
      field,
      h("span", { class: "current" }, "now ", current),
    );
  });

  const steering = steeringCard(message);
  root.append(
    h("h1", {}, "Control"),
    h("section", { class: "card", "aria-labelledby": "mode-h" },
      h("h2", { id: "mode-h" }, "Mode"),
      modeGroup,
      h("p", {}, "Current mode: ", currentMode),
      h("p", { class: "inline" },
        h("label", { for: "paused" }, pause, " Paused (the model is silent; your input is still logged)"),
      ),
      h("p", {}, h("button", { type: "button", onclick: () => apply({ reset: true }) }, "Reset model state"),
        " forget the LSTM's memory and start a fresh phrase"),
    ),
    h("section", { class: "card", "aria-labelledby": "settings-h" },
      h("h2", { id: "settings-h" }, "Settings"),
      ...numberRows,
    ),
    steering.card,
    message,
  );

  const render = (status) => {
    if (!status || status.running === false) {
      if (status) message.show("No performance is running: start `impsy run` to control it.", "error");
      return;
    }
    for (const [mode, button] of Object.entries(modeButtons)) {
      button.setAttribute("aria-pressed", String(status.mode === mode));
    }
    setText(currentMode, status.mode);
    steering.render(status);
    pause.checked = Boolean(status.paused);
    for (const [key, row] of Object.entries(rows)) {
      const value = status[key];
      if (value === undefined) continue;
      setText(row.current, shown(value));
      // Do not move what the musician is holding or typing into.
      if (document.activeElement !== row.field) row.field.value = shown(value);
      if (document.activeElement !== row.slider) row.slider.value = toSlider(value, row.low, row.high);
    }
  };

  let busy = Promise.resolve();
  async function apply(changes) {
    busy = busy.then(async () => {
      try {
        const status = await post("/api/control", changes);
        store.status = { ...(store.status || {}), ...status };
        render(status);
        const said = Object.keys(changes).map((key) =>
          key === "reset" ? "model state reset" : `${key}: ${key in NAMES ? shown(status[key]) : status[key]}`,
        );
        message.show(said.join(", "), "ok");
      } catch (err) {
        message.show(err.message, "error");
        store.refreshStatus().then(render, () => {});
      }
    });
    return busy;
  }

  // Slider drags send at most ~10 changes a second, the last one always.
  const pending = {};
  let timer = null;
  function queue(key, value) {
    pending[key] = Number(value.toPrecision(3));
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      const changes = { ...pending };
      for (const k of Object.keys(pending)) delete pending[k];
      apply(changes);
    }, 100);
  }

  render(store.status);
  const off = store.on("status", render);
  return () => {
    off();
    clearTimeout(timer);
  };
}
