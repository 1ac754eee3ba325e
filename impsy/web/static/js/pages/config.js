// Config: edit config.toml, validated as you type; saving is refused while the
// server finds errors, and each error is shown beside its line. A small wizard
// writes a new config that the server has checked; its port fields offer the
// machine's ports, and MIDI learn fills the input mapping from a controller.

import { get, post, put } from "../api.js";
import { h, notice } from "../dom.js";
import { learnPanel, loadPorts, midiChoices, portField, serialChoices } from "../ports.js";

const MODES = ["callresponse", "polyphony", "battle", "useronly"];

/** A textarea with line numbers on the left and messages beside their lines on the right. */
function editor() {
  const gutter = h("div", { class: "gutter", "aria-hidden": "true" });
  const notes = h("div", { class: "line-notes", "aria-hidden": "true" });
  const text = h("textarea", {
    id: "config-text",
    spellcheck: false,
    wrap: "off",
    autocapitalize: "off",
    "aria-label": "config.toml",
    "aria-describedby": "config-problems",
  });
  const box = h("div", { class: "editor" }, gutter, text, notes);
  let marks = new Map();
  const draw = () => {
    const count = text.value.split("\n").length;
    const numbers = [];
    const beside = [];
    for (let line = 1; line <= count; line += 1) {
      const mark = marks.get(line);
      numbers.push(h("div", { class: mark ? `ln ${mark.kind}` : "ln" }, String(line)));
      beside.push(
        h("div", { class: mark ? `note ${mark.kind}` : "note", dataset: { line }, title: mark ? mark.message : "" }, mark ? mark.message : ""),
      );
    }
    gutter.replaceChildren(...numbers);
    notes.replaceChildren(...beside);
    sync();
  };
  const sync = () => {
    gutter.scrollTop = text.scrollTop;
    notes.scrollTop = text.scrollTop;
  };
  text.addEventListener("scroll", sync);
  return {
    box,
    text,
    draw,
    mark(problems) {
      marks = new Map();
      for (const p of problems) {
        if (p.line && !marks.has(p.line)) marks.set(p.line, p);
      }
      draw();
    },
    goTo(line) {
      const lines = text.value.split("\n");
      const start = lines.slice(0, line - 1).join("\n").length + (line > 1 ? 1 : 0);
      text.focus();
      text.setSelectionRange(start, start + (lines[line - 1] || "").length);
    },
  };
}

export function mount(root) {
  const message = notice();
  const ed = editor();
  const path = h("code", {}, "config.toml");
  const problems = h("ul", { id: "config-problems", class: "problems", "aria-label": "Problems" });
  const saveButton = h("button", { type: "button", onclick: () => save() }, "Save");
  const wiz = wizard(() => load());

  root.append(
    h("h1", {}, "Config"),
    h(
      "section",
      { class: "card wide", "aria-labelledby": "config-h" },
      h("h2", { id: "config-h" }, "Edit ", path),
      h("p", { class: "hint" }, "Checked as you type. Saved only when valid; the running performance keeps its config until restarted."),
      ed.box,
      problems,
      h(
        "p",
        { class: "buttons" },
        h("button", { type: "button", onclick: () => validate(true) }, "Validate"),
        saveButton,
        h("button", { type: "button", onclick: () => load() }, "Reload"),
      ),
      message,
    ),
    wiz.box,
  );

  function showProblems(result) {
    const all = [
      ...(result.errors || []).map((e) => ({ ...e, kind: "error" })),
      ...(result.warnings || []).map((w) => ({ ...w, kind: "warning" })),
    ];
    ed.mark(all);
    problems.replaceChildren(
      ...all.map((p) =>
        h(
          "li",
          { class: p.kind },
          p.line ? h("button", { type: "button", class: "link", onclick: () => ed.goTo(p.line) }, `line ${p.line}`) : null,
          ` ${p.kind}: ${p.message}`,
        ),
      ),
    );
  }

  let checking = 0;
  async function validate(announce = false) {
    const id = ++checking;
    try {
      const result = await post("/api/config/validate", { text: ed.text.value });
      if (id !== checking) return result;
      showProblems(result);
      if (announce || !result.ok) {
        message.show(result.ok ? "valid" : `${result.errors.length} error(s): not saved`, result.ok ? "ok" : "error");
      } else {
        message.clear();
      }
      return result;
    } catch (err) {
      message.show(err.message, "error");
      return null;
    }
  }

  async function save() {
    try {
      const answer = await put("/api/config", { text: ed.text.value });
      showProblems({ errors: [], warnings: answer.warnings || [] });
      message.show(`saved ${answer.path}; restart impsy run to use it`, "ok");
    } catch (err) {
      if (err.body && err.body.errors) showProblems(err.body);
      message.show(`not saved: ${err.message}`, "error");
    }
  }

  async function load() {
    try {
      const config = await get("/api/config");
      path.textContent = config.path;
      ed.text.value = config.text;
      ed.mark([]);
      problems.replaceChildren();
      message.show(config.exists ? "" : "this file does not exist yet: saving creates it");
      validate();
    } catch (err) {
      message.show(err.message, "error");
    }
  }

  let typing = null;
  ed.text.addEventListener("input", () => {
    ed.draw();
    clearTimeout(typing);
    typing = setTimeout(() => validate(), 400);
  });

  load();
  return () => {
    clearTimeout(typing);
    wiz.stop();
  };
}

