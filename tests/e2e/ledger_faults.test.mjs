// SPDX-License-Identifier: MIT
// The ledger when its store refuses writes, end to end. The store's writes
// are made to fail mid-run and then work again, by two means:
//  - a file-size limit: prlimit(1) lowers the running gateway's
//    RLIMIT_FSIZE, so every write past the first byte of a file fails
//    (EFBIG, which SQLite reports as an I/O error or a full disk); lifting
//    it frees the "disk". It needs no privilege, so it runs everywhere.
//  - a full tmpfs: the database on a 2 MB tmpfs that a file fills up
//    (ENOSPC); deleting the file frees it. It needs mount(8) to work
//    (root with CAP_SYS_ADMIN), so it runs where it does.
// Default mode: every request is answered and every row arrives once the
// disk is freed, key changes are refused (503) and undone, /health and
// /metrics tell, one log line per failure burst. Durable mode: no response
// is completed unless its row is committed, nothing is billed twice.
// Shutdown while the store fails: no row is lost. A database that cannot
// be written (a read-only file, a read-only file system): the gateway does
// not start, and says why.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import {
  chmodSync, closeSync, copyFileSync, existsSync, mkdtempSync, openSync, rmSync,
  statSync, unlinkSync, writeFileSync, writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { startGateway, fakeProviderConfig, switchboardBin, toYaml } from "./lib/gateway.mjs";
import { setup, fetchText, waitFor } from "./lib/harness.mjs";

const MODEL = "openai/gpt-4o-mini";
const { fake } = setup({ config: null, reset: false });
const cleanups = [];
after(() => {
  for (const c of cleanups.reverse()) c();
});

const pico = (usd) => Math.round(Number(usd) * 1e12);
const count = (text, needle) => text.split(needle).length - 1;

function tempDir() {
  const d = mkdtempSync(join(tmpdir(), "sb-ledger-faults-"));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function mountTmpfs(dir, size = "2m") {
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "ignore" });
  cleanups.push(() => {
    try {
      execFileSync("umount", [dir], { stdio: "ignore" });
    } catch {}
  });
}

