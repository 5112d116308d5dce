// SPDX-License-Identifier: MIT
// The canonical skill contract, proven against the seed itself: the jq
// programs of seeds/openrouter.md (rest.body and response.transform) run
// with jq on a corpus of canonical requests and upstream replies, and the
// body switchboard sends upstream and the reply it returns must be the
// same JSON values. Also: the seed's own curl example, verbatim.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { startGateway, fakeProviderConfig, repoRoot } from "./lib/gateway.mjs";
import { setup, skillChat as skillCall } from "./lib/harness.mjs";

const sharedSeed = join(repoRoot, "..", "shared", "seeds", "openrouter.md");
const embeddedSeed = join(repoRoot, "skills", "openrouter.md");
const seedPath = existsSync(sharedSeed) ? sharedSeed : embeddedSeed;
const seedText = readFileSync(seedPath, "utf8");
const front = YAML.parse(seedText.split(/^---$/m)[1]);
const chat = front.utilities.chat;
const bodyExprs = chat.rest.body; // field -> jq expression
const transform = chat.rest.response.transform;

function jq(program, input) {
  const r = spawnSync("jq", ["-c", "-n", "--argjson", "in", JSON.stringify(input), `$in | ${program}`], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`jq failed: ${r.stderr}\nprogram: ${program}`);
  return JSON.parse(r.stdout);
}

const bodyProgram = `{${Object.entries(bodyExprs)
  .map(([k, expr]) => `${JSON.stringify(k)}: (${expr})`)
  .join(", ")}}`;

const expectedBody = (params) => jq(bodyProgram, { params });
const expectedReply = (upstream) => jq(transform, upstream);

// ---- the corpus ----------------------------------------------------------

const weather = {
  name: "get_weather",
  description: "Weather for a city",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

const requests = [
  { name: "minimal", params: { model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] } },
  {
    name: "system prompt",
    params: { model: "openai/gpt-4o-mini", system: "Be brief.", messages: [{ role: "user", content: "Hi" }] },
  },
  {
    name: "empty system prompt (kept: jq treats \"\" as true)",
    params: { model: "openai/gpt-4o-mini", system: "", messages: [{ role: "user", content: "Hi" }] },
  },
  {
    name: "system false and nulls (defaults apply)",
    params: {
      model: "openai/gpt-4o-mini",
      system: false,
      messages: [{ role: "user", content: "Hi" }],
      max_tokens: null,
      temperature: null,
      tools: null,
    },
  },
  {
    name: "tools, full and bare",
    params: {
      model: "openai/gpt-4o-mini",
      messages: [{ role: "user", content: "Weather?" }],
      tools: [weather, { name: "no_details" }, { name: "desc_only", description: "d" }],
    },
  },
  {
    name: "explicit empty tools, explicit limits",
    params: { model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "x" }], tools: [], max_tokens: 256, temperature: 0.7 },
  },
  {
    name: "a zero temperature and the smallest max_tokens are kept",
    params: { model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "x" }], max_tokens: 1, temperature: 0 },
  },
  {
    name: "a multi-turn tool conversation with parts and unicode",
    params: {
      model: "openai/gpt-4o-mini",
      system: "Use tools. Ünïcödé ✓ \"quotes\" \\ back\nslash",
      messages: [
        { role: "user", content: [{ type: "text", text: "Weather in Zürich?" }] },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Zürich"}' } }],
        },
        { role: "tool", tool_call_id: "call_1", content: '{"temp": 12}' },
      ],
      tools: [weather],
      extra_param_not_in_the_contract: true,
    },
  },
];

const base = { id: "chatcmpl-corpus", object: "chat.completion", created: 1732000000, model: "gpt-4o-mini", system_fingerprint: "fp_x" };
const reply = (message, finish, usage = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 }) => ({
  ...base,
  choices: [{ index: 0, message: { role: "assistant", ...message }, logprobs: null, finish_reason: finish }],
  ...(usage ? { usage } : {}),
});
const call = (id, name, args) => ({ id, type: "function", function: { name, ...(args === undefined ? {} : { arguments: args }) } });

