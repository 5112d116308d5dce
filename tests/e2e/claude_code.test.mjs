// SPDX-License-Identifier: MIT
// Claude Code through switchboard's /v1/messages, for an OpenAI-format, a
// Gemini-format and an Anthropic-format model:
//  - the requests Claude Code makes, sent with the official SDK's beta
//    client (?beta=true, anthropic-beta, adaptive thinking with the
//    thinking omitted, output_config.effort, context_management, system
//    blocks and tools with cache_control, a deferred tool, a system message
//    inside the conversation, a signed thinking block, a tool_result):
//    the exact upstream request of each provider (what was translated, what
//    was left out) and a valid stream back;
//  - a fallback to an endpoint that takes more (OpenRouter's extensions):
//    the request translated again for it;
//  - the real Claude Code CLI (@anthropic-ai/claude-code), run with -p
//    against the gateway, offline: a prompt and a tool loop.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { setup, fakeProviderConfig } from "./lib/harness.mjs";
import { startGateway } from "./lib/gateway.mjs";

const { fake, gw } = setup({
  config: (fake) => ({
    providers: {
      openai: fakeProviderConfig(fake),
      gemini: fakeProviderConfig(fake, { format: "gemini", base_url: fake.url, api_key: "g-key" }),
      anthropic: fakeProviderConfig(fake, { format: "anthropic", base_url: fake.url, api_key: "sk-ant-fake" }),
    },
  }),
});

const BETAS = [
  "claude-code-20250219",
  "interleaved-thinking-2025-05-14",
  "context-management-2025-06-27",
  "mid-conversation-system-2026-04-07",
  "effort-2025-11-24",
];
const USER_ID = JSON.stringify({ device_id: "d0", account_uuid: "", session_id: "s1" });
const SYSTEM = [
  { type: "text", text: "x-anthropic-billing-header: cc_version=2.1.332;" },
  { type: "text", text: "You are Claude Code.", cache_control: { type: "ephemeral" } },
];
const BASH_SCHEMA = { type: "object", properties: { command: { type: "string" } }, required: ["command"] };
const TOOLS = [
  { name: "Bash", description: "Run a command", input_schema: BASH_SCHEMA },
  { name: "Read", description: "Read a file", input_schema: { type: "object", properties: { path: { type: "string" } } }, cache_control: { type: "ephemeral" } },
  { name: "DeferredToolPlaceholder", description: "Deferred tools", input_schema: { type: "object" }, defer_loading: true },
];
const ENVIRONMENT = "# Environment\nPlatform: linux";
const MESSAGES = [
  { role: "user", content: [{ type: "text", text: "<system-reminder>ctx</system-reminder>" }, { type: "text", text: "list the files" }] },
  { role: "system", content: [{ type: "text", text: ENVIRONMENT, cache_control: { type: "ephemeral" } }] },
  { role: "assistant", content: [{ type: "thinking", thinking: "", signature: "SIG-1" }, { type: "tool_use", id: "toolu_1", name: "Bash", input: { command: "ls" } }] },
  { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "a.txt", is_error: false, cache_control: { type: "ephemeral" } }] },
];
// what Claude Code 2.1 sends for a model it does not know (or a 4.6 model)
const claudeCodeParams = (model) => ({
  model,
  max_tokens: 32000,
  system: SYSTEM,
  tools: TOOLS,
  metadata: { user_id: USER_ID },
  thinking: { type: "adaptive", display: "omitted" },
  context_management: { edits: [{ type: "clear_thinking_20251015", keep: "all" }] },
  output_config: { effort: "high" },
  messages: MESSAGES,
});

// The SDK's beta client, as Claude Code uses it: POST /v1/messages?beta=true
// with anthropic-beta; returns the final message and the upstream request.
async function viaSdk(model, reply) {
  await fake.script([reply]);
  const client = new Anthropic({ baseURL: gw.url, apiKey: "any", maxRetries: 0 });
  const stream = client.beta.messages.stream({ ...claudeCodeParams(model), betas: BETAS });
  const events = [];
  stream.on("streamEvent", (ev) => events.push(ev.type));
  const final = await stream.finalMessage();
  assert.equal(events[0], "message_start");
  assert.equal(events.at(-1), "message_stop");
  const reqs = await fake.requests();
  assert.equal(reqs.length, 1, "one upstream request");
  return { final, up: reqs[0] };
}

