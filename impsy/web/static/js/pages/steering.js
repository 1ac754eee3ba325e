// The Steering card of the Control page: who plays each dimension (role), what the
// model may play there (a range, a set of notes), a scale for the note outputs, the
// density tilt and the surprise meter. Every change is one command of the run's
// command table (POST /api/command), the same row OSC and controller rules reach; the
// card always shows what the server answered, never what was typed.

import { get, post } from "../api.js";
import { h, setText } from "../dom.js";
import { store } from "../store.js";

const ROLES = [
  ["both", "you and the model (IMPSY's behaviour)"],
  ["human", "yours: held at your value, the model plays the rest given it"],
  ["model", "the model's: your value for it is not fed to the model"],
];
const NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];

const numberOrNull = (text) => (text.trim() === "" ? null : Number(text));
const shown = (value) => (value === null || value === undefined ? "" : String(Number(Number(value).toPrecision(4))));

function notesText(notes) {
  return notes ? notes.join(" ") : "";
}

export function steeringCard(message) {
  const rows = h("tbody");
  const density = h("input", { type: "number", id: "steer-density", step: "any", min: -1000, max: 1000 });
  const surprise = h("input", { type: "checkbox", id: "steer-surprise" });
  const root = h("select", { id: "steer-root", "aria-label": "scale root" },
    ...NOTE_NAMES.map((name, pc) => h("option", { value: String(60 + pc) }, name)));
  const scale = h("select", { id: "steer-scale", "aria-label": "scale" });
  const fallbacks = h("output", { "aria-label": "steering fallbacks" }, "0");
  let built = "";
  const fields = [];

  async function run(name, args, said) {
    try {
      const answer = await post("/api/command", { name, args });
      store.status = { ...(store.status || {}), ...answer.status };
      render(answer.status, true);
      message.show(said, "ok");
    } catch (err) {
      message.show(err.message, "error");
      store.refreshStatus().then((status) => render(status, true), () => {});
    }
  }

  density.addEventListener("change", () => run("density", [Number(density.value)], `density: ${density.value}`));
  surprise.addEventListener("change", () => {
    const wanted = surprise.checked;
    surprise.checked = !wanted; // shown as the server answers
    run("surprise", [wanted], wanted ? "surprise meter on" : "surprise meter off");
  });

  get("/api/commands").then(({ commands }) => {
    const row = commands.find((c) => c.name === "scale");
    const arg = row && row.args.find((a) => a.name === "name");
    const names = arg && arg.choices && arg.choices.length ? arg.choices : ["major"];
    scale.replaceChildren(...names.map((n) => h("option", { value: n }, n.replace(/_/g, " "))));
  }, () => {});

  function build(status) {
    const labels = status.labels || [];
    const count = (status.dimension || 1);
    const key = `${count}|${labels.join(",")}`;
    if (key === built) return;
    built = key;
    fields.length = 0;
    const made = [];
    for (let dim = 0; dim < count; dim += 1) {
      const label = dim === 0 ? "dt (s)" : labels[dim] || `x${dim}`;
      const role = h("select", { "aria-label": `${label} role`, title: "who plays it" },
        ...ROLES.map(([value, hint]) => h("option", { value, title: hint }, value)));
      role.addEventListener("change", () => run("role", [dim, role.value], `${label}: ${role.value}`));
      const low = h("input", { type: "number", step: "any", "aria-label": `${label} lowest allowed` });
      const high = h("input", { type: "number", step: "any", "aria-label": `${label} highest allowed` });
      // The field edited is sent as typed; the other bound as the server holds it (the
      // boxes show rounded values, which must not move a bound nobody touched).
      const setRange = (edited) => {
        const held = fields[dim].range || [null, null];
        const lowValue = edited === "low" ? numberOrNull(low.value) : held[0];
        const highValue = edited === "high" ? numberOrNull(high.value) : held[1];
        const open = lowValue === null && highValue === null;
        const said = open ? "any value" : `${low.value || "…"} to ${high.value || "…"}`;
        run("range", open ? [dim] : [dim, lowValue, highValue], `${label}: ${said}`);
      };
      low.addEventListener("change", () => setRange("low"));
      high.addEventListener("change", () => setRange("high"));
      const notes = h("input", {
        type: "text",
        inputmode: "numeric",
        placeholder: dim === 0 ? "" : "any note",
        disabled: dim === 0,
        "aria-label": `${label} allowed notes`,
        title: "MIDI notes the model may play here, e.g. 60 62 64 (empty: any)",
      });
      notes.addEventListener("change", () => {
        const list = notes.value.split(/[\s,]+/).filter(Boolean).map(Number);
        run("notes", [dim, ...list], `${label}: ${list.length ? `${list.length} notes` : "any note"}`);
      });
      const held = h("output", { "aria-label": `${label} held value` }, "");
      fields[dim] = { role, low, high, notes, held };
      made.push(h("tr", {}, h("th", { scope: "row" }, label), h("td", {}, role), h("td", {}, held),
        h("td", {}, low), h("td", {}, high), h("td", {}, notes)));
    }
    rows.replaceChildren(...made);
  }

  function render(status, force = false) {
    if (!status || status.running === false || !status.steering) return;
    build(status);
    const s = status.steering;
    fields.forEach((f, dim) => {
      const keep = (el) => !force && document.activeElement === el;
      if (!keep(f.role)) f.role.value = s.roles[dim];
      setText(f.held, s.roles[dim] === "human" ? shown(s.held[dim]) : "");
      const range = s.ranges[String(dim)];
      f.range = range ? range.map((v) => (Number.isFinite(v) ? v : null)) : [null, null];
      if (!keep(f.low)) f.low.value = range && Number.isFinite(range[0]) ? shown(range[0]) : "";
      if (!keep(f.high)) f.high.value = range && Number.isFinite(range[1]) ? shown(range[1]) : "";
      if (!keep(f.notes)) f.notes.value = notesText(s.notes[String(dim)]);
    });
    if (force || document.activeElement !== density) density.value = shown(s.density);
    surprise.checked = Boolean(status.surprise_on);
    setText(fallbacks, String(status.steering_fallbacks ?? 0));
  }

  const applyScale = () => {
    const dims = store.status && store.status.note_dimensions;
    run("scale", [Number(root.value), scale.value], `${root.selectedOptions[0].text} ${scale.value} on the note outputs${dims && dims.length ? ` (${dims.join(", ")})` : ""}`);
  };
  const clearNotes = () => {
    const dims = (store.status && store.status.note_dimensions) || [];
    Promise.all(dims.map((d) => post("/api/command", { name: "notes", args: [d] }))).then(
      () => run("steering", [], "every note allowed again"),
      (err) => message.show(err.message, "error"),
    );
  };

  const card = h("section", { class: "card steering", "aria-labelledby": "steering-h" },
    h("h2", { id: "steering-h" }, "Steering"),
    h("p", { class: "hint" }, "Hold some dimensions and let the model play the rest; limit what it may play. ",
      "Every change applies from the model's next event."),
    h("table", { class: "list", "aria-label": "steering per dimension" },
      h("thead", {}, h("tr", {}, ...["dimension", "role", "held at", "lowest", "highest", "notes"].map((c) => h("th", {}, c)))),
      rows),
    h("p", { class: "inline" }, "Scale on the note outputs: ", root, " ", scale, " ",
      h("button", { type: "button", onclick: applyScale }, "Apply scale"), " ",
      h("button", { type: "button", onclick: clearNotes }, "Any note")),
    h("p", { class: "inline" }, h("label", { for: "steer-density" }, "Density (tilt per second of dt; above 0 denser) "), density),
    h("p", { class: "inline" }, h("label", { for: "steer-surprise" }, surprise, " Surprise meter (each gesture's NLL under the model: Live page, OSC /impsy/surprise)")),
    h("p", {}, "Steered draws that fell back to the nearest allowed value: ", fallbacks),
  );
  return { card, render };
}
