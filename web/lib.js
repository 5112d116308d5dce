// SPDX-License-Identifier: MIT
// What every page of the dashboard shares: the caller's key (kept in this
// tab's sessionStorage only), calls to the gateway's API, server-sent
// events read from a fetch, a small DOM builder and number formats.

const KEY = "switchboard.key";

export const session = {
  key: sessionStorage.getItem(KEY) || null,
  auth: "none", // "key": the gateway has an admin key; "none": local mode
  label: "",
};

export function setKey(key) {
  session.key = key || null;
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

// Fired when the API refuses the key (401): the shell asks for it again.
export const signedOut = new EventTarget();

export class ApiError extends Error {
  constructor(status, message, type) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

// Amounts of money stay the exact decimals the gateway wrote (strings):
// a double would round sub-cent costs.
const MONEY = new Set(["cost", "total_cost", "usage", "usage_daily", "usage_weekly",
  "usage_monthly", "limit", "limit_remaining", "limit_reserved", "total_credits",
  "total_usage"]);

export function parseJson(text) {
  return JSON.parse(text, (k, v, ctx) =>
    typeof v === "number" && MONEY.has(k) ? (ctx && ctx.source) || String(v) : v);
}

export function authHeaders(extra = {}) {
  const h = { ...extra };
  if (session.key) h.authorization = `Bearer ${session.key}`;
  return h;
}

// A call to the API: the parsed JSON answer, or an ApiError with the
// gateway's message. `raw`: the Response itself (streams), unread.
export async function api(path, { method = "GET", body, signal, raw = false, headers = {} } = {}) {
  const init = { method, signal, headers: authHeaders(headers) };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let r = await fetch(path, init);
  // a busy gateway says when to ask again (the reports, a few at a time)
  for (let tries = 0; r.status === 503 && method === "GET" && r.headers.get("retry-after") && tries < 3; tries++) {
    await new Promise((ok) => setTimeout(ok, 1000 * Number(r.headers.get("retry-after"))));
    r = await fetch(path, init);
  }
  if (r.status === 401) signedOut.dispatchEvent(new Event("signedout"));
  if (raw && r.ok) return r;
  const text = await r.text();
  let json = null;
  try {
    json = text ? parseJson(text) : null;
  } catch {
    json = null;
  }
  if (!r.ok) {
    const e = json && json.error;
    throw new ApiError(r.status, (e && (e.message || e)) || text || r.statusText,
      e && e.metadata && e.metadata.error_type);
  }
  return json;
}

// Server-sent events from a fetch Response (EventSource cannot send the
// Authorization header): yields {event, data} per event.
export async function* sseEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let end;
    while ((end = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "data") data.push(val);
        else if (field === "event") event = val;
      }
      if (data.length) yield { event, data: data.join("\n") };
    }
  }
}

// el("div", {class: "x", onclick: f, "data-k": 1}, child, "text", ...)
export function el(tag, attrs = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") n.addEventListener(k.slice(2), v);
    else if (k === "class") n.className = v;
    else if (k === "text") n.textContent = v;
    else if (v === true) n.setAttribute(k, "");
    else n.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    n.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return n;
}

export function clear(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

// A message in place of a page's content: why it could not be loaded.
export function errorBox(e) {
  const msg = e instanceof ApiError && e.status === 403
    ? `${e.message}: sign in with the admin key to see this page.`
    : e && e.message ? e.message : String(e);
  return el("p", { class: "error", role: "alert" }, msg);
}

// ---- formats ---------------------------------------------------------------

export const fmtInt = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"));

// USD from the exact decimal the gateway wrote: cents from a dollar up,
// four decimals from a cent up, and below a cent the exact amount (to 8
// decimals: a request's cost is often a fraction of a cent).
export function fmtUSD(s) {
  if (s === null || s === undefined) return "–";
  s = String(s);
  const v = Number(s);
  if (!Number.isFinite(v)) return s;
  const digits = Math.abs(v) >= 1 ? 2 : Math.abs(v) >= 0.01 ? 4 : 0;
  if (digits) return "$" + v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const [, frac = ""] = s.split(".");
  if (frac.length <= 8 && !/e/i.test(s)) return "$" + s;
  return "$" + v.toFixed(8).replace(/0+$/, "").replace(/\.$/, "");
}

export function fmtMs(v) {
  if (v === null || v === undefined || Number.isNaN(Number(v))) return "–";
  v = Number(v);
  if (v >= 1000) return `${(v / 1000).toFixed(2)} s`;
  return v > 0 && v < 10 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`;
}

export const fmtPct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`);

const pad = (n) => String(n).padStart(2, "0");

export function fmtTime(ms, withDate = false) {
  const d = new Date(ms);
  const t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return withDate ? `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${t}` : t;
}

// Repeat `fn` every `ms` while the page is shown; returns the stop function.
export function every(ms, fn) {
  const id = setInterval(() => {
    if (!document.hidden) fn();
  }, ms);
  return () => clearInterval(id);
}
