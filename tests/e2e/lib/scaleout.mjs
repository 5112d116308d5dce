// SPDX-License-Identifier: MIT
// Several gateways on one Postgres and one Redis, for the scale-out tests:
// Debian's postgresql and redis-server started privately on loopback ports
// by scripts/scaleout-servers (which installs them when missing), stopped
// after the file's tests, and also when the test process exits early.
//
//   const servers = await startServers();
//   const db = await servers.createdb("t1");      // a postgres:// URL
//   ... gateways with { database: db, redis: servers.redis } ...
//   await servers.redisKill(); await servers.redisStart(); await servers.pgRestart();
//   servers.sql("select count(*) from generations", db)  -> "42"
//   await servers.stop();
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import assert from "node:assert/strict";
import { repoRoot, startGateway } from "./gateway.mjs";
import { freePort, fetchText, waitFor } from "./harness.mjs";

const run = promisify(execFile);

/** The key API of any instance, with the admin key: { api, createKey }. */
export function keyApi(admin) {
  const api = (gw, method, path, body) =>
    fetchText(`${gw.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  return {
    api,
    /** A new key on `gw`: { key, data }, once every instance of `on` knows
     * it (the change reaches the others through Redis within a second). */
    async createKey(gw, body, on = []) {
      const r = await api(gw, "POST", "/keys", body);
      assert.equal(r.status, 201, r.text);
      for (const other of on)
        await waitFor(async () => {
          const seen = await fetchText(`${other.url}/api/v1/key`, { headers: { authorization: `Bearer ${r.json.key}` } });
          assert.ok(seen.status === 200 || seen.status === 401, seen.text);
          return seen.status === 200;
        }, `the new key known on ${other.url}`, 1000);
      return r.json;
    },
  };
}
/** The gateways a file starts (startGateway's options), stopped together
 * at its end, each of which must then exit cleanly. */
export function gatewaySet() {
  const started = [];
  return {
    async start(options) {
      const g = await startGateway(options);
      started.push(g);
      return g;
    },
    async stopAll() {
      for (const g of started.splice(0)) {
        const exit = await g.stop();
        assert.deepEqual(exit, { code: 0, signal: null }, `gateway exit\n${g.logs().slice(-2000)}`);
      }
    },
  };
}

const script = join(repoRoot, "scripts", "scaleout-servers");

export async function startServers() {
  const dir = mkdtempSync(join(tmpdir(), "sb-scaleout-"));
  const [pgPort, redisPort] = [await freePort(), await freePort()];
  let stopped = false;
  const stopNow = () => {
    if (stopped) return;
    stopped = true;
    try {
      execFileSync(script, ["stop", dir], { stdio: "ignore", timeout: 60000 });
    } catch {}
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", stopNow);
  let out;
  try {
    out = (await run(script, ["start", dir, String(pgPort), String(redisPort)], { timeout: 600000 })).stdout;
  } catch (e) {
    stopNow();
    throw new Error(`could not start Postgres and Redis: ${e.stderr || e.message}`);
  }
  const [postgres, redis] = out.trim().split(/\s+/);
  const call = async (...args) => (await run(script, [args[0], dir, ...args.slice(1)], { timeout: 120000 })).stdout.trim();
  return {
    dir,
    postgres,
    redis,
    /** A fresh database; its postgres:// URL. */
    createdb: (name) => call("createdb", name),
    /** One SQL statement's rows, unaligned ("a|b" lines). */
    sql: (query, url = postgres) => call("psql", query, url),
    /** A redis-cli command's output. */
    redisCli: (...args) => call("redis-cli", ...args),
    redisKill: () => call("redis-kill"),
    redisStart: () => call("redis-start"),
    pgRestart: () => call("pg-restart"),
    pgStop: () => call("pg-stop"),
    pgStart: () => call("pg-start"),
    async stop() {
      process.off("exit", stopNow);
      stopNow();
    },
  };
}
