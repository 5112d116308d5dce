// SPDX-License-Identifier: MIT
// Routing that keeps agents running (docs/routing.md): `models` fallbacks,
// endpoint fallbacks, retries with backoff and Retry-After, provider key
// rotation, circuit breakers and the endpoints API, provider preferences,
// timeouts, streams that fail before / after their first byte, the skill
// contract, and the headline figure: one of two providers failing 30% of
// requests.
//
// One fake provider plays every service: each provider's base_url has its
// own path prefix (/groq/, /together/ ...), so scenarios match on it and
// the recorder shows which provider (and which key) each attempt went to.
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { setup, fetchText, ledgerRow } from "./lib/harness.mjs";

const prov = (name, extra = {}) => ({
  format: "openai",
  base_url: `${fake.url}/${name}/v1`,
  api_key: `sk-${name}`,
  ...extra,
});

const h = setup({
  reset: false,
  config: () => ({
    retry: { attempts: 2, base_ms: 10, max_ms: 1500, budget_ms: 8000 },
    health: { breaker_failures: 8, breaker_cooldown_ms: 400 },
    providers: {
      openai: prov("openai"),
      groq: {
        format: "openai",
        base_url: `${fake.url}/groq/v1`,
        api_keys: ["gk-1", "gk-2", "gk-3"],
        first_byte_timeout_ms: 400,
      },
      together: prov("together"),
      fireworks: prov("fireworks", { retry: { attempts: 0 } }),
      deepseek: {
        format: "openai",
        base_url: `${fake.url}/deepseek/v1`,
        api_keys: ["dk-1", "dk-2"],
        retry: { attempts: 0 },
      },
      anthropic: { format: "anthropic", base_url: `${fake.url}/anthropic`, api_key: "sk-ant" },
    },
  }),
});
const { fake, gw } = h;
const client = h.openai({ apiKey: "k" });

beforeEach(async () => {
  await fake.reset();
  await heal();
});

const LLAMA = "meta-llama/llama-3.3-70b-instruct"; // groq < together < fireworks
const msgs = [{ role: "user", content: "hi" }];

