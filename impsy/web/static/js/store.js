// What every page shares: the latest status, the live socket, and the recent
// input/output history (kept while the app is open, so the Live page shows the
// last seconds as soon as it is opened).

import { get, liveSocket } from "./api.js";
import { Ring } from "./plot.js";

const listeners = { frame: new Set(), status: new Set(), connection: new Set() };

export const store = {
  status: null, // the last /api/status (or the status part of a live frame, merged in)
  connected: false,
  inputs: [], // Ring per value (x_1..x_n), times in the server's loop clock
  outputs: [],
  surprise: new Ring(), // the surprise meter: each gesture's NLL under the model (nats)
  surpriseRange: [0, 5], // the lowest and highest surprise seen, rounded out (for the plot)
  framesPerSecond: 0,
  clockOffset: Infinity, // client seconds minus server seconds (smallest seen)

  on(kind, callback) {
    listeners[kind].add(callback);
    return () => listeners[kind].delete(callback);
  },

  /** Now, on the server's loop clock (for drawing the scrolling plots). */
  serverNow() {
    const client = performance.now() / 1000;
    return Number.isFinite(this.clockOffset) ? client - this.clockOffset : client;
  },

  async refreshStatus() {
    const status = await get("/api/status");
    setStatus(status, true);
    return status;
  },

  labels() {
    const labels = (this.status && this.status.labels) || [];
    const count = this.inputs.length;
    return Array.from({ length: count }, (_, i) => labels[i + 1] || `x${i + 1}`);
  },
};

function emit(kind, value) {
  for (const callback of listeners[kind]) {
    try {
      callback(value);
    } catch (err) {
      console.error(err);
    }
  }
}

function setStatus(status, complete) {
  store.status = complete ? status : { ...(store.status || {}), ...status };
  const values = (store.status.dimension || 1) - 1;
  if (values > 0 && store.inputs.length !== values) {
    store.inputs = Array.from({ length: values }, () => new Ring());
    store.outputs = Array.from({ length: values }, () => new Ring());
  }
  emit("status", store.status);
}

function addRows(rings, rows) {
  for (const row of rows) {
    const time = row[0];
    for (let i = 1; i < row.length && i - 1 < rings.length; i += 1) {
      rings[i - 1].push(time, row[i]);
    }
  }
}

function addSurprise(rows) {
  let [low, high] = store.surpriseRange;
  for (const [time, value] of rows) {
    store.surprise.push(time, value);
    // Whole multiples of 5 nats: the lane's scale moves seldom, and only outwards.
    low = Math.min(low, Math.floor(value / 5) * 5);
    high = Math.max(high, Math.ceil(value / 5) * 5);
  }
  store.surpriseRange = [low, high];
}

let frameCount = 0;
let countStart = performance.now();

function onFrame(frame) {
  if (typeof frame.t === "number") {
    const offset = performance.now() / 1000 - frame.t;
    // The smallest offset seen is the one with the least network delay; creep up
    // slowly so a changed clock (a restarted server on another machine) is followed.
    store.clockOffset = Math.min(offset, store.clockOffset + 0.0001);
    if (Math.abs(offset - store.clockOffset) > 5) store.clockOffset = offset;
  }
  if (frame.status) setStatus(frame.status, false);
  if (frame.inputs) addRows(store.inputs, frame.inputs);
  if (frame.outputs) addRows(store.outputs, frame.outputs);
  if (frame.surprise) addSurprise(frame.surprise);
  frameCount += 1;
  const now = performance.now();
  if (now - countStart >= 1000) {
    store.framesPerSecond = (frameCount * 1000) / (now - countStart);
    frameCount = 0;
    countStart = now;
  }
  emit("frame", frame);
}

export function startStore() {
  liveSocket(onFrame, (state) => {
    store.connected = state === "open";
    if (store.connected) {
      store.clockOffset = Infinity;
      store.refreshStatus().catch(() => {});
    }
    emit("connection", state);
  });
  return store.refreshStatus().catch((err) => {
    console.warn("status:", err.message);
  });
}
