// SPDX-License-Identifier: MIT
// Client keys end to end: the key API and the CLI, authentication with a
// client key (and its immediate revocation on every worker), budgets under
// concurrency (settled spend never above the limit, the rest get 402),
// RPM / TPM limits with their headers, /key, /auth/key and /credits.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import OpenAI from "openai";
import { startGateway, fakeProviderConfig, switchboardBin } from "./lib/gateway.mjs";
import { setup, fetchText } from "./lib/harness.mjs";

const ADMIN = "sk-admin-e2e-keys";
const MODEL = "openai/gpt-4o-mini";
const { fake, gw } = setup({
  config: (fake) => ({ admin_key: ADMIN, workers: 2, providers: { openai: fakeProviderConfig(fake) } }),
});

function api(method, path, { key = ADMIN, body } = {}) {
  return fetchText(`${gw.url}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function createKey(body) {
  const r = await api("POST", "/keys", { body });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

// One chat call with a fresh connection (so both workers get used).
function chat(key, extra = {}) {
  return fetchText(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", connection: "close" },
    body: JSON.stringify({ model: MODEL, max_tokens: 20, messages: [{ role: "user", content: "hello" }], ...extra }),
  });
}

const pico = (usd) => Math.round(Number(usd) * 1e12);

// Models of the escalation and allow-list tests, and what went upstream.
const NANO = "openai/gpt-4.1-nano";
const MINI = "openai/gpt-4.1-mini";
const TOP = "openai/gpt-4o";
const onModel = (upstream, over) => ({ match: { model: upstream }, ...over });
const upstreamSince = async (seq) => (await fake.requests(seq)).map((r) => r.json.model);
const lastSeq = async () => (await fake.requests()).at(-1)?.seq ?? 0;

test("key lifecycle through the API: create, use, inspect, update, disable, delete", async () => {
  const created = await createKey({ name: "lifecycle", limit: 1.5, limit_reset: "monthly", rpm: 100 });
  const secret = created.key;
  assert.match(secret, /^sk-sb-v1-[0-9a-f]{64}$/);
  const d = created.data;
  // only the SHA-256 is kept: it is the key's hash in the API
  assert.equal(d.hash, createHash("sha256").update(secret).digest("hex"));
  assert.equal(d.name, "lifecycle");
  assert.equal(d.limit, 1.5);
  assert.equal(d.limit_remaining, 1.5);
  assert.equal(d.limit_reset, "monthly");
  assert.equal(d.usage, 0);
  assert.equal(d.disabled, false);
  assert.ok(!JSON.stringify(d).includes(secret.slice(12)), "the secret is not in the key info");

  // listed without the secret; fetched by hash
  const list = await api("GET", "/keys");
  assert.equal(list.status, 200);
  assert.ok(list.json.data.some((k) => k.hash === d.hash));
  assert.ok(!list.text.includes(secret));
  const one = await api("GET", `/keys/${d.hash}`);
  assert.equal(one.json.data.name, "lifecycle");

  // the OpenAI SDK with the client key
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: secret, maxRetries: 0 });
  const c = await client.chat.completions.create({ model: MODEL, max_tokens: 30, messages: [{ role: "user", content: "hi there" }] });
  assert.equal(c.choices[0].message.content, "echo: hi there");
  const cost = pico(c.usage.cost);
  assert.ok(cost > 0);

  // /key and /auth/key show the spend at once, to the picodollar
  for (const path of ["/key", "/auth/key"]) {
    const me = await api("GET", path, { key: secret });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json.data.label, d.label);
    assert.equal(pico(me.json.data.usage), cost);
    assert.equal(pico(me.json.data.usage_daily), cost);
    assert.equal(pico(me.json.data.limit_remaining), pico(1.5) - cost);
    assert.equal(me.json.data.is_management_key, false);
  }
  // the ledger row carries the key; the key sees its own generation
  const gen = await api("GET", `/generation?id=${c.id}`, { key: secret });
  assert.equal(gen.status, 200, gen.text);
  assert.equal(gen.json.data.key_hash, d.hash);
  assert.equal(gen.json.data.key_label, "lifecycle");
  assert.equal(pico(gen.json.data.total_cost), cost);

  // a client key cannot manage keys
  assert.equal((await api("GET", "/keys", { key: secret })).status, 403);
  assert.equal((await api("POST", "/keys", { key: secret, body: { name: "x" } })).status, 403);

  // PATCH: rename, change the limit; disabled keys are refused
  const p = await api("PATCH", `/keys/${d.hash}`, { body: { name: "renamed", limit: null } });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.data.name, "renamed");
  assert.equal(p.json.data.limit, null);
  assert.equal((await api("PATCH", `/keys/${d.hash}`, { body: { limit: -1 } })).status, 400);
  assert.equal((await api("PATCH", `/keys/${d.hash}`, { body: { bogus: 1 } })).status, 400);
  await api("PATCH", `/keys/${d.hash}`, { body: { disabled: true } });
  const refused = await chat(secret);
  assert.equal(refused.status, 401);
  assert.match(refused.json.error.message, /disabled/);
  assert.ok(!(await api("GET", "/keys")).json.data.some((k) => k.hash === d.hash), "disabled keys are hidden by default");
  assert.ok((await api("GET", "/keys?include_disabled=true")).json.data.some((k) => k.hash === d.hash));
  await api("PATCH", `/keys/${d.hash}`, { body: { disabled: false } });
  assert.equal((await chat(secret)).status, 200);

  // DELETE: refused at once on every worker (fresh connections spread
  // over both)
  const del = await api("DELETE", `/keys/${d.hash}`);
  assert.deepEqual(del.json, { deleted: true });
  const after = await Promise.all(Array.from({ length: 8 }, () => chat(secret)));
  for (const r of after) assert.equal(r.status, 401, r.text);
  assert.equal((await api("GET", `/keys/${d.hash}`)).status, 404);
  assert.equal((await api("DELETE", `/keys/${d.hash}`)).status, 404);
  // unknown secrets in the key format are refused too
  assert.equal((await chat("sk-sb-v1-" + "0".repeat(64))).status, 401);
});

test("expired keys, model allow-lists and bad bodies", async () => {
  const past = await createKey({ name: "expired", expires_at: "2020-01-01T00:00:00Z" });
  assert.equal(past.data.expires_at, "2020-01-01T00:00:00.000Z");
  const r = await chat(past.key);
  assert.equal(r.status, 401);
  assert.match(r.json.error.message, /expired/);

  const only = await createKey({ name: "only-mini", models: [MODEL] });
  assert.deepEqual(only.data.models, [MODEL]);
  assert.equal((await chat(only.key)).status, 200);
  const other = await chat(only.key, { model: "openai/gpt-4o" });
  assert.equal(other.status, 403);
  assert.match(other.json.error.message, /may not use model 'openai\/gpt-4o'/);

  for (const body of [{}, { name: "" }, { name: "x", limit: "ten" }, { name: "x", limit_reset: "hourly" },
    { name: "x", expires_at: "tomorrow" }, { name: "x", rpm: -1 }, { name: "x", models: ["a,b"] }]) {
    const b = await api("POST", "/keys", { body });
    assert.equal(b.status, 400, JSON.stringify(body));
    assert.equal(b.json.error.code, 400);
  }
});

test("the reservation reads max_tokens however its name is escaped", async () => {
  // 5000 tokens of gpt-4o-mini cost $0.003: more than this key has; the
  // model's context length (128k) would be far more, so the message tells
  // which one the gateway read
  const k = await createKey({ name: "escaped-max-tokens", limit: 0.001 });
  const r = await fetchText(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${k.key}`, "content-type": "application/json" },
    body: `{"model":"${MODEL}","max\\u005ftokens":5000,"messages":[{"role":"user","content":"hi"}]}`,
  });
  assert.equal(r.status, 402, r.text);
  assert.match(r.json.error.message, /You requested up to 5000 tokens/);
});

