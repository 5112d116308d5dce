// SPDX-License-Identifier: MIT
// Two gateway instances on one Postgres and one Redis (docs/scale-out.md):
// keys made on one work on the other, budgets and rate limits are exact
// across both, a revoke reaches the other within a second, a generation
// is found on either (and counted by either's reports), a stored response
// is read, continued and deleted on either, and the command line reads
// Postgres. The servers are
// Debian's, started privately for this file (lib/scaleout.mjs).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { fakeProviderConfig, switchboardBin, repoRoot } from "./lib/gateway.mjs";
import { startFakeProvider } from "./lib/fake_provider.mjs";
import { fetchText, waitFor, freePort } from "./lib/harness.mjs";
import { startServers, keyApi, gatewaySet } from "./lib/scaleout.mjs";

const ADMIN = "sk-admin-e2e-scaleout";
const MODEL = "openai/gpt-4o-mini";
const pico = (usd) => Math.round(Number(usd) * 1e12);

let servers, fake, db, A, B;
const gateways = gatewaySet();

function gateway(extra = {}) {
  return gateways.start({
    config: {
      admin_key: ADMIN,
      workers: 2,
      database: db,
      redis: servers.redis,
      providers: { openai: fakeProviderConfig(fake) },
      ...extra,
    },
  });
}

before(async () => {
  servers = await startServers();
  fake = await startFakeProvider();
  db = await servers.createdb("scaleout");
  // two instances starting at once on an empty database: one migrates
  [A, B] = await Promise.all([gateway(), gateway()]);
});

after(async () => {
  await gateways.stopAll();
  await fake?.stop();
  await servers?.stop();
});

const keys = keyApi(ADMIN);
const api = keys.api;
// a key made on one instance is used on the other once that one knows it
const createKey = (gw, body) => keys.createKey(gw, body, [A, B]);

// One chat call on its own connection.
function chat(gw, key, extra = {}) {
  return fetchText(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", connection: "close" },
    body: JSON.stringify({ model: MODEL, max_tokens: 20, messages: [{ role: "user", content: "hello" }], ...extra }),
  });
}

// The key's rows in Postgres, once `n` are committed: [count, ok, cost].
async function rowsOf(hash, n) {
  return waitFor(async () => {
    const [count, ok, cost] = (
      await servers.sql(`select count(*), count(*) filter (where status = 200), coalesce(sum(cost_pico), 0) from generations where key_hash = '${hash}'`, db)
    )
      .split("|")
      .map(Number);
    return count >= n ? { count, ok, cost } : null;
  }, `${n} rows of the key in Postgres`);
}

test("both instances migrated one schema and share one store", async () => {
  assert.equal(await servers.sql("select max(version), count(*) from switchboard_schema", db), "3|1");
  for (const g of [A, B]) {
    // Redis starts empty: one instance rebuilds it from the store, and
    // until then both report the counters unavailable (not an error)
    const h = await waitFor(async () => {
      const r = await fetchText(`${g.url}/health`);
      assert.equal(r.status, 200, r.text);
      if (r.json.counters.status !== "ok")
        assert.match(r.json.counters.error, /being rebuilt/, r.text);
      return r.json.counters.status === "ok" ? r : null;
    }, "the shared counters ready");
    assert.equal(h.json.status, "ok", h.text);
    assert.ok(h.json.counters.epoch >= 1, h.text); // the rebuild raised it
  }
});

test("a key created on A works on B within a second (OpenAI SDK)", async () => {
  const { key, data } = await createKey(A, { name: "across", limit: 1 });
  const client = new OpenAI({ baseURL: `${B.url}/v1`, apiKey: key, maxRetries: 0 });
  const r = await client.chat.completions.create({ model: MODEL, max_tokens: 10, messages: [{ role: "user", content: "hi" }] });
  assert.ok(r.choices[0].message.content.length > 0);
  // and B lists it, with the spend its call made
  const one = await api(B, "GET", `/keys/${data.hash}`);
  assert.equal(one.status, 200, one.text);
  assert.equal(one.json.data.requests, 1);
  assert.equal(pico(one.json.data.usage), pico(r.usage.cost));
});