// The OpenAI-shaped conversation every translated request starts from:
// the system message stays where Claude Code put it.
const openaiMessages = [
  { role: "system", content: [{ type: "text", text: SYSTEM[0].text }, { type: "text", text: "You are Claude Code." }] },
  { role: "user", content: [{ type: "text", text: "<system-reminder>ctx</system-reminder>" }, { type: "text", text: "list the files" }] },
  { role: "system", content: [{ type: "text", text: ENVIRONMENT }] },
  { role: "assistant", content: null, tool_calls: [{ id: "toolu_1", type: "function", function: { name: "Bash", arguments: '{"command":"ls"}' } }] },
  { role: "tool", tool_call_id: "toolu_1", content: "a.txt" },
];
const openaiTools = [
  { type: "function", function: { name: "Bash", description: "Run a command", parameters: BASH_SCHEMA } },
  { type: "function", function: { name: "Read", description: "Read a file", parameters: { type: "object", properties: { path: { type: "string" } } } } },
  { type: "function", function: { name: "DeferredToolPlaceholder", description: "Deferred tools", parameters: { type: "object" } } },
];

test("OpenAI-format model: Claude Code's request translated; cache_control, context_management and betas left out", async () => {
  const { final, up } = await viaSdk("openai/gpt-4o-mini", { content: "Two files." });
  assert.deepEqual(final.content, [{ type: "text", text: "Two files." }]);
  assert.equal(final.stop_reason, "end_turn");
  assert.equal(up.path, "/v1/chat/completions");
  assert.equal(up.query, "");
  assert.equal(up.headers["anthropic-beta"], undefined);
  // gpt-4o-mini does not reason (catalog): no reasoning asked for
  assert.deepEqual(up.json, {
    model: "gpt-4o-mini",
    messages: openaiMessages,
    max_tokens: 32000,
    tools: openaiTools,
    user: USER_ID,
    stream: true,
    stream_options: { include_usage: true },
  });
});

test("OpenAI-format reasoning model: output_config.effort becomes reasoning_effort", async () => {
  const { final, up } = await viaSdk("openai/gpt-5-mini", { content: "Done." });
  assert.deepEqual(final.content, [{ type: "text", text: "Done." }]);
  assert.deepEqual(up.json, {
    model: "gpt-5-mini",
    messages: openaiMessages,
    max_tokens: 32000,
    tools: openaiTools,
    reasoning_effort: "high",
    user: USER_ID,
    stream: true,
    stream_options: { include_usage: true },
  });
});