// ---- a key's model allow-list binds every candidate ------------------------

test("a key's allow-list is checked for every candidate: fallbacks, escalation rungs, slugs and suffixes", async () => {
  const only = await createKey({ name: "allow-list", models: [MODEL] });
  const hash = only.data.hash;
  const send = (body) =>
    fetchText(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${only.key}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], max_tokens: 20, ...body }),
    });
  const usage = async () => pico((await api("GET", "/key", { key: only.key })).json.data.usage);

  // a fallback the key may not use is not tried when the primary fails
  let seq = await lastSeq();
  await fake.script([{ match: { model: "gpt-4o-mini" }, status: 400 }]);
  let r = await send({ model: MODEL, models: [TOP] });
  assert.equal(r.status, 400, r.text);
  assert.deepEqual(await upstreamSince(seq), ["gpt-4o-mini"]);

  // a primary the key may not use is skipped: an allowed fallback answers
  seq = await lastSeq();
  r = await send({ model: TOP, models: [MODEL] });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.model, MODEL);
  assert.deepEqual(await upstreamSince(seq), ["gpt-4o-mini"]);

  // switchboard/auto does not climb past the allowed rungs: the top
  // allowed rung's answer stands
  seq = await lastSeq();
  await fake.script([onModel("gpt-4o-mini", { finish_reason: "length", content: "cut" })]);
  r = await send({ model: "switchboard/auto", models: [MODEL, TOP], max_tokens: 1 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.model, MODEL);
  assert.equal(r.json.choices[0].finish_reason, "length");
  assert.deepEqual(await upstreamSince(seq), ["gpt-4o-mini"]);
  // disallowed lower rungs are skipped too (the rung keeps its place)
  seq = await lastSeq();
  r = await send({ model: "switchboard/auto", models: [NANO, MODEL, TOP] });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.model, MODEL);
  assert.equal(r.headers.get("x-switchboard-rung"), "2");
  assert.deepEqual(await upstreamSince(seq), ["gpt-4o-mini"]);

  // the allow-list names routed ids: a slug or a routing suffix of an
  // allowed model is that model; of another, it is not
  for (const model of ["gpt-4o-mini", `${MODEL}:floor`, `${MODEL}:nitro`])
    assert.equal((await send({ model })).status, 200, model);

  // none allowed: the primary's 403, and nothing goes upstream or is billed
  const before = await usage();
  seq = await lastSeq();
  for (const body of [
    { model: TOP, models: [NANO] },
    { model: "switchboard/auto", models: [NANO, TOP] },
    { model: "gpt-4o" },
    { model: `${TOP}:floor` },
    { models: [TOP, NANO] },
  ]) {
    r = await send(body);
    assert.equal(r.status, 403, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.error.metadata.error_type, "permission_denied");
    assert.match(r.json.error.message, /^this API key may not use model 'openai\/gpt-4(o|\.1-nano)'$/);
  }
  assert.deepEqual(await upstreamSince(seq), []);
  assert.equal(await usage(), before);
  const rows = (await api("GET", `/keys/${hash}`)).json.data;
  assert.equal(rows.limit_reserved, 0);
});