test("96 concurrent requests over A and B on a small limit: the spend stays within it, both report it, one row each", async () => {
  // each call reserves its worst case (max_tokens 20), so a few fit at once
  const { key, data } = await createKey(A, { name: "burst", limit: 0.0001 });
  const results = await Promise.all(Array.from({ length: 96 }, (_, i) => chat(i % 2 ? A : B, key)));
  const statuses = results.map((r) => r.status);
  const admitted = statuses.filter((s) => s === 200).length;
  assert.ok(admitted > 0, "some fit");
  assert.ok(statuses.every((s) => s === 200 || s === 402), statuses.join(","));
  const billed = results.filter((r) => r.status === 200).reduce((sum, r) => sum + pico(r.json.usage.cost), 0);
  // each instance counts its own calls at once, the other's once their
  // settlements reach Redis (docs/scale-out.md)
  const view = (gw) =>
    waitFor(async () => {
      const r = await api(gw, "GET", `/keys/${data.hash}`);
      assert.equal(r.status, 200, r.text);
      return r.json.data.requests === 96 ? r : null;
    }, "all 96 settlements in Redis");
  const [onA, onB] = await Promise.all([view(A), view(B)]);
  assert.equal(pico(onA.json.data.usage), billed);
  assert.equal(pico(onB.json.data.usage), billed);
  assert.ok(billed <= pico(0.0001), `spent ${billed} pico on a 1e8 pico limit`);
  assert.equal(onA.json.data.requests, 96);
  assert.equal(onB.json.data.limit_reserved, 0);
  const rows = await rowsOf(data.hash, 96);
  assert.deepEqual(rows, { count: 96, ok: admitted, cost: billed });
});

test("an RPM limit of 10 is shared: exactly 10 of 20 are admitted across both", async () => {
  const { key } = await createKey(B, { name: "rpm", rpm: 10 });
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => chat(i % 2 ? A : B, key)));
  const ok = results.filter((r) => r.status === 200).length;
  const limited = results.filter((r) => r.status === 429);
  assert.equal(ok, 10, results.map((r) => r.status).join(","));
  assert.equal(limited.length, 10);
  for (const r of limited) {
    assert.equal(r.headers.get("x-ratelimit-limit"), "10");
    assert.equal(r.headers.get("x-ratelimit-remaining"), "0");
    assert.ok(Number(r.headers.get("retry-after")) >= 1);
  }
});

test("a key revoked on B is refused on A within a second; disabled and changed keys follow too", async () => {
  const { key, data } = await createKey(A, { name: "revoke-me" });
  assert.equal((await chat(A, key)).status, 200);
  const patched = await api(B, "PATCH", `/keys/${data.hash}`, { disabled: true });
  assert.equal(patched.status, 200, patched.text);
  await waitFor(async () => (await chat(A, key)).status === 401, "A to refuse the disabled key", 1000);
  await api(B, "PATCH", `/keys/${data.hash}`, { disabled: false, rpm: 1 });
  await waitFor(async () => (await chat(A, key)).status === 200, "A to take the enabled key", 1000);
  assert.equal((await chat(A, key)).status, 429, "the new RPM of 1 holds on A");
  const del = await api(B, "DELETE", `/keys/${data.hash}`);
  assert.equal(del.status, 200, del.text);
  const t0 = Date.now();
  await waitFor(async () => {
    const r = await chat(A, key);
    return r.status === 401 && /revoked/.test(r.text);
  }, "A to refuse the revoked key", 1000);
  assert.ok(Date.now() - t0 <= 1000);
  assert.equal((await api(A, "GET", `/keys/${data.hash}`)).status, 404);
});

