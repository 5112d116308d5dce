// SPDX-License-Identifier: MIT
// Live request log: GET /api/v1/admin/logs/live, server-sent events whose
// `data:` lines are access-log records (docs/observability.md), newest
// first, filtered as they arrive; paused, it keeps what it shows.
import { api, clear, el, errorBox, fmtInt, fmtMs, fmtTime, fmtUSD, parseJson, sseEvents } from "./lib.js";

export const title = "Live log";

const KEEP = 500; // rows shown at most
// what access records name as their door (docs/observability.md)
const DOORS = ["chat", "messages", "responses", "gemini", "embeddings", "skill", "models",
  "generation", "admin", "dashboard", "health", "metrics", "other"];
const MODEL_DOORS = "chat,messages,responses,gemini,embeddings,skill";

// One access record, whatever optional members it has.
function row(r) {
  const t = Date.parse(r.time);
  const tokens = (r.prompt_tokens ?? 0) + (r.completion_tokens ?? 0);
  const err = r.status >= 400;
  return el("tr", { class: err ? "err" : "", "data-id": r.id || "", "data-status": r.status },
    el("td", { class: "mono" }, Number.isNaN(t) ? r.time : fmtTime(t)),
    el("td", {}, r.door || ""),
    el("td", { class: "mono", title: r.path || "" }, `${r.method || ""} ${r.path || ""}`),
    el("td", {}, el("span", { class: `badge ${err ? "off" : "ok"}` }, String(r.status))),
    el("td", { title: r.model_requested && r.model && r.model_requested !== r.model ? `asked: ${r.model_requested}` : "" },
      r.model || r.model_requested || ""),
    el("td", {}, r.provider || "", r.attempts > 1 ? el("span", { class: "muted" }, ` ×${r.attempts}`) : null),
    el("td", {}, r.key || ""),
    el("td", {}, r.agent || ""),
    el("td", { class: "num", title: `prompt ${r.prompt_tokens ?? 0}, completion ${r.completion_tokens ?? 0}` },
      tokens ? fmtInt(tokens) : ""),
    el("td", { class: "num" }, r.cost !== undefined && r.cost !== null && Number(r.cost) !== 0 ? fmtUSD(r.cost) : ""),
    el("td", { class: "num" }, r.latency_ms !== undefined ? fmtMs(r.latency_ms) : ""),
    el("td", { class: "num" }, r.ttft_ms ? fmtMs(r.ttft_ms) : ""),
    el("td", {}, r.error_type || r.finish_reason || ""));
}

function matches(r, f) {
  if (f.errors === "errors" && !(r.status >= 400)) return false;
  if (f.errors === "ok" && r.status >= 400) return false;
  if (f.door && !f.door.split(",").includes(r.door)) return false;
  if (f.text) {
    const hay = [r.id, r.path, r.model, r.model_requested, r.provider, r.key, r.agent, r.error_type]
      .filter(Boolean).join(" ").toLowerCase();
    if (!hay.includes(f.text)) return false;
  }
  return true;
}

export function mount(root) {
  const records = []; // newest first, at most KEEP
  let paused = false;
  const state = el("span", { class: "badge warn", id: "live-state" }, "connecting");
  const count = el("span", { class: "muted" });
  const tbody = el("tbody");
  const message = el("div");
  const filter = { text: "", errors: "", door: MODEL_DOORS };

  const text = el("input", { type: "search", placeholder: "model, key, agent, path, id…", id: "log-filter",
                             oninput: () => { filter.text = text.value.trim().toLowerCase(); render(); } });
  const status = el("select", { id: "log-status", onchange: () => { filter.errors = status.value; render(); } },
    el("option", { value: "" }, "every status"), el("option", { value: "ok" }, "answered"),
    el("option", { value: "errors" }, "errors"));
  // by default the model requests only: not the dashboard's own calls
  const door = el("select", { id: "log-door", onchange: () => { filter.door = door.value; render(); } },
    el("option", { value: MODEL_DOORS }, "model requests"),
    el("option", { value: "" }, "every request"),
    DOORS.map((d) => el("option", { value: d }, d)));
  const pause = el("button", { type: "button", class: "quiet", id: "log-pause",
                               onclick: () => { paused = !paused; pause.textContent = paused ? "Resume" : "Pause"; if (!paused) render(); } },
    "Pause");

  root.append(
    el("div", { class: "page-head" }, el("h1", {}, "Live request log"), state, count),
    el("div", { class: "toolbar" }, text, status, door, pause,
      el("button", { type: "button", class: "quiet", onclick: () => { records.length = 0; render(); } }, "Clear")),
    message,
    el("div", { class: "card scroll" },
      el("table", { id: "log" },
        el("thead", {}, el("tr", {},
          ["Time", "Door", "Request", "Status", "Model", "Provider", "Key", "Agent", "Tokens", "Cost", "Latency", "TTFT", "Finish / error"]
            .map((h, i) => el("th", { class: i >= 8 && i <= 11 ? "num" : "" }, h)))),
        tbody)));

  // at most one redraw per frame, however fast records arrive
  let drawing = false;
  function render() {
    if (paused || drawing) return;
    drawing = true;
    requestAnimationFrame(draw);
  }
  function draw() {
    drawing = false;
    if (paused) return;
    const shown = records.filter((r) => matches(r, filter));
    clear(tbody, shown.map(row));
    count.textContent = `${fmtInt(shown.length)} of ${fmtInt(records.length)} requests`;
  }

  const abort = new AbortController();
  (async () => {
    let r;
    try {
      r = await api("/api/v1/admin/logs/live", { raw: true, signal: abort.signal,
                                                 headers: { accept: "text/event-stream" } });
    } catch (e) {
      if (abort.signal.aborted) return;
      state.textContent = "unavailable";
      state.className = "badge off";
      clear(message, errorBox(e));
      return;
    }
    state.textContent = "live";
    state.className = "badge ok";
    root.dataset.loaded = "logs";
    try {
      for await (const ev of sseEvents(r)) {
        let rec;
        try {
          rec = parseJson(ev.data);
        } catch {
          continue;
        }
        records.unshift(rec);
        if (records.length > KEEP) records.length = KEEP;
        render();
      }
    } catch (e) {
      if (abort.signal.aborted) return;
    }
    state.textContent = "disconnected";
    state.className = "badge off";
  })();
  render();
  return () => abort.abort();
}
