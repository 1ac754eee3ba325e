// Training: build a dataset from the logs, train a model with live progress
// (epoch, losses, a loss plot), cancel, and hot-swap the result into the
// running performance. With a sweep ("units=16,32 dropout=0,0.1", impsy train's
// --sweep) the job trains every trial, shows each one's progress, and ends with
// the trials table, the chosen trial marked; an earlier sweep's table can be opened.

import { get, post } from "../api.js";
import { h, notice, setText } from "../dom.js";
import { autoSize, drawLineChart } from "../plot.js";
import { store } from "../store.js";
import { sweepTable, trialSeries, trialsDone } from "./sweep-view.js";

const SIZES = ["xxs", "xs", "s", "m", "l", "xl"];
const LOSS_COLOR = "#1f6feb";
const VAL_COLOR = "#d9480f";

export function mount(root) {
  const message = notice();
  const dimension = h("input", { type: "number", id: "ds-dimension", min: 2, value: (store.status && store.status.dimension) || 9 });
  const dataset = h("select", { id: "tr-dataset" });
  const size = h("select", { id: "tr-size" }, ...SIZES.map((s) => h("option", { value: s, selected: s === "s" }, s)));
  const epochs = h("input", { type: "number", id: "tr-epochs", min: 1, value: 100 });
  const batch = h("input", { type: "number", id: "tr-batch", min: 1, value: 64 });
  const patience = h("input", { type: "number", id: "tr-patience", min: 1, value: 10 });
  const seqLength = h("input", { type: "number", id: "tr-seq", min: 2, value: 50 });
  const name = h("input", { type: "text", id: "tr-name", placeholder: "default: impsy's name for the size" });
  const sweep = h("input", {
    type: "text",
    id: "tr-sweep",
    placeholder: "e.g. units=16,32 dropout=0,0.1",
    "aria-describedby": "tr-sweep-check",
    oninput: () => checkSweepSoon(),
  });
  const sweepCheck = h("p", { class: "hint field-note", id: "tr-sweep-check", "aria-live": "polite" }, "empty: one training");
  const records = h("select", { id: "sw-record" });
  const sweepTitle = h("span", {}, "");
  const trials = sweepTable();
  const sweepOutputs = h("ul", { class: "outputs", "aria-label": "chosen trial's model" });
  const sweepCard = h(
    "section",
    { class: "card wide", "aria-labelledby": "sw-h", hidden: true },
    h("h2", { id: "sw-h" }, "Sweep: ", sweepTitle),
    h("div", { class: "sweep-scroll" }, trials.el),
    sweepOutputs,
  );

  const jobTitle = h("span", {}, "no job yet");
  const jobState = h("output", { "aria-label": "job state" }, "–");
  const epochText = h("output", { "aria-label": "epoch" }, "–");
  const lossText = h("output", { "aria-label": "loss" }, "–");
  const valText = h("output", { "aria-label": "validation loss" }, "–");
  const bar = h("progress", { max: 1, value: 0, "aria-label": "training progress" });
  const chart = h("canvas", { class: "loss-chart", role: "img", "aria-label": "loss per epoch" });
  const logTail = h("pre", { class: "log-tail", "aria-label": "job output" });
  const outputs = h("ul", { class: "outputs", "aria-label": "job outputs" });
  const cancel = h("button", { type: "button", class: "danger", disabled: true, onclick: () => cancelJob() }, "Cancel");
  const history = h("tbody");
  const lossLegend = h(
    "p",
    { class: "legend" },
    h("span", { class: "swatch", style: `background:${LOSS_COLOR}` }), " loss  ",
    h("span", { class: "swatch", style: `background:${VAL_COLOR}` }), " validation loss",
  );
  const sweepLegend = h("p", { class: "legend", hidden: true }, "validation loss of each trial, in its colour in the sweep's table");

  const field = (input, label) => h("div", { class: "field" }, h("label", { for: input.id }, label), input);
  root.append(
    h("h1", {}, "Training"),
    h(
      "div",
      { class: "cards two" },
      h(
        "section",
        { class: "card", "aria-labelledby": "ds-h" },
        h("h2", { id: "ds-h" }, "1. Build a dataset"),
        h("p", { class: "hint" }, "Turns every log of this dimension in logs/ into datasets/training-dataset-<D>d.npz."),
        field(dimension, "Dimension"),
        h("p", { class: "buttons" }, h("button", { type: "button", onclick: () => startDataset() }, "Build dataset")),
      ),
      h(
        "section",
        { class: "card", "aria-labelledby": "tr-h" },
        h("h2", { id: "tr-h" }, "2. Train a model"),
        h(
          "div",
          { class: "form-grid" },
          field(dataset, "Dataset"),
          field(size, "Model size"),
          field(epochs, "Epochs"),
          field(batch, "Batch size"),
          field(patience, "Patience"),
          field(seqLength, "Sequence length"),
          field(name, "Name"),
        ),
        h(
          "div",
          { class: "field" },
          h("label", { for: sweep.id }, "Sweep (optional)"),
          sweep,
          sweepCheck,
        ),
        h("p", { class: "buttons" }, h("button", { type: "button", onclick: () => startTraining() }, "Train")),
      ),
      h(
        "section",
        { class: "card wide", "aria-labelledby": "job-h" },
        h("h2", { id: "job-h" }, "Job: ", jobTitle),
        h(
          "dl",
          { class: "facts inline-facts" },
          h("dt", {}, "state"), h("dd", {}, jobState),
          h("dt", {}, "epoch"), h("dd", {}, epochText),
          h("dt", {}, "loss"), h("dd", {}, lossText),
          h("dt", {}, "validation loss"), h("dd", {}, valText),
        ),
        bar,
        lossLegend,
        sweepLegend,
        chart,
        h("p", { class: "buttons" }, cancel),
        outputs,
        h("details", {}, h("summary", {}, "output"), logTail),
      ),
      sweepCard,
      h(
        "section",
        { class: "card wide", "aria-labelledby": "hist-h" },
        h("h2", { id: "hist-h" }, "Earlier jobs"),
        h("table", { class: "list" }, h("thead", {}, h("tr", {}, ...["id", "kind", "state", "outputs"].map((c) => h("th", {}, c)))), history),
        h(
          "p",
          { class: "buttons sweep-open" },
          h("label", { for: records.id }, "Earlier sweeps"),
          records,
          h("button", { type: "button", onclick: () => openRecord() }, "Show sweep"),
        ),
      ),
    ),
    message,
  );

  let job = null;
  let poll = null;
  let progress = [];
  let sweepShown = null; // the job's sweep, or an opened record: the chart draws its trials
  const redraw = () =>
    drawLineChart(
      chart,
      job && job.sweep
        ? trialSeries(job.sweep)
        : [
            { color: LOSS_COLOR, points: progress.map((p) => [p.epoch, p.loss ?? NaN]) },
            { color: VAL_COLOR, points: progress.map((p) => [p.epoch, p.val_loss ?? NaN]) },
          ],
      { xLabel: "epoch", yLabel: job && job.sweep ? "validation loss" : "loss" },
    );
  const stopSizing = autoSize(chart, redraw);

  function showJob(j) {
    job = j;
    setText(jobTitle, `${j.sweep ? "sweep" : j.kind} #${j.id}${j.studio ? ` on ${j.studio}` : ""}`);
    setText(jobState, j.state);
    progress = j.progress || [];
    let last = progress[progress.length - 1];
    let current = null;
    if (j.sweep) {
      current = j.sweep.trials.find((t) => t.number === j.sweep.current) || null;
      last = current && current.progress.length ? current.progress[current.progress.length - 1] : null;
    }
    const prefix = current ? `trial ${current.number}: ` : "";
    setText(epochText, last ? `${prefix}${last.epoch} / ${last.epochs}` : "–");
    setText(lossText, last && last.loss !== null && last.loss !== undefined ? last.loss.toFixed(4) : "–");
    setText(valText, last && last.val_loss !== null && last.val_loss !== undefined ? last.val_loss.toFixed(4) : "–");
    if (j.sweep) {
      bar.max = j.sweep.count || 1;
      bar.value = j.state === "done" ? bar.max : trialsDone(j.sweep);
      showSweep(j.sweep, `job #${j.id}: ${j.sweep.spec}`, j.state === "running", false);
    } else if (j.kind === "train") {
      bar.max = last ? last.epochs : 1;
      bar.value = j.state === "done" ? bar.max : last ? last.epoch : 0;
    } else {
      bar.max = 1;
      bar.value = j.state === "done" ? 1 : 0;
    }
    lossLegend.hidden = Boolean(j.sweep);
    sweepLegend.hidden = !j.sweep;
    if (!j.sweep && sweepShown && sweepShown.job) hideSweep();
    cancel.disabled = j.state !== "running";
    logTail.textContent = (j.log_tail || []).join("\n");
    outputs.replaceChildren(
      ...(j.outputs || []).map((file) => {
        const playable = j.state === "done" && /\.(tflite|keras|h5)$/.test(file);
        return h(
          "li",
          {},
          h("code", {}, file),
          playable ? " " : null,
          playable ? h("button", { type: "button", "aria-label": `use this model now: ${file}`, onclick: () => useModel(file) }, "Use this model now") : null,
        );
      }),
    );
    if (j.error) message.show(j.error, "error");
    redraw();
  }

  function showSweep(view, title, running, record) {
    sweepShown = { job: !record };
    sweepCard.hidden = false;
    setText(sweepTitle, title);
    trials.show(view, running);
    const files = record ? view.outputs || [] : []; // a job lists its outputs itself
    sweepOutputs.replaceChildren(
      ...files.map((file) =>
        h(
          "li",
          {},
          "chosen trial's model: ",
          h("code", {}, file),
          " ",
          /\.(tflite|keras|h5)$/.test(file)
            ? h("button", { type: "button", "aria-label": `use the chosen trial's model: ${file}`, onclick: () => useModel(file) }, "Use it now")
            : null,
        ),
      ),
    );
  }

  function hideSweep() {
    sweepShown = null;
    sweepCard.hidden = true;
  }

  async function openRecord() {
    if (!records.value) {
      message.show("no sweep in models/ yet", "error");
      return;
    }
    try {
      const view = await get(`/api/sweeps/${encodeURIComponent(records.value)}`);
      showSweep(view, `models/${view.name}`, false, true);
    } catch (err) {
      message.show(err.message, "error");
    }
  }

  // The sweep text is checked by impsy train's own parser (on the server) as it is typed.
  let checkTimer = null;
  let checkSeq = 0;
  function checkSweepSoon() {
    clearTimeout(checkTimer);
    checkTimer = setTimeout(checkSweep, 250);
  }

  async function checkSweep() {
    const text = sweep.value.trim();
    const seq = ++checkSeq;
    if (!text) {
      sweepCheck.className = "hint field-note";
      setText(sweepCheck, "empty: one training");
      sweep.removeAttribute("aria-invalid");
      return true;
    }
    try {
      const found = await get(`/api/sweeps/check?sweep=${encodeURIComponent(text)}`);
      if (seq !== checkSeq) return true;
      const shown = found.trials.slice(0, 4).map((t) => Object.entries(t).map(([k, v]) => `${k}=${v}`).join(" "));
      const more = found.count > 4 ? ` … (${found.count - 4} more)` : "";
      sweepCheck.className = "hint field-note ok";
      setText(sweepCheck, `${found.count} trial${found.count === 1 ? "" : "s"}: ${shown.join(" | ")}${more}`);
      sweep.removeAttribute("aria-invalid");
      return true;
    } catch (err) {
      if (seq !== checkSeq) return false;
      sweepCheck.className = "field-note error";
      setText(sweepCheck, err.message);
      sweep.setAttribute("aria-invalid", "true");
      return false;
    }
  }

  async function follow(id) {
    clearTimeout(poll);
    try {
      const j = await get(`/api/jobs/${id}`);
      showJob(j);
      if (j.state === "running") {
        poll = setTimeout(() => follow(id), 500);
      } else {
        if (j.state === "done") message.show(`${j.sweep ? "sweep" : j.kind} finished`, "ok");
        refreshLists();
      }
    } catch (err) {
      message.show(err.message, "error");
      poll = setTimeout(() => follow(id), 2000);
    }
  }

  async function start(path, body) {
    try {
      const j = await post(path, body);
      message.show(j.sweep ? `sweep job #${j.id} started: ${j.sweep.count} trials` : `${j.kind} job #${j.id} started`, "ok");
      showJob(j);
      follow(j.id);
    } catch (err) {
      message.show(err.message, "error");
    }
  }

  function startDataset() {
    start("/api/jobs/dataset", { dimension: Number(dimension.value) });
  }

  async function startTraining() {
    if (!dataset.value) {
      message.show("no dataset yet: build one first", "error");
      return;
    }
    if (sweep.value.trim() && !(await checkSweep())) {
      message.show(`sweep: ${sweepCheck.textContent}`, "error");
      sweep.focus();
      return;
    }
    const body = {
      dataset: dataset.value,
      modelsize: size.value,
      numepochs: Number(epochs.value),
      batchsize: Number(batch.value),
      patience: Number(patience.value),
      sequence_length: Number(seqLength.value),
    };
    if (name.value.trim()) body.name = name.value.trim();
    if (sweep.value.trim()) body.sweep = sweep.value.trim();
    start("/api/jobs/train", body);
  }

  async function cancelJob() {
    if (!job) return;
    try {
      showJob(await post(`/api/jobs/${job.id}/cancel`, {}));
      message.show("cancelled", "ok");
    } catch (err) {
      message.show(err.message, "error");
    }
  }

  async function useModel(file) {
    try {
      const status = await post("/api/model/use", { file });
      store.status = { ...(store.status || {}), ...status };
      message.show(`now playing ${status.model}`, "ok");
    } catch (err) {
      message.show(err.message, "error");
    }
  }

  async function refreshLists() {
    try {
      const [listing, jobs] = await Promise.all([get("/api/files"), get("/api/jobs")]);
      const chosen = dataset.value;
      dataset.replaceChildren(...(listing.datasets || []).map((f) => h("option", { value: f.name }, `${f.name} (${f.dimension ?? "?"}d)`)));
      if (chosen) dataset.value = chosen;
      const picked = records.value;
      const sweeps = (listing.models || []).filter((f) => f.name.endsWith("-sweep.json"));
      records.replaceChildren(...sweeps.map((f) => h("option", { value: f.name }, f.name)));
      if (picked && sweeps.some((f) => f.name === picked)) records.value = picked;
      history.replaceChildren(
        ...jobs.jobs.map((j) =>
          h("tr", {}, h("td", {}, j.id), h("td", {}, j.kind), h("td", {}, j.state), h("td", {}, (j.outputs || []).join(", "))),
        ),
      );
      if (!job && jobs.jobs.length) {
        const latest = jobs.jobs[0];
        showJob(latest);
        if (latest.state === "running") follow(latest.id);
      }
    } catch (err) {
      message.show(err.message, "error");
    }
  }

  // The dimension to build for is the run's, once the status says what it is.
  const offStatus = store.on("status", (status) => {
    if (document.activeElement !== dimension && status.dimension) dimension.value = status.dimension;
    offStatus();
  });
  refreshLists();
  return () => {
    clearTimeout(poll);
    clearTimeout(checkTimer);
    stopSizing();
    offStatus();
  };
}