/** Asks a few questions; the server writes the config (and checks it) so it always runs. */
function wizard(onSaved) {
  const message = notice();
  const mode = h("select", { id: "wiz-mode" }, ...MODES.map((m) => h("option", { value: m }, m)));
  const model = h("select", { id: "wiz-model" }, h("option", { value: "" }, "no model (useronly)"));
  const dimension = h("input", { type: "number", id: "wiz-dimension", min: 2, value: 9 });
  const useOsc = h("input", { type: "checkbox", id: "wiz-osc", checked: true });
  const serverPort = h("input", { type: "number", id: "wiz-osc-in", min: 1, max: 65535, value: 6000 });
  const clientPort = h("input", { type: "number", id: "wiz-osc-out", min: 1, max: 65535, value: 6001 });
  const useMidi = h("input", { type: "checkbox", id: "wiz-midi" });
  const inField = portField("wiz-midi-in", "e.g. X-TOUCH");
  const outField = portField("wiz-midi-out", "e.g. Synth");
  const inDevice = inField.input;
  const outDevice = outField.input;
  const firstCc = h("input", { type: "number", id: "wiz-cc", min: 0, max: 127, value: 1 });
  const useSerial = h("input", { type: "checkbox", id: "wiz-serial" });
  const serialField = portField("wiz-serial-port", "e.g. /dev/ttyUSB0");
  const baudrate = h("input", { type: "number", id: "wiz-serial-baud", min: 1, value: 115200 });
  const portsNote = h("span", { class: "hint", id: "wiz-ports", role: "status" }, "looking for ports…");
  // A learned input mapping, once accepted (null: consecutive CCs from the first CC).
  let learned = null;
  const learnedNote = h("p", { class: "hint", id: "wiz-mapping" });
  const alsoOutput = h("input", { type: "checkbox", id: "wiz-learn-output", checked: true });
  const forget = h("button", { type: "button", class: "link", hidden: true, onclick: () => useLearned(null) }, "use consecutive CCs instead");
  function useLearned(mapping, session) {
    learned = mapping;
    forget.hidden = mapping === null;
    if (mapping === null) {
      learnedNote.textContent = "MIDI mapping: consecutive CCs on channel 1 from the first CC.";
    } else {
      const filled = session.filled ? ` and ${session.filled} controller(s) nobody moved` : "";
      learnedNote.textContent = `MIDI input mapping: learned from ${session.device}: ${session.labels.join(", ")}${filled}.`;
    }
  }
  useLearned(null);
  const learn = learnPanel({
    port: () => inDevice.value.trim(),
    dimension: () => Number(dimension.value),
    onAccept: (mapping, session) => {
      useLearned(mapping, session);
      useMidi.checked = true;
      message.show("learned mapping taken: Preview or Write config to see it in the config", "ok");
    },
  });

  async function refreshPorts() {
    portsNote.textContent = "looking for ports…";
    try {
      const { ports, summary } = await loadPorts();
      inField.choose(midiChoices(ports.midi.inputs));
      outField.choose(midiChoices(ports.midi.outputs));
      serialField.choose(serialChoices(ports.serial.ports));
      portsNote.textContent = summary;
    } catch (err) {
      portsNote.textContent = `ports could not be listed: ${err.message}`;
    }
  }
  refreshPorts();
  // The new config keeps this page's address (and token); only the port can move.
  const webuiPort = h("input", {
    type: "number",
    id: "wiz-webui-port",
    min: 1,
    max: 65535,
    value: Number(window.location.port) || 4000,
  });
  const preview = h("pre", { class: "preview", "aria-label": "Generated config" });

  const dims = new Map();
  get("/api/files").then(
    (listing) => {
      for (const f of listing.models || []) {
        if (!f.loadable) continue;
        dims.set(`models/${f.name}`, f.dimension);
        model.append(h("option", { value: `models/${f.name}` }, f.name));
      }
    },
    () => {},
  );
  model.addEventListener("change", () => {
    const d = dims.get(model.value);
    if (d && String(d) !== dimension.value) {
      dimension.value = d;
      dimension.dispatchEvent(new Event("change"));
    }
    if (!model.value) mode.value = "useronly";
  });
  // A learned mapping has one entry per value: another dimension needs another learn.
  dimension.addEventListener("change", () => {
    if (learned !== null && learned.length !== Number(dimension.value) - 1) {
      useLearned(null);
      message.show("the dimension changed: learn the MIDI mapping again", "error");
    }
  });

  function midiRequest() {
    const midi = { in_device: inDevice.value.trim(), out_device: outDevice.value.trim(), first_cc: Number(firstCc.value) };
    if (learned !== null) {
      midi.input_mapping = learned;
      if (alsoOutput.checked) midi.output_mapping = learned;
    }
    return midi;
  }

  async function generate(save) {
    if (save && !window.confirm("Replace the config file with the generated one?")) return;
    const request = {
      mode: mode.value,
      model: model.value,
      dimension: Number(dimension.value),
      osc: useOsc.checked ? { server_port: Number(serverPort.value), client_port: Number(clientPort.value) } : null,
      midi: useMidi.checked ? midiRequest() : null,
      serial: useSerial.checked ? { port: serialField.input.value.trim(), baudrate: Number(baudrate.value) } : null,
      webui_port: Number(webuiPort.value),
      save,
    };
    try {
      const answer = await post("/api/config/wizard", request);
      preview.textContent = answer.text;
      message.show(answer.saved ? "written; restart impsy run to use it" : "preview (not saved)", "ok");
      if (answer.saved) onSaved();
    } catch (err) {
      message.show(err.message, "error");
    }
  }

  const field = (input, label, ...extra) => h("div", { class: "field" }, h("label", { for: input.id }, label), input, ...extra);
  const box = h(
    "section",
    { class: "card wide", "aria-labelledby": "wizard-h" },
    h("h2", { id: "wizard-h" }, "New config wizard"),
    h(
      "div",
      { class: "form-grid" },
      field(mode, "Mode"),
      field(model, "Model"),
      field(dimension, "Dimension"),
      h("div", { class: "field" }, h("label", { for: "wiz-osc" }, useOsc, " OSC")),
      field(serverPort, "OSC listen port"),
      field(clientPort, "OSC send port"),
      h("div", { class: "field" }, h("label", { for: "wiz-midi" }, useMidi, " MIDI")),
      field(inDevice, "MIDI input port", inField.list),
      field(outDevice, "MIDI output port", outField.list),
      field(firstCc, "First CC number"),
      h("div", { class: "field" }, h("label", { for: "wiz-serial" }, useSerial, " Serial (CSV)")),
      field(serialField.input, "Serial port", serialField.list),
      field(baudrate, "Baud rate"),
      field(webuiPort, "Web UI port"),
    ),
    h("p", { class: "buttons" }, portsNote, h("button", { type: "button", onclick: () => refreshPorts() }, "Refresh ports")),
    learn.box,
    learnedNote,
    h("p", {}, h("label", { for: alsoOutput.id }, alsoOutput, " the MIDI output plays the learned mapping too"), " ", forget),
    h(
      "p",
      { class: "buttons" },
      h("button", { type: "button", onclick: () => generate(false) }, "Preview"),
      h("button", { type: "button", onclick: () => generate(true) }, "Write config"),
    ),
    message,
    preview,
  );
  return { box, stop: learn.stop };
}
