// SPDX-License-Identifier: MIT
// Faults of a scaled-out deployment (docs/scale-out.md, "What happens when
// something fails"): Redis killed and restarted mid-run under each
// `redis_down` policy, Postgres restarted mid-run (in durable and default
// mode), and kill -9 of one of two instances under load. Real servers,
// started privately for this file (lib/scaleout.mjs).
import { test, before, beforeEach, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, fakeProviderConfig } from "./lib/gateway.mjs";
import { startFakeProvider } from "./lib/fake_provider.mjs";
import { fetchText, waitFor } from "./lib/harness.mjs";
import { startServers, keyApi } from "./lib/scaleout.mjs";

const ADMIN = "sk-admin-e2e-faults";
const MODEL = "openai/gpt-4o-mini";
const pico = (usd) => Math.round(Number(usd) * 1e12);

let servers, fake;
const running = [];

before(async () => {
  servers = await startServers();
  fake = await startFakeProvider();
});

// The instances of the tests so far, stopped (a clean exit unless killed).
async function stopRunning() {
  for (const g of running.splice(0)) {
    const exit = await g.stop();
    if (!g.killed) assert.deepEqual(exit, { code: 0, signal: null }, `gateway exit\n${g.logs().slice(-3000)}`);
  }
}

after(async () => {
  await stopRunning();
  await fake?.stop();
  await servers?.stop();
});

// One deployment at a time: the previous test's instances stop, and Redis
// starts empty (its counters belong to one store; another store's epoch
// and spend would not be this one's).
beforeEach(async () => {
  await stopRunning();
  assert.equal(await servers.redisCli("FLUSHALL"), "OK");
});

// Two instances on the store `db`, once their shared counters are ready.
async function pair(db, extra = {}) {
  const config = {
    admin_key: ADMIN,
    workers: 2,
    database: db,
    redis: servers.redis,
    providers: { openai: fakeProviderConfig(fake) },
    ...extra,
  };
  const gws = await Promise.all([startGateway({ config }), startGateway({ config })]);
  running.push(...gws);
  for (const g of gws)
    await waitFor(async () => (await fetchText(`${g.url}/health`)).json.counters.status === "ok", "the shared counters ready");
  return gws;
}

const { api, createKey } = keyApi(ADMIN);

async function chat(gw, key) {
  try {
    return await fetchText(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json", connection: "close" },
      body: JSON.stringify({ model: MODEL, max_tokens: 20, messages: [{ role: "user", content: "hello" }] }),
    });
  } catch (e) {
    return { status: 0, text: String(e), json: null }; /* the instance is gone */
  }
}

// Requests in a loop on `targets` ([{gw, key, name}]), `width` at a time,
// until stop(); every answer is kept with when it came.
function load(targets, width = 4) {
  const results = [];
  let on = true;
  const loops = Array.from({ length: width }, async (_, i) => {
    for (let n = i; on; n += width) {
      const t = targets[n % targets.length];
      const r = await chat(t.gw, t.key);
      results.push({ ...t, status: r.status, json: r.json, at: Date.now() });
    }
  });
  return {
    results,
    since: (t0) => results.filter((r) => r.at >= t0),
    async stop() {
      on = false;
      await Promise.all(loops);
      return results;
    },
  };
}

const billed = (rs) => rs.filter((r) => r.status === 200).reduce((s, r) => s + pico(r.json.usage.cost), 0);

// The key's committed rows in Postgres, once there are at least `n`.
async function stored(db, hash, n, what = "rows") {
  return waitFor(async () => {
    const [count, cost] = (await servers.sql(`select count(*), coalesce(sum(cost_pico), 0) from generations where key_hash = '${hash}'`, db))
      .split("|")
      .map(Number);
    return count >= n ? { count, cost } : null;
  }, `${n} ${what} in Postgres`, 30000);
}

async function usageOn(gw, hash) {
  const r = await api(gw, "GET", `/keys/${hash}`);
  assert.equal(r.status, 200, r.text);
  return { usage: pico(r.json.data.usage), requests: r.json.data.requests, reserved: pico(r.json.data.limit_reserved) };
}

/** Until Redis counts `n` requests of the key (or 10 s pass: the caller's
 * assertion then says what it holds). */
async function settled(gw, hash, n) {
  await waitFor(async () => (await usageOn(gw, hash)).requests >= n, `${n} requests counted`).catch(() => {});
}

