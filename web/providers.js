// SPDX-License-Identifier: MIT
// Providers: every configured provider with its keys, its endpoints'
// health (breaker, error rate, latency, throughput: GET /api/v1/providers),
// its traffic in the last hour (GET /api/v1/stats) and its last errors
// (GET /api/v1/generations).
import { api, clear, el, errorBox, every, fmtInt, fmtMs, fmtPct, fmtTime, fmtUSD } from "./lib.js";

export const title = "Providers";

const BREAKER = { closed: ["closed", "ok"], half_open: ["half-open", "warn"], open: ["open", "off"] };

function breaker(h) {
  const [word, cls] = BREAKER[h.breaker] || [h.breaker, "warn"];
  return el("span", { class: `badge ${cls}`, title: "circuit breaker" }, word);
}

function healthCells(h) {
  return [
    el("td", {}, breaker(h)),
    el("td", { class: "num" }, fmtInt(h.requests)),
    el("td", { class: "num" }, fmtInt(h.failures)),
    el("td", { class: "num" }, h.requests ? fmtPct(h.error_rate) : "–"),
    el("td", { class: "num" }, h.requests ? fmtMs(h.latency_ms) : "–"),
    el("td", { class: "num" }, h.requests ? fmtMs(h.ttft_ms) : "–"),
    el("td", { class: "num" }, h.tokens_per_second ? h.tokens_per_second.toFixed(1) : "–"),
    el("td", { class: "num" }, h.uptime_30m === null ? "–" : fmtPct(h.uptime_30m)),
  ];
}

const HEALTH_HEAD = ["Breaker", "Requests", "Failures", "Error rate", "Latency", "First byte", "Tokens/s", "Up (30 min)"];

function endpointTable(rows) {
  return el("table", {},
    el("thead", {}, el("tr", {},
      ["Model", "Upstream model", ...HEALTH_HEAD].map((h, i) => el("th", { class: i >= 3 ? "num" : "" }, h)))),
    el("tbody", {}, rows.map((e) =>
      el("tr", { "data-model": e.model },
        el("td", {}, e.model, e.default ? null : el("span", { class: "muted" }, " (fallback)")),
        el("td", { class: "mono" }, e.upstream_model),
        ...healthCells(e.health)))));
}

function traffic(s) {
  if (!s) return el("p", { class: "muted" }, "No requests in the last hour.");
  return el("p", { class: "traffic" },
    `Last hour: ${fmtInt(s.requests)} requests (${(s.requests / 60).toFixed(2)}/min), ` +
    `${fmtInt(s.errors)} errors, ${fmtInt(s.tokens_prompt + s.tokens_completion)} tokens, ` +
    `${fmtUSD(s.cost)}, ${fmtMs(s.latency_ms)} average.`);
}

function lastErrors(rows) {
  if (!rows.length) return null;
  return el("div", { class: "last-errors" },
    el("h3", {}, "Last errors"),
    el("ul", {}, rows.slice(0, 5).map((g) =>
      el("li", {},
        el("span", { class: "muted" }, fmtTime(Date.parse(g.created_at), true)), " ",
        el("span", { class: "badge off" }, String(g.status)), " ",
        g.model || g.requested_model || "", ": ", g.error || g.finish_reason || "error"))));
}

function providerCard(p, hour, errors) {
  const busy = p.endpoints.filter((e) => e.health.requests > 0 || e.health.breaker !== "closed");
  const idle = p.endpoints.length - busy.length;
  const k = p.keys;
  return el("section", { class: "card provider", "data-provider": p.name },
    el("div", { class: "provider-head" },
      el("h2", {}, p.display_name, p.display_name !== p.name ? el("span", { class: "muted" }, ` ${p.name}`) : null),
      breaker(p.health),
      el("span", { class: "muted" }, `${p.format} · ${p.base_url}${p.proxy ? " · via proxy" : ""}`),
      p.supported ? null : el("span", { class: "badge off" }, "format not supported")),
    el("p", {}, k.total === 0 ? "No key (a local server)." :
      `Keys: ${k.usable} of ${k.total} usable` +
      (k.cooling_down ? `, ${k.cooling_down} cooling down (rate limited)` : "") +
      (k.set_aside ? `, ${k.set_aside} set aside (refused by the provider)` : "") + "."),
    traffic(hour),
    busy.length ? endpointTable(busy) : el("p", { class: "muted" }, "No endpoint has had traffic yet."),
    idle > 0 ? el("details", {},
      el("summary", {}, `${idle} more ${idle === 1 ? "endpoint" : "endpoints"} without traffic`),
      endpointTable(p.endpoints.filter((e) => !busy.includes(e)))) : null,
    lastErrors(errors));
}

export function mount(root) {
  const body = el("div");
  root.append(el("div", { class: "page-head" }, el("h1", {}, "Providers and endpoints")), body);
  async function load() {
    let list, stats, errors;
    try {
      [list, stats, errors] = await Promise.all([
        api("/api/v1/providers"),
        api("/api/v1/stats?from=1h&by=provider&bucket=none&limit=100"),
        api("/api/v1/generations?errors=true&from=24h&limit=100"),
      ]);
    } catch (e) {
      clear(body, errorBox(e));
      return;
    }
    const hour = new Map(stats.data.groups.provider.map((g) => [g.id, g]));
    const byProvider = new Map();
    for (const g of errors.data) {
      const name = g.provider_name || "-";
      if (!byProvider.has(name)) byProvider.set(name, []);
      byProvider.get(name).push(g);
    }
    const unrouted = byProvider.get("-") || [];
    clear(body,
      list.data.length === 0 ? el("p", { class: "notice" }, "No provider is configured.") : null,
      list.data.map((p) => providerCard(p, hour.get(p.name), byProvider.get(p.name) || [])),
      unrouted.length ? el("section", { class: "card" }, el("h2", {}, "Requests that reached no provider"),
        lastErrors(unrouted)) : null);
    root.dataset.loaded = "providers";
  }
  load();
  return every(10000, load);
}
