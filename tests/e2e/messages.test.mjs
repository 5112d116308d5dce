// SPDX-License-Identifier: MIT
// The official Anthropic SDK against switchboard's /v1/messages, with the
// fake provider playing an OpenAI-format upstream: plain, streamed, tool use
// with streamed input_json_delta, a two-turn tool loop (the exact upstream
// request of turn 2), thinking blocks whose signatures survive the round
// trip, errors in Anthropic's shape, and count_tokens.
import { test } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import { startGateway } from "./lib/gateway.mjs";
import { setup, fakeProviderConfig, ledgerRow as generationRow } from "./lib/harness.mjs";

const MODEL = "openai/gpt-4o-mini";

const { fake, gw, lastUpstream, anthropic } = setup({
  config: (fake) => ({ admin_key: "sb-admin-key", providers: { openai: fakeProviderConfig(fake) } }),
});
// x-api-key, as the Anthropic SDK sends it
const client = anthropic({ apiKey: "sb-admin-key" });

const ledgerRow = (genId) => generationRow(gw, genId, "sb-admin-key");

// Raw SSE of a /v1/messages call: [{event, data}] in order.
async function rawEvents(body) {
  const res = await fetch(`${gw.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": "sb-admin-key", "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^text\/event-stream/);
  const text = await res.text();
  const events = [];
  for (const block of text.split("\n\n")) {
    if (block.trim() === "") continue;
    const lines = block.split("\n");
    assert.ok(lines[0].startsWith("event: "), `event line missing in ${JSON.stringify(block)}`);
    assert.ok(lines[1].startsWith("data: "), `data line missing in ${JSON.stringify(block)}`);
    const data = JSON.parse(lines[1].slice(6));
    assert.equal(data.type, lines[0].slice(7), "event name and data type agree");
    events.push({ event: lines[0].slice(7), data });
  }
  return { events, res };
}

test("plain message: content, id, usage, exact upstream request, ledger row", async () => {
  const { data: msg, response } = await client.messages
    .create({
      model: MODEL,
      max_tokens: 50,
      system: "You are terse.",
      messages: [{ role: "user", content: "Hello there" }],
      temperature: 0.3,
      top_p: 0.9,
      stop_sequences: ["\n\n"],
      metadata: { user_id: "u-123" },
    })
    .withResponse();
  assert.equal(msg.type, "message");
  assert.equal(msg.role, "assistant");
  assert.equal(msg.model, MODEL);
  assert.match(msg.id, /^msg_gen-\d+-[0-9A-Za-z]{20}$/);
  assert.deepEqual(msg.content, [{ type: "text", text: "echo: Hello there" }]);
  assert.equal(msg.stop_reason, "end_turn");
  assert.equal(msg.stop_sequence, null);
  assert.ok(msg.usage.input_tokens > 0 && msg.usage.output_tokens > 0);
  assert.equal(msg.usage.cache_read_input_tokens, 0);
  assert.equal(response.headers.get("x-generation-id"), msg.id.slice(4));

  const up = await lastUpstream();
  assert.equal(up.path, "/v1/chat/completions");
  assert.deepEqual(up.json, {
    model: "gpt-4o-mini",
    messages: [
      { role: "system", content: "You are terse." },
      { role: "user", content: "Hello there" },
    ],
    max_tokens: 50,
    stop: ["\n\n"],
    temperature: 0.3,
    top_p: 0.9,
    user: "u-123",
  });
  const row = await ledgerRow(msg.id.slice(4));
  assert.equal(row.api, "messages");
  assert.equal(row.model, MODEL);
  assert.equal(row.tokens_prompt, msg.usage.input_tokens);
  assert.equal(row.tokens_completion, msg.usage.output_tokens);
  assert.equal(row.streamed, false);
});

test("/api/v1/messages answers too; Authorization: Bearer works as well as x-api-key", async () => {
  const res = await fetch(`${gw.url}/api/v1/messages`, {
    method: "POST",
    headers: { authorization: "Bearer sb-admin-key", "anthropic-version": "2023-06-01", "anthropic-beta": "x" },
    body: JSON.stringify({ model: MODEL, max_tokens: 5, messages: [{ role: "user", content: "hi" }] }),
  });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).content[0].text, "echo: hi");
  const denied = await fetch(`${gw.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": "wrong" },
    body: JSON.stringify({ model: MODEL, max_tokens: 5, messages: [{ role: "user", content: "hi" }] }),
  });
  assert.equal(denied.status, 401);
});