test("Redis killed and restarted mid-run (redis_down: deny): limited keys get 503 meanwhile, others go on, no overspend, recovery without restart", async () => {
  const db = await servers.createdb("redis_deny");
  const [A, B] = await pair(db);
  const limited = await createKey(A, { name: "limited", limit: 0.0004 }, [A, B]);
  const free = await createKey(B, { name: "free" }, [A, B]);
  const run = load([
    { gw: A, key: limited.key, name: "limited" },
    { gw: B, key: free.key, name: "free" },
    { gw: B, key: limited.key, name: "limited" },
    { gw: A, key: free.key, name: "free" },
  ]);
  await waitFor(() => run.results.filter((r) => r.status === 200).length >= 8, "traffic before the fault");
  await servers.redisKill();
  const down = Date.now();
  await waitFor(() => run.since(down).some((r) => r.name === "limited" && r.status === 503), "a 503 while Redis is down");
  await waitFor(() => run.since(down).filter((r) => r.name === "free" && r.status === 200).length >= 4, "free keys served meanwhile");
  const health = await fetchText(`${A.url}/health`);
  assert.equal(health.json.counters.status, "unavailable", health.text);
  assert.equal(health.json.status, "degraded");
  await servers.redisStart();
  const back = Date.now();
  await waitFor(() => run.since(back).some((r) => r.name === "limited" && r.status === 200), "the limited key served again", 20000);
  await waitFor(() => run.since(back).filter((r) => r.name === "limited" && r.status !== 503).length >= 4, "more traffic after");
  const results = await run.stop();

  for (const r of results.filter((x) => x.status === 503)) {
    assert.equal(r.name, "limited", "only keys with a limit are refused");
    assert.equal(r.json.error.metadata.error_type, "counters_unavailable");
    assert.match(r.json.error.message, /Redis cannot be reached/);
  }
  assert.ok(results.filter((r) => r.name === "free").every((r) => r.status === 200), "keys without a limit never fail");
  assert.ok(results.filter((r) => r.name === "limited").every((r) => [200, 402, 503].includes(r.status)));
  // the spend Redis reports (rebuilt from the store, plus what came
  // after and what was owed) is exactly what clients were billed, on both
  // instances, and what the store holds
  for (const name of ["limited", "free"]) {
    const key = name === "limited" ? limited : free;
    const mine = results.filter((r) => r.name === name);
    const rows = await stored(db, key.data.hash, mine.length);
    // the requests refused while Redis was down (503, no spend) are owed
    // to it and paid by each instance's counters thread once it has
    // reconnected (its backoff reaches 2 s): counted within seconds, not
    // at once
    await settled(A, key.data.hash, mine.length);
    const [onA, onB] = [await usageOn(A, key.data.hash), await usageOn(B, key.data.hash)];
    assert.equal(rows.cost, billed(mine), `${name}: the store`);
    assert.equal(onA.usage, billed(mine), `${name}: Redis, seen from A`);
    assert.equal(onB.usage, onA.usage, `${name}: Redis, seen from B`);
    assert.equal(onA.requests, mine.length, `${name}: requests`);
  }
  assert.ok(billed(results.filter((r) => r.name === "limited")) <= pico(0.0004), "no overspend");
  const after = await fetchText(`${A.url}/health`);
  assert.equal(after.json.counters.status, "ok", after.text);
  assert.equal(after.json.counters.owed, 0);
});

test("redis_down: local: each instance counts alone while Redis is down, and Redis catches up after", async () => {
  const db = await servers.createdb("redis_local");
  const [A, B] = await pair(db, { redis_down: "local" });
  const k = await createKey(A, { name: "local", limit: 1 }, [A, B]);
  const run = load([{ gw: A, key: k.key, name: "k" }, { gw: B, key: k.key, name: "k" }], 2);
  await waitFor(() => run.results.length >= 6, "traffic before the fault");
  await servers.redisKill();
  const down = Date.now();
  await waitFor(() => run.since(down).length >= 10, "traffic while Redis is down");
  await servers.redisStart();
  const back = Date.now();
  await waitFor(async () => (await fetchText(`${A.url}/health`)).json.counters.status === "ok", "Redis ready again", 20000);
  await waitFor(() => run.since(back).length >= 6, "traffic after");
  const results = await run.stop();
  assert.ok(results.every((r) => r.status === 200), results.map((r) => r.status).join(","));
  const rows = await stored(db, k.data.hash, results.length);
  assert.equal(rows.cost, billed(results));
  let seen;
  await waitFor(async () => (seen = await usageOn(B, k.data.hash)).usage === billed(results),
    "Redis to hold every settlement").catch((e) => {
    throw new Error(`${e.message}: ${JSON.stringify(seen)}, billed ${billed(results)} in ${results.length} requests`);
  });
  assert.equal((await usageOn(A, k.data.hash)).requests, results.length);
});

