// SPDX-License-Identifier: MIT
// The gateway-overhead metric (docs/observability.md): per request, the
// time switchboard spent itself, i.e. its latency minus the time it waited
// for the provider, retry backoffs and a slow client. Reported in the
// X-Switchboard-Overhead-Us header (answers not streamed), the generation's
// `gateway_overhead_us` and the switchboard_gateway_overhead_seconds
// histogram on /metrics.
//
// Each test makes the provider slow (hundreds of ms) and checks that the
// overhead stays far below that wait while the latency includes it: a
// metric that did not subtract the wait would fail.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setup, fakeProviderConfig, fetchText, ledgerRow } from "./lib/harness.mjs";

const h = setup({
  config: (fake) => ({
    providers: {
      openai: fakeProviderConfig(fake, { retry: { attempts: 1, base_ms: 400, max_ms: 400, budget_ms: 10000 } }),
    },
  }),
});
const { fake, gw } = h;
const client = h.openai();
const MODEL = "openai/gpt-4o-mini";
const msgs = [{ role: "user", content: "hi" }];
// Far below every provider wait below, far above what the gateway needs
// (tens of µs; the sanitizer build is a few times slower).
const OVERHEAD_CEILING_US = 100_000;

async function metrics() {
  const r = await fetchText(`${gw.url}/metrics`);
  assert.equal(r.status, 200);
  const series = {};
  for (const line of r.text.split("\n")) {
    const m = /^switchboard_gateway_overhead_seconds(_bucket\{le="([^"]+)"\}|_sum|_count) (\S+)$/.exec(line);
    if (m) series[m[2] === undefined ? m[1] : m[2] === "+Inf" ? "+Inf" : String(Number(m[2]))] = Number(m[3]);
  }
  return series;
}

test("a slow answer: the header and the ledger report the gateway's own time, not the wait", async () => {
  await fake.script([{ content: "slow", latency_ms: 300 }]);
  const t0 = Date.now();
  const { data, response } = await client.chat.completions.create({ model: MODEL, messages: msgs }).withResponse();
  const took = Date.now() - t0;
  assert.ok(took >= 300, `the provider waited (${took} ms)`);
  const header = response.headers.get("x-switchboard-overhead-us");
  assert.match(header ?? "", /^\d+$/);
  const overhead = Number(header);
  assert.ok(overhead < OVERHEAD_CEILING_US, `overhead ${overhead} µs excludes the 300 ms wait`);
  const row = await ledgerRow(gw, data.id);
  assert.equal(row.gateway_overhead_us, overhead);
  assert.ok(row.latency >= 300, `latency ${row.latency} ms includes the wait`);
});

test("a slow stream: the time between the provider's chunks is not overhead", async () => {
  await fake.script([{ chunks: ["a", "b", "c", "d", "e"], first_token_ms: 100, token_interval_ms: 60 }]);
  const stream = await client.chat.completions.create({ model: MODEL, messages: msgs, stream: true });
  let id;
  let text = "";
  for await (const chunk of stream) {
    id = chunk.id;
    text += chunk.choices[0]?.delta?.content ?? "";
  }
  assert.equal(text, "abcde");
  const row = await ledgerRow(gw, id);
  assert.ok(row.latency >= 400, `latency ${row.latency} ms covers the stream`);
  assert.ok(row.gateway_overhead_us < OVERHEAD_CEILING_US, `overhead ${row.gateway_overhead_us} µs`);
});

test("a retry's backoff is waiting, not overhead", async () => {
  await fake.script([{ status: 503, times: 1 }, { content: "second try" }]);
  const { data, response } = await client.chat.completions.create({ model: MODEL, messages: msgs }).withResponse();
  assert.equal(data.choices[0].message.content, "second try");
  assert.equal((await fake.requests()).length, 2);
  const row = await ledgerRow(gw, data.id);
  // equal jitter: the backoff is between half of base_ms and base_ms
  assert.ok(row.latency >= 200, `latency ${row.latency} ms includes the backoff`);
  const overhead = Number(response.headers.get("x-switchboard-overhead-us"));
  assert.ok(overhead < OVERHEAD_CEILING_US, `overhead ${overhead} µs excludes the backoff`);
});

test("/metrics: a Prometheus histogram that counts every request", async () => {
  const before = await metrics();
  const n = 5;
  for (let i = 0; i < n; i++) {
    await fake.script([{ content: `r${i}`, latency_ms: 50 }]);
    await client.chat.completions.create({ model: MODEL, messages: msgs });
  }
  // an error the gateway answers itself is a request too
  await assert.rejects(client.chat.completions.create({ model: "no/such-model", messages: msgs }), (e) => e.status === 404);
  const after = await metrics();
  assert.equal(after._count - before._count, n + 1);
  assert.equal(after["+Inf"], after._count);
  const bounds = Object.keys(after).filter((k) => !k.startsWith("_") && k !== "+Inf").map(Number).sort((a, b) => a - b);
  assert.deepEqual(bounds, [1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 0.1]);
  let prev = 0;
  for (const b of bounds) {
    assert.ok(after[String(b)] >= prev, "cumulative buckets");
    prev = after[String(b)];
  }
  // none of the six (each waiting ≥ 50 ms upstream, or none) took 0.1 s of the gateway's time
  assert.equal(after["0.1"] - before["0.1"], n + 1);
  const added = after._sum - before._sum;
  assert.ok(added > 0 && added < (n + 1) * 0.1, `sum grew by ${added} s`);
});