test("a restricted key's request to OpenRouter does not carry `models` (OpenRouter would fall back by itself)", async () => {
  const g = await startGateway({
    config: { admin_key: ADMIN, providers: { openrouter: fakeProviderConfig(fake, { base_url: `${fake.url}/api/v1` }) } },
  });
  try {
    const make = async (body) =>
      (await fetchText(`${g.url}/api/v1/keys`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      })).json.key;
    const send = (key) =>
      fetchText(`${g.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ model: MODEL, models: [MODEL, TOP], messages: [{ role: "user", content: "hi" }] }),
      });
    const restricted = await make({ name: "or-restricted", models: [MODEL] });
    const open = await make({ name: "or-open" });
    let seq = await lastSeq();
    assert.equal((await send(restricted)).status, 200);
    let reqs = await fake.requests(seq);
    assert.equal(reqs.length, 1);
    assert.equal(reqs[0].json.model, MODEL);
    assert.equal(reqs[0].json.models, undefined);
    // a key without an allow-list still forwards it (docs/routing.md)
    seq = await lastSeq();
    assert.equal((await send(open)).status, 200);
    reqs = await fake.requests(seq);
    assert.deepEqual(reqs[0].json.models, [MODEL, TOP]);
  } finally {
    assert.deepEqual(await g.stop(), { code: 0, signal: null });
  }
});

// Exact totals of streamed responses: cost from each usage chunk.
async function streamOnce(client) {
  const s = await client.chat.completions.create({
    model: MODEL, stream: true, max_tokens: 50,
    messages: [{ role: "user", content: "count to three" }],
  });
  let usage = null, id = null;
  for await (const chunk of s) {
    id = chunk.id;
    if (chunk.usage) usage = chunk.usage;
  }
  return { id, cost: pico(usage.cost) };
}

test("40 parallel streams on a key whose limit covers only some: spend <= limit, the rest get 402", async (t) => {
  // every stream is slow, so they are all in flight together
  await fake.setDefault({ chunks: ["one ", "two ", "three"], first_token_ms: 300 });
  // one stream reserves about 50 completion tokens + ~50 prompt tokens at
  // gpt-4o-mini prices: about $0.0000375; ten fit in this limit
  const limit = 0.0004;
  const k = await createKey({ name: "concurrent", limit });
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: k.key, maxRetries: 0 });
  const results = await Promise.allSettled(Array.from({ length: 40 }, () => streamOnce(client)));
  const ok = results.filter((r) => r.status === "fulfilled").map((r) => r.value);
  const failed = results.filter((r) => r.status === "rejected").map((r) => r.reason);
  for (const e of failed) {
    assert.equal(e.status, 402, String(e));
    assert.match(e.message, /requires more credits, or fewer max_tokens/);
  }
  assert.ok(ok.length >= 5, `only ${ok.length} streams were admitted`);
  assert.ok(failed.length >= 20, `only ${failed.length} were refused`);
  const spent = ok.reduce((s, r) => s + r.cost, 0);
  t.diagnostic(`admitted ${ok.length} of 40, refused ${failed.length}; spent ${spent} of ${pico(limit)} picodollars`);
  assert.ok(spent <= pico(limit), `spent ${spent} > limit ${pico(limit)}`);
  // the gateway's own figure equals the sum of the responses' costs
  const me = await api("GET", "/key", { key: k.key });
  assert.equal(pico(me.json.data.usage), spent);
  assert.ok(pico(me.json.data.usage) <= pico(limit));
  assert.equal(pico(me.json.data.limit_reserved), 0);
  assert.equal(me.json.data.requests, 40); // refused ones too: one ledger row each
  // and so does the ledger, row by row
  let ledger = 0;
  for (const r of ok) {
    const g = await api("GET", `/generation?id=${r.id}`);
    assert.equal(g.status, 200, g.text);
    ledger += pico(g.json.data.total_cost);
  }
  assert.equal(ledger, spent);
  // once nothing fits, a request is refused before going upstream
  const before = (await fake.stats()).requests;
  const r = await chat(k.key, { max_tokens: 1000 });
  assert.equal(r.status, 402);
  assert.equal(r.json.error.code, 402);
  assert.equal((await fake.stats()).requests, before);
});

test("RPM: exactly N requests a minute, then 429 with Retry-After and X-RateLimit-*", async () => {
  const k = await createKey({ name: "rpm", rpm: 5 });
  const statuses = [];
  let last;
  for (let i = 0; i < 8; i++) {
    last = await chat(k.key);
    statuses.push(last.status);
  }
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
  const h = last.headers;
  const retry = Number(h.get("retry-after"));
  assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 60, `Retry-After ${h.get("retry-after")}`);
  assert.equal(h.get("x-ratelimit-limit"), "5");
  assert.equal(h.get("x-ratelimit-remaining"), "0");
  const reset = Number(h.get("x-ratelimit-reset"));
  assert.ok(reset > Date.now() - 1000 && reset <= Date.now() + 61000, `X-RateLimit-Reset ${reset}`);
  assert.equal(last.json.error.code, 429);
  assert.equal(last.json.error.metadata.error_type, "rate_limit_exceeded");
  // refused requests never reach the provider
  assert.equal((await fake.stats()).requests, 5);
  // another key is not affected
  const other = await createKey({ name: "rpm-other", rpm: 5 });
  assert.equal((await chat(other.key)).status, 200);
  // lifting the limit takes effect at once
  await api("PATCH", `/keys/${k.data.hash}`, { body: { rpm: null } });
  assert.equal((await chat(k.key)).status, 200);
});

test("TPM: a key over its tokens per minute gets 429 until the window frees", async () => {
  const k = await createKey({ name: "tpm", tpm: 40 });
  // the fake provider bills ~body/4 prompt tokens: well over 10 per call
  const a = await chat(k.key);
  assert.equal(a.status, 200);
  const used = a.json.usage.total_tokens;
  const statuses = [a.status];
  let last = a;
  for (let i = 0; i < 5; i++) {
    last = await chat(k.key);
    statuses.push(last.status);
  }
  const admitted = statuses.filter((s) => s === 200).length;
  // admitted while the window is under 40 tokens
  assert.equal(admitted, Math.ceil(40 / used), `${used} tokens a call: ${statuses}`);
  assert.equal(last.status, 429);
  assert.equal(last.headers.get("x-ratelimit-limit"), "40");
  assert.equal(last.headers.get("x-ratelimit-remaining"), "0");
  assert.ok(Number(last.headers.get("retry-after")) >= 1);
  assert.match(last.json.error.message, /40 tokens per minute/);
});

test("credits: totals of limits and usage; the admin's /key", async () => {
  const r = await api("GET", "/credits");
  assert.equal(r.status, 200);
  assert.equal(typeof r.json.data.total_credits, "number");
  assert.equal(typeof r.json.data.total_usage, "number");
  const keys = (await api("GET", "/keys?include_disabled=true")).json.data;
  const limits = keys.filter((k) => k.limit !== null).reduce((s, k) => s + pico(k.limit), 0);
  assert.equal(pico(r.json.data.total_credits), limits);
  // total usage covers every key, live or deleted
  const live = keys.reduce((s, k) => s + pico(k.usage), 0);
  assert.ok(pico(r.json.data.total_usage) >= live);
  const admin = await api("GET", "/key");
  assert.equal(admin.json.data.is_management_key, true);
  assert.equal(admin.json.data.limit, null);
  // an admin call is counted in the totals too
  const before = pico(r.json.data.total_usage);
  const c = await chat(ADMIN);
  assert.equal(c.status, 200);
  const after = await api("GET", "/credits");
  assert.equal(pico(after.json.data.total_usage), before + pico(c.json.usage.cost));
  // a client key sees its own limit and usage
  const k = await createKey({ name: "own-credits", limit: 2 });
  const own = await api("GET", "/credits", { key: k.key });
  assert.deepEqual(own.json.data, { total_credits: 2, total_usage: 0 });
  // no key: 401
  const anon = await fetch(`${gw.url}/api/v1/credits`);
  assert.equal(anon.status, 401);
});

function run(args, env = {}) {
  return new Promise((resolve) => {
    const p = spawn(switchboardBin, args, {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ASAN_OPTIONS: process.env.ASAN_OPTIONS ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "", stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

test("key lifecycle through the CLI: create, list, use, revoke", async () => {
  const env = { SWITCHBOARD_URL: gw.url, SWITCHBOARD_KEY: ADMIN };
  const c = await run(["keys", "create", "--name", "cli-made", "--limit", "0.25", "--reset", "daily", "--rpm", "30",
    "--models", `${MODEL},openai/gpt-4o`], env);
  assert.equal(c.code, 0, c.stderr);
  const secret = c.stdout.match(/^key\s+(sk-sb-v1-[0-9a-f]{64})$/m)?.[1];
  const hash = c.stdout.match(/^hash\s+([0-9a-f]{64})$/m)?.[1];
  assert.ok(secret && hash, c.stdout);
  assert.match(c.stdout, /^limit\s+\$0\.25 daily$/m);
  assert.match(c.stderr, /shown only this once/);
  const info = (await api("GET", `/keys/${hash}`)).json.data;
  assert.equal(info.rpm, 30);
  assert.deepEqual(info.models, [MODEL, "openai/gpt-4o"]);

  assert.equal((await chat(secret)).status, 200);
  const l = await run(["keys", "list"], env);
  assert.equal(l.code, 0, l.stderr);
  const lines = l.stdout.trimEnd().split("\n");
  assert.match(lines[0], /^HASH\s+NAME\s+LIMIT\s+RESET\s+USED\s+REMAINING\s+USAGE\s+RPM\s+TPM\s+STATUS$/);
  const row = lines.find((x) => x.startsWith(hash.slice(0, 16)));
  assert.ok(row, l.stdout);
  assert.match(row, /cli-made\s+\$0\.25\s+daily\s+\$0\.0000\d+\s+\$0\.24\d+\s+\$0\.0000\d+\s+30\s+-\s+active/);
  // columns line up: every row has the same length up to STATUS
  const at = lines[0].indexOf("STATUS");
  for (const x of lines.slice(1)) assert.match(x.slice(at), /^(active|disabled)$/);

  // revoke by a unique prefix: refused at once
  const r = await run(["keys", "revoke", hash.slice(0, 10)], env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), `revoked ${hash}`);
  assert.equal((await chat(secret)).status, 401);
  const again = await run(["keys", "revoke", hash], env);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /no key matches/);

  // usage straight from the ledger file
  const u = await run(["usage", "--by", "key", "--since", "1d", "--database", `sqlite:${gw.dir}/ledger.db`]);
  assert.equal(u.code, 0, u.stderr);
  assert.match(u.stdout, /^KEY\s+REQUESTS\s+ERRORS\s+TOKENS IN\s+TOKENS OUT\s+COST$/m);
  // (the call after the revoke was refused before it became a call: no row)
  assert.match(u.stdout, /^cli-made \([0-9a-f]{8}\)\s+1\s+0\s+\d+\s+\d+\s+\$0\.0000\d+$/m);
  assert.match(u.stdout, /^TOTAL\s+\d+/m);

  // errors: no admin key, bad arguments
  const bad = await run(["keys", "list"], { SWITCHBOARD_URL: gw.url, SWITCHBOARD_KEY: "wrong" });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /401: invalid API key/);
  assert.equal((await run(["keys", "create"], env)).code, 2);
  assert.equal((await run(["keys", "create", "--name", "x", "--limit", "lots"], env)).code, 2);
  assert.equal((await run(["usage", "--by", "colour"])).code, 2);
});

test("a key, its spend and its limits survive a restart", async () => {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "sb-keys-restart-"));
  const config = { admin_key: ADMIN, database: `sqlite:${join(dir, "ledger.db")}`, providers: { openai: fakeProviderConfig(fake) } };
  let g = await startGateway({ config });
  try {
    const post = async (key, body) => {
      const res = await fetch(`${g.url}/api/v1${key ? "/key" : "/keys"}`, {
        method: key ? "GET" : "POST",
        headers: { authorization: `Bearer ${key ?? ADMIN}`, "content-type": "application/json" },
        body: key ? undefined : JSON.stringify(body),
      });
      return res.json();
    };
    const k = await post(null, { name: "restart", limit: 0.0001, limit_reset: "weekly", rpm: 50 });
    const call = () =>
      fetch(`${g.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${k.key}`, "content-type": "application/json" },
        body: JSON.stringify({ model: MODEL, max_tokens: 20, messages: [{ role: "user", content: "hi" }] }),
      }).then(async (r) => ({ status: r.status, json: await r.json() }));
    let spent = 0;
    for (let i = 0; i < 3; i++) {
      const r = await call();
      assert.equal(r.status, 200);
      spent += pico(r.json.usage.cost);
    }
    assert.equal(pico((await post(k.key)).data.usage), spent);
    await g.stop();
    g = await startGateway({ config });
    const me = (await post(k.key)).data;
    assert.equal(me.name, "restart");
    assert.equal(me.limit_reset, "weekly");
    assert.equal(me.rpm, 50);
    assert.equal(pico(me.usage), spent);
    assert.equal(pico(me.usage_weekly), spent);
    assert.equal(pico(me.limit_remaining), pico(0.0001) - spent);
    // keep spending: the limit still binds, counting what was spent before
    let total = spent, refused = 0;
    for (let i = 0; i < 30 && refused === 0; i++) {
      const r = await call();
      if (r.status === 402) refused++;
      else total += pico(r.json.usage.cost);
    }
    assert.equal(refused, 1);
    assert.ok(total <= pico(0.0001));
    assert.equal(pico((await post(k.key)).data.usage), total);
  } finally {
    await g.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- a key's default escalation ladder (docs/routing.md) -------------------

test("a key's default ladder: set through the API, climbed by switchboard/auto, the request's models win, null removes it", async () => {
  const created = await createKey({ name: "laddered", escalation: { ladder: [NANO, MINI, TOP], on: ["length"] } });
  const { hash } = created.data;
  // "error" always climbs; the conditions come back by name
  const shape = { ladder: [NANO, MINI, TOP], on: ["error", "length"] };
  assert.deepEqual(created.data.escalation, shape);
  assert.deepEqual((await api("GET", `/keys/${hash}`)).json.data.escalation, shape);
  assert.deepEqual((await api("GET", "/key", { key: created.key })).json.data.escalation, shape);

  // the first rung stops on `length`: the key's ladder is climbed
  await fake.script([onModel("gpt-4.1-nano", { finish_reason: "length", content: "cut sh" })]);
  let r = await chat(created.key, { model: "switchboard/auto" });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.model, MINI);
  assert.equal(r.json.choices[0].finish_reason, "stop");
  assert.equal(r.headers.get("x-switchboard-rung"), "2");
  assert.ok(Number(r.headers.get("x-switchboard-escalation-cost")) > 0);
  assert.deepEqual(await upstreamSince(), ["gpt-4.1-nano", "gpt-4.1-mini"]);

  // the key's `on` applies: an empty answer is not a climbing condition here
  let seq = await lastSeq();
  await fake.script([onModel("gpt-4.1-nano", { content: "" })]);
  r = await chat(created.key, { model: "switchboard/auto" });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.model, NANO);
  assert.equal(r.headers.get("x-switchboard-rung"), "1");
  assert.deepEqual(await upstreamSince(seq), ["gpt-4.1-nano"]);

  // the request's own `models` win over the key's ladder
  seq = await lastSeq();
  await fake.script([onModel("gpt-4.1-mini", { finish_reason: "length", content: "cut" })]);
  r = await chat(created.key, { model: "switchboard/auto", models: [MINI, TOP] });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.model, TOP);
  assert.equal(r.headers.get("x-switchboard-rung"), "2");
  assert.deepEqual(await upstreamSince(seq), ["gpt-4.1-mini", "gpt-4o"]);

  // another key (and the admin) have no ladder: the config has none either
  const plain = await createKey({ name: "no-ladder" });
  assert.equal(plain.data.escalation, null);
  for (const key of [plain.key, ADMIN]) {
    const none = await chat(key, { model: "switchboard/auto" });
    assert.equal(none.status, 400, none.text);
    assert.match(none.json.error.message, /needs a ladder/);
  }

  // a PATCH of other fields keeps it; a new one replaces it; null removes it
  let p = await api("PATCH", `/keys/${hash}`, { body: { name: "laddered-2" } });
  assert.equal(p.status, 200, p.text);
  assert.deepEqual(p.json.data.escalation, shape);
  p = await api("PATCH", `/keys/${hash}`, { body: { escalation: { ladder: [MINI, TOP] } } });
  assert.deepEqual(p.json.data.escalation, { ladder: [MINI, TOP] });
  seq = await lastSeq();
  await fake.script([onModel("gpt-4.1-mini", { content: "   " })]); // empty: climbs (every condition)
  r = await chat(created.key, { model: "switchboard/auto" });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.model, TOP);
  assert.deepEqual(await upstreamSince(seq), ["gpt-4.1-mini", "gpt-4o"]);
  p = await api("PATCH", `/keys/${hash}`, { body: { escalation: null } });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.data.escalation, null);
  assert.equal((await api("GET", `/keys/${hash}`)).json.data.escalation, null);
  r = await chat(created.key, { model: "switchboard/auto" });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error.message, /needs a ladder/);
  // a plain model still works for the key
  assert.equal((await chat(created.key)).status, 200);

  // bad escalations are refused and change nothing
  for (const escalation of [5, "a,b", { ladder: [] }, { ladder: "x" }, { ladder: [NANO, 3] }, { ladder: [""] },
    { ladder: [NANO], on: ["sometimes"] }, { ladder: [NANO], on: "length" }, { ladder: [NANO], bogus: 1 },
    { ladder: Array.from({ length: 40 }, (_, i) => `openai/some-rather-long-model-name-${i}`) }]) {
    const bad = await api("PATCH", `/keys/${hash}`, { body: { escalation } });
    assert.equal(bad.status, 400, `${JSON.stringify(escalation)}: ${bad.text}`);
    assert.match(bad.json.error.message, /escalation/);
    assert.equal((await api("POST", "/keys", { body: { name: "bad", escalation } })).status, 400);
  }
  assert.equal((await api("GET", `/keys/${hash}`)).json.data.escalation, null);
});

test("keys create --ladder sets the key's default ladder", async () => {
  const env = { SWITCHBOARD_URL: gw.url, SWITCHBOARD_KEY: ADMIN };
  const c = await run(["keys", "create", "--name", "cli-ladder", "--ladder", `${NANO},${MINI},,${TOP}`], env);
  assert.equal(c.code, 0, c.stderr);
  const secret = c.stdout.match(/^key\s+(sk-sb-v1-[0-9a-f]{64})$/m)?.[1];
  const hash = c.stdout.match(/^hash\s+([0-9a-f]{64})$/m)?.[1];
  assert.ok(secret && hash, c.stdout);
  assert.match(c.stdout, new RegExp(`^ladder\\s+${NANO} ${MINI} ${TOP}$`, "m"));
  assert.deepEqual((await api("GET", `/keys/${hash}`)).json.data.escalation, { ladder: [NANO, MINI, TOP] });
  await fake.script([onModel("gpt-4.1-nano", { finish_reason: "length", content: "cut" })]);
  const r = await chat(secret, { model: "switchboard/auto" });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.model, MINI);
  assert.equal(r.headers.get("x-switchboard-rung"), "2");
  // a bad ladder is refused by the gateway
  const bad = await run(["keys", "create", "--name", "cli-bad", "--ladder", ","], env);
  assert.equal(bad.code, 1, bad.stdout);
  assert.match(bad.stderr, /escalation\.ladder/);
});

test("a key's ladder survives a restart", async () => {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "sb-keys-ladder-"));
  const config = { admin_key: ADMIN, database: `sqlite:${join(dir, "ledger.db")}`, providers: { openai: fakeProviderConfig(fake) } };
  let g = await startGateway({ config });
  try {
    const req = (method, path, key, body) =>
      fetchText(`${g.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const k = await req("POST", "/api/v1/keys", ADMIN, { name: "ladder-restart", escalation: { ladder: [NANO, TOP], on: ["length", "empty"] } });
    assert.equal(k.status, 201, k.text);
    const plain = await req("POST", "/api/v1/keys", ADMIN, { name: "plain-restart" });
    const shape = { ladder: [NANO, TOP], on: ["error", "length", "empty"] };
    await g.stop();
    g = await startGateway({ config });
    assert.deepEqual((await req("GET", `/api/v1/keys/${k.json.data.hash}`, ADMIN)).json.data.escalation, shape);
    assert.equal((await req("GET", `/api/v1/keys/${plain.json.data.hash}`, ADMIN)).json.data.escalation, null);
    const seq = await lastSeq();
    await fake.script([onModel("gpt-4.1-nano", { finish_reason: "length", content: "cut" })]);
    const body = { model: "switchboard/auto", max_tokens: 20, messages: [{ role: "user", content: "hi" }] };
    const r = await req("POST", "/v1/chat/completions", k.json.key, body);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.model, TOP);
    assert.equal(r.headers.get("x-switchboard-rung"), "2");
    assert.deepEqual(await upstreamSince(seq), ["gpt-4.1-nano", "gpt-4o"]);
    // a removal survives a restart too
    assert.equal((await req("PATCH", `/api/v1/keys/${k.json.data.hash}`, ADMIN, { escalation: null })).status, 200);
    await g.stop();
    g = await startGateway({ config });
    assert.equal((await req("GET", `/api/v1/keys/${k.json.data.hash}`, ADMIN)).json.data.escalation, null);
    assert.equal((await req("POST", "/v1/chat/completions", k.json.key, body)).status, 400);
  } finally {
    await g.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- a presented key is judged by that key, on every door (README "Auth") ----

// The four doors a client key may call, each with its own way to send it.
const doors = {
  skill: { path: "/api/skills/openrouter/chat", body: { model: MODEL, max_tokens: 20, messages: [{ role: "user", content: "x" }] } },
  chat: { path: "/v1/chat/completions", body: { model: MODEL, max_tokens: 20, messages: [{ role: "user", content: "x" }] } },
  messages: { path: "/v1/messages", body: { model: MODEL, max_tokens: 20, messages: [{ role: "user", content: "x" }] }, header: "x-api-key" },
  embeddings: { path: "/v1/embeddings", body: { model: "openai/text-embedding-3-small", input: "x" } },
};

function callDoor(url, door, key, headers = {}) {
  const d = doors[door];
  const auth = key === undefined ? {} : d.header ? { [d.header]: key } : { authorization: `Bearer ${key}` };
  return fetchText(`${url}${d.path}`, {
    method: "POST",
    headers: { "content-type": "application/json", connection: "close", ...auth, ...headers },
    body: JSON.stringify(d.body),
  });
}

// Keys in each state, made through `url`'s key API with `admin` (a bearer
// that the API takes as the admin).
async function keysInEveryState(url, admin) {
  const make = async (body) => {
    const r = await fetchText(`${url}/api/v1/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    assert.equal(r.status, 201, r.text);
    return r.json;
  };
  const patch = (hash, body, method = "PATCH") =>
    fetch(`${url}/api/v1/keys/${hash}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const live = await make({ name: "judged-live" });
  const revoked = await make({ name: "judged-revoked" });
  assert.equal((await patch(revoked.data.hash, undefined, "DELETE")).status, 200);
  const disabled = await make({ name: "judged-disabled" });
  assert.equal((await patch(disabled.data.hash, { disabled: true })).status, 200);
  const expired = await make({ name: "judged-expired", expires_at: "2020-01-01T00:00:00Z" });
  return { live, revoked: revoked.key, disabled: disabled.key, expired: expired.key };
}

// Every door answers each presented credential as `want` says (a status),
// and nothing reaches the provider for a refused one.
async function expectJudged(url, cases) {
  for (const door of Object.keys(doors))
    for (const [name, { key, status, headers }] of Object.entries(cases)) {
      const seq = (await fake.requests()).at(-1)?.seq ?? 0;
      const r = await callDoor(url, door, key, headers);
      const want = typeof status === "function" ? status(door) : status;
      assert.equal(r.status, want, `${door} door, ${name}: ${r.text}`);
      if (want === 401) {
        assert.equal((await fake.requests(seq)).length, 0, `${door} door, ${name}: went upstream`);
        const message = door === "skill" ? r.json.error : r.json.error.message;
        assert.equal(typeof message, "string", r.text);
      }
    }
}

test("admin mode: a presented key is judged on every door, the skill door included; only no key is trusted there", async () => {
  const k = await keysInEveryState(gw.url, ADMIN);
  await expectJudged(gw.url, {
    "no key": { key: undefined, status: (door) => (door === "skill" ? 200 : 401) },
    "a wrong key": { key: "nope", status: 401 },
    "an unknown client key": { key: "sk-sb-v1-" + "1".repeat(64), status: 401 },
    "a revoked key": { key: k.revoked, status: 401 },
    "a disabled key": { key: k.disabled, status: 401 },
    "an expired key": { key: k.expired, status: 401 },
    "a non-bearer Authorization": { key: undefined, headers: { authorization: "Basic dXNlcjpwYXNz" }, status: 401 },
    "the admin key": { key: ADMIN, status: 200 },
    "a live key": { key: k.live.key, status: 200 },
  });
  // the skill call made with a live key is billed to that key
  const r = await callDoor(gw.url, "skill", k.live.key);
  assert.equal(r.status, 200, r.text);
  const gen = await api("GET", `/generation?id=${r.headers.get("x-generation-id")}`);
  assert.equal(gen.json.data.key_hash, k.live.data.hash);
  assert.equal(gen.json.data.api, "skill");
});

test("local mode: any bearer is accepted, but one in the client-key format is judged as that key", async () => {
  const local = await startGateway({ config: { providers: { openai: fakeProviderConfig(fake) } } });
  try {
    const k = await keysInEveryState(local.url, "any-bearer");
    await expectJudged(local.url, {
      "no key": { key: undefined, status: 200 },
      "an SDK's placeholder bearer": { key: "local", status: 200 },
      "a non-bearer Authorization": { key: undefined, headers: { authorization: "Basic dXNlcjpwYXNz" }, status: 200 },
      "an unknown client key": { key: "sk-sb-v1-" + "2".repeat(64), status: 401 },
      "another shape of client key": { key: "sk-sb-whatever", status: 401 },
      "a revoked key": { key: k.revoked, status: 401 },
      "a disabled key": { key: k.disabled, status: 401 },
      "an expired key": { key: k.expired, status: 401 },
      "a live key": { key: k.live.key, status: 200 },
    });
  } finally {
    assert.deepEqual(await local.stop(), { code: 0, signal: null });
  }
});
