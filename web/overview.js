// SPDX-License-Identifier: MIT
// Overview: requests, tokens, spend, errors and latency over a time range
// (GET /api/v1/stats), over time and by model, provider, key and agent.
import { api, clear, el, errorBox, every, fmtInt, fmtMs, fmtPct, fmtUSD, session } from "./lib.js";
import { chart } from "./chart.js";

export const title = "Overview";

const RANGES = [["1h", "Last hour"], ["24h", "24 hours"], ["7d", "7 days"], ["30d", "30 days"]];
const DIMS = [["model", "By model"], ["provider", "By provider"], ["key", "By key"], ["agent", "By agent"]];

let range = "24h";

function card(name, label, value, sub) {
  return el("div", { class: "stat", "data-stat": name },
    el("div", { class: "label" }, label),
    el("div", { class: "value" }, value),
    sub ? el("div", { class: "sub" }, sub) : null);
}

function cards(t) {
  const rate = t.requests > 0 ? t.errors / t.requests : null;
  return el("section", { class: "stats" },
    card("requests", "Requests", fmtInt(t.requests)),
    card("errors", "Errors", fmtInt(t.errors), rate === null ? null : `${fmtPct(rate)} of requests`),
    card("tokens_prompt", "Prompt tokens", fmtInt(t.tokens_prompt),
      t.tokens_cached ? `${fmtInt(t.tokens_cached)} cached` : null),
    card("tokens_completion", "Completion tokens", fmtInt(t.tokens_completion),
      t.tokens_reasoning ? `${fmtInt(t.tokens_reasoning)} reasoning` : null),
    card("cost", "Spend", fmtUSD(t.cost)),
    card("latency", "Latency (median)", fmtMs(t.latency_ms_p50),
      t.requests ? `p95 ${fmtMs(t.latency_ms_p95)}${t.ttft_ms ? ` · first token ${fmtMs(t.ttft_ms)}` : ""}` : null));
}

function charts(d) {
  const times = d.series.map((b) => b.start_ms);
  const pick = (k) => d.series.map((b) => Number(b[k]) || 0);
  const step = d.bucket_ms;
  const ok = d.series.map((b) => b.requests - b.errors);
  // no line through buckets without requests (or without a first token)
  const latency = d.series.map((b) => (b.requests > 0 ? b.latency_ms : null));
  const ttft = d.series.map((b) => (b.ttft_ms > 0 ? b.ttft_ms : null));
  return el("section", { class: "charts" },
    chart({ title: "Requests", times, step, format: fmtInt, minStep: 1,
            series: [{ name: "answered", cls: "s1", values: ok },
                     { name: "errors", cls: "s4", values: pick("errors") }] }),
    chart({ title: "Tokens", times, step, format: compact, minStep: 1,
            series: [{ name: "prompt", cls: "s1", values: pick("tokens_prompt") },
                     { name: "completion", cls: "s2", values: pick("tokens_completion") }] }),
    chart({ title: "Spend", times, step, format: axisUSD,
            series: [{ name: "USD", cls: "s3", values: pick("cost") }] }),
    chart({ title: "Average latency", times, step, kind: "line", format: fmtMs, minStep: 1,
            series: [{ name: "latency", cls: "s1", values: latency },
                     { name: "first token", cls: "s2", values: ttft }] }));
}

// An axis label in USD: two significant digits below a cent.
function axisUSD(v) {
  if (v === 0) return "$0";
  if (v >= 0.01) return `$${v.toFixed(2)}`;
  const digits = Math.min(12, 1 - Math.floor(Math.log10(v)));
  return `$${v.toFixed(digits).replace(/0+$/, "")}`;
}

function compact(v) {
  if (v >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return String(Math.round(v));
}

function groupTable(dim, label, rows) {
  const head = ["", "Requests", "Errors", "Prompt", "Completion", "Spend", "Latency"];
  return el("section", { class: "card group", "data-group": dim },
    el("h2", {}, label),
    rows.length === 0 ? el("p", { class: "muted" }, "No requests in this range.") :
    el("table", {},
      el("thead", {}, el("tr", {}, head.map((h, i) => el("th", { class: i ? "num" : "" }, h)))),
      el("tbody", {}, rows.map((g) =>
        el("tr", { "data-id": g.id },
          el("td", { title: g.id }, g.name),
          el("td", { class: "num" }, fmtInt(g.requests)),
          el("td", { class: "num" }, fmtInt(g.errors)),
          el("td", { class: "num" }, fmtInt(g.tokens_prompt)),
          el("td", { class: "num" }, fmtInt(g.tokens_completion)),
          el("td", { class: "num", title: `$${g.cost}` }, fmtUSD(g.cost)),
          el("td", { class: "num" }, fmtMs(g.latency_ms)))))));
}

export function mount(root) {
  const body = el("div", { class: "overview-body" });
  const stamp = el("span", { class: "muted", id: "as-of" });
  const picker = el("div", { class: "segmented", role: "group", "aria-label": "Time range" },
    RANGES.map(([r, label]) =>
      el("button", { type: "button", "data-range": r, class: r === range ? "on" : "",
                     onclick: () => { range = r; refresh(); } }, label)));
  clear(root,
    el("div", { class: "page-head" }, el("h1", {}, "Overview"), picker,
      el("button", { type: "button", class: "quiet", id: "refresh", onclick: () => refresh() }, "Refresh"),
      stamp),
    session.setup ? el("p", { class: "notice" }, session.setup) : null,
    body);

  let seq = 0;
  async function refresh() {
    const mine = ++seq;
    for (const b of picker.children) b.classList.toggle("on", b.dataset.range === range);
    let d;
    try {
      d = (await api(`/api/v1/stats?from=${range}&by=model,provider,key,agent&limit=10`)).data;
    } catch (e) {
      if (mine === seq) clear(body, errorBox(e));
      return;
    }
    if (mine !== seq) return;
    clear(body,
      cards(d.totals),
      d.pending > 0 ? el("p", { class: "muted", id: "pending" },
        `${fmtInt(d.pending)} recent requests are still being written to the ledger.`) : null,
      charts(d),
      el("div", { class: "groups" }, DIMS.map(([k, label]) => groupTable(k, label, d.groups[k] || []))));
    root.dataset.loaded = String(mine);
    stamp.textContent = `as of ${new Date().toLocaleTimeString()}`;
  }
  refresh();
  return every(15000, refresh);
}