test("/api/v1/generation on either instance finds a row the other made", async () => {
  const { key } = await createKey(A, { name: "lookup" });
  const made = await chat(A, key);
  assert.equal(made.status, 200);
  const id = made.json.id;
  const row = await waitFor(async () => {
    const r = await fetchText(`${B.url}/api/v1/generation?id=${id}`, { headers: { authorization: `Bearer ${key}` } });
    return r.status === 200 ? r.json.data : null;
  }, "B to find A's row");
  assert.equal(row.id, id);
  assert.equal(pico(row.total_cost), pico(made.json.usage.cost));
  const onA = await fetchText(`${A.url}/api/v1/generation?id=${id}`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(onA.json.data.id, id);
  // the dashboard's reports on B count it too (scaleout_reports.test.mjs)
  const stats = await api(B, "GET", "/stats?from=24h&bucket=none");
  assert.equal(stats.status, 200, stats.text);
  assert.ok(stats.json.data.totals.requests >= 1, stats.text);
});

test("a response stored through A is read, continued and deleted through B: one store in Postgres, a key's own", async () => {
  const { key } = await createKey(A, { name: "responses" });
  const { key: otherKey } = await createKey(A, { name: "responses-other" });
  const as = (k) => ({ authorization: `Bearer ${k}`, "content-type": "application/json" });
  const headers = as(key);
  await fake.script([{ content: "Paris is the capital." }, { content: "About two million people." }]);
  const first = await fetchText(`${A.url}/v1/responses`, {
    method: "POST",
    headers,
    body: JSON.stringify({ model: MODEL, input: "What is the capital of France?", max_output_tokens: 20 }),
  });
  assert.equal(first.status, 200, first.text);
  const id = first.json.id;
  assert.match(id, /^resp_[A-Za-z0-9_-]+$/);
  // A's store thread writes it as the answer goes out; another instance
  // reads it once that write committed (docs/scale-out.md)
  await waitFor(
    async () => (await servers.sql(`select count(*) from responses where id = '${id}'`, db)) === "1",
    "the response in Postgres",
  );

  // B reads it, and its input items
  const got = await fetchText(`${B.url}/v1/responses/${id}`, { headers });
  assert.equal(got.status, 200, got.text);
  assert.equal(got.json.id, id);
  assert.ok(got.text.includes("Paris is the capital."), got.text);
  const items = await fetchText(`${B.url}/v1/responses/${id}/input_items`, { headers });
  assert.equal(items.status, 200, items.text);
  assert.equal(items.json.data.length, 1, items.text);
  assert.ok(JSON.stringify(items.json.data[0]).includes("What is the capital of France?"), items.text);

  // another key does not find it, on either instance, and cannot delete it
  for (const g of [A, B]) {
    const r = await fetchText(`${g.url}/v1/responses/${id}`, { headers: as(otherKey) });
    assert.equal(r.status, 404, r.text);
  }
  const refused = await fetchText(`${B.url}/v1/responses/${id}`, { method: "DELETE", headers: as(otherKey) });
  assert.equal(refused.status, 404, refused.text);
  const stranger = await fetchText(`${B.url}/v1/responses`, {
    method: "POST",
    headers: as(otherKey),
    body: JSON.stringify({ model: MODEL, input: "go on", previous_response_id: id, max_output_tokens: 20 }),
  });
  assert.equal(stranger.status, 404, stranger.text);

  // B continues it: the provider sees the earlier turn
  const next = await fetchText(`${B.url}/v1/responses`, {
    method: "POST",
    headers,
    body: JSON.stringify({ model: MODEL, input: "And its population?", previous_response_id: id, max_output_tokens: 20 }),
  });
  assert.equal(next.status, 200, next.text);
  assert.equal(next.json.previous_response_id, id);
  assert.ok(next.text.includes("About two million people."), next.text);
  const upstream = JSON.stringify((await fake.requests()).at(-1).json);
  for (const said of ["What is the capital of France?", "Paris is the capital.", "And its population?"])
    assert.ok(upstream.includes(said), `${said} not in ${upstream}`);

  // deleted on B: gone for A, and from Postgres with its items
  const del = await fetchText(`${B.url}/v1/responses/${id}`, { method: "DELETE", headers });
  assert.equal(del.status, 200, del.text);
  assert.equal(del.json.deleted, true, del.text);
  assert.equal((await fetchText(`${A.url}/v1/responses/${id}`, { headers })).status, 404);
  assert.equal(await servers.sql(`select count(*) from response_items where response_id = '${id}'`, db), "0");
  // the continuation stays, A reads it
  const later = await fetchText(`${A.url}/v1/responses/${next.json.id}`, { headers });
  assert.equal(later.status, 200, later.text);
});

function cli(args, env = {}) {
  return new Promise((resolve) => {
    const p = spawn(switchboardBin, args, { env: { PATH: process.env.PATH, ...env } });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

test("switchboard usage, keys and check work against Postgres and Redis", async () => {
  const { key, data } = await createKey(B, { name: "cli-pg" });
  const r = await chat(A, key);
  assert.equal(r.status, 200, r.text);
  await rowsOf(data.hash, 1);
  const usage = await cli(["usage", "--by", "key", "--database", db]);
  assert.equal(usage.code, 0, usage.stderr);
  const line = usage.stdout.split("\n").find((l) => l.startsWith(`cli-pg (${data.hash.slice(0, 8)})`));
  assert.ok(line, usage.stdout);
  assert.match(line, new RegExp(`\\s1\\s+0\\s+\\d+\\s+\\d+\\s+\\$${r.json.usage.cost}$`));

  const list = await cli(["keys", "list"], { SWITCHBOARD_URL: A.url, SWITCHBOARD_KEY: ADMIN });
  assert.equal(list.code, 0, list.stderr);
  assert.ok(list.stdout.includes("cli-pg"), list.stdout);

  const check = await cli(["check"], { SWITCHBOARD_DATABASE: db, SWITCHBOARD_REDIS: servers.redis });
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /^database:\s+postgres:\/\/switchboard@127\.0\.0\.1:\d+\/scaleout \(PostgreSQL [\d.]+.*schema 3; reachable\)$/m);
  assert.match(check.stdout, /^redis:\s+redis:\/\/127\.0\.0\.1:\d+ \(Redis [\d.]+, counters of epoch \d+; reachable; redis_down: deny\)$/m);
  const down = await cli(["check"], { SWITCHBOARD_DATABASE: "postgres://switchboard@127.0.0.1:1/none" });
  assert.equal(down.code, 1);
  assert.match(down.stdout, /^database:.*NOT reachable: .*cannot connect to postgres:\/\/switchboard@127\.0\.0\.1:1\/none: .*Connection refused/m);
});

// Requests counted by an instance's workers (/metrics).
async function requestsServed(gw) {
  const text = (await fetchText(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text;
  return [...text.matchAll(/^switchboard_requests_total\{worker="\d+"\} (\d+)$/gm)].reduce((s, m) => s + Number(m[1]), 0);
}

test("the sample nginx config (dist/scale-out/nginx.conf) spreads requests over both instances and streams", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sb-nginx-"));
  const port = await freePort();
  const sample = readFileSync(join(repoRoot, "dist", "scale-out", "nginx.conf"), "utf8");
  const site = sample
    .replace("server 127.0.0.1:3456 ", `server 127.0.0.1:${A.port} `)
    .replace("server 127.0.0.1:3457 ", `server 127.0.0.1:${B.port} `)
    .replace("listen 8080;", `listen 127.0.0.1:${port};`);
  assert.ok(site.includes(String(A.port)) && site.includes(String(B.port)) && site.includes(`:${port};`), "the sample's addresses");
  writeFileSync(join(dir, "switchboard.conf"), site);
  writeFileSync(
    join(dir, "nginx.conf"),
    `${process.getuid() === 0 ? "user root root;" : ""}
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  include ${dir}/switchboard.conf;
}
`,
  );
  const nginx = spawn("nginx", ["-p", dir, "-c", join(dir, "nginx.conf"), "-e", join(dir, "error.log"), "-g", "daemon off;"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let nginxErr = "";
  nginx.stderr.on("data", (d) => (nginxErr += d));
  const exited = new Promise((r) => nginx.on("exit", r));
  try {
    await waitFor(
      () =>
        new Promise((resolve) => {
          const s = net.connect(port, "127.0.0.1", () => (s.end(), resolve(true)));
          s.on("error", () => resolve(false));
        }),
      `nginx listening (${nginxErr})`,
    );
    const { key } = await createKey(A, { name: "behind-nginx", limit: 1 });
    const before = [await requestsServed(A), await requestsServed(B)];
    const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: key, maxRetries: 0 });
    for (let i = 0; i < 10; i++) {
      const r = await client.chat.completions.create({ model: MODEL, max_tokens: 10, messages: [{ role: "user", content: `hi ${i}` }] });
      assert.ok(r.choices[0].message.content.length > 0);
    }
    let text = "";
    let chunks = 0;
    const stream = await client.chat.completions.create({ model: MODEL, max_tokens: 10, stream: true, messages: [{ role: "user", content: "stream through nginx" }] });
    for await (const c of stream) {
      chunks++;
      text += c.choices[0]?.delta?.content ?? "";
    }
    assert.ok(chunks > 1 && text.length > 0, `${chunks} chunks`);
    const after = [await requestsServed(A), await requestsServed(B)];
    assert.ok(after[0] > before[0] + 2 && after[1] > before[1] + 2, `A ${before[0]}->${after[0]}, B ${before[1]}->${after[1]}`);
  } finally {
    nginx.kill("SIGQUIT");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