test("auth refusals on the Messages endpoints use Anthropic's error shape; the SDK raises AuthenticationError", async () => {
  const wrong = new Anthropic({ baseURL: gw.url, apiKey: "wrong", maxRetries: 0 });
  const params = { model: MODEL, max_tokens: 5, messages: [{ role: "user", content: "hi" }] };
  for (const call of [() => wrong.messages.create(params), () => wrong.messages.countTokens(params)]) {
    const err = await call().then(() => null, (e) => e);
    assert.ok(err instanceof Anthropic.AuthenticationError, `expected AuthenticationError, got ${err}`);
    assert.equal(err.status, 401);
    assert.equal(err.error.type, "error");
    assert.equal(err.error.error.type, "authentication_error");
    assert.equal(err.error.error.message, "invalid API key");
  }
  for (const path of ["/v1/messages", "/api/v1/messages", "/v1/messages/count_tokens"]) {
    const res = await fetch(`${gw.url}${path}`, { method: "POST", body: JSON.stringify(params) });
    assert.equal(res.status, 401, path);
    assert.deepEqual(await res.json(), {
      type: "error",
      error: { type: "authentication_error", message: "missing API key: send Authorization: Bearer KEY" },
    });
  }
  assert.equal(await fake.requests().then((r) => r.length), 0, "nothing went upstream");
});

