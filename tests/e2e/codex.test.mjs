// SPDX-License-Identifier: MIT
// The real Codex CLI (`@openai/codex`, `codex exec`, non-interactive)
// through switchboard's Responses API: a custom model provider at the
// gateway (wire_api "responses"), a temporary HOME and CODEX_HOME, no
// network but loopback. For an OpenAI (passed through), an Anthropic and a
// Gemini model the run makes a tool-call turn (the model asks to run a
// command, Codex runs it and sends its output back) and completes with
// exit 0 and the fake provider's answer. Codex's web_search and namespaced
// tools are left out for the translated providers; with WebSocket mode on,
// Codex falls back to HTTP at once on the gateway's 426.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { setup, fakeProviderConfig } from "./lib/harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const CODEX = join(here, "node_modules", ".bin", "codex");

const { fake, gw } = setup({
  config: (fake) => ({
    providers: {
      openai: fakeProviderConfig(fake),
      anthropic: fakeProviderConfig(fake, { format: "anthropic", base_url: fake.url }),
      gemini: fakeProviderConfig(fake, { format: "gemini", base_url: fake.url }),
    },
  }),
});

/** `codex exec PROMPT` against the gateway with `model`: { code, stdout, stderr }. */
async function codexExec(model, prompt, { websockets = false } = {}) {
  const home = mkdtempSync(join(tmpdir(), "sb-codex-"));
  const codexHome = join(home, ".codex");
  const work = join(home, "work");
  mkdirSync(codexHome, { recursive: true });
  mkdirSync(work);
  writeFileSync(
    join(codexHome, "config.toml"),
    [
      `model = ${JSON.stringify(model)}`,
      `model_provider = "switchboard"`,
      `approval_policy = "never"`,
      `sandbox_mode = "danger-full-access"`,
      `check_for_update_on_startup = false`,
      ``,
      `[model_providers.switchboard]`,
      `name = "switchboard"`,
      `base_url = "${gw.url}/v1"`,
      `wire_api = "responses"`,
      `env_key = "SWITCHBOARD_KEY"`,
      `supports_websockets = ${websockets}`,
      `request_max_retries = 0`,
      `stream_max_retries = 0`,
      ``,
      `[analytics]`,
      `enabled = false`,
      ``,
      `[otel]`,
      `exporter = "none"`,
      ``,
    ].join("\n"),
  );
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    CODEX_HOME: codexHome,
    SWITCHBOARD_KEY: "local",
    LANG: "C.UTF-8",
    NO_COLOR: "1",
  };
  const proc = spawn(CODEX, ["exec", "--skip-git-repo-check", "--color", "never", "-C", work, prompt], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (d) => (stdout += d));
  proc.stderr.on("data", (d) => (stderr += d));
  const timer = setTimeout(() => proc.kill("SIGKILL"), 90000);
  const code = await new Promise((r) => proc.on("exit", (c) => r(c)));
  clearTimeout(timer);
  rmSync(home, { recursive: true, force: true });
  return { code, stdout, stderr };
}

const MODELS = {
  openai: "openai/gpt-4.1",
  anthropic: "anthropic/claude-sonnet-4",
  gemini: "google/gemini-2.5-flash",
};

for (const [name, model] of Object.entries(MODELS)) {
  test(`Codex CLI with ${name}: a tool-call turn, then the answer, exit 0`, async () => {
    const answer = `All done through ${name}: the listing shows tool-ran-ok.`;
    await fake.script([
      { tool_calls: [{ id: "call_codex_1", name: "exec_command", arguments: JSON.stringify({ cmd: "echo tool-ran-ok" }) }] },
      { content: answer },
    ]);
    const run = await codexExec(model, "Run echo and tell me what it printed.");
    assert.equal(run.code, 0, `codex exited ${run.code}\n${run.stderr.slice(-3000)}`);
    assert.ok(run.stdout.includes(answer), `stdout:\n${run.stdout}\nstderr:\n${run.stderr.slice(-3000)}`);

    const reqs = (await fake.requests()).filter((r) => r.method === "POST");
    assert.equal(reqs.length, 2, reqs.map((r) => r.path).join(", "));
    const [first, second] = reqs;
    // Codex's request, as the provider got it
    if (name === "openai") {
      assert.match(first.path, /\/v1\/responses$/);
      assert.equal(first.json.model, "gpt-4.1");
      assert.equal(first.json.stream, true);
      assert.equal(first.json.store, false);
      assert.ok(first.json.tools.some((t) => t.type === "web_search"), "passed through whole");
    } else {
      const body = JSON.stringify(first.json);
      assert.ok(body.includes("exec_command"), "Codex's function tools reach the model");
      assert.equal(body.includes('"web_search"'), false, "its hosted tool is left out");
    }
    // the tool ran, and its output went back with the call
    const turn2 = JSON.stringify(second.json);
    assert.ok(turn2.includes("tool-ran-ok"), turn2.slice(0, 2000));
    assert.ok(turn2.includes("call_codex_1") || name === "gemini", turn2.slice(0, 2000));
  });
}

test("Codex CLI with WebSocket mode on: the 426 sends it to HTTP at once", async () => {
  await fake.script([{ content: "Answered over HTTP." }]);
  const run = await codexExec(MODELS.anthropic, "Say something.", { websockets: true });
  assert.equal(run.code, 0, run.stderr.slice(-3000));
  assert.ok(run.stdout.includes("Answered over HTTP."), run.stdout);
  // one refused connection, no retries of it, then HTTP
  assert.equal(run.stderr.match(/failed to connect to Responses WebSocket/g)?.length, 1, run.stderr);
  const reqs = (await fake.requests()).filter((r) => r.method === "POST");
  assert.equal(reqs.length, 1);
});
