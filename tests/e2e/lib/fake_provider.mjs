// Controls the fake provider (tests/fake_provider/) from a test: starts the
// binary on a free port and wraps its /_fake/ control API.
import { spawn } from "node:child_process";
import { resolve, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../../..");

export async function startFakeProvider({ bin } = {}) {
  const path = bin ?? process.env.FAKE_PROVIDER_BIN ?? join(repoRoot, "build", "fake_provider");
  const proc = spawn(path, ["--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  proc.stderr.on("data", (d) => (err += d));
  const port = await new Promise((resolvePort, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`fake provider did not start: ${err}`)), 10000);
    proc.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on 127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolvePort(Number(m[1]));
      }
    });
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`fake provider exited (${code}): ${err}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise((r) => proc.on("exit", r));
  async function call(method, path, body) {
    const res = await fetch(`${url}/_fake/${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`fake provider ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  }
  return {
    url,
    port,
    proc,
    script: (scenarios) => call("POST", "script", { scenarios }),
    setDefault: (scenario) => call("POST", "default", scenario),
    reset: () => call("POST", "reset", {}),
    requests: async (since) => (await call("GET", since ? `requests?since=${since}` : "requests")).requests,
    stats: () => call("GET", "stats"),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      await exited;
    },
  };
}