test("stream: the exact event sequence, and the SDK's finalMessage()", async () => {
  await fake.script([{ chunks: ["Hel", "lo ", "world"], usage: { prompt_tokens: 21, completion_tokens: 3 } }]);
  const { events } = await rawEvents({ model: MODEL, max_tokens: 64, stream: true, messages: [{ role: "user", content: "hi" }] });
  assert.deepEqual(
    events.map((e) => e.event + (e.data.delta?.type ? `:${e.data.delta.type}` : "")),
    [
      "message_start",
      "content_block_start",
      "content_block_delta:text_delta",
      "content_block_delta:text_delta",
      "content_block_delta:text_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ],
  );
  assert.equal(events[0].data.message.usage.output_tokens, 0);
  assert.deepEqual(events[1].data, { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
  assert.deepEqual(events[6].data, {
    type: "message_delta",
    delta: { stop_reason: "end_turn", stop_sequence: null },
    usage: { input_tokens: 21, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 3 },
  });
  const up = await lastUpstream();
  assert.equal(up.json.stream, true);
  assert.deepEqual(up.json.stream_options, { include_usage: true });

  await fake.script([{ chunks: ["Hel", "lo ", "world"], usage: { prompt_tokens: 21, completion_tokens: 3 } }]);
  const stream = client.messages.stream({ model: MODEL, max_tokens: 64, messages: [{ role: "user", content: "hi" }] });
  let text = "";
  stream.on("text", (t) => (text += t));
  const final = await stream.finalMessage();
  assert.equal(text, "Hello world");
  assert.deepEqual(final.content, [{ type: "text", text: "Hello world" }]);
  assert.equal(final.stop_reason, "end_turn");
  assert.equal(final.usage.input_tokens, 21);
  assert.equal(final.usage.output_tokens, 3);
  const row = await ledgerRow(final.id.slice(4));
  assert.equal(row.api, "messages");
  assert.equal(row.streamed, true);
});

test("tool use, streamed: input_json_delta pieces rebuild the exact input", async () => {
  const args = '{"city":"Paris, France","units":"celsius","days":[1,2,3],"note":"naïve \\"quoted\\""}';
  await fake.script([
    { content: "Let me look.", tool_calls: [{ id: "call_w1", name: "get_weather", arguments: args }], arg_chunk: 5 },
  ]);
  const tools = [
    {
      name: "get_weather",
      description: "Weather for a city",
      input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    },
  ];
  const stream = client.messages.stream({
    model: MODEL,
    max_tokens: 200,
    tools,
    tool_choice: { type: "auto" },
    messages: [{ role: "user", content: "Weather in Paris?" }],
  });
  const pieces = [];
  const starts = [];
  stream.on("streamEvent", (ev) => {
    if (ev.type === "content_block_delta" && ev.delta.type === "input_json_delta") pieces.push(ev.delta.partial_json);
    if (ev.type === "content_block_start") starts.push([ev.index, ev.content_block.type]);
  });
  const final = await stream.finalMessage();
  assert.ok(pieces.length > 5, "arguments arrive in pieces");
  assert.equal(pieces.join(""), args);
  assert.deepEqual(starts, [
    [0, "text"],
    [1, "tool_use"],
  ]);
  assert.equal(final.stop_reason, "tool_use");
  assert.deepEqual(final.content[0], { type: "text", text: "Let me look." });
  assert.equal(final.content[1].type, "tool_use");
  assert.equal(final.content[1].id, "call_w1");
  assert.equal(final.content[1].name, "get_weather");
  assert.deepEqual(final.content[1].input, JSON.parse(args));
  const up = await lastUpstream();
  assert.deepEqual(up.json.tools, [
    {
      type: "function",
      function: { name: "get_weather", description: "Weather for a city", parameters: tools[0].input_schema },
    },
  ]);
  assert.equal(up.json.tool_choice, "auto");
});

test("parallel tool calls, interleaved upstream: each call is its own block, inputs exact", async () => {
  await fake.script([
    {
      tool_calls: [
        { id: "call_a", name: "f", arguments: '{"x":"aaaaaaaaaaaaaaaa"}' },
        { id: "call_b", name: "g", arguments: '{"y":"bbbbbbbbbbbbbbbb"}' },
      ],
      parallel: true,
      arg_chunk: 4,
    },
  ]);
  const final = await client.messages
    .stream({ model: MODEL, max_tokens: 100, messages: [{ role: "user", content: "go" }] })
    .finalMessage();
  assert.deepEqual(
    final.content.map((b) => [b.type, b.id, b.name, b.input]),
    [
      ["tool_use", "call_a", "f", { x: "aaaaaaaaaaaaaaaa" }],
      ["tool_use", "call_b", "g", { y: "bbbbbbbbbbbbbbbb" }],
    ],
  );
});

test("two-turn tool loop: the exact upstream OpenAI request of turn 2", async () => {
  await fake.script([
    { tool_calls: [{ id: "call_1", name: "get_weather", arguments: '{"city":"Oslo"}' }] },
    { content: "It is sunny in Oslo." },
  ]);
  const tools = [{ name: "get_weather", input_schema: { type: "object", properties: { city: { type: "string" } } } }];
  const messages = [{ role: "user", content: "Weather in Oslo?" }];
  const first = await client.messages.create({ model: MODEL, max_tokens: 100, tools, messages });
  assert.equal(first.stop_reason, "tool_use");
  assert.deepEqual(first.content, [{ type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Oslo" } }]);

  messages.push({ role: "assistant", content: first.content });
  messages.push({
    role: "user",
    content: [
      { type: "tool_result", tool_use_id: "call_1", content: [{ type: "text", text: "sunny, 21C" }] },
      { type: "text", text: "Answer briefly." },
    ],
  });
  const second = await client.messages.create({ model: MODEL, max_tokens: 100, tools, messages });
  assert.deepEqual(second.content, [{ type: "text", text: "It is sunny in Oslo." }]);
  assert.equal(second.stop_reason, "end_turn");
  const up = await lastUpstream();
  assert.deepEqual(up.json, {
    model: "gpt-4o-mini",
    messages: [
      { role: "user", content: "Weather in Oslo?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }],
      },
      { role: "tool", tool_call_id: "call_1", content: "sunny, 21C" },
      { role: "user", content: [{ type: "text", text: "Answer briefly." }] },
    ],
    max_tokens: 100,
    tools: [{ type: "function", function: { name: "get_weather", parameters: tools[0].input_schema } }],
  });
});

test("thinking with a signature: shown as a thinking block, sent back intact on the next turn", async (t) => {
  const sig = "EqQBCkYIBxgCKkD+/sig==";
  await fake.script([
    {
      body: {
        id: "chatcmpl-t",
        object: "chat.completion",
        created: 1,
        model: "gpt-4o-mini",
        choices: [
          {
            index: 0,
            message: {
              role: "assistant",
              content: null,
              reasoning: "The user wants weather.",
              reasoning_details: [
                { type: "reasoning.text", text: "The user wants weather.", signature: sig, format: "anthropic-claude-v1", index: 0 },
                { type: "reasoning.encrypted", data: "REDACTED-BLOB", format: "anthropic-claude-v1", index: 1 },
              ],
              tool_calls: [{ id: "call_t", type: "function", function: { name: "get_weather", arguments: '{"city":"Rome"}' } }],
            },
            finish_reason: "tool_calls",
          },
        ],
        usage: { prompt_tokens: 40, completion_tokens: 20, total_tokens: 60, completion_tokens_details: { reasoning_tokens: 8 } },
      },
    },
    { content: "Done." },
  ]);
  // a thinking model through OpenRouter, which takes `reasoning` (a plain
  // OpenAI-compatible service would not: the codec drops it there)
  const orGw = await startGateway({
    config: { providers: { openrouter: fakeProviderConfig(fake, { base_url: `${fake.url}/api/v1` }) } },
  });
  t.after(() => orGw.stop());
  const orClient = new Anthropic({ baseURL: orGw.url, apiKey: "any", maxRetries: 0 });
  const THINKER = "anthropic/claude-sonnet-4";
  const tools = [{ name: "get_weather", input_schema: { type: "object" } }];
  const messages = [{ role: "user", content: "Weather in Rome?" }];
  const first = await orClient.messages.create({
    model: THINKER,
    max_tokens: 2000,
    thinking: { type: "enabled", budget_tokens: 1024 },
    tools,
    messages,
  });
  assert.deepEqual(first.content, [
    { type: "thinking", thinking: "The user wants weather.", signature: sig },
    { type: "redacted_thinking", data: "REDACTED-BLOB" },
    { type: "tool_use", id: "call_t", name: "get_weather", input: { city: "Rome" } },
  ]);
  let up = await lastUpstream();
  assert.equal(up.path, "/api/v1/chat/completions");
  assert.equal(up.json.model, "anthropic/claude-sonnet-4");
  assert.deepEqual(up.json.reasoning, { max_tokens: 1024 });

  messages.push({ role: "assistant", content: first.content });
  messages.push({ role: "user", content: [{ type: "tool_result", tool_use_id: "call_t", content: "warm" }] });
  await orClient.messages.create({ model: THINKER, max_tokens: 2000, thinking: { type: "enabled", budget_tokens: 1024 }, tools, messages });
  up = await lastUpstream();
  assert.deepEqual(up.json.messages[1], {
    role: "assistant",
    content: null,
    tool_calls: [{ id: "call_t", type: "function", function: { name: "get_weather", arguments: '{"city":"Rome"}' } }],
    reasoning_details: [
      { type: "reasoning.text", text: "The user wants weather.", signature: sig, format: "anthropic-claude-v1", index: 0 },
      { type: "reasoning.encrypted", data: "REDACTED-BLOB", format: "anthropic-claude-v1", index: 1 },
    ],
  });
  assert.deepEqual(up.json.messages[2], { role: "tool", tool_call_id: "call_t", content: "warm" });
});

test("thinking streamed: thinking_delta and signature_delta, then text; a Gemini signature round-trips opaquely", async (t) => {
  // reasoning_details go back only to services that take OpenRouter's
  // extensions; a plain OpenAI-compatible one refuses unknown members
  const orGw = await startGateway({
    config: { providers: { openai: fakeProviderConfig(fake, { openrouter_fields: true }) } },
  });
  t.after(() => orGw.stop());
  const client = new Anthropic({ baseURL: orGw.url, apiKey: "any", maxRetries: 0 });
  const chunk = (delta, finish = null) =>
    JSON.stringify({
      id: "c",
      object: "chat.completion.chunk",
      created: 1,
      model: "gpt-4o-mini",
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
  const gem = { type: "reasoning.encrypted", data: "GEMSIG", format: "google-gemini-v1", id: "call_g", index: 1 };
  await fake.script([
    {
      raw_events: [
        chunk({ role: "assistant", content: "" }),
        chunk({ reasoning: "Hmm, ", reasoning_details: [{ type: "reasoning.text", text: "Hmm, ", format: "anthropic-claude-v1", index: 0 }] }),
        chunk({ reasoning: "ok.", reasoning_details: [{ type: "reasoning.text", text: "ok.", format: "anthropic-claude-v1", index: 0 }] }),
        chunk({ reasoning_details: [{ type: "reasoning.text", text: "", signature: "SIG-123", format: "anthropic-claude-v1", index: 0 }] }),
        chunk({ reasoning_details: [gem] }),
        chunk({ content: "Answer" }),
        chunk({}, "stop"),
        JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model: "gpt-4o-mini", choices: [], usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 } }),
      ],
    },
    { content: "next" },
  ]);
  const messages = [{ role: "user", content: "think" }];
  const stream = client.messages.stream({ model: MODEL, max_tokens: 2000, thinking: { type: "enabled", budget_tokens: 1024 }, messages });
  const deltas = [];
  stream.on("streamEvent", (ev) => {
    if (ev.type === "content_block_delta") deltas.push(ev.delta.type);
  });
  const final = await stream.finalMessage();
  assert.deepEqual(deltas, ["thinking_delta", "thinking_delta", "signature_delta", "text_delta"]);
  assert.equal(final.content.length, 3);
  assert.deepEqual(final.content[0], { type: "thinking", thinking: "Hmm, ok.", signature: "SIG-123" });
  assert.equal(final.content[1].type, "redacted_thinking");
  assert.deepEqual(final.content[2], { type: "text", text: "Answer" });
  assert.equal(final.usage.input_tokens, 9);
  assert.equal(final.usage.output_tokens, 4);

  messages.push({ role: "assistant", content: final.content });
  messages.push({ role: "user", content: "again" });
  await client.messages.create({ model: MODEL, max_tokens: 500, messages });
  const up = await lastUpstream();
  assert.deepEqual(up.json.messages[1], {
    role: "assistant",
    content: "Answer",
    reasoning_details: [
      { type: "reasoning.text", text: "Hmm, ok.", signature: "SIG-123", format: "anthropic-claude-v1", index: 0 },
      gem,
    ],
  });
  // the same turn to a plain OpenAI-compatible service: no reasoning_details
  await fake.script([{ content: "plain" }]);
  await anthropic({ apiKey: "sb-admin-key" }).messages.create({ model: MODEL, max_tokens: 500, messages });
  assert.deepEqual((await lastUpstream()).json.messages[1], { role: "assistant", content: "Answer" });
});

test("images: base64 and URL sources become image_url parts; cache_control is left out for a plain OpenAI-compatible service", async () => {
  await client.messages.create({
    model: MODEL,
    max_tokens: 10,
    messages: [
      {
        role: "user",
        content: [
          { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
          { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
          { type: "text", text: "What is this?", cache_control: { type: "ephemeral" } },
        ],
      },
    ],
  });
  const up = await lastUpstream();
  assert.deepEqual(up.json.messages, [
    {
      role: "user",
      content: [
        { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
        { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
        { type: "text", text: "What is this?" },
      ],
    },
  ]);
});

test("cache tokens: input_tokens excludes cache reads and writes", async () => {
  await fake.script([
    { content: "ok", usage: { prompt_tokens: 100, completion_tokens: 2, prompt_tokens_details: { cached_tokens: 70, cache_write_tokens: 20 } } },
  ]);
  const msg = await client.messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: "user", content: "x" }] });
  assert.deepEqual(msg.usage, { input_tokens: 10, cache_creation_input_tokens: 20, cache_read_input_tokens: 70, output_tokens: 2 });
});

test("stop reasons: length -> max_tokens, content_filter -> refusal", async () => {
  await fake.script([{ content: "trunc", finish_reason: "length" }, { content: "no", finish_reason: "content_filter" }]);
  const a = await client.messages.create({ model: MODEL, max_tokens: 3, messages: [{ role: "user", content: "x" }] });
  assert.equal(a.stop_reason, "max_tokens");
  const b = await client.messages.create({ model: MODEL, max_tokens: 3, messages: [{ role: "user", content: "x" }] });
  assert.equal(b.stop_reason, "refusal");
});

test("errors: Anthropic shapes and statuses", async () => {
  // unknown model
  await assert.rejects(
    client.messages.create({ model: "nobody/none", max_tokens: 5, messages: [{ role: "user", content: "x" }] }),
    (e) => {
      assert.equal(e.status, 404);
      assert.equal(e.error.type, "error");
      assert.equal(e.error.error.type, "not_found_error");
      return true;
    },
  );
  // invalid request: no max_tokens, bad block, bad JSON
  for (const body of [
    JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "x" }] }),
    JSON.stringify({ model: MODEL, max_tokens: 5, messages: [{ role: "user", content: [{ type: "bogus" }] }] }),
    '{"model": ',
  ]) {
    const res = await fetch(`${gw.url}/v1/messages`, { method: "POST", headers: { "x-api-key": "sb-admin-key" }, body });
    assert.equal(res.status, 400);
    const e = await res.json();
    assert.equal(e.type, "error");
    assert.equal(e.error.type, "invalid_request_error");
    assert.ok(e.error.message.length > 0);
  }
  assert.equal((await fake.requests()).length, 0, "invalid requests never reach the provider");

  // the SDK rejects with this status and Anthropic error type
  const rejectsWith = (status, type, more = () => {}) =>
    assert.rejects(
      client.messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: "user", content: "x" }] }),
      (e) => {
        assert.equal(e.status, status);
        assert.equal(e.error.error.type, type);
        more(e);
        return true;
      },
    );
  // upstream 429 -> rate_limit_error with retry-after
  await fake.script([{ status: 429, retry_after: 7 }]);
  await rejectsWith(429, "rate_limit_error", (e) => assert.equal(e.headers.get("retry-after"), "7"));
  // upstream 529 (overloaded) -> 529 overloaded_error
  await fake.script([{ status: 529 }]);
  await rejectsWith(529, "overloaded_error");
  // upstream 500 -> api_error
  await fake.script([{ status: 500 }]);
  await rejectsWith(502, "api_error");
});

