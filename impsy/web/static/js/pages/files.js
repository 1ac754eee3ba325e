// Files: logs, datasets and models with size, date and dimension; download,
// delete (after a confirmation), upload models, and switch to a model. A log's
// View opens the log view (../logview.js): the performance over time, marked good/bad.

import { del, fileUrl, get, post, upload } from "../api.js";
import { formatBytes, formatDate, h, notice } from "../dom.js";
import { store } from "../store.js";
import { logView } from "../logview.js";

const KINDS = [
  ["logs", "Logs", "your recorded performances (one per run)"],
  ["datasets", "Datasets", "logs turned into training data"],
  ["models", "Models", "trained networks impsy can play with"],
];

export function mount(root) {
  const message = notice();
  const tables = {};
  const sections = KINDS.map(([kind, title, hint]) => {
    tables[kind] = h("tbody");
    return h(
      "section",
      { class: "card wide", "aria-labelledby": `files-${kind}` },
      h("h2", { id: `files-${kind}` }, title, h("small", {}, ` ${hint}`)),
      h(
        "table",
        { class: "list files", "aria-label": title },
        h("thead", {}, h("tr", {}, ...["name", "size", "date", "dimension", ""].map((c) => h("th", {}, c)))),
        tables[kind],
      ),
    );
  });
  let limit = 0;
  const limitText = h("span");
  const picker = h("input", { type: "file", id: "upload-model", accept: ".tflite,.keras,.h5" });
  const uploadButton = h("button", { type: "button", onclick: () => sendUpload() }, "Upload");
  const dialog = h("dialog", { "aria-labelledby": "confirm-title" });
  const viewer = logView();

  root.append(
    h("h1", {}, "Files"),
    h(
      "section",
      { class: "card wide" },
      h("h2", {}, "Upload a model"),
      h("p", {}, h("label", { for: "upload-model" }, "Model file (.tflite, .keras or .h5)"), " ", picker, " ", uploadButton, " ", limitText),
    ),
    viewer,
    ...sections,
    message,
    dialog,
  );

  function confirmDelete(kind, name) {
    return new Promise((resolve) => {
      dialog.replaceChildren(
        h("h2", { id: "confirm-title" }, `Delete ${name}?`),
        h("p", {}, `This removes the file from ${kind}/ for good.`),
        h(
          "form",
          { method: "dialog", class: "buttons" },
          h("button", { value: "cancel", autofocus: true }, "Cancel"),
          h("button", { value: "delete", class: "danger" }, "Delete"),
        ),
      );
      dialog.onclose = () => resolve(dialog.returnValue === "delete");
      dialog.returnValue = "";
      dialog.showModal();
    });
  }

  async function remove(kind, name) {
    if (!(await confirmDelete(kind, name))) return;
    try {
      await del(`/api/files/${kind}/${encodeURIComponent(name)}`);
      message.show(`deleted ${name}`, "ok");
    } catch (err) {
      message.show(err.message, "error");
    }
    refresh();
  }

  async function use(name) {
    try {
      const status = await post("/api/model/use", { file: name });
      store.status = { ...(store.status || {}), ...status };
      message.show(`now playing ${status.model}`, "ok");
    } catch (err) {
      message.show(err.message, "error");
    }
  }

  async function sendUpload() {
    const file = picker.files[0];
    if (!file) {
      message.show("choose a model file first", "error");
      return;
    }
    if (limit && file.size > limit) {
      message.show(`${file.name} is ${formatBytes(file.size)}; the limit is ${formatBytes(limit)}`, "error");
      return;
    }
    message.show(`uploading ${file.name}…`);
    try {
      const answer = await upload("/api/files/models", file);
      message.show(`saved ${answer.saved} (dimension ${answer.dimension})`, "ok");
      picker.value = "";
    } catch (err) {
      message.show(err.message, "error");
    }
    refresh();
  }

  async function refresh() {
    let listing;
    try {
      listing = await get("/api/files");
    } catch (err) {
      message.show(err.message, "error");
      return;
    }
    limit = listing.upload_limit || 0;
    limitText.textContent = limit ? `(at most ${formatBytes(limit)})` : "";
    for (const [kind] of KINDS) {
      const rows = (listing[kind] || []).map((f) =>
        h(
          "tr",
          {},
          h("td", { class: "name" }, f.name),
          h("td", { class: "num" }, formatBytes(f.size)),
          h("td", {}, formatDate(f.mtime)),
          h("td", { class: "num" }, f.dimension ?? "–"),
          h(
            "td",
            { class: "actions" },
            h("a", { href: fileUrl(kind, f.name), download: f.name, "aria-label": `download ${f.name}` }, "Download"),
            kind === "logs"
              ? h("button", { type: "button", "aria-label": `view ${f.name}`, onclick: () => viewer.open(f.name) }, "View")
              : null,
            kind === "models" && f.loadable
              ? h("button", { type: "button", "aria-label": `use ${f.name}`, onclick: () => use(f.name) }, "Use")
              : null,
            h("button", { type: "button", class: "danger", "aria-label": `delete ${f.name}`, onclick: () => remove(kind, f.name) }, "Delete"),
          ),
        ),
      );
      tables[kind].replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 5 }, "none yet"))]));
    }
  }

  refresh();
  return () => {
    viewer.close();
    if (dialog.open) dialog.close();
  };
}
