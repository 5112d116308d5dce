// SPDX-License-Identifier: MIT
// The dashboard's reports and the catalog's stored lists on Postgres
// (docs/scale-out.md, docs/dashboard.md, docs/catalog.md): /api/v1/stats
// and /api/v1/generations on instance A count the rows instance B made,
// with the same figures, filters and order as a gateway on SQLite given
// the same requests; Postgres stopped, they answer 503 and then recover;
// a catalog refresh on one instance is what the next one starts from.
// The servers are Debian's, started privately for this file
// (lib/scaleout.mjs).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { fakeProviderConfig } from "./lib/gateway.mjs";
import { startFakeProvider } from "./lib/fake_provider.mjs";
import { fetchText, waitFor } from "./lib/harness.mjs";
import { startServers, keyApi, gatewaySet } from "./lib/scaleout.mjs";

const ADMIN = "sk-admin-e2e-scaleout-reports";
const MODEL = "openai/gpt-4o-mini";
const OTHER = "openai/gpt-4o";

let servers, fake, db, A, B, C;
const gateways = gatewaySet();

function gateway(config, env = {}) {
  return gateways.start({
    config: { admin_key: ADMIN, workers: 2, providers: { openai: fakeProviderConfig(fake) }, ...config },
    env,
  });
}

before(async () => {
  servers = await startServers();
  fake = await startFakeProvider();
  db = await servers.createdb("reports");
  // A and B share Postgres and Redis; C is a gateway on SQLite
  [A, B, C] = await Promise.all([
    gateway({ database: db, redis: servers.redis }),
    gateway({ database: db, redis: servers.redis }),
    gateway({}),
  ]);
});

after(async () => {
  await gateways.stopAll();
  await fake?.stop();
  await servers?.stop();
});

const { api } = keyApi(ADMIN);
const get = (gw, path) => api(gw, "GET", path);

function chat(gw, key, model, agent) {
  return fetchText(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "x-agent": agent },
    body: JSON.stringify({ model, max_tokens: 20, messages: [{ role: "user", content: `hello from ${agent}` }] }),
  });
}

// The same requests on `maker`, with a client key made on `keyOn`: a
// key's calls to two models, an upstream error, and an admin call.
async function workload(keyOn, maker) {
  const made = await api(keyOn, "POST", "/keys", { name: "reporter" });
  assert.equal(made.status, 201, made.text);
  const key = made.json.key;
  // B learns of a key made on A within a second (through Redis)
  await waitFor(async () => (await fetchText(`${maker.url}/api/v1/key`, { headers: { authorization: `Bearer ${key}` } })).status === 200,
    "the key known where it is used");
  await fake.script([{ content: "one two three" }, { status: 503 }, { content: "four five" }, { content: "six" }]);
  const statuses = [];
  statuses.push((await chat(maker, key, MODEL, "alpha")).status);
  statuses.push((await chat(maker, key, MODEL, "alpha")).status);
  statuses.push((await chat(maker, key, OTHER, "beta")).status);
  statuses.push((await chat(maker, ADMIN, MODEL, "beta")).status);
  assert.deepEqual(statuses, [200, 502, 200, 200]);
  return made.json.data.hash;
}

// What two gateways given the same requests must agree on: the report
// without its times (latencies differ run to run), a client key by name.
function figures(report, hash) {
  const sums = ({ requests, errors, tokens_prompt, tokens_completion, tokens_cached, cost }) =>
    ({ requests, errors, tokens_prompt, tokens_completion, tokens_cached, cost });
  const groups = {};
  for (const [dim, list] of Object.entries(report.groups))
    groups[dim] = list.map((g) => ({ id: dim === "key" && g.id === hash ? "(the key)" : g.id, name: g.name, ...sums(g) }));
  return { pending: report.pending, totals: sums(report.totals), series: report.series.length, groups };
}

const rowFigures = (rows) =>
  rows.map((r) => [r.model, r.agent, r.status, r.tokens_prompt, r.tokens_completion, r.total_cost, r.provider_name]);

const reports = [
  "/stats?from=1h&bucket=none&by=model,provider,key,agent",
  `/stats?from=1h&bucket=none&by=key,agent&model=${MODEL}`,
  "/stats?from=1h&bucket=none&by=model&agent=beta",
  "/stats?from=1h&bucket=none&by=model&agent=nobody",
];
const listings = ["/generations", "/generations?errors=true", "/generations?limit=2", "/generations?agent=beta&limit=1", `/generations?model=${OTHER}`];

