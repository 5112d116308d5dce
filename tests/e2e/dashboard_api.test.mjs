// SPDX-License-Identifier: MIT
// What the dashboard reads, over plain HTTP: GET / for a browser and for
// a program, the page's files (content types, ETag and 304), and the
// report endpoints /api/v1/stats, /api/v1/generations and
// /api/v1/providers (admin only; their figures against the ledger's rows).
import { test } from "node:test";
import assert from "node:assert/strict";
import { setup, fakeProviderConfig, fetchText, ledgerRow, waitFor } from "./lib/harness.mjs";

const ADMIN = "sb-admin-dashboard-api";
const MODEL = "openai/gpt-4o-mini";
const { fake, gw } = setup({
  config: (fake) => ({
    admin_key: ADMIN,
    health: { breaker_failures: 2, breaker_cooldown_ms: 600000 },
    providers: {
      openai: fakeProviderConfig(fake, { api_keys: ["sk-up-1", "sk-up-2"] }),
      // never called: its credentials must not show
      private: fakeProviderConfig(fake, { base_url: `http://user:hunter2@127.0.0.1:${fake.port}/v1` }),
    },
  }),
});

const get = (path, key = ADMIN, headers = {}) =>
  fetchText(`${gw.url}${path}`, { headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers } });

async function chat(body, headers = {}) {
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json", ...headers },
    body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hello" }], ...body }),
  });
  await r.text();
  return { status: r.status, id: r.headers.get("x-generation-id") };
}

// Every row of `ids` in the store (the reports read committed rows).
async function committed(ids) {
  const rows = [];
  for (const id of ids) rows.push(await ledgerRow(gw, id, ADMIN));
  await waitFor(async () => (await get("/api/v1/stats?from=1h&bucket=none")).json.data.pending === 0, "the rows committed");
  return rows;
}

test("GET / is the page for a browser and a JSON summary for a program", async () => {
  const page = await get("/", null, { accept: "text/html,application/xhtml+xml,*/*;q=0.8" });
  assert.equal(page.status, 200);
  assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(page.headers.get("vary"), "Accept");
  assert.match(page.headers.get("content-security-policy"), /script-src 'self'/);
  assert.match(page.text, /<script type="module" src="\/ui\/app.js">/);
  const summary = await get("/", null);
  assert.equal(summary.headers.get("content-type"), "application/json");
  assert.equal(summary.json.name, "switchboard");
  assert.equal(summary.json.auth, "key");
  assert.equal(summary.json.providers, 2);
});