test("an upstream failure mid-stream ends with an error event; the SDK rejects", async () => {
  await fake.script([{ chunks: ["a ", "b ", "c ", "d "], cut_after: 2 }]);
  const { events } = await rawEvents({ model: MODEL, max_tokens: 64, stream: true, messages: [{ role: "user", content: "x" }] });
  const last = events[events.length - 1];
  assert.equal(last.event, "error");
  assert.equal(last.data.error.type, "api_error");
  assert.ok(last.data.error.message.length > 0);
  assert.ok(!events.some((e) => e.event === "message_stop"));
  assert.deepEqual(
    events.filter((e) => e.event === "content_block_delta").map((e) => e.data.delta.text),
    ["a ", "b "],
  );

  await fake.script([{ chunks: ["a ", "b ", "c ", "d "], cut_after: 2 }]);
  const stream = client.messages.stream({ model: MODEL, max_tokens: 64, messages: [{ role: "user", content: "x" }] });
  await assert.rejects(stream.finalMessage());
});

test("count_tokens: an estimate, validated like a message request", async () => {
  const r = await client.messages.countTokens({
    model: MODEL,
    system: "12345678",
    messages: [
      { role: "user", content: "abcd" },
      { role: "assistant", content: "ab" },
    ],
  });
  // 14 bytes of text -> 4, plus 3 per message
  assert.deepEqual(r, { input_tokens: 4 + 6 });
  await assert.rejects(
    client.messages.countTokens({ model: "nobody/none", messages: [{ role: "user", content: "x" }] }),
    (e) => e.status === 404 && e.error.error.type === "not_found_error",
  );
  await assert.rejects(
    client.messages.countTokens({ model: MODEL, messages: [] }),
    (e) => e.status === 400 && e.error.error.type === "invalid_request_error",
  );
  assert.equal((await fake.requests()).length, 0, "count_tokens never calls the provider");
});

