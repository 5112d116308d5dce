// SPDX-License-Identifier: MIT
// Controls the fake provider (tests/fake_provider/, scripting reference in
// its README.md) from an end-to-end test: starts the binary on a free
// loopback port and wraps its /_fake/ control API.
//
//   const fake = await startFakeProvider();
//   await fake.script([{ chunks: ["Hel", "lo"] }, { status: 429, retry_after: 2 }]);
//   ... point switchboard at fake.url ...
//   const [req] = await fake.requests();   // what switchboard sent upstream
//   await fake.stop();
import { spawn } from "node:child_process";
import { resolve, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../../..");

/**
 * startFakeProvider({ bin, args, startTimeoutMs })
 *  - bin: the binary; default $FAKE_PROVIDER_BIN, else build-test/fake_provider
 *  - args: extra arguments, e.g. ["--max-recorded", "50"]
 * Resolves to { url, port, proc, script, setDefault, requests, reset,
 * stats, stop }.
 */
export async function startFakeProvider({ bin, args = [], startTimeoutMs = 10000 } = {}) {
  const path = bin ?? process.env.FAKE_PROVIDER_BIN ?? join(repoRoot, "build-test", "fake_provider");
  const proc = spawn(path, ["--port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  proc.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((r) => proc.once("exit", (code, signal) => r({ code, signal })));

  const port = await new Promise((resolvePort, reject) => {
    let out = "";
    const fail = (why) => {
      clearTimeout(timer);
      proc.kill("SIGKILL");
      reject(new Error(`fake provider (${path}) ${why}${stderr ? `:\n${stderr}` : ""}`));
    };
    const timer = setTimeout(() => fail(`did not start within ${startTimeoutMs} ms`), startTimeoutMs);
    const onExit = (code, signal) => fail(`exited at start (${signal ?? code})`);
    proc.once("error", (e) => fail(`could not be spawned: ${e.message}`));
    proc.once("exit", onExit);
    proc.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/^listening on 127\.0\.0\.1:(\d+)$/m);
      if (m) {
        clearTimeout(timer);
        proc.off("exit", onExit);
        resolvePort(Number(m[1]));
      }
    });
  });

  const url = `http://127.0.0.1:${port}`;
  async function call(method, name, body) {
    const res = await fetch(`${url}/_fake/${name}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`fake provider ${method} /_fake/${name}: ${res.status} ${text}`);
    return JSON.parse(text);
  }

  return {
    url,
    port,
    proc,
    /** Queue scenarios (FIFO); one scenario object is accepted too. */
    script: (scenarios) =>
      call("POST", "script", { scenarios: Array.isArray(scenarios) ? scenarios : [scenarios] }),
    /** The scenario used when no queued one matches. */
    setDefault: (scenario) => call("POST", "default", scenario),
    /** Recorded requests in arrival order, only those after seq `since`. */
    requests: async (since) =>
      (await call("GET", since ? `requests?since=${since}` : "requests")).requests,
    /** Clear the queue, the default, the recorded requests, the counters and the model lists. */
    reset: () => call("POST", "reset"),
    /** Set the model lists it serves (README.md, "Model lists"): OpenRouter's and providers'. */
    models: (state) => call("POST", "models", state),
    /** { requests, active_streams, completed, cancelled, dropped, queued } */
    stats: () => call("GET", "stats"),
    /** SIGTERM and wait for the exit; resolves to { code, signal }. */
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      return exited;
    },
  };
}