test("the page's files: content types, ETag, 304, HEAD; nothing else is served", async () => {
  for (const [file, type] of [["app.js", "text/javascript; charset=utf-8"], ["style.css", "text/css; charset=utf-8"],
                              ["index.html", "text/html; charset=utf-8"], ["", "text/html; charset=utf-8"]]) {
    const r = await get(`/ui/${file}`, null);
    assert.equal(r.status, 200, file);
    assert.equal(r.headers.get("content-type"), type, file);
    assert.equal(r.headers.get("cache-control"), "no-cache");
    assert.equal(r.headers.get("x-content-type-options"), "nosniff");
    const etag = r.headers.get("etag");
    assert.match(etag, /^"[0-9a-f]{16}"$/);
    const again = await get(`/ui/${file}`, null, { "if-none-match": etag });
    assert.equal(again.status, 304, file);
    assert.equal(again.text, "");
    assert.equal(again.headers.get("content-length"), null);
    assert.equal(again.headers.get("etag"), etag);
    // weakly, or among others
    assert.equal((await get(`/ui/${file}`, null, { "if-none-match": `"0000000000000000", W/${etag}` })).status, 304);
    assert.equal((await get(`/ui/${file}`, null, { "if-none-match": '"0000000000000000"' })).status, 200);
  }
  const head = await fetch(`${gw.url}/ui/app.js`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.ok(Number(head.headers.get("content-length")) > 1000);
  assert.equal(await head.text(), "");
  for (const bad of ["/ui/nothing.js", "/ui/.hidden", "/ui/%2e%2e%2fCMakeLists.txt", "/ui/sub/app.js"])
    assert.equal((await get(bad, null)).status, 404, bad);
  const post = await fetchText(`${gw.url}/ui/app.js`, { method: "POST", body: "x" });
  assert.equal(post.status, 405);
});

test("the reports need the admin key", async () => {
  const created = await fetchText(`${gw.url}/api/v1/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "client" }),
  });
  for (const path of ["/api/v1/stats", "/api/v1/generations", "/api/v1/providers"]) {
    assert.equal((await get(path, null)).status, 401, path);
    const r = await get(path, created.json.key);
    assert.equal(r.status, 403, path);
    assert.match(r.json.error.message, /needs the admin key/);
    const post = await fetchText(`${gw.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` }, body: "{}" });
    assert.equal(post.status, 405, path);
  }
});

test("stats: totals, series and groups are the ledger's; filters narrow them", async () => {
  const t0 = Date.now();
  await fake.script([{ content: "a b c" }, { content: "d e" }, { status: 500 }, { content: "f" }]);
  const ids = [
    (await chat({}, { "x-agent": "alpha" })).id,
    (await chat({ stream: true, stream_options: { include_usage: true } }, { "x-agent": "beta" })).id,
    (await chat({}, { "x-agent": "alpha" })).id, // 502
    (await chat({ model: "openai/gpt-4o" }, { "x-agent": "beta" })).id,
  ];
  const rows = await committed(ids);
  const from = t0 - 1000, to = Date.now() + 1000;
  const r = await get(`/api/v1/stats?from=${from}&to=${to}&bucket=1m&by=model,provider,key,agent&limit=50`);
  assert.equal(r.status, 200, r.text);
  const d = r.json.data;
  assert.equal(d.from_ms, from);
  assert.equal(d.to_ms, to);
  assert.equal(d.bucket_ms, 60000);
  const sum = (k, rs = rows) => rs.reduce((s, x) => s + x[k], 0);
  assert.equal(d.totals.requests, 4);
  assert.equal(d.totals.errors, 1);
  assert.equal(d.totals.tokens_prompt, sum("tokens_prompt"));
  assert.equal(d.totals.tokens_completion, sum("tokens_completion"));
  assert.ok(Math.abs(d.totals.cost - sum("total_cost")) < 1e-15);
  const lat = rows.map((x) => x.latency).sort((a, b) => a - b);
  assert.equal(d.totals.latency_ms_p50, lat[1]); // nearest rank 2 of 4
  assert.equal(d.totals.latency_ms_p95, lat[3]);
  // the buckets hold every request once
  assert.equal(d.series.reduce((s, b) => s + b.requests, 0), 4);
  assert.equal(d.series[0].start_ms, Math.floor(from / 60000) * 60000);
  for (let i = 1; i < d.series.length; i++) assert.equal(d.series[i].start_ms - d.series[i - 1].start_ms, 60000);
  // groups, the most expensive first
  assert.deepEqual(d.groups.model.map((g) => g.id).sort(), ["openai/gpt-4o", MODEL].sort());
  assert.equal(d.groups.model.find((g) => g.id === MODEL).requests, 3);
  assert.deepEqual(d.groups.provider.map((g) => [g.id, g.requests]), [["openai", 4]]);
  assert.deepEqual(d.groups.key.map((g) => [g.id, g.name, g.requests]), [["admin", "admin", 4]]);
  const alpha = d.groups.agent.find((g) => g.id === "alpha");
  assert.equal(alpha.requests, 2);
  assert.equal(alpha.errors, 1);
  for (let i = 1; i < d.groups.model.length; i++) assert.ok(d.groups.model[i - 1].cost >= d.groups.model[i].cost);

  // filters: one agent, one model; a UTC time range; no series
  const beta = (await get(`/api/v1/stats?from=${from}&to=${to}&agent=beta&bucket=none`)).json.data;
  assert.equal(beta.totals.requests, 2);
  assert.deepEqual(beta.series, []);
  assert.deepEqual(beta.groups.model.map((g) => g.id).sort(), ["openai/gpt-4o", MODEL].sort());
  const one = (await get(`/api/v1/stats?from=${from}&to=${to}&agent=beta&model=openai/gpt-4o`)).json.data;
  assert.equal(one.totals.requests, 1);
  assert.equal(one.totals.tokens_completion, rows[3].tokens_completion);
  const iso = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");
  const utc = (await get(`/api/v1/stats?from=${iso(from - 1000)}&to=${iso(to + 1000)}&by=agent`)).json.data;
  assert.equal(utc.totals.requests, 4);
  assert.equal(utc.groups.model, undefined);
  // nothing before the requests
  assert.equal((await get(`/api/v1/stats?from=0&to=${from}`)).json.data.totals.requests, 0);
});

test("stats: a bad parameter is a 400 that says why", async () => {
  for (const [q, why] of [
    ["by=day", /'by' takes model, provider, key and agent/],
    ["from=yesterday", /'from' must be/],
    ["from=2000&to=1000", /'to' is before 'from'/],
    ["from=30d&bucket=1s", /more than 1000 buckets/],
    ["bucket=fast", /'bucket' must be/],
    ["limit=0", /'limit' must be a number from 1 to 500/],
    ["limit=501", /'limit'/],
  ]) {
    const r = await get(`/api/v1/stats?${q}`);
    assert.equal(r.status, 400, q);
    assert.match(r.json.error.message, why, q);
  }
  // auto buckets: at most 100 of them, a usual step
  for (const [from, step] of [["1h", 60000], ["24h", 900000], ["7d", 10800000], ["30d", 43200000]]) {
    const d = (await get(`/api/v1/stats?from=${from}`)).json.data;
    assert.equal(d.bucket_ms, step, from);
    assert.ok(d.series.length <= 100, from);
  }
});

test("generations: the newest first, errors only, filtered", async () => {
  await fake.script([{ content: "x" }, { status: 503 }, { content: "y" }]);
  const a = await chat({}, { "x-agent": "gen-a" });
  const b = await chat({}, { "x-agent": "gen-a" });
  const c = await chat({}, { "x-agent": "gen-b" });
  assert.equal(b.status, 502);
  await committed([a.id, b.id, c.id]);
  const all = (await get("/api/v1/generations?limit=3")).json.data;
  assert.deepEqual(all.map((g) => g.id), [c.id, b.id, a.id]);
  assert.equal(all[0].agent, "gen-b");
  assert.equal(all[1].status, 502);
  assert.equal(all[1].provider_name, "openai");
  const errors = (await get("/api/v1/generations?errors=true&agent=gen-a")).json.data;
  assert.deepEqual(errors.map((g) => g.id), [b.id]);
  assert.match(errors[0].error, /503/);
  assert.deepEqual((await get("/api/v1/generations?agent=gen-a&limit=1")).json.data.map((g) => g.id), [b.id]);
  assert.deepEqual((await get("/api/v1/generations?agent=nobody")).json.data, []);
  assert.equal((await get("/api/v1/generations?limit=501")).status, 400);
});

test("providers: keys, breakers and endpoints, without credentials", async () => {
  // two failures in a row open the endpoint's breaker (health.breaker_failures: 2)
  await fake.script([{ status: 500 }, { status: 500 }, { status: 429, retry_after: 600 }]);
  assert.equal((await chat({})).status, 502);
  assert.equal((await chat({})).status, 502);
  // a 429 cools the key that got it down; the other one answers
  assert.equal((await chat({ model: "openai/some-new-model" })).status, 200);
  const r = await get("/api/v1/providers");
  assert.equal(r.status, 200, r.text);
  assert.doesNotMatch(r.text, /hunter2|sk-up-|sk-fake-upstream/);
  const [openai, priv] = ["openai", "private"].map((n) => r.json.data.find((p) => p.name === n));
  assert.equal(openai.display_name, "OpenAI");
  assert.equal(openai.format, "openai");
  assert.equal(openai.supported, true);
  assert.equal(openai.base_url, `${fake.url}/v1`);
  // api_key and api_keys: three keys
  assert.deepEqual(openai.keys, { total: 3, usable: 2, cooling_down: 1, set_aside: 0 });
  const mini = openai.endpoints.find((e) => e.model === MODEL);
  assert.equal(mini.upstream_model, "gpt-4o-mini");
  assert.equal(mini.default, true);
  assert.equal(mini.health.breaker, "open");
  assert.equal(mini.health.usable, false);
  assert.ok(mini.health.failures >= 2);
  // the pass-through id went to the provider as a whole
  assert.ok(openai.health.requests >= 1);
  assert.equal(priv.base_url, `http://127.0.0.1:${fake.port}/v1`);
  assert.deepEqual(priv.keys, { total: 1, usable: 1, cooling_down: 0, set_aside: 0 });
});
