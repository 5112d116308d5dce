// SPDX-License-Identifier: MIT
// The set-up every end-to-end test file shares: a fake provider and one or
// more gateways started before the file's tests and stopped after them, the
// fake's queue and recordings cleared before each test, SDK clients pointed
// at the gateway, and small helpers for reading what went upstream.
//
//   const { fake, gw, lastUpstream, openai } = setup({
//     config: (fake) => ({ providers: { openai: fakeProviderConfig(fake) } }),
//   });
//   const client = openai();
//   test("...", async () => { await fake.script(...); await client.chat... });
//
// `fake` and `gw` are the objects of startFakeProvider() and startGateway()
// (lib/fake_provider.mjs, lib/gateway.mjs); they are filled in by the
// `before` hook, so use them inside hooks and tests, not at module level.
//
// With SB_E2E_UPSTREAM=https or https-curl (lib/tls_front.mjs) the fake
// provider is reached over TLS: `fake.url` is a TLS front's https URL,
// `fake.caFile` the CA that fakeProviderConfig() gives the gateway.
import { before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { startFakeProvider } from "./fake_provider.mjs";
import { startGateway, fakeProviderConfig } from "./gateway.mjs";
import { upstreamMode, testCertificates, startTlsFront } from "./tls_front.mjs";

export { fakeProviderConfig };

const openaiOnly = (fake) => ({ providers: { openai: fakeProviderConfig(fake) } });
const resolveConfig = (config, fake) => (typeof config === "function" ? config(fake) : config);

// A client made on first use, once the gateway's port is known.
function lazy(make) {
  let obj;
  const get = () => (obj ??= make());
  return new Proxy(
    {},
    {
      get(_, key) {
        const v = Reflect.get(get(), key);
        return typeof v === "function" ? v.bind(get()) : v;
      },
      has: (_, key) => key in get(),
    },
  );
}

/**
 * setup({ config, gateways, reset, started }) registers the hooks and
 * returns { fake, gw, gateways, lastUpstream, openai(opts), anthropic(opts) }.
 *  - config: the gateway's config, an object or a function of the fake
 *    provider (default: one OpenAI provider, the fake); null for no `gw`
 *  - gateways: more gateways by name, { name: config }, in `gateways`
 *  - reset: clear the fake provider before each test (default true)
 *  - started: async ({ fake, gw, gateways }) => {}, run once all are up
 *    (on Node 20 a file's root-level `before` hooks do not wait for each other,
 *    so more set-up that needs them goes here, not in another hook)
 */
export function setup({ config = openaiOnly, gateways = {}, reset = true, started } = {}) {
  const fake = {};
  const gw = {};
  const named = Object.fromEntries(Object.keys(gateways).map((name) => [name, {}]));
  const running = [];
  const gatewaysUp = new Set();
  const startOne = async (target, cfg) => {
    running.push(Object.assign(target, await startGateway({ config: resolveConfig(cfg, fake) })));
    gatewaysUp.add(target);
  };

  before(async () => {
    running.push(Object.assign(fake, await startFakeProvider()));
    if (upstreamMode() !== "http") {
      const certs = testCertificates();
      const front = await startTlsFront({ port: fake.port, ...certs.localhost });
      running.push(front);
      Object.assign(fake, { url: front.url, caFile: certs.ca, front });
    }
    if (config !== null) await startOne(gw, config);
    for (const [name, cfg] of Object.entries(gateways)) await startOne(named[name], cfg);
    await started?.({ fake, gw, gateways: named });
  });

  // Every gateway must shut down cleanly on SIGTERM: exit status 0, which
  // under ASan also means no leak and no error report at exit.
  after(async () => {
    if (fake.front) assert.ok(fake.front.stats().connections > 0, "nothing went through the TLS front");
    for (const p of running.reverse()) {
      const exit = await p.stop();
      if (gatewaysUp.has(p)) assert.deepEqual(exit, { code: 0, signal: null }, `gateway exit\n${p.logs().slice(-2000)}`);
    }
  });

  if (reset)
    beforeEach(async () => {
      await fake.reset();
    });

  return {
    fake,
    gw,
    gateways: named,
    /** The last request the fake provider received (there must be one). */
    async lastUpstream() {
      const reqs = await fake.requests();
      assert.ok(reqs.length > 0, "the fake provider received no request");
      return reqs.at(-1);
    },
    /** An OpenAI SDK client on the gateway's /v1, no retries. */
    openai: (opts = {}) =>
      lazy(() => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "any-key", maxRetries: 0, ...opts })),
    /** An Anthropic SDK client on the gateway, no retries. */
    anthropic: (opts = {}) => lazy(() => new Anthropic({ baseURL: gw.url, maxRetries: 0, ...opts })),
  };
}

