// SPDX-License-Identifier: MIT
// The real Gemini CLI (@google/gemini-cli), run non-interactively
// (`gemini -p PROMPT -o json`) with a home of its own, its base URL
// (GOOGLE_GEMINI_BASE_URL) at the gateway and a gateway key as its API
// key, telemetry, usage statistics and update checks off, and every
// connection that is not to loopback refused (lib/loopback_only.cjs): for
// a Gemini model (its requests passed through) and for an OpenAI-format
// and an Anthropic-format model, a prompt and a turn with a tool call (the
// CLI reads a file, the result goes back to the model).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setup, fakeProviderConfig } from "./lib/harness.mjs";

const ADMIN = "sb-admin-key";
const { fake, gw } = setup({
  config: (fake) => ({
    admin_key: ADMIN,
    providers: {
      openai: fakeProviderConfig(fake),
      anthropic: fakeProviderConfig(fake, { format: "anthropic", base_url: fake.url }),
      gemini: fakeProviderConfig(fake, { format: "gemini", base_url: fake.url }),
    },
  }),
});

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const GEMINI = join(dirname(require.resolve("@google/gemini-cli/package.json")), "bundle", "gemini.js");
const LOOPBACK_ONLY = join(here, "lib", "loopback_only.cjs");

// The CLI's settings: API-key auth, nothing sent home, no update check,
// no IDE, no folder-trust prompt.
const SETTINGS = {
  security: { auth: { selectedType: "gemini-api-key" }, folderTrust: { enabled: false } },
  general: { enableAutoUpdate: false, enableAutoUpdateNotification: false },
  privacy: { usageStatisticsEnabled: false },
  telemetry: { enabled: false },
  ide: { enabled: false },
};

// `gemini -m MODEL -p PROMPT -o json` in a fresh home whose work folder
// holds `files`: { json, stderr, work }.
async function runGemini(model, prompt, files = {}) {
  const home = mkdtempSync(join(tmpdir(), "sb-gemini-cli-"));
  const work = join(home, "work");
  const blocked = join(home, "blocked.log");
  try {
    mkdirSync(join(home, ".gemini"));
    mkdirSync(work);
    writeFileSync(join(home, ".gemini", "settings.json"), JSON.stringify(SETTINGS));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(work, name), text);
    const proc = spawn(process.execPath, [GEMINI, "-m", model, "-p", prompt, "-o", "json"], {
      cwd: work,
      env: {
        PATH: process.env.PATH,
        HOME: home,
        GOOGLE_GEMINI_BASE_URL: gw.url,
        GEMINI_API_KEY: ADMIN,
        GEMINI_CLI_TRUST_WORKSPACE: "true",
        GEMINI_TELEMETRY_ENABLED: "false",
        NO_COLOR: "1",
        NODE_OPTIONS: `--require ${LOOPBACK_ONLY}`,
        SB_LOOPBACK_LOG: blocked,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    proc.stdout.on("data", (d) => (out += d));
    proc.stderr.on("data", (d) => (err += d));
    const code = await new Promise((r) => proc.on("exit", r));
    assert.equal(code, 0, `gemini exited ${code}\nstdout: ${out.slice(0, 3000)}\nstderr: ${err.slice(-3000)}`);
    const attempts = existsSync(blocked) ? readFileSync(blocked, "utf8") : "";
    assert.equal(attempts, "", "the CLI tried to reach beyond loopback");
    let json = null;
    try {
      json = JSON.parse(out.slice(out.indexOf("{")));
    } catch {}
    assert.ok(json, `gemini printed no JSON: ${out.slice(0, 3000)}`);
    return { json, stderr: err };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

const modelRequests = async () => (await fake.requests()).filter((r) => r.method === "POST");

const MODELS = [
  { name: "gemini-2.5-flash", format: "gemini" },
  { name: "openai/gpt-4o-mini", format: "openai" },
  { name: "anthropic/claude-sonnet-4", format: "anthropic" },
];

for (const m of MODELS) {
  test(`the Gemini CLI answers a prompt through ${m.format === "gemini" ? "a Gemini" : `an ${m.format}-format`} model`, { timeout: 120000 }, async () => {
    await fake.script([{ content: `Hello from ${m.format}.`, times: -1 }]);
    const { json } = await runGemini(m.name, "say hello");
    assert.equal(json.response, `Hello from ${m.format}.`);
    assert.ok(json.stats.models[m.name], JSON.stringify(Object.keys(json.stats.models)));
    const reqs = await modelRequests();
    assert.ok(reqs.length >= 1);
    const last = reqs.at(-1);
    assert.ok(last.body.includes("say hello"), "the prompt reached the model");
    if (m.format === "gemini") {
      assert.equal(last.path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent");
      assert.equal(last.query, "alt=sse");
      assert.ok(last.json.tools[0].functionDeclarations.length > 3, "the CLI's tools, as it sent them");
    } else if (m.format === "openai") {
      assert.equal(last.path, "/v1/chat/completions");
      assert.ok(last.json.tools.some((t) => t.function.name === "read_file"));
      assert.equal(last.json.messages[0].role, "system");
    } else {
      assert.equal(last.path, "/v1/messages");
      assert.ok(last.json.tools.some((t) => t.name === "read_file"));
      assert.equal(typeof last.json.system, "string");
    }
  });

  test(`the Gemini CLI runs a tool call through ${m.format === "gemini" ? "a Gemini" : `an ${m.format}-format`} model`, { timeout: 120000 }, async () => {
    await fake.script([
      { tool_calls: [{ id: "call_r1", name: "read_file", arguments: JSON.stringify({ file_path: "note.txt" }) }], signature: "SIG-cli-1" },
      { content: "The note says 42.", times: -1 },
    ]);
    const { json } = await runGemini(m.name, "what does note.txt say?", { "note.txt": "sb-note-content-42\n" });
    assert.equal(json.response, "The note says 42.");
    assert.equal(json.stats.tools.totalCalls, 1);
    assert.equal(json.stats.tools.totalSuccess, 1);
    const reqs = await modelRequests();
    assert.ok(reqs.length >= 2, `two model requests, got ${reqs.length}`);
    const turn2 = reqs.at(-1).json;
    if (m.format === "gemini") {
      const model = turn2.contents.find((c) => c.role === "model" && c.parts.some((p) => p.functionCall));
      const part = model.parts.find((p) => p.functionCall);
      assert.equal(part.functionCall.name, "read_file");
      assert.equal(part.thoughtSignature, "SIG-cli-1", "the signature came back as Gemini gave it");
      const result = turn2.contents.at(-1).parts.find((p) => p.functionResponse);
      assert.equal(result.functionResponse.name, "read_file");
      assert.match(JSON.stringify(result.functionResponse.response), /sb-note-content-42/);
    } else if (m.format === "openai") {
      const call = turn2.messages.find((x) => x.role === "assistant" && x.tool_calls);
      assert.equal(call.tool_calls[0].function.name, "read_file");
      const result = turn2.messages.find((x) => x.role === "tool");
      assert.equal(result.tool_call_id, call.tool_calls[0].id);
      assert.match(result.content, /sb-note-content-42/);
    } else {
      const asst = turn2.messages.find((x) => x.role === "assistant");
      const use = asst.content.find((b) => b.type === "tool_use");
      assert.equal(use.name, "read_file");
      const result = turn2.messages.at(-1).content.find((b) => b.type === "tool_result");
      assert.equal(result.tool_use_id, use.id);
      assert.match(JSON.stringify(result.content), /sb-note-content-42/);
    }
  });
}
