// SPDX-License-Identifier: MIT
// Traces (docs/observability.md, "Traces"): OTLP/HTTP JSON spans with the
// GenAI semantic conventions, exported in batches to a collector (played
// here by a Node server on loopback); W3C traceparent read from the client
// and sent to the provider; sampling; spans dropped and counted when the
// collector fails or is not there, while requests are answered as usual.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "./lib/gateway.mjs";
import { setup, fakeProviderConfig, fetchText, freePort, waitFor } from "./lib/harness.mjs";
import { startCollector, attr } from "./lib/otlp_collector.mjs";

const MODEL = "openai/gpt-4o-mini";
const col = await startCollector();
after(() => col.stop());

const retryOnce = { retry: { attempts: 1, base_ms: 1, max_ms: 1, budget_ms: 10000 } };
const h = setup({
  config: (fake) => ({
    otel: { endpoint: col.url, headers: { "x-tenant": "team-a" }, service_name: "gw-test" },
    providers: { openai: fakeProviderConfig(fake, retryOnce) },
  }),
});
const { fake, gw } = h;

const hex = (n) => [...crypto.getRandomValues(new Uint8Array(n))].map((b) => b.toString(16).padStart(2, "0")).join("");

async function chat(g, headers = {}, body = {}) {
  const r = await fetchText(`${g.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hi" }], ...body }),
  });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

/** The traceparent each upstream request carried, parsed. */
async function upstreamContexts() {
  return (await fake.requests()).map((r) => {
    const v = r.headers.traceparent;
    if (v === undefined) return null;
    const [version, traceId, spanId, flags] = v.split("-");
    return { version, traceId, spanId, flags };
  });
}

test("a client's traceparent: the request's span under the client's, a span per attempt, the provider under it", async () => {
  const traceId = hex(16);
  const parent = hex(8);
  const res = await chat(gw, { traceparent: `00-${traceId}-${parent}-01`, "x-agent": "planner" });
  const spans = await col.spansOf(traceId, 2);
  assert.equal(spans.length, 2);
  const server = spans.find((s) => s.kind === 2);
  const client = spans.find((s) => s.kind === 3);
  assert.equal(server.parentSpanId, parent);
  assert.equal(server.name, `chat ${MODEL}`);
  assert.equal(attr(server, "gen_ai.operation.name"), "chat");
  assert.equal(attr(server, "gen_ai.request.model"), MODEL);
  assert.equal(attr(server, "gen_ai.response.model"), MODEL);
  assert.equal(attr(server, "gen_ai.response.id"), res.id);
  assert.equal(attr(server, "gen_ai.provider.name"), "openai");
  assert.equal(attr(server, "gen_ai.usage.input_tokens"), res.usage.prompt_tokens);
  assert.equal(attr(server, "gen_ai.usage.output_tokens"), res.usage.completion_tokens);
  assert.deepEqual(attr(server, "gen_ai.response.finish_reasons"), ["stop"]);
  assert.equal(attr(server, "http.response.status_code"), 200);
  assert.equal(attr(server, "switchboard.agent"), "planner");
  assert.equal(attr(server, "switchboard.cost_usd"), res.usage.cost);
  assert.equal(attr(server, "error.type"), undefined);
  assert.equal(server.status.code, 0);
  assert.equal(attr(server.resource, "service.name"), "gw-test");

  assert.equal(client.parentSpanId, server.spanId);
  assert.equal(client.name, "chat gpt-4o-mini");
  assert.equal(attr(client, "gen_ai.provider.name"), "openai");
  assert.equal(attr(client, "gen_ai.request.model"), "gpt-4o-mini");
  assert.equal(attr(client, "server.address"), "127.0.0.1");
  assert.equal(attr(client, "server.port"), fake.port);
  assert.equal(attr(client, "http.response.status_code"), 200);
  // the attempt lies within the request
  assert.ok(BigInt(client.startTimeUnixNano) >= BigInt(server.startTimeUnixNano));
  assert.ok(BigInt(client.endTimeUnixNano) <= BigInt(server.endTimeUnixNano));
  assert.ok(BigInt(server.startTimeUnixNano) < BigInt(server.endTimeUnixNano));

  // the provider was asked under the attempt's span, sampled
  const [up] = await upstreamContexts();
  assert.deepEqual(up, { version: "00", traceId, spanId: client.spanId, flags: "01" });
  // the export: OTLP/HTTP JSON at /v1/traces, with the configured headers
  const exp = col.exports.find((e) => JSON.stringify(e.body).includes(traceId));
  assert.equal(exp.path, "/v1/traces");
  assert.equal(exp.headers["content-type"], "application/json");
  assert.equal(exp.headers["x-tenant"], "team-a");
});

test("a retried attempt is a failed child span; each attempt tells the provider its own span", async () => {
  await fake.script([{ status: 503, times: 1 }, { content: "second" }]);
  const traceId = hex(16);
  await chat(gw, { traceparent: `00-${traceId}-${hex(8)}-01` });
  const spans = await col.spansOf(traceId, 3);
  const server = spans.find((s) => s.kind === 2);
  const attempts = spans.filter((s) => s.kind === 3).sort((a, b) => (BigInt(a.startTimeUnixNano) < BigInt(b.startTimeUnixNano) ? -1 : 1));
  assert.equal(attempts.length, 2);
  assert.equal(attr(server, "switchboard.attempts"), 2);
  assert.equal(attr(attempts[0], "error.type"), "provider_unavailable");
  assert.equal(attr(attempts[0], "http.response.status_code"), 503);
  assert.equal(attempts[0].status.code, 2);
  assert.equal(attr(attempts[1], "error.type"), undefined);
  assert.equal(attempts[1].status.code, 0);
  for (const a of attempts) assert.equal(a.parentSpanId, server.spanId);
  const ups = await upstreamContexts();
  assert.deepEqual(
    ups.map((u) => [u.traceId, u.spanId]),
    attempts.map((a) => [traceId, a.spanId]),
  );
});

test("no traceparent: a new trace, its root span the request's; embeddings are their own operation", async () => {
  const r = await fetchText(`${gw.url}/v1/embeddings`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "openai/text-embedding-3-small", input: "hi" }),
  });
  assert.equal(r.status, 200);
  const [up] = await upstreamContexts();
  assert.equal(up.flags, "01");
  assert.match(up.traceId, /^[0-9a-f]{32}$/);
  const spans = await col.spansOf(up.traceId, 2);
  const server = spans.find((s) => s.kind === 2);
  assert.equal(server.parentSpanId, undefined);
  assert.equal(server.name, "embeddings openai/text-embedding-3-small");
  assert.equal(attr(server, "gen_ai.operation.name"), "embeddings");
});

test("a client's unsampled traceparent: nothing exported, the decision passed on", async () => {
  const quiet = hex(16);
  const clientSpan = hex(8);
  await chat(gw, { traceparent: `00-${quiet}-${clientSpan}-00` });
  const [up] = await upstreamContexts();
  assert.equal(up.traceId, quiet);
  assert.equal(up.flags, "00");
  assert.notEqual(up.spanId, clientSpan, "the gateway's own span id");
  // a sampled request after it: once its spans are in, the unsampled
  // request (handled before it, by the same thread) would have been too
  const loud = hex(16);
  await chat(gw, { traceparent: `00-${loud}-${hex(8)}-01` });
  await col.spansOf(loud, 2);
  assert.equal(col.spans().filter((s) => s.traceId === quiet).length, 0);
});

test("sample: 0 keeps no new trace (a sampled parent still decides), and tracing off passes the client's context as it came", async () => {
  const g0 = await startGateway({
    config: { otel: { endpoint: col.url, sample: 0 }, providers: { openai: fakeProviderConfig(fake) } },
  });
  const off = await startGateway({ config: { providers: { openai: fakeProviderConfig(fake) } } });
  try {
    await chat(g0);
    const [fresh] = await upstreamContexts();
    assert.equal(fresh.flags, "00");
    const kept = hex(16);
    await chat(g0, { traceparent: `00-${kept}-${hex(8)}-01` });
    await col.spansOf(kept, 2);
    assert.equal(col.spans().filter((s) => s.traceId === fresh.traceId).length, 0);

    await fake.reset();
    const given = `00-${hex(16)}-${hex(8)}-01`;
    await chat(off, { traceparent: given });
    await chat(off);
    const [passed, none] = (await fake.requests()).map((r) => r.headers.traceparent);
    assert.equal(passed, given);
    assert.equal(none, undefined);
  } finally {
    assert.deepEqual(await g0.stop(), { code: 0, signal: null });
    assert.deepEqual(await off.stop(), { code: 0, signal: null });
  }
});

async function metric(g, name) {
  const text = (await fetchText(`${g.url}/metrics`)).text;
  const m = new RegExp(`^${name} (\\d+)$`, "m").exec(text);
  return m ? Number(m[1]) : null;
}

test("a collector that is down or failing: requests are answered, spans dropped and counted", async () => {
  const nowhere = await startGateway({
    config: { otel: { endpoint: `http://127.0.0.1:${await freePort()}` }, providers: { openai: fakeProviderConfig(fake) } },
  });
  const failing = await startCollector();
  failing.failWith(500);
  const refused = await startGateway({
    config: { otel: { endpoint: failing.url }, providers: { openai: fakeProviderConfig(fake) } },
  });
  try {
    for (const g of [nowhere, refused]) {
      for (let i = 0; i < 3; i++) await chat(g);
      await waitFor(async () => (await metric(g, "switchboard_otel_spans_dropped_total")) >= 6, "6 dropped spans");
      assert.ok((await metric(g, "switchboard_otel_export_failures_total")) >= 1);
      assert.equal(await metric(g, "switchboard_otel_spans_exported_total"), 0);
    }
    assert.match(nowhere.logs(), /otel: cannot export spans to http:\/\/127\.0\.0\.1:\d+\/v1\/traces: .*spans are dropped/);
    assert.match(refused.logs(), /the collector answered 500/);
  } finally {
    assert.deepEqual(await nowhere.stop(), { code: 0, signal: null });
    assert.deepEqual(await refused.stop(), { code: 0, signal: null });
    await failing.stop();
  }
});