/**
 * setup() for the OpenAI SDK against one model that `providers(fake)` (the
 * config's providers) serve; adds `client`, `collect(stream)` (collectChat
 * for the model) and `ask(extra)` (one user message "x" and `extra`).
 */
export function setupModel({ model, providers, ...options }) {
  const h = setup({ config: (fake) => ({ providers: providers(fake) }), ...options });
  const client = h.openai();
  return {
    ...h,
    client,
    collect: (stream) => collectChat(stream, model),
    ask: (extra = {}) => client.chat.completions.create({ model, messages: [{ role: "user", content: "x" }], ...extra }),
  };
}

/** A loopback port nothing listens on at the moment (the kernel's pick for port 0). */
export async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

/** Polls `cond` every 20 ms until it returns a truthy value, which it returns. */
export async function waitFor(cond, what, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The ledger row of a generation, once written (with `key` as the bearer token, if given). */
export function ledgerRow(gw, genId, key) {
  const headers = key === undefined ? {} : { authorization: `Bearer ${key}` };
  return waitFor(async () => {
    const r = await fetch(`${gw.url}/api/v1/generation?id=${genId}`, { headers });
    return r.status === 200 ? (await r.json()).data : null;
  }, "the ledger row");
}

/** fetch() read to the end: { status, headers, text, json } (json null if the body is not JSON). */
export async function fetchText(url, init) {
  const res = await fetch(url, init);
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, text, json };
}

/**
 * A streamed chat completion posted as raw JSON: { status, events, chunks },
 * the SSE events in order and every event but the last parsed as a chunk.
 */
export async function rawChatStream(gw, body, headers = {}) {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const events = (await res.text()).split("\n\n").filter(Boolean);
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)));
  return { status: res.status, headers: res.headers, events, chunks };
}

/** A call of the skill contract's chat utility: { status, headers, json }. */
export async function skillChat(gw, params, headers = {}) {
  const res = await fetch(`${gw.url}/api/skills/openrouter/chat`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(params),
  });
  return { status: res.status, headers: res.headers, json: await res.json() };
}

/** An OpenAI SDK call rejects with `status` and a message matching `re`. */
export function rejectsWith(promise, status, re) {
  return assert.rejects(promise, (e) => e.status === status && re.test(e.message));
}

/** An OpenAI SDK call rejects with a RateLimitError whose Retry-After is `seconds`. */
export function rejectsRateLimited(promise, seconds) {
  return assert.rejects(promise, (e) => {
    assert.ok(e instanceof OpenAI.RateLimitError);
    assert.equal(e.headers.get("retry-after"), String(seconds));
    return true;
  });
}

/**
 * Reads an OpenAI SDK chat stream, asserting every chunk names `model`:
 * { text, reasoning, details, calls, finish, usage }.
 */
export async function collectChat(stream, model) {
  const out = { text: "", reasoning: "", details: [], calls: [], finish: null, usage: null };
  for await (const chunk of stream) {
    assert.equal(chunk.model, model);
    if (chunk.usage) out.usage = chunk.usage;
    const c = chunk.choices[0];
    if (!c) continue;
    if (c.delta?.content) out.text += c.delta.content;
    if (c.delta?.reasoning) out.reasoning += c.delta.reasoning;
    for (const d of c.delta?.reasoning_details ?? []) out.details.push(d);
    for (const tc of c.delta?.tool_calls ?? []) {
      if (tc.id) out.calls[tc.index] = { id: tc.id, name: tc.function.name, arguments: "" };
      if (tc.function?.arguments) out.calls[tc.index].arguments += tc.function.arguments;
    }
    if (c.finish_reason) out.finish = c.finish_reason;
  }
  return out;
}
