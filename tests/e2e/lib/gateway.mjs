// SPDX-License-Identifier: MIT
// Starts the real switchboard binary for a test: a fresh working directory
// (so the SQLite ledger is private), a config written from a JS object (or
// the environment only), a free port, and a clean stop.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, "../../..");
export const switchboardBin =
  process.env.SWITCHBOARD_BIN ?? join(repoRoot, "build-test", "switchboard");

// A tiny YAML writer for config objects (flow style, every string quoted).
export function toYaml(value) {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return `[${value.map(toYaml).join(", ")}]`;
  if (typeof value === "object")
    return `{ ${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}: ${toYaml(v)}`)
      .join(", ")} }`;
  if (typeof value === "string") return JSON.stringify(value);
  return String(value);
}

// Clean environment: no provider variables leak in from the machine, and
// a gateway without providers does not look for local model servers on
// the machine's ports (first_run.test.mjs turns that on).
// SWITCHBOARD_UPSTREAM_CLIENT=curl passes through: the suite can run
// against the curl transport.
function baseEnv(extra) {
  const env = {};
  for (const k of ["PATH", "HOME", "LANG", "TMPDIR", "ASAN_OPTIONS", "UBSAN_OPTIONS",
                   "SWITCHBOARD_UPSTREAM_CLIENT"])
    if (process.env[k] !== undefined) env[k] = process.env[k];
  return { ...env, SWITCHBOARD_LOG: "warn", SWITCHBOARD_LOCAL_PROBE_PORTS: "", ...extra };
}

/**
 * startGateway({ config, env, listen, args })
 *  - config: object -> YAML file passed with --config (omit for env-only)
 *  - env: extra environment variables
 *  - listen: "127.0.0.1:0" by default
 * Resolves to { url, port, dir, proc, logs(), stop(signal) }.
 */
export async function startGateway({ config, env = {}, listen = "127.0.0.1:0", args = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "sb-e2e-"));
  const argv = ["serve", "--listen", listen, ...args];
  if (config) {
    const path = join(dir, "switchboard.yaml");
    const cfg = { database: `sqlite:${join(dir, "ledger.db")}`, ...config };
    writeFileSync(path, toYaml(cfg) + "\n");
    argv.push("--config", path);
  }
  const proc = spawn(switchboardBin, argv, {
    cwd: dir,
    env: baseEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  proc.stderr.on("data", (d) => (err += d));
  const port = await new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${err}`)), 15000);
    proc.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on http:\/\/[^:\s]+:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolvePort(Number(m[1]));
      }
    });
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited (${code}) before listening:\n${err}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise((r) => proc.on("exit", (code, signal) => r({ code, signal })));
  return {
    url,
    port,
    dir,
    proc,
    logs: () => err,
    exited,
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const r = await exited;
      rmSync(dir, { recursive: true, force: true });
      return r;
    },
  };
}

// One OpenAI-format provider entry pointing at the fake provider. Retries
// are off for it: most files check how one upstream answer or failure
// reaches the client; retries themselves are tested in routing*.test.mjs.
// Behind a TLS front (fake.caFile set) the entry trusts the test's CA.
export function fakeProviderConfig(fake, extra = {}) {
  const tls = fake.caFile ? { tls: { ca_file: fake.caFile } } : {};
  return { format: "openai", base_url: `${fake.url}/v1`, api_key: "sk-fake-upstream", retry: { attempts: 0 }, ...tls, ...extra };
}
