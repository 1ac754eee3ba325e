// Talking to the impsy server (see impsy/web/API.md).
//
// State-changing requests carry `X-Impsy: 1` (the server's CSRF rule). When the
// page was opened with ?token=..., the token goes along as a Bearer header and
// in the live socket's URL (the server also sets a cookie, but this keeps the
// page working where cookies are blocked).

const token = new URLSearchParams(window.location.search).get("token");
if (token) {
  // Keep it in memory (the server has also set its cookie), out of the address bar.
  window.history.replaceState(null, "", window.location.pathname + window.location.hash);
}

export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

function headers(extra = {}) {
  const all = { ...extra };
  if (token) all.Authorization = `Bearer ${token}`;
  return all;
}

async function answer(response) {
  const type = response.headers.get("Content-Type") || "";
  const body = type.includes("application/json") ? await response.json() : await response.text();
  if (!response.ok) {
    const message = (body && body.error) || `${response.status} ${response.statusText}`;
    throw new ApiError(message, response.status, body);
  }
  return body;
}

export async function get(path) {
  return answer(await fetch(path, { headers: headers(), cache: "no-store" }));
}

/** POST/PUT/DELETE with a JSON body. */
export async function send(method, path, body = {}) {
  const response = await fetch(path, {
    method,
    headers: headers({ "X-Impsy": "1", "Content-Type": "application/json" }),
    body: JSON.stringify(body),
  });
  return answer(response);
}

export const post = (path, body) => send("POST", path, body);
export const put = (path, body) => send("PUT", path, body);
export const del = (path) => send("DELETE", path, {});

/** Multipart upload of one file in the field ``file``. */
export async function upload(path, file) {
  const form = new FormData();
  form.append("file", file, file.name);
  return answer(await fetch(path, { method: "POST", headers: headers({ "X-Impsy": "1" }), body: form }));
}

/** A download URL that also works when the token came in the page's URL. */
export function fileUrl(kind, name) {
  const base = `/api/files/${encodeURIComponent(kind)}/${encodeURIComponent(name)}`;
  return token ? `${base}?token=${encodeURIComponent(token)}` : base;
}

/**
 * The /api/live WebSocket, reconnected (after 0.5 s, backing off to 2 s) whenever it
 * closes, e.g. when the server restarts. ``onFrame`` gets each parsed frame and
 * ``onState`` "open" / "closed".
 */
export function liveSocket(onFrame, onState = () => {}) {
  let socket = null;
  let delay = 500;
  let stopped = false;
  let timer = null;
  const open = () => {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const query = token ? `?token=${encodeURIComponent(token)}` : "";
    socket = new WebSocket(`${scheme}://${window.location.host}/api/live${query}`);
    socket.onopen = () => {
      delay = 500;
      onState("open");
    };
    socket.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      onFrame(frame);
    };
    socket.onclose = () => {
      onState("closed");
      if (stopped) return;
      timer = setTimeout(open, delay);
      delay = Math.min(2000, delay * 2);
    };
  };
  open();
  return {
    close() {
      stopped = true;
      clearTimeout(timer);
      if (socket) socket.close();
    },
  };
}