const replies = [
  { name: "text, stop", body: reply({ content: "Hello!" }, "stop") },
  { name: "tool call", body: reply({ content: null, tool_calls: [call("c1", "get_weather", '{"city":"Paris"}')] }, "tool_calls") },
  { name: "tool arguments that are not JSON", body: reply({ content: null, tool_calls: [call("c2", "get_weather", '{"city": Par')] }, "tool_calls") },
  {
    name: "odd tool arguments: object, absent, null, number, string, array, empty",
    body: reply(
      {
        content: "Calling several.",
        tool_calls: [
          call("a", "f", { already: "an object" }),
          call("b", "f"),
          call("c", "f", "null"),
          call("d", "f", "42"),
          call("e", "f", '"just a string"'),
          call("f", "f", "[1,2]"),
          call("g", "f", ""),
        ],
      },
      "tool_calls",
    ),
  },
  { name: "null content, length", body: reply({ content: null }, "length") },
  { name: "empty content, length", body: reply({ content: "" }, "length") },
  { name: "content_filter", body: reply({ content: "I can't help with that." }, "content_filter") },
  { name: "error finish", body: reply({ content: "partial" }, "error") },
  { name: "no usage at all", body: reply({ content: "ok" }, "stop", null) },
  { name: "zero usage", body: reply({ content: "ok" }, "stop", { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 }) },
];

// ---- the gateways ---------------------------------------------------------

const {
  fake,
  gateways: { viaOpenRouter, viaOpenAI },
} = setup({
  config: null,
  gateways: {
    // OpenRouter-style upstream: the body must equal jq's to the byte value
    viaOpenRouter: (fake) => ({
      providers: { openrouter: fakeProviderConfig(fake, { base_url: `${fake.url}/api/v1` }) },
    }),
    // A plain OpenAI upstream: the same body, routed (model name) and with an
    // empty tool list left out (OpenAI refuses `tools: []`)
    viaOpenAI: (fake) => ({ providers: { openai: fakeProviderConfig(fake) } }),
  },
});

test("the seed file is the one switchboard embeds", () => {
  if (seedPath === sharedSeed && existsSync(embeddedSeed))
    assert.equal(readFileSync(embeddedSeed, "utf8"), readFileSync(sharedSeed, "utf8"));
});

for (const r of requests) {
  test(`rest.body: ${r.name}`, async () => {
    const want = expectedBody(r.params);

    await fake.script([{ body: replies[0].body }]);
    let res = await skillCall(viaOpenRouter, r.params);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    let up = (await fake.requests()).at(-1);
    assert.deepEqual(up.json, want);

    await fake.script([{ body: replies[0].body }]);
    res = await skillCall(viaOpenAI, r.params);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    up = (await fake.requests()).at(-1);
    const routed = { ...want, model: "gpt-4o-mini" };
    if (Array.isArray(want.tools) && want.tools.length === 0) delete routed.tools;
    assert.deepEqual(up.json, routed);
  });
}

for (const r of replies) {
  test(`response.transform: ${r.name}`, async () => {
    const want = expectedReply(r.body);
    await fake.script([{ body: r.body }]);
    const res = await skillCall(viaOpenRouter, requests[0].params);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.deepEqual(res.json, want);
  });
}

test("every request against every finish reason, through both gateways", async () => {
  for (const gw of [viaOpenRouter, viaOpenAI])
    for (let i = 0; i < requests.length; i++) {
      const rep = replies[i % replies.length];
      await fake.script([{ body: rep.body }]);
      const res = await skillCall(gw, requests[i].params);
      assert.deepEqual(res.json, expectedReply(rep.body), `${requests[i].name} / ${rep.name}`);
    }
});

test("skill errors are {error} with a status", async () => {
  let res = await skillCall(viaOpenAI, { messages: [] });
  assert.equal(res.status, 400);
  assert.equal(typeof res.json.error, "string");
  res = await skillCall(viaOpenAI, { model: "openai/gpt-4o-mini" });
  assert.equal(res.status, 400);
  res = await skillCall(viaOpenAI, { model: "nobody/none", messages: [{ role: "user", content: "x" }] });
  assert.equal(res.status, 404);
  assert.match(res.json.error, /not in the catalog/);
  await fake.script([{ status: 429, retry_after: 4 }]);
  res = await skillCall(viaOpenAI, requests[0].params);
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("retry-after"), "4");
  assert.equal(typeof res.json.error, "string");
  const unknown = await fetch(`${viaOpenAI.url}/api/skills/nope/chat`, { method: "POST", body: "{}" });
  assert.equal(unknown.status, 404);
  assert.equal(typeof (await unknown.json()).error, "string");
  const util = await fetch(`${viaOpenAI.url}/api/skills/openrouter/embed`, { method: "POST", body: "{}" });
  assert.equal(util.status, 404);
});