test("Gemini-format model: system messages joined into systemInstruction, effort as the thinking budget", async () => {
  const { final, up } = await viaSdk("google/gemini-2.5-flash", { content: "Gemini here." });
  assert.deepEqual(final.content, [{ type: "text", text: "Gemini here." }]);
  assert.equal(up.path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent");
  assert.equal(up.query, "alt=sse");
  assert.equal(up.headers["anthropic-beta"], undefined);
  assert.deepEqual(up.json, {
    contents: [
      { role: "user", parts: [{ text: "<system-reminder>ctx</system-reminder>" }, { text: "list the files" }] },
      { role: "model", parts: [{ functionCall: { name: "Bash", args: { command: "ls" } } }] },
      { role: "user", parts: [{ functionResponse: { name: "Bash", response: { content: "a.txt" } } }] },
    ],
    systemInstruction: { parts: [{ text: SYSTEM[0].text }, { text: "You are Claude Code." }, { text: ENVIRONMENT }] },
    tools: [
      {
        functionDeclarations: [
          { name: "Bash", description: "Run a command", parameters: BASH_SCHEMA },
          { name: "Read", description: "Read a file", parameters: { type: "object", properties: { path: { type: "string" } } } },
          { name: "DeferredToolPlaceholder", description: "Deferred tools" },
        ],
      },
    ],
    // effort high -> the high budget; the thinking is not shown (display omitted)
    generationConfig: { maxOutputTokens: 32000, candidateCount: 1, thinkingConfig: { thinkingBudget: 24576, includeThoughts: false } },
  });
});

test("Gemini-format model: adaptive thinking without an effort leaves the budget to Gemini, thoughts shown", async () => {
  await fake.script([{ reasoning: "Let me see.", content: "Hi." }]);
  const client = new Anthropic({ baseURL: gw.url, apiKey: "any", maxRetries: 0 });
  const final = await client.messages
    .stream({ model: "google/gemini-2.5-flash", max_tokens: 4000, thinking: { type: "adaptive" }, messages: [{ role: "user", content: "hi" }] })
    .finalMessage();
  assert.deepEqual(final.content, [
    { type: "thinking", thinking: "Let me see.", signature: "" },
    { type: "text", text: "Hi." },
  ]);
  const [up] = await fake.requests();
  assert.deepEqual(up.json.generationConfig, { maxOutputTokens: 4000, candidateCount: 1, thinkingConfig: { includeThoughts: true } });
});

for (const [model, upstreamModel] of [
  ["anthropic/claude-haiku-4.5", "claude-haiku-4-5-20251001"],
  ["anthropic/claude-sonnet-4-6", "claude-sonnet-4-6"],
]) {
  test(`Anthropic-format model ${model}: the request goes through unchanged, ?beta=true and anthropic-beta with it`, async () => {
    const { final, up } = await viaSdk(model, { reasoning: "ok", signature: "SIG-2", content: "Passed through." });
    assert.deepEqual(final.content, [
      { type: "thinking", thinking: "ok", signature: "SIG-2" },
      { type: "text", text: "Passed through." },
    ]);
    assert.equal(up.path, "/v1/messages");
    assert.equal(up.query, "beta=true");
    assert.equal(up.headers["anthropic-beta"], BETAS.join(","));
    assert.deepEqual(up.json, { ...claudeCodeParams(model), model: upstreamModel, stream: true });
  });
}

test("a wrong type is refused with a 400 naming the member, in Anthropic's shape, for every format; nothing goes upstream", async () => {
  const client = new Anthropic({ baseURL: gw.url, apiKey: "any", maxRetries: 0 });
  for (const model of ["openai/gpt-4o-mini", "google/gemini-2.5-flash", "anthropic/claude-haiku-4.5"]) {
    for (const [extra, message] of [
      [{ output_config: { effort: "extreme" } }, "output_config.effort: must be 'low', 'medium', 'high', 'xhigh' or 'max'"],
      [{ thinking: { type: "adaptive", display: 3 } }, "thinking.display: must be a string"],
      [{ context_management: { edits: "all" } }, "context_management.edits: must be an array"],
      [{ metadata: { user_id: 42 } }, "metadata.user_id: must be a string"],
    ]) {
      const err = await client.beta.messages
        .create({ ...claudeCodeParams(model), ...extra, stream: true, betas: BETAS })
        .then(() => null, (e) => e);
      assert.ok(err instanceof Anthropic.BadRequestError, `${model} ${JSON.stringify(extra)}: ${err}`);
      assert.deepEqual(err.error, { type: "error", error: { type: "invalid_request_error", message } });
    }
  }
  assert.equal((await fake.requests()).length, 0);
});

// ---- the real Claude Code CLI ----------------------------------------------

const require = createRequire(import.meta.url);
function claudeBinary() {
  try {
    const pkg = require.resolve(`@anthropic-ai/claude-code-${process.platform}-${process.arch}/package.json`);
    const bin = join(dirname(pkg), "claude");
    return existsSync(bin) ? bin : null;
  } catch {
    return null;
  }
}
const CLAUDE = claudeBinary();
const noCli = CLAUDE === null ? "no Claude Code binary for this platform in node_modules" : false;

// `claude -p PROMPT --output-format json` against the gateway, with a home
// of its own and every call home turned off: { code, json, stderr }.
async function runClaude(prompt, model, args = []) {
  const home = mkdtempSync(join(tmpdir(), "sb-claude-"));
  try {
    const proc = spawn(CLAUDE, ["-p", prompt, "--output-format", "json", "--model", model, ...args], {
      cwd: home,
      env: {
        PATH: process.env.PATH,
        HOME: home,
        ANTHROPIC_BASE_URL: gw.url,
        ANTHROPIC_API_KEY: "sk-any",
        DISABLE_TELEMETRY: "1",
        DISABLE_AUTOUPDATER: "1",
        DISABLE_ERROR_REPORTING: "1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    proc.stdout.on("data", (d) => (out += d));
    proc.stderr.on("data", (d) => (err += d));
    const code = await new Promise((r) => proc.on("exit", r));
    let json = null;
    try {
      json = JSON.parse(out);
    } catch {}
    assert.equal(code, 0, `claude exited ${code}\nstdout: ${out.slice(0, 2000)}\nstderr: ${err.slice(0, 2000)}`);
    assert.ok(json, `claude printed no JSON: ${out.slice(0, 2000)}`);
    return { json, stderr: err };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

const modelRequests = async () => (await fake.requests()).filter((r) => r.method === "POST");

test("the Claude Code CLI answers a prompt through an OpenAI-format model", { skip: noCli, timeout: 120000 }, async () => {
  await fake.script([{ content: "Hello from gpt.", times: -1 }]);
  const { json } = await runClaude("say hello", "openai/gpt-4o-mini");
  assert.equal(json.is_error, false);
  assert.equal(json.result, "Hello from gpt.");
  const reqs = await modelRequests();
  assert.ok(reqs.length >= 1);
  for (const up of reqs) {
    assert.equal(up.path, "/v1/chat/completions");
    assert.equal(up.json.model, "gpt-4o-mini");
    assert.ok(!JSON.stringify(up.json).includes("cache_control"), "no cache_control to a plain OpenAI service");
    assert.equal(up.json.reasoning, undefined);
    assert.equal(up.json.reasoning_effort, undefined);
  }
  const last = reqs.at(-1).json.messages.at(-1);
  // the prompt reached the model (its system messages are around it)
  assert.ok(JSON.stringify(reqs.at(-1).json.messages).includes("say hello"));
  assert.ok(["user", "system"].includes(last.role));
});

test("the Claude Code CLI runs a tool loop through an OpenAI-format model", { skip: noCli, timeout: 120000 }, async () => {
  await fake.script([
    { tool_calls: [{ id: "call_1", name: "Bash", arguments: JSON.stringify({ command: "echo sb-tool-ran", description: "print" }) }] },
    { content: "The command printed it.", times: -1 },
  ]);
  const { json } = await runClaude("run echo sb-tool-ran", "openai/gpt-4o-mini", ["--allowedTools", "Bash"]);
  assert.equal(json.is_error, false);
  assert.equal(json.result, "The command printed it.");
  const reqs = await modelRequests();
  assert.ok(reqs.length >= 2, `two model requests, got ${reqs.length}`);
  const turn2 = reqs.at(-1).json.messages;
  const call = turn2.find((m) => m.role === "assistant" && m.tool_calls);
  assert.equal(call.tool_calls[0].id, "call_1");
  assert.equal(call.tool_calls[0].function.name, "Bash");
  const result = turn2.find((m) => m.role === "tool");
  assert.equal(result.tool_call_id, "call_1");
  assert.match(result.content, /sb-tool-ran/);
});

test("the Claude Code CLI answers a prompt through an Anthropic-format model, its request passed through", { skip: noCli, timeout: 120000 }, async () => {
  await fake.script([{ content: "Hello from Claude.", times: -1 }]);
  const { json } = await runClaude("say hello", "anthropic/claude-sonnet-4-6");
  assert.equal(json.is_error, false);
  assert.equal(json.result, "Hello from Claude.");
  const reqs = await modelRequests();
  assert.ok(reqs.length >= 1);
  for (const up of reqs) {
    assert.equal(up.path, "/v1/messages");
    assert.equal(up.json.model, "claude-sonnet-4-6");
    assert.ok(up.headers["anthropic-beta"]?.includes("claude-code"), up.headers["anthropic-beta"]);
  }
});

test("a fallback to an endpoint that takes more (OpenRouter) gets the request translated again, cache_control kept", async (t) => {
  const both = await startGateway({
    config: {
      providers: {
        openai: fakeProviderConfig(fake),
        openrouter: fakeProviderConfig(fake, { base_url: `${fake.url}/openrouter/v1` }),
      },
    },
  });
  t.after(() => both.stop());
  await fake.script([{ status: 500 }, { content: "From the fallback." }]);
  const client = new Anthropic({ baseURL: both.url, apiKey: "any", maxRetries: 0 });
  const final = await client.beta.messages.stream({ ...claudeCodeParams("openai/gpt-4o-mini"), betas: BETAS }).finalMessage();
  assert.deepEqual(final.content, [{ type: "text", text: "From the fallback." }]);
  const [first, second] = await fake.requests();
  assert.equal(first.path, "/v1/chat/completions");
  assert.deepEqual(first.json.messages, openaiMessages, "the plain service: no cache_control, no reasoning_details");
  assert.equal(second.path, "/openrouter/v1/chat/completions");
  assert.deepEqual(second.json.messages[2], { role: "system", content: [{ type: "text", text: ENVIRONMENT, cache_control: { type: "ephemeral" } }] });
  assert.deepEqual(second.json.messages[3].reasoning_details, [
    { type: "reasoning.text", text: "", signature: "SIG-1", format: "anthropic-claude-v1", index: 0 },
  ]);
  assert.deepEqual(second.json.tools[1].cache_control, { type: "ephemeral" });
});

test("count_tokens takes Claude Code's request for every format", async () => {
  const client = new Anthropic({ baseURL: gw.url, apiKey: "any", maxRetries: 0 });
  for (const model of ["openai/gpt-4o-mini", "google/gemini-2.5-flash", "anthropic/claude-sonnet-4-6"]) {
    const { max_tokens, ...params } = claudeCodeParams(model);
    const r = await client.beta.messages.countTokens({ ...params, betas: BETAS });
    assert.ok(r.input_tokens > 0, model);
  }
  assert.equal((await fake.requests()).length, 0, "count_tokens never calls the provider");
});
