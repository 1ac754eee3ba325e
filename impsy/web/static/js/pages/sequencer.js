// Sequencer: the current pattern as a grid, with the playhead, the model's
// ghost steps (suggestions to accept or reject), transport and tempo.
// Every change goes through POST /api/sequencer and the grid is redrawn from
// the snapshot the server answers with.

import { ApiError, get, post } from "../api.js";
import { h, notice, setText } from "../dom.js";
import { store } from "../store.js";
import { learnCard } from "./learn.js";

const NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
const noteName = (n) => `${NOTE_NAMES[n % 12]}${Math.floor(n / 12) - 1}`;

export function mount(root) {
  const message = notice();
  const body = h("div");
  root.append(h("h1", {}, "Sequencer"), body, message);

  let snapshot = null;
  let cells = []; // cells[track][step]
  let playheadSteps = [];
  const tempo = h("input", { type: "number", id: "seq-tempo", min: 20, max: 300, step: "any" });
  const swing = h("input", { type: "number", id: "seq-swing", min: 0, max: 0.75, step: 0.05 });
  const tempoNow = h("output", { "aria-label": "current tempo" }, "–");
  const transportNow = h("output", { "aria-label": "transport state" }, "–");
  // With clock = "link": the session's peers and phase (refreshed with the snapshot).
  const linkNow = h("output", { "aria-label": "Link session", hidden: true }, "");
  const editMode = h("select", { id: "seq-edit-mode" }, h("option", { value: "step" }, "step"), h("option", { value: "live" }, "live"));
  const ghostsNow = h("output", { "aria-label": "ghost steps" }, "0");
  const undoNow = h("output", { "aria-label": "undo steps" }, "0");
  const grid = h("div", { class: "seq-grid", role: "grid", "aria-label": "Pattern" });

  // The step editor: the last clicked step's note, velocity and gate.
  let selected = null; // [track, step]
  const stepName = h("strong", {}, "click a step");
  const noteField = h("input", { type: "number", id: "seq-note", min: 0, max: 127 });
  const noteNow = h("output", { "aria-label": "step note name" }, "");
  const velocityField = h("input", { type: "number", id: "seq-velocity", min: 1, max: 127 });
  const gateField = h("input", { type: "number", id: "seq-gate", min: 0.05, max: 16, step: 0.05 });
  const editField = (field, action) =>
    field.addEventListener("change", () => {
      if (selected) act(action, [...selected, Number(field.value)]);
    });
  editField(noteField, "note");
  editField(velocityField, "velocity");
  editField(gateField, "gate");
  const editor = h(
    "div",
    { class: "seq-controls", role: "group", "aria-label": "Step" },
    h("span", {}, "Step: ", stepName),
    h("label", { for: "seq-note" }, "Note"), noteField, noteNow,
    h("label", { for: "seq-velocity" }, "Velocity"), velocityField,
    h("label", { for: "seq-gate" }, "Gate (steps)"), gateField,
  );

  function showSelected() {
    for (const el of grid.querySelectorAll(".seq-step.selected")) el.classList.remove("selected");
    if (!selected || !snapshot) return;
    const [t, s] = selected;
    const step = snapshot.pattern.tracks[t] && snapshot.pattern.tracks[t].steps[s];
    if (!step) return;
    cells[t][s].classList.add("selected");
    setText(stepName, `track ${t + 1} step ${s + 1}${step.on ? "" : " (off)"}`);
    const note = step.notes && step.notes.length ? step.notes[0] : 60;
    // Fields show what the server holds, unless someone is typing in them.
    if (document.activeElement !== noteField) noteField.value = note;
    setText(noteNow, noteName(note));
    if (document.activeElement !== velocityField) velocityField.value = step.velocity;
    if (document.activeElement !== gateField) gateField.value = step.gate;
  }
  const patternName = h("span");

  async function act(action, args = []) {
    try {
      const answer = await post("/api/sequencer", { action, args });
      show(answer.snapshot);
      message.show(`${action} ${args.join(" ")}`.trim(), "ok");
    } catch (err) {
      message.show(err.message, "error");
    }
  }

  tempo.addEventListener("change", () => act("tempo", [Number(tempo.value)]));
  swing.addEventListener("change", () => act("swing", [Number(swing.value)]));
  editMode.addEventListener("change", () => act("mode", [editMode.value]));

  const controls = h(
    "div",
    { class: "seq-controls" },
    h("div", { class: "segmented", role: "group", "aria-label": "Transport" },
      h("button", { type: "button", onclick: () => act("start") }, "Play"),
      h("button", { type: "button", onclick: () => act("stop") }, "Stop"),
      h("button", { type: "button", onclick: () => act("continue") }, "Continue"),
    ),
    h("span", {}, transportNow),
    linkNow,
    h("label", { for: "seq-tempo" }, "Tempo (BPM)"), tempo, h("span", {}, "now ", tempoNow),
    h("label", { for: "seq-swing" }, "Swing"), swing,
    h("label", { for: "seq-edit-mode" }, "Edit mode"), editMode,
  );
  const ghostBar = h(
    "div",
    { class: "seq-controls" },
    h("span", {}, "Model suggestions: ", ghostsNow),
    h("button", { type: "button", onclick: () => act("accept") }, "Accept"),
    h("button", { type: "button", onclick: () => act("reject") }, "Reject"),
    h("button", { type: "button", onclick: () => act("undo") }, "Undo"),
    h("span", { class: "hint" }, "(", undoNow, " to undo)"),
  );

  function buildGrid(pattern) {
    cells = [];
    grid.replaceChildren();
    const longest = Math.max(...pattern.tracks.map((t) => t.steps.length));
    const numbers = h("div", { class: "seq-row seq-head", "aria-hidden": "true" }, h("div", { class: "seq-track" }));
    for (let s = 0; s < longest; s += 1) numbers.append(h("div", { class: "seq-step" }, String(s + 1)));
    pattern.tracks.forEach((track, t) => {
      const row = h("div", { class: "seq-row", role: "row" });
      const head = h(
        "div",
        { class: "seq-track", role: "rowheader" },
        h("strong", {}, track.name || `track ${t + 1}`),
        h("small", {}, ` ${track.port || ""} ch ${track.channel}`),
        h("button", { type: "button", class: "small", "aria-label": `mute ${track.name}`, onclick: () => act("mute", [t, snapshot.pattern.tracks[t].muted ? 0 : 1]) }, "M"),
        h("button", { type: "button", class: "small", "aria-label": `solo ${track.name}`, onclick: () => act("solo", [t, snapshot.pattern.tracks[t].solo ? 0 : 1]) }, "S"),
      );
      row.append(head);
      const trackCells = track.steps.map((_, s) => {
        const cell = h("button", {
          type: "button",
          class: `seq-step${s % 4 === 0 ? " beat" : ""}`,
          role: "gridcell",
          "aria-label": `track ${t + 1} step ${s + 1}`,
          onclick: () => {
            selected = [t, s];
            act("toggle", [t, s]);
          },
        });
        row.append(cell);
        return cell;
      });
      cells.push(trackCells);
      grid.append(row);
    });
    grid.prepend(numbers);
  }

  function show(snap) {
    snapshot = snap;
    const pattern = snap.pattern;
    const shape = pattern.tracks.map((t) => t.steps.length).join(",");
    if (grid.dataset.shape !== shape) {
      grid.dataset.shape = shape;
      buildGrid(pattern);
    }
    setText(patternName, pattern.name || "");
    const ghosts = new Map((snap.ghosts || []).map((g) => [`${g.track}:${g.step}`, g]));
    pattern.tracks.forEach((track, t) => {
      const head = grid.children[t + 1].firstChild; // row 0 holds the step numbers
      head.classList.toggle("muted", Boolean(track.muted));
      head.classList.toggle("solo", Boolean(track.solo));
      head.querySelector(`[aria-label^="mute"]`).setAttribute("aria-pressed", String(Boolean(track.muted)));
      head.querySelector(`[aria-label^="solo"]`).setAttribute("aria-pressed", String(Boolean(track.solo)));
      head.classList.toggle("selected", snap.selected_track === t);
      track.steps.forEach((step, s) => {
        const cell = cells[t][s];
        const ghost = ghosts.get(`${t}:${s}`);
        cell.setAttribute("aria-pressed", String(Boolean(step.on)));
        cell.classList.toggle("on", Boolean(step.on));
        cell.classList.toggle("ghost", Boolean(ghost));
        const notes = step.on ? step.notes : ghost ? ghost.notes : [];
        setText(cell, notes && notes.length ? noteName(notes[0]) : "");
        cell.title = ghost ? `suggested: ${ghost.notes.map(noteName).join(" ")} vel ${ghost.velocity}` : step.on ? `${step.notes.map(noteName).join(" ")} vel ${step.velocity} gate ${step.gate}` : "";
      });
    });
    setText(ghostsNow, String((snap.ghosts || []).length));
    showSelected();
    setText(tempoNow, Number(snap.tempo).toFixed(1));
    setText(transportNow, snap.playing ? "playing" : "stopped");
    const link = snap.clock && snap.clock.link;
    linkNow.hidden = !link;
    if (link) {
      const peers = `${link.peers} peer${link.peers === 1 ? "" : "s"}`;
      setText(linkNow, `Link: ${peers}, beat ${Number(link.phase).toFixed(2)} of ${link.quantum}${link.start_stop_sync ? ", start/stop sync" : ""}`);
    }
    if (document.activeElement !== tempo) tempo.value = Number(snap.tempo).toFixed(1);
    if (document.activeElement !== swing) swing.value = snap.swing;
    editMode.value = snap.edit_mode;
    setText(undoNow, String(snap.undo ?? 0));
    movePlayhead(snap.playing && Array.isArray(snap.playheads) ? snap.playheads : []);
  }

  function movePlayhead(steps) {
    playheadSteps.forEach((s, t) => cells[t] && cells[t][s] && cells[t][s].classList.remove("playhead"));
    playheadSteps = steps.slice();
    playheadSteps.forEach((s, t) => cells[t] && cells[t][s] && cells[t][s].classList.add("playhead"));
  }

  let refetch = null;
  function scheduleRefresh() {
    if (refetch) return;
    refetch = setTimeout(async () => {
      refetch = null;
      try {
        show(await get("/api/sequencer"));
      } catch (err) {
        message.show(err.message, "error");
      }
    }, 100);
  }

  const offFrame = store.on("frame", (frame) => {
    if (!snapshot || !frame.sequencer) return;
    for (const event of frame.sequencer) {
      if (event.kind === "playhead") {
        const d = event.data;
        if (snapshot.playing) movePlayhead(Array.isArray(d.steps) ? d.steps : []);
      } else {
        scheduleRefresh();
      }
    }
  });

  get("/api/sequencer").then(
    (snap) => {
      const learn = learnCard(message);
      body.replaceChildren(h("p", {}, "Pattern: ", patternName), controls, ghostBar, h("div", { class: "seq-scroll" }, grid), editor, learn.card);
      show(snap);
    },
    (err) => {
      if (err instanceof ApiError && err.status === 404) {
        body.replaceChildren(
          h("p", { class: "notice error", role: "alert" }, "The sequencer is not enabled in this run's config."),
          h("p", {}, "To enable it, add a ", h("code", {}, "[sequencer]"), " section to the config file (on the Config page, or in ", h("code", {}, (store.status && store.status.config) || "config.toml"), "), for example:"),
          h("pre", { class: "preview" }, "[sequencer]\ntempo = 120\ntracks = 2        # tracks on MIDI channels 1 and 2\nmodel_track = 0   # the model plays on the first track"),
          h("p", {}, "then restart ", h("code", {}, "impsy run"), "."),
        );
      } else {
        body.replaceChildren(h("p", { class: "notice error", role: "alert" }, err.message));
      }
    },
  );
  return () => {
    offFrame();
    clearTimeout(refetch);
  };
}
