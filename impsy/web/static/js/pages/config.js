// Config: edit config.toml, validated as you type; saving is refused while the
// server finds errors, and each error is shown beside its line. A small wizard
// writes a new config that the server has checked.

import { get, post, put } from "../api.js";
import { h, notice } from "../dom.js";

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
    wizard(() => load()),
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
  return () => clearTimeout(typing);
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
  const inDevice = h("input", { type: "text", id: "wiz-midi-in", placeholder: "e.g. X-TOUCH" });
  const outDevice = h("input", { type: "text", id: "wiz-midi-out", placeholder: "e.g. Synth" });
  const firstCc = h("input", { type: "number", id: "wiz-cc", min: 0, max: 127, value: 1 });
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
    if (d) dimension.value = d;
    if (!model.value) mode.value = "useronly";
  });

  async function generate(save) {
    if (save && !window.confirm("Replace the config file with the generated one?")) return;
    const request = {
      mode: mode.value,
      model: model.value,
      dimension: Number(dimension.value),
      osc: useOsc.checked ? { server_port: Number(serverPort.value), client_port: Number(clientPort.value) } : null,
      midi: useMidi.checked
        ? { in_device: inDevice.value, out_device: outDevice.value, first_cc: Number(firstCc.value) }
        : null,
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

  const field = (input, label) => h("div", { class: "field" }, h("label", { for: input.id }, label), input);
  return h(
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
      field(inDevice, "MIDI input port"),
      field(outDevice, "MIDI output port"),
      field(firstCc, "First CC number"),
      field(webuiPort, "Web UI port"),
    ),
    h(
      "p",
      { class: "buttons" },
      h("button", { type: "button", onclick: () => generate(false) }, "Preview"),
      h("button", { type: "button", onclick: () => generate(true) }, "Write config"),
    ),
    message,
    preview,
  );
}
