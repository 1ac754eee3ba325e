// The single-page app: a nav bar and one page per hash route (#/dashboard, ...).
// Each page module exports mount(root) which builds its DOM once and returns a
// function that stops its timers and listeners when another page is opened.

import { store, startStore } from "./store.js";
import * as dashboard from "./pages/dashboard.js";
import * as live from "./pages/live.js";
import * as control from "./pages/control.js";
import * as sequencer from "./pages/sequencer.js";
import * as files from "./pages/files.js";
import * as config from "./pages/config.js";
import * as training from "./pages/training.js";

const pages = { dashboard, live, control, sequencer, files, config, training };
const titles = {
  dashboard: "Dashboard",
  live: "Live",
  control: "Control",
  sequencer: "Sequencer",
  files: "Files",
  config: "Config",
  training: "Training",
};

let unmount = null;

function route() {
  const name = (window.location.hash.replace(/^#\/?/, "") || "dashboard").split("?")[0];
  const key = name in pages ? name : "dashboard";
  if (unmount) unmount();
  const root = document.getElementById("page");
  root.replaceChildren();
  root.dataset.page = key;
  document.title = `impsy · ${titles[key]}`;
  for (const link of document.querySelectorAll("nav a")) {
    const current = link.getAttribute("href") === `#/${key}`;
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  unmount = pages[key].mount(root) || null;
}

function showConnection(state) {
  const el = document.getElementById("connection");
  el.textContent = state === "open" ? "connected" : "reconnecting…";
  el.className = `conn ${state === "open" ? "ok" : "bad"}`;
}

store.on("connection", showConnection);
window.addEventListener("hashchange", route);
startStore();
route();