test("fast path: an Anthropic-format provider gets the client's body as it is; its bytes come back untouched", async (t) => {
  const anGw = await startGateway({
    config: {
      providers: {
        anthropic: fakeProviderConfig(fake, { format: "anthropic", base_url: fake.url, api_key: "sk-ant-fake" }),
      },
    },
  });
  t.after(() => anGw.stop());
  const scenario = {
    id: "msg_fixed",
    reasoning: "Thinking it over.",
    content: "Hi there",
    tool_calls: [{ id: "toolu_1", name: "get", arguments: '{"q":"x"}' }],
    usage: { cache_read_input_tokens: 40, cache_creation_input_tokens: 6 },
  };
  const body = {
    model: "anthropic/claude-3.5-haiku",
    max_tokens: 100,
    system: [{ type: "text", text: "Be kind.", cache_control: { type: "ephemeral" } }],
    messages: [{ role: "user", content: [{ type: "text", text: "Hello" }] }],
    thinking: { type: "enabled", budget_tokens: 1024 },
    tools: [{ name: "get", input_schema: { type: "object" } }],
    a_field_switchboard_does_not_know: { kept: [1, 2] },
  };
  for (const stream of [false, true]) {
    await fake.script([scenario]);
    const sent = { ...body, stream };
    const res = await fetch(`${anGw.url}/v1/messages`, {
      method: "POST",
      headers: { "anthropic-version": "2023-06-01", "anthropic-beta": "interleaved-thinking-2025-05-14" },
      body: JSON.stringify(sent),
    });
    assert.equal(res.status, 200);
    const genId = res.headers.get("x-generation-id");
    const viaGateway = await res.text();
    const up = await lastUpstream();
    assert.equal(up.path, "/v1/messages");
    assert.deepEqual(up.json, { ...sent, model: "claude-3-5-haiku-20241022" });
    assert.equal(up.headers["x-api-key"], "sk-ant-fake");
    assert.equal(up.headers["anthropic-version"], "2023-06-01");
    assert.equal(up.headers["anthropic-beta"], "interleaved-thinking-2025-05-14");
    // the same scenario asked of the provider directly: the same bytes
    await fake.script([scenario]);
    const direct = await (await fetch(`${fake.url}/v1/messages`, { method: "POST", body: up.body })).text();
    assert.equal(viaGateway, direct, `stream=${stream}`);
    if (stream) assert.match(viaGateway, /event: message_stop/);
    // usage and the stop reason were read on the way
    const row = await generationRow(anGw, genId);
    assert.equal(row.api, "messages");
    assert.equal(row.native_finish_reason, "tool_use");
    assert.equal(row.finish_reason, "tool_calls");
    assert.equal(row.native_tokens_cached, 40);
    assert.equal(row.native_tokens_cache_write, 6);
    assert.equal(row.usage_estimated, false);
    assert.ok(row.tokens_prompt > 46 && row.tokens_completion > 0);
    assert.ok(row.total_cost > 0);
  }
  // the SDK over the fast path
  await fake.script([{ content: "Fast." }]);
  const c2 = new Anthropic({ baseURL: anGw.url, apiKey: "any", maxRetries: 0 });
  const final = await c2.messages.stream({ model: "anthropic/claude-3.5-haiku", max_tokens: 10, messages: [{ role: "user", content: "x" }] }).finalMessage();
  assert.deepEqual(final.content, [{ type: "text", text: "Fast." }]);
  // an overloaded upstream, before and during the stream
  await fake.script([{ status: 529, error_body: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } } }]);
  await assert.rejects(c2.messages.create({ model: "anthropic/claude-3.5-haiku", max_tokens: 10, messages: [{ role: "user", content: "x" }] }), (e) => {
    assert.equal(e.status, 529);
    assert.equal(e.error.error.type, "overloaded_error");
    return true;
  });
  await fake.script([{ chunks: ["a ", "b ", "c "], cut_after: 1 }]);
  const res = await fetch(`${anGw.url}/v1/messages`, {
    method: "POST",
    body: JSON.stringify({ model: "anthropic/claude-3.5-haiku", max_tokens: 10, stream: true, messages: [{ role: "user", content: "x" }] }),
  });
  const text = await res.text();
  assert.match(text, /event: error\ndata: \{"type":"error","error":\{"type":"api_error"/);
  assert.doesNotMatch(text, /message_stop/);
});

