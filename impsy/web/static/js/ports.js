// The machine's ports for the config wizard, and MIDI learn (see impsy/web/API.md).
//
// Port fields are text inputs with a list of choices (a <datalist>): pick a port
// that is there, or type the name of one that is not plugged in yet. MIDI learn
// asks the server to listen to an input while the musician moves controls, and
// polls for what it has heard, so each control shows up as it is moved.

import { get, post } from "./api.js";
import { h, notice } from "./dom.js";

const POLL_MS = 300;

/** A text input with a list of choices; `choose(options)` replaces them ([{value, label}]). */
export function portField(id, placeholder) {
  const list = h("datalist", { id: `${id}-choices` });
  const input = h("input", { type: "text", id, placeholder, list: `${id}-choices`, autocomplete: "off" });
  return {
    input,
    list,
    choose(options) {
      list.replaceChildren(...options.map((o) => h("option", { value: o.value, label: o.label || undefined })));
    },
  };
}

/** GET /api/ports, and a one-line summary of it (or of why a part is missing). */
export async function loadPorts() {
  const ports = await get("/api/ports");
  const midi = ports.midi;
  const serial = ports.serial;
  const parts = [];
  if (midi.error) parts.push(midi.error);
  else {
    const ins = midi.inputs.filter((p) => !p.own).length;
    const outs = midi.outputs.filter((p) => !p.own).length;
    parts.push(`MIDI (${midi.api}): ${ins} input(s), ${outs} output(s)`);
  }
  parts.push(serial.error ? serial.error : `serial: ${serial.ports.length} port(s)`);
  return { ports, summary: parts.join("; ") };
}

/** Choices for a MIDI field: the name to paste, labelled with the full name when it differs. */
export function midiChoices(entries) {
  return entries
    .filter((p) => !p.own)
    .map((p) => ({ value: p.config_name, label: p.config_name === p.name ? "" : p.name }));
}

/** Choices for a serial field: each path (and its stable aliases), with what it is. */
export function serialChoices(entries) {
  const options = [];
  for (const p of entries) {
    const about = p.device !== p.path ? `${p.description} ${p.device}` : p.description;
    options.push({ value: p.path, label: about });
    for (const alias of p.aliases) options.push({ value: alias, label: `${p.path} (stable name)` });
  }
  return options;
}

/**
 * The learn step: listen to the chosen input, show each control as it is moved, and
 * hand the proposed mapping to `onAccept(mapping, session)` when the musician takes it.
 * `port()` and `dimension()` read the wizard's fields.
 */
export function learnPanel({ port, dimension, onAccept }) {
  const message = notice();
  const seconds = h("input", { type: "number", id: "wiz-learn-seconds", min: 1, max: 60, value: 10 });
  const learned = h("ol", { id: "wiz-learned", class: "outputs", "aria-label": "Learned controls" });
  const startButton = h("button", { type: "button", onclick: () => start() }, "Learn");
  const stopButton = h("button", { type: "button", disabled: true, onclick: () => stop() }, "Stop");
  const acceptButton = h("button", { type: "button", disabled: true, onclick: () => accept() }, "Use this mapping");
  let timer = null;
  let last = null;

  function show(session) {
    last = session;
    learned.replaceChildren(...session.labels.map((label, i) => h("li", { title: JSON.stringify(session.learned[i]) }, label)));
    const listening = session.state === "listening" || session.state === "starting";
    startButton.disabled = listening;
    stopButton.disabled = !listening;
    acceptButton.disabled = listening || session.state === "failed" || session.learned.length === 0;
    const heard = `${session.learned.length} of ${session.slots} value(s) learned`;
    if (session.state === "listening") {
      const left = session.remaining === null ? "" : `, ${Math.ceil(session.remaining)} s left`;
      message.show(`listening to ${session.device}: move up to ${session.slots} control(s), one after another (${heard}${left})`);
    } else if (session.state === "failed") {
      message.show(`learn failed: ${session.error}`, "error");
    } else if (session.state === "done") {
      const filled = session.filled ? `; the other ${session.filled} will be controllers nobody moved` : "";
      message.show(`done: ${heard}${filled}`, "ok");
    }
  }

  function poll() {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      try {
        const session = await get("/api/midi/learn");
        show(session);
        if (session.state === "listening" || session.state === "starting") poll();
      } catch (err) {
        message.show(err.message, "error");
      }
    }, POLL_MS);
  }

  async function start() {
    const name = port();
    if (!name) {
      message.show("choose a MIDI input port first", "error");
      return;
    }
    startButton.disabled = true;
    message.show(`opening ${name}…`);
    try {
      show(await post("/api/midi/learn", { port: name, dimension: dimension(), seconds: Number(seconds.value) }));
      poll();
    } catch (err) {
      startButton.disabled = false;
      message.show(err.message, "error");
    }
  }

  async function stop() {
    try {
      show(await post("/api/midi/learn/stop", {}));
    } catch (err) {
      message.show(err.message, "error");
    }
  }

  function accept() {
    if (last) onAccept(last.mapping, last);
  }

  const box = h(
    "div",
    { class: "learn", role: "group", "aria-labelledby": "wiz-learn-h" },
    h("h3", { id: "wiz-learn-h" }, "MIDI learn"),
    h(
      "p",
      { class: "hint" },
      "Press Learn, then move the controls the model should hear, one after another: each becomes one value, in that order (a key is two: note and velocity).",
    ),
    h("div", { class: "field" }, h("label", { for: seconds.id }, "Seconds to listen"), seconds),
    h("p", { class: "buttons" }, startButton, stopButton, acceptButton),
    message,
    learned,
  );
  return { box, stop: () => clearTimeout(timer) };
}
