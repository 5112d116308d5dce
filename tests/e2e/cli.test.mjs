// SPDX-License-Identifier: MIT
// The command line: chat (streamed and not), models, check, and the errors
// a user should get from each.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";
import { startGateway, fakeProviderConfig, switchboardBin } from "./lib/gateway.mjs";
import { setup, freePort } from "./lib/harness.mjs";

const { fake, gw } = setup();

function run(args, { env = {}, input } = {}) {
  return new Promise((resolve) => {
    const p = spawn(switchboardBin, args, {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("close", (code) => resolve({ code, stdout, stderr }));
    // a command that exits without reading its stdin closes it first: the
    // write then fails with EPIPE, which is no failure of the command
    p.stdin.on("error", () => {});
    p.stdin.end(input ?? "");
  });
}

const gwEnv = () => ({ SWITCHBOARD_URL: gw.url });

test("chat streams the answer to stdout, the summary to stderr", async () => {
  await fake.script([{ chunks: ["Streaming ", "works."] }]);
  const r = await run(["chat", "-m", "openai/gpt-4o-mini", "say", "something"], { env: gwEnv() });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "Streaming works.\n");
  assert.match(r.stderr, /openai\/gpt-4o-mini via OpenAI: \d+ in, \d+ out, \$[0-9.]+/);
  const up = (await fake.requests()).at(-1);
  assert.equal(up.json.stream, true);
  assert.deepEqual(up.json.messages, [{ role: "user", content: "say something" }]);
});

test("chat --no-stream and --system; the prompt from stdin", async () => {
  const r = await run(["chat", "--no-stream", "-m", "openai/gpt-4o-mini", "--system", "Be terse."], {
    env: { SWITCHBOARD_URL: `${gw.url}/v1` },
    input: "from stdin",
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "echo: from stdin\n");
  const up = (await fake.requests()).at(-1);
  assert.equal(up.json.stream, false);
  assert.deepEqual(up.json.messages, [
    { role: "system", content: "Be terse." },
    { role: "user", content: "from stdin" },
  ]);
});

test("chat shows tool calls", async () => {
  await fake.script([{ tool_calls: [{ id: "c", name: "lookup", arguments: '{"q":1}' }] }]);
  const r = await run(["chat", "--no-stream", "-m", "openai/gpt-4o-mini", "x"], { env: gwEnv() });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\[tool call\] lookup\(\{"q":1\}\)/);
});

test("chat errors: a clear message and a non-zero exit", async () => {
  let r = await run(["chat", "-m", "nobody/none", "hi"], { env: gwEnv() });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /switchboard chat: .*not in the catalog/);
  assert.equal(r.stdout, "");

  await fake.script([{ chunks: ["a ", "b ", "c"], cut_after: 1 }]);
  r = await run(["chat", "-m", "openai/gpt-4o-mini", "hi"], { env: gwEnv() });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /switchboard chat: /);

  r = await run(["chat", "-m", "openai/gpt-4o-mini", "hi"], { env: { SWITCHBOARD_URL: "http://127.0.0.1:9" } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot reach the gateway/);

  r = await run(["chat", "hi"], { env: gwEnv() });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /-m MODEL is required/);
});