test("/api/v1/stats and /api/v1/generations on A count B's rows, as a gateway on SQLite does", async () => {
  const onPg = await workload(A, B);
  const onSqlite = await workload(C, C);
  // committed: A reads what B's writer wrote; C's own count of waiting rows
  await waitFor(async () => (await get(A, "/stats?from=1h&bucket=none")).json.data.totals.requests === 4, "B's rows in A's report");
  await waitFor(async () => (await get(C, "/stats?from=1h&bucket=none")).json.data.pending === 0, "C's rows committed");

  for (const path of reports) {
    const [pg, lite] = [await get(A, path), await get(C, path)];
    assert.equal(pg.status, 200, pg.text);
    assert.equal(lite.status, 200, lite.text);
    assert.deepEqual(figures(pg.json.data, onPg), figures(lite.json.data, onSqlite), path);
  }
  const all = (await get(A, reports[0])).json.data;
  assert.equal(all.totals.requests, 4);
  assert.equal(all.totals.errors, 1);
  assert.deepEqual(all.groups.key.map((g) => g.name).sort(), ["admin", "reporter"]);
  assert.deepEqual(all.groups.agent.map((g) => [g.id, g.requests]).sort(), [["alpha", 2], ["beta", 2]]);

  for (const path of listings) {
    const [pg, lite] = [await get(A, path), await get(C, path)];
    assert.equal(pg.status, 200, pg.text);
    assert.deepEqual(rowFigures(pg.json.data), rowFigures(lite.json.data), path);
  }
  // the newest first, and only errors when asked
  const newest = (await get(A, "/generations")).json.data;
  assert.deepEqual(newest.map((r) => [r.agent, r.model, r.status]), [
    ["beta", MODEL, 200],
    ["beta", OTHER, 200],
    ["alpha", MODEL, 502],
    ["alpha", MODEL, 200],
  ]);
  const errors = (await get(A, "/generations?errors=true")).json.data;
  assert.equal(errors.length, 1);
  assert.match(errors[0].error, /503/);
  // the same rows on B, and the series over them
  const onB = await get(B, "/stats?from=1h&bucket=1m");
  assert.equal(onB.json.data.totals.requests, 4);
  assert.equal(onB.json.data.series.reduce((n, s) => n + s.requests, 0), 4);
});

test("a catalog refresh on one instance is what the next instance starts from", async () => {
  const alpha = (prompt, completion) => ({
    id: "acme/alpha",
    canonical_slug: "acme/alpha",
    name: "Acme: alpha",
    created: 1760000000,
    context_length: 65536,
    architecture: { modality: "text->text", input_modalities: ["text"], output_modalities: ["text"] },
    pricing: { prompt, completion, request: "0", image: "0" },
    top_provider: { context_length: 65536, max_completion_tokens: 8192, is_moderated: false },
  });
  await fake.models({ openrouter: { generate: 50, models: [alpha("0.000001", "0.000002")] } });
  const catalog = {
    database: db,
    redis: servers.redis,
    providers: { openrouter: fakeProviderConfig(fake, { base_url: `${fake.url}/api/v1` }) },
    catalog: { refresh: "1h", sources: ["openrouter"], timeout_ms: 1000 },
  };
  const models = async (gw) => {
    const r = await get(gw, "/models");
    assert.equal(r.status, 200, r.text);
    return new Map(r.json.data.map((m) => [m.id, m]));
  };
  const D = await gateway(catalog, { SWITCHBOARD_LOG: "info" });
  assert.doesNotMatch(D.logs(), /not kept across restarts/);
  // nothing stored yet: D fetches at start, and stores the list in Postgres
  const fetched = await waitFor(async () => (await models(D)).get("acme/alpha"), "D's first refresh");
  assert.equal(fetched.pricing_source, "openrouter");
  await waitFor(async () => (await servers.sql("select count(*) from catalog_snapshot where source = 'openrouter'", db)) === "1",
    "the list in Postgres");

  // the list cannot be fetched now: E starts from what D stored
  await fake.models({
    openrouter: { generate: 50, models: [alpha("0.000009", "0.000009")] },
    faults: [{ path_contains: "/api/v1/models", times: -1, kind: "status", status: 500 }],
  });
  const E = await gateway(catalog, { SWITCHBOARD_LOG: "info" });
  assert.match(E.logs(), /catalog: the stored openrouter list of \d{4}-[\d-]+T[\d:]+Z \(51 models\)/);
  const started = (await models(E)).get("acme/alpha");
  assert.ok(started, "E has the stored model");
  assert.deepEqual(started.pricing, fetched.pricing);
  assert.equal(started.pricing_updated_at, fetched.pricing_updated_at);
  await fake.models({});
});

test("Postgres stopped: the reports answer 503 and say why; started again, they answer", async () => {
  await servers.pgStop();
  try {
    for (const path of ["/stats?from=1h", "/generations"]) {
      const r = await get(A, path);
      assert.equal(r.status, 503, r.text);
      assert.equal(r.json.error.metadata.error_type, "ledger_unavailable", r.text);
      assert.match(r.json.error.message, /cannot connect to postgres:\/\/switchboard@127\.0\.0\.1:\d+\/reports/, r.text);
    }
  } finally {
    await servers.pgStart();
  }
  const back = await waitFor(async () => {
    const r = await get(A, "/stats?from=1h&bucket=none");
    return r.status === 200 ? r.json.data : null;
  }, "the reports back");
  assert.equal(back.totals.requests, 4);
  const rows = await get(B, "/generations");
  assert.equal(rows.status, 200, rows.text);
  assert.equal(rows.json.data.length, 4);
});