test("a Gemini model through /v1/messages: tool use streamed, the thought signature back on turn 2", async (t) => {
  const gGw = await startGateway({
    config: { providers: { gemini: fakeProviderConfig(fake, { format: "gemini", base_url: fake.url, api_key: "g-key" }) } },
  });
  t.after(() => gGw.stop());
  const gc = new Anthropic({ baseURL: gGw.url, apiKey: "any", maxRetries: 0 });
  await fake.script([
    { reasoning: "Need the weather.", tool_calls: [{ id: "call_g1", name: "get_weather", arguments: '{"city":"Rome"}' }], signature: "GSIG-1" },
    { content: "Warm in Rome." },
  ]);
  const tools = [{ name: "get_weather", input_schema: { type: "object", properties: { city: { type: "string" } } } }];
  const messages = [{ role: "user", content: "Weather in Rome?" }];
  const first = await gc.messages
    .stream({ model: "google/gemini-2.5-flash", max_tokens: 2000, thinking: { type: "enabled", budget_tokens: 1024 }, tools, messages })
    .finalMessage();
  assert.equal(first.stop_reason, "tool_use");
  const tool = first.content.find((b) => b.type === "tool_use");
  assert.equal(tool.name, "get_weather");
  assert.deepEqual(tool.input, { city: "Rome" });
  const thinking = first.content.find((b) => b.type === "thinking");
  assert.equal(thinking?.thinking, "Need the weather.");
  const opaque = first.content.find((b) => b.type === "redacted_thinking");
  assert.ok(opaque && opaque.data.startsWith("sb-rd:") && opaque.data.includes("GSIG-1"), JSON.stringify(first.content));

  messages.push({ role: "assistant", content: first.content });
  messages.push({ role: "user", content: [{ type: "tool_result", tool_use_id: tool.id, content: "warm" }] });
  const second = await gc.messages.create({ model: "google/gemini-2.5-flash", max_tokens: 500, tools, messages });
  assert.deepEqual(second.content, [{ type: "text", text: "Warm in Rome." }]);
  const up = await lastUpstream();
  assert.match(up.path, /gemini-2\.5-flash:generateContent$/);
  const parts = up.json.contents.flatMap((c) => c.parts);
  const call = parts.find((p) => p.functionCall);
  assert.equal(call.functionCall.name, "get_weather");
  assert.deepEqual(call.functionCall.args, { city: "Rome" });
  assert.equal(call.thoughtSignature, "GSIG-1");
  const result = parts.find((p) => p.functionResponse);
  assert.equal(result.functionResponse.name, "get_weather");
});