test("params of the wrong type or out of range are a 400 naming the param; nothing goes upstream", async () => {
  const base = requests[0].params;
  const cases = [
    [{ max_tokens: -1 }, /^'max_tokens' must be an integer between 0 and 2147483647$/],
    [{ max_tokens: "100" }, /^'max_tokens' must be an integer/],
    [{ max_tokens: 2 ** 63 }, /^'max_tokens' must be an integer/],
    [{ temperature: 2.5 }, /^'temperature' must be a number between 0 and 2$/],
    [{ temperature: "0" }, /^'temperature' must be a number/],
    [{ system: ["Be brief."] }, /^'system' must be a string$/],
    [{ tools: { get_weather: weather } }, /^'tools' must be an array/],
    [{ tools: [{ description: "no name" }] }, /^'tools\[0\]' must have a string 'name'$/],
    [{ tools: [{ name: "x", input_schema: "{}" }] }, /^'tools\[0\]' must have an object 'input_schema'/],
    [{ messages: [{ role: "user", content: 5 }] }, /^'messages\[0\]\.content' must be a string or an array of content parts$/],
    [{ messages: [{ content: "x" }] }, /^'messages\[0\]\.role' is required$/],
  ];
  for (const [over, message] of cases) {
    const res = await skillCall(viaOpenAI, { ...base, ...over });
    assert.equal(res.status, 400, JSON.stringify(over));
    assert.match(res.json.error, message);
  }
  assert.equal((await fake.requests()).length, 0, "nothing reached the provider");
});

test("GET /api/skills and /api/skills/openrouter describe the skill", async () => {
  const list = await (await fetch(`${viaOpenAI.url}/api/skills`)).json();
  assert.deepEqual(list.skills.map((s) => s.id), ["openrouter"]);
  assert.deepEqual(list.skills[0].utilities, ["chat"]);
  const one = await (await fetch(`${viaOpenAI.url}/api/skills/openrouter`)).json();
  assert.equal(one.id, "openrouter");
  assert.equal(one.name, front.name);
  assert.deepEqual(one.utilities.chat.params, chat.params);
  assert.deepEqual(one.utilities.chat.returns, chat.returns);
  assert.equal(one.utilities.chat.path, "/api/skills/openrouter/chat");
  const missing = await fetch(`${viaOpenAI.url}/api/skills/none`);
  assert.equal(missing.status, 404);
});

test("X-Agent is recorded in the ledger", async () => {
  const res = await skillCall(viaOpenAI, requests[0].params, { "x-agent": "cursor" });
  const id = res.headers.get("x-generation-id");
  const row = (await (await fetch(`${viaOpenAI.url}/api/v1/generation?id=${id}`)).json()).data;
  assert.equal(row.agent, "cursor");
  assert.equal(row.api, "skill");
  assert.equal(row.model, "openai/gpt-4o-mini");
});

test("the seed's curl example works verbatim against `make run`'s default gateway", async () => {
  const block = seedText.match(/```bash\n([\s\S]*?)```/);
  assert.ok(block, "the seed has a bash example");
  // `make run` is `switchboard serve` with no config: 127.0.0.1:3456,
  // providers from the environment, an SQLite file in the working dir
  const gw = await startGateway({
    listen: "127.0.0.1:3456",
    env: { OPENAI_API_KEY: "sk-env", OPENAI_BASE_URL: `${fake.url}/v1` },
  });
  try {
    const r = spawnSync("bash", ["-c", block[1]], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.content, "echo: Summarize this in one sentence: AgentOS is local-first.");
    assert.deepEqual(out.tool_calls, []);
    assert.equal(out.stop_reason, "end_turn");
    assert.ok(Number.isInteger(out.usage.input_tokens) && out.usage.input_tokens > 0);
    assert.ok(Number.isInteger(out.usage.output_tokens));
    const up = (await fake.requests()).at(-1);
    assert.equal(up.headers.authorization, "Bearer sk-env");
    assert.equal(up.json.model, "gpt-4o-mini");
    assert.equal(up.json.max_tokens, 4096);
    assert.equal(up.json.temperature, 0);
  } finally {
    await gw.stop();
  }
});