// Whether this machine lets us mount a tmpfs (root with CAP_SYS_ADMIN).
function canMount() {
  const d = mkdtempSync(join(tmpdir(), "sb-mount-probe-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", d], { stdio: "ignore" });
    execFileSync("umount", [d], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}
const mountable = canMount();
const noMount = mountable ? false : "mount(8) is not permitted here (needs CAP_SYS_ADMIN)";

// A place for the database and a way to make its writes fail and work again.
// fail(gw, bytes): the file-size limit can be set past the first byte, so
// that the store's appends fail while a smaller new file can be written.
const breakers = {
  "file-size limit": () => {
    const dir = tempDir();
    let soft = null;
    return {
      dir,
      fail(gw, bytes = 1) {
        const pid = String(gw.proc.pid);
        soft = execFileSync("prlimit", ["--pid", pid, "--fsize", "--raw", "--noheadings", "--output=SOFT"])
          .toString()
          .trim();
        execFileSync("prlimit", ["--pid", pid, `--fsize=${bytes}:`]);
      },
      heal(gw) {
        if (soft !== null && gw.proc.exitCode === null && gw.proc.signalCode === null)
          execFileSync("prlimit", ["--pid", String(gw.proc.pid), `--fsize=${soft}:`]);
        soft = null;
      },
    };
  },
  "full tmpfs": () => {
    const dir = tempDir();
    mountTmpfs(dir);
    const filler = join(dir, "filler");
    return {
      dir,
      fail() {
        const fd = openSync(filler, "w");
        const chunk = Buffer.alloc(64 * 1024, 1);
        try {
          for (;;) writeSync(fd, chunk);
        } catch (e) {
          if (e.code !== "ENOSPC") throw e;
        } finally {
          closeSync(fd);
        }
      },
      heal() {
        if (existsSync(filler)) unlinkSync(filler);
      },
    };
  },
};

function gateway(db, extra = {}) {
  return startGateway({
    config: { database: `sqlite:${db}`, workers: 2, providers: { openai: fakeProviderConfig(fake) }, ...extra },
  });
}

function api(gw, method, path, body) {
  return fetchText(`${gw.url}/api/v1${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

// One chat request with `key`, read to the end: { status, id, cost,
// complete, error, events }. A stream is complete when it ends with a usage
// chunk and [DONE] and has no error event.
async function chat(gw, key, stream, i) {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL, stream, max_tokens: 16, messages: [{ role: "user", content: `request ${i}` }] }),
  });
  const text = await res.text();
  const out = { status: res.status, id: res.headers.get("x-generation-id"), cost: 0, complete: false, error: null };
  if (res.status !== 200 || !stream) {
    const json = JSON.parse(text);
    out.error = json.error ?? null;
    if (res.status === 200) {
      out.cost = pico(json.usage.cost);
      out.complete = true;
    }
    return out;
  }
  out.events = text.split("\n\n").filter(Boolean);
  for (const e of out.events.slice(0, -1)) {
    const chunk = JSON.parse(e.slice(6));
    if (chunk.usage) out.cost = pico(chunk.usage.cost);
    if (chunk.error) out.error = chunk.error;
  }
  out.complete = out.events.at(-1) === "data: [DONE]" && out.error === null;
  return out;
}

async function metric(gw, name) {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const m = text.match(new RegExp(`^${name} (\\d+)$`, "m"));
  assert.ok(m, `${name} is on /metrics`);
  return Number(m[1]);
}

// Everything the gateway logged, once it has exited (its stderr can still
// hold lines when the exit is reported).
async function allLogs(gw) {
  if (!gw.proc.stderr.readableEnded) await new Promise((r) => gw.proc.stderr.once("end", r));
  return gw.logs();
}

const health = (gw) => fetchText(`${gw.url}/health`);
const healthy = (gw) => waitFor(async () => (await health(gw)).json.status === "ok", "the ledger to catch up");

async function createKey(gw, body) {
  const r = await api(gw, "POST", "/keys", body);
  assert.equal(r.status, 201, r.text);
  return r.json;
}

// After a restart on the same database: every delivered request's row with
// its cost, and the key's spend is exactly what its clients were billed
// (`rows`: the key's ledger rows, undelivered ones included).
async function assertStored(gw, delivered, key, rows = delivered.length, logs = "") {
  for (const r of delivered) {
    const g = await fetchText(`${gw.url}/api/v1/generation?id=${r.id}`);
    assert.equal(g.status, 200, `row ${r.id}: ${g.text}\n${logs}`);
    assert.equal(g.json.data.status, 200);
    assert.equal(pico(g.json.data.total_cost), r.cost);
  }
  const k = await api(gw, "GET", `/keys/${key.data.hash}`);
  assert.equal(k.status, 200, k.text);
  const billed = delivered.reduce((s, r) => s + r.cost, 0);
  assert.ok(billed > 0);
  assert.equal(pico(k.json.data.usage), billed);
  assert.equal(k.json.data.requests, rows);
}

for (const [name, make] of Object.entries(breakers)) {
  test(`default mode, ${name}: every request is answered and every row arrives once writes work again`, { skip: name === "full tmpfs" && noMount }, async (t) => {
    const b = make();
    const db = join(b.dir, "ledger.db");
    let gw = await gateway(db);
    try {
      const key = await createKey(gw, { name: "spender", limit: 10 });
      const delivered = [];
      for (let i = 0; i < 10; i++) delivered.push(await chat(gw, key.key, i % 2 === 0, i));
      b.fail(gw);
      // requests go on being answered while the store refuses the rows
      let errors = 0;
      for (let i = 0; i < 300 && (i < 40 || errors === 0); i++) {
        const r = await chat(gw, key.key, i % 2 === 1, 100 + i);
        assert.equal(r.status, 200, JSON.stringify(r.error));
        assert.ok(r.complete);
        delivered.push(r);
        if (i % 10 === 9) errors = await metric(gw, "switchboard_ledger_errors_total");
      }
      assert.ok(errors > 0, "the store refused commits");
      const h = await health(gw);
      assert.equal(h.status, 200, "still in rotation: the gateway serves");
      assert.equal(h.json.status, "degraded");
      assert.match(h.json.reason, /^ledger: .*\(SQLITE_[A-Z]+\) since \d{4}-\d\d-\d\dT/);
      assert.equal(h.json.ledger.status, "failing");
      assert.ok(h.json.ledger.waiting > 0);
      assert.equal(await metric(gw, "switchboard_ledger_failing"), 1);

      // key changes are answered only once stored: refused now, and undone
      const nk = await api(gw, "POST", "/keys", { name: "never stored" });
      assert.equal(nk.status, 503, nk.text);
      assert.equal(nk.json.error.metadata.error_type, "ledger_unavailable");
      assert.equal((await api(gw, "PATCH", `/keys/${key.data.hash}`, { limit: 0.5 })).status, 503);
      assert.equal((await api(gw, "DELETE", `/keys/${key.data.hash}`)).status, 503);
      const list = await api(gw, "GET", "/keys");
      assert.deepEqual(list.json.data.map((k) => [k.name, k.limit]), [["spender", 10]]);

      b.heal(gw);
      await healthy(gw);
      assert.equal(await metric(gw, "switchboard_ledger_failing"), 0);
      const r = await chat(gw, key.key, false, 999); // the key still works
      assert.equal(r.status, 200);
      delivered.push(r);
      const logs = gw.logs();
      assert.equal(count(logs, "the store refuses writes"), 1, logs);
      assert.equal(count(logs, "the store takes writes again"), 1, logs);
      t.diagnostic(`${delivered.length} requests, ${errors}+ refused commits, every row stored`);

      assert.deepEqual(await gw.stop(), { code: 0, signal: null });
      gw = await gateway(db);
      await assertStored(gw, delivered, key);
      assert.equal((await api(gw, "GET", "/keys")).json.data.length, 1);
    } finally {
      b.heal(gw);
      await gw.stop();
    }
  });

  test(`durable, ${name}: no response completes unless its row is committed; nothing is billed twice`, { skip: name === "full tmpfs" && noMount }, async () => {
    const b = make();
    const db = join(b.dir, "ledger.db");
    let gw = await gateway(db, { durable: true });
    try {
      const key = await createKey(gw, { name: "durable", limit: 10 });
      const delivered = [];
      const undelivered = [];
      for (let i = 0; i < 4; i++) delivered.push(await chat(gw, key.key, i % 2 === 0, i));

      // a stream whose row the store refuses ends with an error event
      b.fail(gw);
      let r;
      for (let i = 0; i < 50; i++) {
        r = await chat(gw, key.key, true, 100 + i);
        if (!r.complete) break;
        delivered.push(r);
      }
      assert.equal(r.status, 200);
      assert.equal(r.error.metadata.error_type, "ledger_unavailable");
      assert.match(r.error.message, /not delivered and not billed/);
      assert.equal(r.events.at(-1), "data: [DONE]");
      undelivered.push(r.id);
      // now new requests are refused before they go upstream
      const upstream = (await fake.stats()).requests;
      const refused = await chat(gw, key.key, false, 200);
      assert.equal(refused.status, 503);
      assert.equal(refused.error.metadata.error_type, "ledger_unavailable");
      assert.match(refused.error.message, /refuses writes/);
      assert.equal((await fake.stats()).requests, upstream);
      const h = await health(gw);
      assert.equal(h.status, 503, "out of rotation: model requests are refused");
      assert.equal(h.json.status, "degraded");
      assert.equal(h.json.ledger.refusing_requests, true);
      b.heal(gw);
      await healthy(gw);

      // a response whose row the store refuses is a 503 for the SDK
      b.fail(gw);
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key.key, maxRetries: 0 });
      let failure = null;
      for (let i = 0; i < 50 && failure === null; i++) {
        try {
          const c = await client.chat.completions.create({ model: MODEL, max_tokens: 16, messages: [{ role: "user", content: `sdk ${i}` }] });
          delivered.push({ id: c.id, cost: pico(c.usage.cost) });
        } catch (e) {
          failure = e;
        }
      }
      assert.ok(failure instanceof OpenAI.APIError, String(failure));
      assert.equal(failure.status, 503);
      assert.equal(failure.error.metadata.error_type, "ledger_unavailable");
      assert.match(failure.message, /not delivered/);
      undelivered.push(failure.headers.get("x-generation-id"));
      assert.equal(await metric(gw, "switchboard_ledger_undelivered_total"), 2);
      assert.ok((await metric(gw, "switchboard_ledger_refused_total")) >= 1);
      b.heal(gw);
      await healthy(gw);
      delivered.push(await chat(gw, key.key, false, 300));
      assert.ok(delivered.every((d) => d.cost > 0));

      assert.deepEqual(await gw.stop(), { code: 0, signal: null });
      gw = await gateway(db);
      // the undelivered ones are recorded as what their clients got
      for (const id of undelivered) {
        const g = await fetchText(`${gw.url}/api/v1/generation?id=${id}`);
        assert.equal(g.status, 200, g.text);
        assert.equal(g.json.data.status, 503);
        assert.equal(g.json.data.total_cost, 0);
        assert.match(g.json.data.error, /not delivered and \$0\.\d+ was not billed/);
      }
      await assertStored(gw, delivered, key, delivered.length + undelivered.length);
    } finally {
      b.heal(gw);
      await gw.stop();
    }
  });

  test(`shutdown while ${name === "full tmpfs" ? "the tmpfs is full" : "writes fail"}: no row is lost`, { skip: name === "full tmpfs" && noMount }, async (t) => {
    const b = make();
    const db = join(b.dir, "ledger.db");
    let gw = await gateway(db, { shutdown_grace_ms: 300 });
    try {
      const key = await createKey(gw, { name: "shutdown" });
      const delivered = [];
      // rows until the write-ahead log passes 64 KB (how many depends on
      // how the writer batched them into commits)
      let n = 0;
      const walSize = () => (existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size : 0);
      while (n < 40 || (walSize() <= 64 * 1024 && n < 1000)) {
        delivered.push(await chat(gw, key.key, n % 2 === 0, n));
        n++;
      }
      // the file-size limit at the write-ahead log's size: the unsaved file,
      // much smaller, can be written; a full tmpfs takes nothing
      const wal = walSize();
      assert.ok(wal > 64 * 1024, `the write-ahead log has ${wal} bytes after ${n} requests`);
      b.fail(gw, wal);
      for (let i = n; i < n + 20; i++) delivered.push(await chat(gw, key.key, i % 2 === 0, i));
      await waitFor(async () => (await metric(gw, "switchboard_ledger_errors_total")) > 0, "a refused commit");
      gw.proc.kill("SIGTERM");
      const exit = await gw.exited;
      const logs = await allLogs(gw);
      assert.deepEqual(exit, { code: 0, signal: null }, logs);
      assert.match(logs, /at shutdown the store still refuses writes/);
      b.heal(gw);
      const unsaved = `${db}-unsaved.jsonl`;
      const kept = existsSync(unsaved);
      t.diagnostic(kept ? "kept in the unsaved file" : "kept in the log");
      if (name === "file-size limit") {
        assert.ok(kept, logs);
        assert.match(logs, /are kept in .*-unsaved\.jsonl and will be written/);
      }
      if (!kept) {
        // the file could not be written either: the log has every entry
        assert.match(logs, /cannot be written either/);
        const lines = logs.split("\n").filter((l) => l.startsWith("ledger: unsaved {"));
        assert.ok(lines.length > 0, logs);
        writeFileSync(unsaved, lines.map((l) => l.slice("ledger: unsaved ".length) + "\n").join(""));
      }
      await gw.stop();
      gw = await gateway(db);
      assert.equal(existsSync(unsaved), false, "written at start and removed");
      await assertStored(gw, delivered, key, delivered.length, logs);
    } finally {
      b.heal(gw);
      await gw.stop();
    }
  });
}

// Runs the binary until it exits: { code, stderr }.
function runToExit(bin, args, opts) {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"], ...opts });
    let stderr = "";
    p.stderr.on("data", (d) => (stderr += d));
    p.on("error", reject);
    p.on("close", (code) => resolve({ code, stderr })); // after stderr's end
  });
}

function writeConfig(dir, db) {
  const cfg = join(dir, "switchboard.yaml");
  writeFileSync(cfg, toYaml({ database: `sqlite:${db}`, providers: { openai: fakeProviderConfig(fake) } }) + "\n");
  chmodSync(cfg, 0o644);
  return cfg;
}

const env = { PATH: process.env.PATH, ASAN_OPTIONS: process.env.ASAN_OPTIONS ?? "" };

test("a read-only database file: the gateway does not start, and says why", async () => {
  const dir = tempDir();
  const db = join(dir, "ledger.db");
  const gw = await gateway(db);
  assert.deepEqual(await gw.stop(), { code: 0, signal: null });
  chmodSync(db, 0o444);
  chmodSync(dir, 0o777);
  let bin = switchboardBin;
  const opts = { cwd: dir, env };
  if (process.getuid() === 0) {
    // root writes any file: run the gateway as an unprivileged user, from a
    // copy it can read wherever the build is
    bin = join(dir, "switchboard");
    copyFileSync(switchboardBin, bin);
    chmodSync(bin, 0o755);
    Object.assign(opts, { uid: 65534, gid: 65534 });
  }
  const r = await runToExit(bin, ["serve", "--config", writeConfig(dir, db), "--listen", "127.0.0.1:0"], opts);
  assert.equal(r.code, 1, r.stderr);
  assert.ok(r.stderr.includes(`cannot write ${db}`), r.stderr);
  assert.match(r.stderr, /read-only/);
});

test("a read-only file system: the gateway does not start, and says why", { skip: noMount }, async () => {
  const dir = tempDir();
  mountTmpfs(dir);
  const db = join(dir, "ledger.db");
  const gw = await gateway(db);
  assert.deepEqual(await gw.stop(), { code: 0, signal: null });
  const cfg = writeConfig(tempDir(), db);
  execFileSync("mount", ["-o", "remount,ro", dir]);
  const r = await runToExit(switchboardBin, ["serve", "--config", cfg, "--listen", "127.0.0.1:0"], { env });
  assert.equal(r.code, 1, r.stderr);
  assert.ok(r.stderr.includes(`cannot write ${db}`), r.stderr);
  assert.match(r.stderr, /read-only/);
});
