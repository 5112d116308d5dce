// SPDX-License-Identifier: MIT
// /metrics (docs/observability.md, "Metrics"): requests by door, model,
// provider and status class; tokens and cost by model and provider (and
// cost by key); upstream latency and time-to-first-byte histograms by
// provider; retries, fallbacks and breakers; the process's memory and open
// files; the older families unchanged.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setup, fakeProviderConfig, fetchText } from "./lib/harness.mjs";

const ADMIN = "sk-admin-e2e-metrics";
const MODEL = "openai/gpt-4o-mini";
const TWIN = "acme/twin";
const price = { prompt: "0.000001", completion: "0.000002" };

const h = setup({
  config: (fake) => ({
    admin_key: ADMIN,
    health: { breaker_failures: 2 },
    providers: {
      openai: fakeProviderConfig(fake, { retry: { attempts: 1, base_ms: 1, max_ms: 1, budget_ms: 10000 } }),
      backup: fakeProviderConfig(fake),
    },
    models: [
      {
        id: TWIN,
        context_length: 8192,
        endpoints: [
          { provider: "openai", model: "twin-a", pricing: price },
          { provider: "backup", model: "twin-b", pricing: price },
        ],
      },
    ],
  }),
});
const { fake, gw } = h;

/** Every sample of the scrape: { "name{labels}": value }. */
async function scrape() {
  const r = await fetchText(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type"), /^text\/plain; version=0\.0\.4/);
  const samples = {};
  for (const line of r.text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^(\S+) (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    samples[m[1]] = Number(m[2]);
  }
  return { text: r.text, samples };
}

const series = (name, labels) =>
  `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(",")}}`;

test("requests, tokens and cost by model, provider and key; upstream histograms", async () => {
  const created = await fetchText(`${gw.url}/api/v1/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "metrics-team" }),
  });
  const client = h.openai({ apiKey: created.json.key });
  const before = (await scrape()).samples;
  let cost = 0;
  let prompt = 0;
  for (let i = 0; i < 3; i++) {
    const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: `n${i}` }] });
    cost += r.usage.cost;
    prompt += r.usage.prompt_tokens;
  }
  const bad = await fetchText(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { authorization: "Bearer nope" }, body: "{}" });
  assert.equal(bad.status, 401);
  const { samples, text } = await scrape();
  const reqs = (labels) => samples[series("switchboard_http_requests_total", labels)] ?? 0;
  const beforeReqs = (labels) => before[series("switchboard_http_requests_total", labels)] ?? 0;
  const ok = { door: "chat", model: MODEL, provider: "openai", status: "2xx" };
  assert.equal(reqs(ok) - beforeReqs(ok), 3);
  const refused = { door: "chat", model: "", provider: "", status: "4xx" };
  assert.equal(reqs(refused) - beforeReqs(refused), 1);
  assert.equal(samples[series("switchboard_tokens_total", { model: MODEL, provider: "openai", kind: "prompt" })], prompt);
  assert.ok(samples[series("switchboard_tokens_total", { model: MODEL, provider: "openai", kind: "completion" })] > 0);
  assert.equal(samples[series("switchboard_tokens_total", { model: MODEL, provider: "openai", kind: "cached" })], 0);
  const spent = samples[series("switchboard_cost_usd_total", { model: MODEL, provider: "openai", key: "metrics-team" })];
  assert.ok(Math.abs(spent - cost) < 1e-12, `cost ${spent} = ${cost}`);
  // histograms: every answered attempt in +Inf, buckets cumulative
  const count = samples['switchboard_upstream_latency_seconds_count{provider="openai"}'];
  assert.ok(count >= 3);
  assert.equal(samples['switchboard_upstream_latency_seconds_bucket{provider="openai",le="+Inf"}'], count);
  assert.ok(samples['switchboard_upstream_latency_seconds_sum{provider="openai"}'] > 0);
  assert.equal(samples['switchboard_upstream_ttft_seconds_count{provider="openai"}'], count);
  let prev = 0;
  for (const m of text.matchAll(/^switchboard_upstream_latency_seconds_bucket\{provider="openai",le="[^"]+"\} (\d+)$/gm)) {
    assert.ok(Number(m[1]) >= prev, "buckets are cumulative");
    prev = Number(m[1]);
  }
  // the older families are still there, under their names
  // (per worker: the kernel spreads connections over the workers, so any
  // one of them may have served none)
  const perWorker = Object.entries(samples).filter(([k]) => k.startsWith('switchboard_requests_total{worker="'));
  assert.ok(perWorker.length > 0, "switchboard_requests_total by worker");
  assert.ok(perWorker.reduce((sum, [, v]) => sum + v, 0) > 0);
  assert.ok(samples.switchboard_gateway_overhead_seconds_count >= 3);
  assert.equal(samples.switchboard_ledger_errors_total, 0);
  // the process
  assert.ok(samples.process_resident_memory_bytes > 1 << 20);
  assert.ok(samples.process_open_fds > 3);
});

test("retries, fallbacks and the breaker of the endpoint that failed", async () => {
  // openai fails twice (the attempt and its retry): its breaker opens at
  // 2 failures, and the request falls back to the backup provider
  await fake.script([{ status: 503, times: 2 }, { content: "from the backup" }]);
  const r = await h.openai({ apiKey: ADMIN }).chat.completions.create({ model: TWIN, messages: [{ role: "user", content: "x" }] });
  assert.equal(r.choices[0].message.content, "from the backup");
  const { samples } = await scrape();
  assert.equal(samples['switchboard_retries_total{provider="openai"}'], 1);
  assert.equal(samples['switchboard_fallbacks_total{provider="openai"}'], 1);
  assert.equal(samples[series("switchboard_breaker_state", { model: TWIN, provider: "openai" })], 1);
  assert.equal(samples[series("switchboard_breaker_opens_total", { model: TWIN, provider: "openai" })], 1);
  assert.equal(samples[series("switchboard_breaker_state", { model: TWIN, provider: "backup" })], 0);
  assert.equal(samples[series("switchboard_http_requests_total", { door: "chat", model: TWIN, provider: "backup", status: "2xx" })], 1);
  assert.equal(samples[series("switchboard_breaker_state", { model: MODEL, provider: "openai" })], 0);
});