test("chat sends SWITCHBOARD_KEY as the bearer", async () => {
  const secured = await startGateway({
    config: { admin_key: "k-cli", providers: { openai: fakeProviderConfig(fake) } },
  });
  try {
    let r = await run(["chat", "-m", "openai/gpt-4o-mini", "hi"], { env: { SWITCHBOARD_URL: secured.url } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /missing API key/);
    r = await run(["chat", "-m", "openai/gpt-4o-mini", "hi"], {
      env: { SWITCHBOARD_URL: secured.url, SWITCHBOARD_KEY: "k-cli" },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "echo: hi\n");
  } finally {
    await secured.stop();
  }
});

test("models lists routable models with prices per million tokens", async () => {
  let r = await run(["models"], { env: { OPENAI_API_KEY: "x" } });
  assert.equal(r.code, 0, r.stderr);
  const line = r.stdout.split("\n").find((l) => l.startsWith("openai/gpt-4o-mini "));
  assert.ok(line, r.stdout);
  assert.match(line, /128000\s+\$0\.15\s+\$0\.6\s+openai\*/);
  assert.ok(!r.stdout.includes("anthropic/"));
  r = await run(["models", "--all"], {});
  assert.match(r.stdout, /^anthropic\/claude-3\.5-haiku\s+200000\s+\$0\.8\s+\$4\s+anthropic$/m);
  assert.match(r.stdout, /^meta-llama\/llama-3\.1-70b-instruct .* groq, together$/m);
});

test("check validates a config and prints what it resolves to", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sb-cli-"));
  const good = join(dir, "good.yaml");
  writeFileSync(
    good,
    "listen: 127.0.0.1:4000\nproviders:\n  groq: { api_key: ${CLI_GROQ} }\n  local: { format: openai, base_url: http://127.0.0.1:11434/v1 }\n",
  );
  let r = await run(["check", "--config", good], { env: { CLI_GROQ: "gsk_abcdefgh1234" } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /listen:\s+127\.0\.0\.1:4000/);
  assert.match(r.stdout, /groq\s+format=openai base_url=https:\/\/api\.groq\.com\/openai\/v1 keys=1 \(gsk_\.\.\.1234\)/);
  assert.match(r.stdout, /local\s+format=openai base_url=http:\/\/127\.0\.0\.1:11434\/v1 keys=0/);
  assert.match(r.stdout, /^ok$/m);
  assert.doesNotMatch(r.stdout, /abcdefgh/, "keys are masked");

  const bad = join(dir, "bad.yaml");
  writeFileSync(bad, "listen: 127.0.0.1:4000\nprovidres: {}\n");
  r = await run(["check", "--config", bad]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unknown key 'providres'/);

  r = await run(["check", "--config", join(dir, "missing.yaml")]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot open config/);

  r = await run(["serve", "--bogus"]);
  assert.equal(r.code, 2);
  r = await run(["frobnicate"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
});

test("serve refuses local mode on a public address", async () => {
  const r = await run(["serve", "--listen", "0.0.0.0:0"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /refusing to listen on 0\.0\.0\.0 without admin_key/);
});

test("a second gateway on a port the first serves is refused; the first's workers share it", async () => {
  const port = await freePort();
  const first = await startGateway({
    config: { workers: 2, providers: { openai: fakeProviderConfig(fake) } },
    listen: `127.0.0.1:${port}`,
  });
  try {
    assert.equal(first.port, port);
    const r = await run(["serve", "--listen", `127.0.0.1:${port}`], { env: { SWITCHBOARD_LOCAL_PROBE_PORTS: "" } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^switchboard: 127\\.0\\.0\\.1:${port} is already in use by another process$`, "m"));
    assert.equal(r.stdout, "");
    // every connection still reaches the first gateway (both its workers)
    const statuses = await Promise.all(
      Array.from({ length: 50 }, async () => (await fetch(`${first.url}/health`)).status),
    );
    assert.deepEqual(statuses, Array(50).fill(200));
  } finally {
    assert.deepEqual(await first.stop(), { code: 0, signal: null });
  }
});

test("a port held by another program: the same refusal", async () => {
  const other = net.createServer();
  await new Promise((r) => other.listen(0, "127.0.0.1", r));
  const { port } = other.address();
  try {
    const r = await run(["serve", "--listen", `127.0.0.1:${port}`], { env: { SWITCHBOARD_LOCAL_PROBE_PORTS: "" } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is already in use by another process/);
  } finally {
    await new Promise((r) => other.close(r));
  }
});

test("SIGTERM: in-flight requests finish, then the gateway exits 0", async () => {
  const own = await startGateway({ config: { providers: { openai: fakeProviderConfig(fake) } } });
  await fake.script([{ chunks: ["slow ", "but ", "complete"], token_interval_ms: 150 }]);
  const pending = fetch(`${own.url}/v1/chat/completions`, {
    method: "POST",
    body: JSON.stringify({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "x" }], stream: true }),
  });
  const res = await pending; // headers are in: the stream is in flight
  own.proc.kill("SIGTERM");
  const text = await res.text();
  assert.match(text, /slow /);
  assert.match(text, /complete/);
  assert.match(text, /data: \[DONE\]\n\n$/);
  const { code } = await own.stop();
  assert.equal(code, 0);
});