const post = (path, body, headers = {}) =>
  fetchText(`${gw.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

const fail = (name, over = {}) => ({ match: { path_contains: `/${name}/` }, status: 500, ...over });
const who = (reqs) => reqs.map((r) => r.path.split("/")[1]);

// One good answer from groq for llama: earlier tests' failures in a row on
// that endpoint are forgotten (the breaker counts consecutive failures).
async function heal() {
  const r = await post("/v1/chat/completions", { model: LLAMA, messages: msgs, provider: { only: ["groq"] } });
  assert.equal(r.status, 200, r.text);
  await fake.reset();
}

const generation = (id) => ledgerRow(gw, id);

async function readSSE(res) {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((e) => e.startsWith("data: ") && e !== "data: [DONE]")
    .map((e) => JSON.parse(e.slice(6)));
}

test("models: the next model answers when the first fails; billed for it", async () => {
  // openai fails on every attempt (1 + 2 retries); llama on groq answers
  await fake.script([fail("openai", { times: 3 })]);
  const r = await client.chat.completions.create({
    model: "openai/gpt-4o-mini",
    models: [LLAMA],
    messages: msgs,
  });
  assert.equal(r.model, LLAMA);
  assert.equal(r.provider, "Groq");
  assert.equal(r.choices[0].message.content, "echo: hi");
  const reqs = await fake.requests();
  assert.deepEqual(who(reqs), ["openai", "openai", "openai", "groq"]);
  assert.equal(reqs[3].json.model, "llama-3.3-70b-versatile");
  // groq's prices: 0.59 / 0.79 USD per million tokens
  const u = r.usage;
  const expect = u.prompt_tokens * 0.00000059 + u.completion_tokens * 0.00000079;
  assert.ok(Math.abs(u.cost - expect) < 1e-12, `${u.cost} vs ${expect}`);
  const row = await generation(r.id);
  assert.equal(row.model, LLAMA);
  assert.equal(row.provider_name, "groq");
});

test("a model's endpoints are fallbacks too, and any error falls through", async () => {
  await fake.script([fail("groq", { status: 400, times: 1 })]);
  const r = await client.chat.completions.create({ model: LLAMA, messages: msgs });
  assert.equal(r.provider, "Together");
  const reqs = await fake.requests();
  // a 400 is not retried on the same endpoint, but falls back
  assert.deepEqual(who(reqs), ["groq", "together"]);
  assert.equal(reqs[1].json.model, "meta-llama/Llama-3.3-70B-Instruct-Turbo");
});

test("retries: fail first N with backoff, then success on the same endpoint", async () => {
  await fake.script([fail("groq", { status: 503, times: 2 })]);
  const r = await client.chat.completions.create({ model: LLAMA, messages: msgs });
  assert.equal(r.provider, "Groq");
  assert.deepEqual(who(await fake.requests()), ["groq", "groq", "groq"]);
});

test("429 with Retry-After: the only endpoint is retried after it", async () => {
  await fake.script([fail("openai", { status: 429, retry_after: 1 })]);
  const t0 = Date.now();
  const r = await client.chat.completions.create({ model: "openai/gpt-4o-mini", messages: msgs });
  const took = Date.now() - t0;
  assert.equal(r.choices[0].message.content, "echo: hi");
  assert.ok(took >= 950, `honoured Retry-After (${took} ms)`);
  assert.equal((await fake.requests()).length, 2);
});

test("429 on one of several keys: another key at once, the throttled one cools down", async () => {
  await fake.script([fail("groq", { status: 429, retry_after: 1 })]);
  const t0 = Date.now();
  const r = await client.chat.completions.create({ model: "groq/llama-3.1-8b-instant", messages: msgs });
  assert.ok(Date.now() - t0 < 900, "no wait when another key is free");
  assert.equal(r.choices[0].message.content, "echo: hi");
  const reqs = await fake.requests();
  assert.equal(reqs.length, 2);
  const k1 = reqs[0].headers.authorization;
  assert.notEqual(reqs[1].headers.authorization, k1, "another key after a 429");
  // for a while, the cooled key is not used
  for (let i = 0; i < 4; i++)
    await client.chat.completions.create({ model: "groq/llama-3.1-8b-instant", messages: msgs });
  const later = (await fake.requests()).slice(2).map((q) => q.headers.authorization);
  assert.ok(!later.includes(k1), `cooled key unused: ${later}`);
});

test("a throttled key switches keys even with retries off", async () => {
  await fake.script([fail("deepseek", { status: 429, retry_after: 5 })]);
  const r = await post("/v1/chat/completions", { model: "deepseek/deepseek-chat", messages: msgs, provider: { only: ["deepseek"] } });
  assert.equal(r.status, 200, r.text);
  const keys = (await fake.requests()).map((q) => q.headers.authorization);
  assert.equal(keys.length, 2);
  assert.notEqual(keys[0], keys[1]);
  // both keys throttled: the 429 reaches the client with its Retry-After
  await fake.reset();
  await fake.script([fail("deepseek", { status: 429, retry_after: 5, times: 2 })]);
  const r2 = await post("/v1/chat/completions", { model: "deepseek/deepseek-chat", messages: msgs, provider: { only: ["deepseek"] } });
  assert.equal(r2.status, 429, r2.text);
  assert.equal(r2.headers.get("retry-after"), "5");
});

test("a Retry-After longer than the cap is not waited for: next endpoint", async () => {
  await fake.script([fail("openai", { status: 429, retry_after: 30 })]);
  const t0 = Date.now();
  const r = await client.chat.completions.create({ model: "openai/gpt-4o-mini", models: [LLAMA], messages: msgs });
  assert.ok(Date.now() - t0 < 1000);
  assert.equal(r.provider, "Groq");
  assert.deepEqual(who(await fake.requests()), ["openai", "groq"]);
});

test("keys rotate; a key refused with 401 is set aside, the request still succeeds", async () => {
  await new Promise((res) => setTimeout(res, 1000)); // the 429 cooldown above ends
  for (let i = 0; i < 6; i++)
    await client.chat.completions.create({ model: "groq/llama-3.1-8b-instant", messages: msgs });
  const used = (await fake.requests()).map((q) => q.headers.authorization);
  assert.deepEqual(new Set(used), new Set(["Bearer gk-1", "Bearer gk-2", "Bearer gk-3"]));
  await fake.reset();
  await fake.script([fail("groq", { status: 401 })]);
  const r = await client.chat.completions.create({ model: "groq/llama-3.1-8b-instant", messages: msgs });
  assert.equal(r.choices[0].message.content, "echo: hi");
  const reqs = await fake.requests();
  assert.equal(reqs.length, 2);
  const bad = reqs[0].headers.authorization;
  assert.notEqual(reqs[1].headers.authorization, bad);
  assert.match(gw.logs(), /key #\d refused with 401; set aside/);
  await fake.reset();
  for (let i = 0; i < 6; i++)
    await client.chat.completions.create({ model: "groq/llama-3.1-8b-instant", messages: msgs });
  const after = (await fake.requests()).map((q) => q.headers.authorization);
  assert.ok(!after.includes(bad), "the refused key is not used again");
  assert.equal(new Set(after).size, 2);
});

test("streams fall back transparently before their first byte", async () => {
  // groq fails every attempt in one way: connection dropped, a stream cut
  // before any event, a first byte later than first_byte_timeout_ms (400)
  const faults = [{ drop_connection: true }, { cut_after: 0 }, { latency_ms: 1500 }];
  for (const f of faults) {
    await fake.reset();
    await heal();
    await fake.script([
      { match: { path_contains: "/groq/" }, times: -1, ...f },
      { match: { path_contains: "/together/" }, chunks: ["one ", "two"] },
    ]);
    const stream = await client.chat.completions.create({ model: LLAMA, messages: msgs, stream: true });
    let text = "";
    const providers = new Set();
    for await (const ch of stream) {
      providers.add(ch.provider);
      text += ch.choices[0]?.delta?.content ?? "";
    }
    assert.equal(text, "one two", JSON.stringify(f));
    assert.deepEqual([...providers], ["Together"]);
    const seen = who(await fake.requests());
    assert.equal(seen.at(-1), "together");
    assert.ok(seen.filter((x) => x === "groq").length >= 3, `${seen}`); // 1 + 2 retries
  }
});

test("fallback across wire formats: OpenAI fails, a retried Anthropic stream answers", async () => {
  await fake.script([
    fail("openai", { times: 3 }),
    { match: { path_contains: "/anthropic/" }, status: 529 },
    { match: { path_contains: "/anthropic/" }, chunks: ["from ", "claude"] },
  ]);
  const stream = await client.chat.completions.create({
    model: "openai/gpt-4o-mini",
    models: ["anthropic/claude-3.5-haiku"],
    messages: msgs,
    stream: true,
  });
  let text = "";
  let last;
  for await (const ch of stream) {
    text += ch.choices[0]?.delta?.content ?? "";
    last = ch;
  }
  assert.equal(text, "from claude");
  assert.equal(last.model, "anthropic/claude-3.5-haiku");
  assert.ok(last.usage.cost > 0);
  const reqs = await fake.requests();
  assert.deepEqual(who(reqs), ["openai", "openai", "openai", "anthropic", "anthropic"]);
  assert.equal(reqs[4].headers["x-api-key"], "sk-ant");
  assert.equal(reqs[4].json.model, "claude-3-5-haiku-20241022");
});

test("after the first byte a failure is a final error event, not a retry", async () => {
  await fake.script([{ match: { path_contains: "/groq/" }, chunks: ["a ", "b ", "c"], cut_after: 1 }]);
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: LLAMA, messages: msgs, stream: true }),
  });
  assert.equal(res.status, 200);
  const events = await readSSE(res);
  const err = events.find((e) => e.error);
  assert.ok(err, "an error event");
  assert.equal(err.choices[0].finish_reason, "error");
  assert.equal((await fake.requests()).length, 1);
});

test("a slow first token times out (408) when nothing else is left", async () => {
  await fake.script([{ match: { path_contains: "/groq/" }, latency_ms: 1500, times: 3 }]);
  const r = await post("/v1/chat/completions", { model: "groq/llama-3.1-8b-instant", messages: msgs });
  assert.equal(r.status, 408, r.text);
  assert.equal(r.json.error.metadata.error_type, "timeout");
  assert.equal((await fake.requests()).length, 3); // 1 + 2 retries
});

test("request timeouts: X-Switchboard-Timeout-Ms bounds the whole request", async () => {
  // openai has no short timeouts of its own; the request asks for 300 ms
  await fake.script([fail("openai", { status: 200, latency_ms: 1500, times: 3 })]);
  const t0 = Date.now();
  let r = await post("/v1/chat/completions", { model: "openai/gpt-4o-mini", messages: msgs },
    { "x-switchboard-timeout-ms": "300" });
  const took = Date.now() - t0;
  assert.equal(r.status, 408, r.text);
  assert.ok(took < 1200, `${took} ms`);
  // first token: a stream whose first event is late
  await fake.reset();
  await fake.script([{ match: { path_contains: "/openai/" }, first_token_ms: 1500, times: 3 }]);
  r = await post("/v1/chat/completions", { model: "openai/gpt-4o-mini", messages: msgs, stream: true },
    { "x-switchboard-first-token-timeout-ms": "200", "x-switchboard-timeout-ms": "2000" });
  assert.equal(r.status, 408, r.text);
  r = await post("/v1/chat/completions", { model: "openai/gpt-4o-mini", messages: msgs },
    { "x-switchboard-timeout-ms": "soon" });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error.message, /X-Switchboard-Timeout-Ms/);
});

test("a client that hangs up during a backoff is cancelled cleanly", async () => {
  await fake.script([fail("openai", { status: 429, retry_after: 1 })]);
  const ac = new AbortController();
  const pending = fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "openai/gpt-4o-mini", messages: msgs }),
    signal: ac.signal,
  }).catch((e) => e);
  await new Promise((res) => setTimeout(res, 300));
  ac.abort();
  await pending;
  await new Promise((res) => setTimeout(res, 1000));
  assert.equal((await fake.requests()).length, 1, "no retry after the client left");
  const r = await client.chat.completions.create({ model: "openai/gpt-4o-mini", messages: msgs });
  assert.equal(r.choices[0].message.content, "echo: hi");
});

test("breaker: a provider down opens it, routing skips it, a probe closes it", async () => {
  const DS = "deepseek/deepseek-chat"; // deepseek < fireworks < together
  await fake.setDefault({});
  await fake.script([fail("deepseek", { times: -1 })]);
  for (let i = 0; i < 8; i++) {
    const r = await client.chat.completions.create({ model: DS, messages: msgs });
    assert.equal(r.provider, "Fireworks");
  }
  assert.deepEqual(who(await fake.requests()), Array(8).fill(["deepseek", "fireworks"]).flat());
  let eps = await (await fetch(`${gw.url}/api/v1/models/${DS}/endpoints`)).json();
  let ds = eps.data.endpoints.find((e) => e.tag === "deepseek");
  assert.equal(ds.health.breaker, "open");
  assert.match(gw.logs(), /deepseek\/deepseek-chat via deepseek: circuit breaker open after 8 failures in a row/);
  assert.equal(ds.status, -2);
  assert.ok(ds.uptime_last_30m < 20, `${ds.uptime_last_30m}`); // 8 failures, 1 success earlier
  // open: skipped without a request
  await fake.reset();
  await fake.script([fail("deepseek", { times: -1 })]);
  const r = await client.chat.completions.create({ model: DS, messages: msgs });
  assert.equal(r.provider, "Fireworks");
  assert.deepEqual(who(await fake.requests()), ["fireworks"]);
  // the provider comes back; after the cooldown one probe closes it
  await fake.reset();
  await new Promise((res) => setTimeout(res, 450));
  const p = await client.chat.completions.create({ model: DS, messages: msgs });
  assert.equal(p.provider, "DeepSeek");
  eps = await (await fetch(`${gw.url}/api/v1/models/${DS}/endpoints`)).json();
  ds = eps.data.endpoints.find((e) => e.tag === "deepseek");
  assert.equal(ds.health.breaker, "closed");
  assert.equal(ds.status, 0);
  assert.ok(ds.uptime_last_30m > 0 && ds.uptime_last_30m < 100);
  assert.equal(typeof ds.latency_last_30m.p50, "number");
  assert.equal(ds.pricing.prompt, "0.00000027");
  assert.equal(eps.data.id, DS);
  assert.equal(eps.data.endpoints.length, 3);
});

test("switchboard/auto without a ladder is a 400", async () => {
  const r = await post("/v1/chat/completions", { model: "switchboard/auto", messages: msgs });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error.message, /ladder/);
});

test("endpoints API: unknown model is a 404", async () => {
  const r = await fetch(`${gw.url}/api/v1/models/nobody/nothing/endpoints`);
  assert.equal(r.status, 404);
});

test("provider preferences: order, only, ignore, sort, max_price, allow_fallbacks", async () => {
  const ask = async (extra) => {
    const r = await post("/v1/chat/completions", { model: LLAMA, messages: msgs, ...extra });
    return r;
  };
  let r = await ask({ provider: { order: ["fireworks", "together"] } });
  assert.equal(r.json.provider, "Fireworks");
  r = await ask({ provider: { only: ["together"] } });
  assert.equal(r.json.provider, "Together");
  r = await ask({ provider: { ignore: ["groq"] } });
  assert.equal(r.json.provider, "Together"); // the cheapest left
  r = await ask({ provider: { sort: "price" } });
  assert.equal(r.json.provider, "Groq");
  r = await ask({ model: `${LLAMA}:floor` });
  assert.equal(r.json.provider, "Groq");
  assert.equal(r.json.model, LLAMA);
  // max_price in USD per million tokens: 0.6 leaves groq only
  await fake.script([fail("groq", { times: 3 })]);
  r = await ask({ provider: { max_price: { prompt: 0.6 } } });
  assert.equal(r.status, 502, r.text);
  r = await ask({ provider: { max_price: { prompt: 0.1 } } });
  assert.equal(r.status, 503, r.text);
  // allow_fallbacks: false keeps to the ordered provider
  await fake.reset();
  await fake.script([fail("together", { status: 400 })]);
  r = await ask({ provider: { order: ["together"], allow_fallbacks: false } });
  assert.equal(r.status, 400, r.text);
  assert.deepEqual(who(await fake.requests()), ["together"]);
  r = await ask({ provider: { only: ["nobody"] } });
  assert.equal(r.status, 404, r.text);
  r = await ask({ provider: { sort: "cheapest" } });
  assert.equal(r.status, 400, r.text);
  r = await ask({ models: "x" });
  assert.equal(r.status, 400, r.text);
});

test("skill contract: the endpoint fallback is invisible to the skill", async () => {
  await fake.script([fail("groq", { times: 3 })]);
  const r = await post("/api/skills/openrouter/chat", { model: LLAMA, messages: msgs });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.content, "echo: hi");
  assert.deepEqual(who(await fake.requests()), ["groq", "groq", "groq", "together"]);
});

test("headline: one of two providers fails 30% of requests", async (t) => {
  // qwen-2.5-72b: fireworks (cheaper) and together. fireworks fails a
  // scripted 30% (a fixed pseudo-random pattern), with no retries of its
  // own here: the fallback to together does the work.
  const N = 200;
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const pattern = Array.from({ length: N }, () => rnd() < 0.3);
  const failures = pattern.filter(Boolean).length;
  const run = async (extra) => {
    await fake.reset();
    await fake.script(
      pattern.map((bad) => ({ match: { path_contains: "/fireworks/" }, ...(bad ? { status: 500 } : {}) })),
    );
    let ok = 0;
    for (let i = 0; i < N; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, () =>
          post("/v1/chat/completions", { model: "qwen/qwen-2.5-72b-instruct", messages: msgs, ...extra }),
        ),
      );
      ok += batch.filter((r) => r.status === 200).length;
    }
    return ok;
  };
  // without fallbacks: what the provider alone delivers
  const alone = await run({ provider: { only: ["fireworks"] } });
  // with them (breaker and retries as configured)
  const routed = await run({});
  t.diagnostic(`fireworks failed ${failures}/${N} scripted requests (${((100 * failures) / N).toFixed(1)}%)`);
  t.diagnostic(`client success without fallback: ${alone}/${N} (${((100 * alone) / N).toFixed(1)}%)`);
  t.diagnostic(`client success with switchboard routing: ${routed}/${N} (${((100 * routed) / N).toFixed(1)}%)`);
  assert.equal(routed, N);
  assert.ok(alone < N);
});