test("Postgres restarted mid-run: no row of a delivered response is lost, durable or not; key changes get 503 meanwhile", async () => {
  const db = await servers.createdb("pg_restart");
  const [A, B] = await pair(db);
  const [C, D] = await pair(db, { durable: true });
  const k = await createKey(A, { name: "rows" }, [A, B]);
  const run = load(
    [A, B, C, D].map((gw, i) => ({ gw, key: k.key, name: i < 2 ? "default" : "durable" })),
    6,
  );
  await waitFor(() => run.results.length >= 20, "traffic before the restart");
  await servers.pgStop();
  const down = Date.now();
  const refused = await api(B, "POST", "/keys", { name: "while-down" });
  assert.equal(refused.status, 503, refused.text);
  assert.equal(refused.json.error.metadata.error_type, "ledger_unavailable");
  await waitFor(() => run.since(down).length >= 10, "traffic while Postgres is down");
  await servers.pgStart();
  const up = Date.now();
  await waitFor(() => run.since(up).filter((r) => r.name === "durable" && r.status === 200).length >= 6, "durable traffic after");
  const results = await run.stop();
  const delivered = results.filter((r) => r.status === 200);
  assert.ok(delivered.some((r) => r.name === "durable") && delivered.some((r) => r.name === "default"));
  for (const r of results.filter((x) => x.status !== 200)) {
    assert.equal(r.status, 503, JSON.stringify(r.json));
    assert.equal(r.name, "durable", "the default mode serves while rows wait");
    assert.equal(r.json.error.metadata.error_type, "ledger_unavailable");
  }
  // every delivered response has its row, once the store takes writes
  const ids = delivered.map((r) => `'${r.json.id}'`).join(",");
  await waitFor(async () => Number(await servers.sql(`select count(*) from generations where id in (${ids}) and status = 200`, db)) === delivered.length,
    "every delivered response's row", 30000);
  const [onA] = [await usageOn(A, k.data.hash)];
  const rows = await stored(db, k.data.hash, 0);
  assert.equal(onA.usage, rows.cost, "Redis and the store agree");
  assert.equal(rows.cost, billed(results));
  const created = await api(B, "POST", "/keys", { name: "after" });
  assert.equal(created.status, 201, created.text);
});

test("kill -9 of one instance under load: the other keeps serving, its reservations are released, nothing is overspent", async (t) => {
  const db = await servers.createdb("kill");
  const [A, B] = await pair(db, { durable: true });
  const limit = 0.001;
  const k = await createKey(A, { name: "killed", limit }, [A, B]);
  await fake.setDefault({ content: "slow answer", latency_ms: 150 });
  const onA = load([{ gw: A, key: k.key, name: "A" }], 6);
  const onB = load([{ gw: B, key: k.key, name: "B" }], 6);
  await waitFor(() => onA.results.length >= 12 && onB.results.length >= 12, "traffic on both");
  A.proc.kill("SIGKILL");
  A.killed = true;
  const killed = Date.now();
  await waitFor(() => onB.since(killed).filter((r) => r.status === 200).length >= 12, "B serving after the kill");
  const fromA = await onA.stop();
  await fake.setDefault({ content: "fast answer" });
  // A's reservations end with it (its calls in flight never settle)
  await waitFor(async () => (await usageOn(B, k.data.hash)).reserved === 0, "A's reservations released", 30000);
  await waitFor(() => onB.since(Date.now() - 1000).filter((r) => r.status === 200).length >= 4, "B serving on");
  const fromB = await onB.stop();
  assert.ok(fromB.every((r) => r.status === 200 || r.status === 402), fromB.map((r) => r.status).join(","));
  const all = [...fromA, ...fromB];
  const delivered = all.filter((r) => r.status === 200);
  // durable: every answer delivered has its row
  const ids = delivered.map((r) => `'${r.json.id}'`).join(",");
  assert.equal(Number(await servers.sql(`select count(*) from generations where id in (${ids})`, db)), delivered.length);
  const view = await usageOn(B, k.data.hash);
  const rows = await stored(db, k.data.hash, delivered.length);
  assert.ok(view.usage <= pico(limit), "no overspend");
  assert.equal(rows.cost, billed(all), "the store holds what was billed");
  // Redis may count the calls A settled and never got to commit (their
  // clients got no answer), never fewer than the store
  const inFlightAtKill = fromA.filter((r) => r.status === 0).length + 6;
  t.diagnostic(`delivered ${delivered.length} (A ${fromA.filter((r) => r.status === 200).length}, B ${fromB.filter((r) => r.status === 200).length}); ` +
    `Redis ${view.usage} pico, ${view.requests} requests; store ${rows.cost} pico, ${rows.count} rows`);
  assert.ok(view.usage >= rows.cost, `Redis ${view.usage} < store ${rows.cost}`);
  assert.ok(view.usage - rows.cost <= inFlightAtKill * pico(0.00002), `Redis ${view.usage} vs store ${rows.cost}`);
});
