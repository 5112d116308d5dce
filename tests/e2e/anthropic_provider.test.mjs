// SPDX-License-Identifier: MIT
// The OpenAI SDK against an Anthropic model: switchboard translates the
// chat request into a Messages request for the fake provider (playing
// Anthropic) and the Messages answer, streamed or not, back into OpenAI
// shapes. Plain, stream, tools with streamed arguments and the exact second
// turn, parallel calls, the thinking signature round trip, cache tokens and
// cost, max tokens, errors before and during a stream, 429, and the skill
// contract.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  setupModel,
  fakeProviderConfig,
  rawChatStream,
  skillChat,
  rejectsWith,
  rejectsRateLimited,
} from "./lib/harness.mjs";

const MODEL = "anthropic/claude-3.5-haiku";
const UPSTREAM = "claude-3-5-haiku-20241022";
// catalog prices for claude-3.5-haiku, picodollars per token
const PRICE = { prompt: 800000, completion: 4000000, read: 80000, write: 1000000 };
const picos = (usd) => Math.round(usd * 1e12);

const { fake, gw, lastUpstream: upstream, client, collect, ask } = setupModel({
  model: MODEL,
  providers: (fake) => ({ anthropic: fakeProviderConfig(fake, { format: "anthropic", base_url: fake.url, api_key: "sk-ant-fake" }) }),
});

test("plain completion: the exact Messages request, the answer, usage and cost", async () => {
  await fake.script([{ content: "Hello from Claude", usage: { input_tokens: 20, output_tokens: 5 } }]);
  const r = await client.chat.completions.create({
    model: MODEL,
    messages: [
      { role: "system", content: "You are terse." },
      { role: "user", content: "Hello there" },
    ],
    temperature: 0.3,
    max_tokens: 50,
    stop: ["\n\n"],
    user: "user-7",
  });
  assert.equal(r.choices[0].message.content, "Hello from Claude");
  assert.equal(r.choices[0].finish_reason, "stop");
  assert.equal(r.choices[0].native_finish_reason, "end_turn");
  assert.equal(r.model, MODEL);
  assert.equal(r.provider, "Anthropic");
  assert.match(r.id, /^gen-/);
  assert.equal(r.usage.prompt_tokens, 20);
  assert.equal(r.usage.completion_tokens, 5);
  assert.equal(picos(r.usage.cost), 20 * PRICE.prompt + 5 * PRICE.completion);
  const up = await upstream();
  assert.equal(up.path, "/v1/messages");
  assert.equal(up.headers["x-api-key"], "sk-ant-fake");
  assert.equal(up.headers["anthropic-version"], "2023-06-01");
  assert.equal(up.headers.authorization, undefined);
  assert.deepEqual(up.json, {
    model: UPSTREAM,
    max_tokens: 50,
    system: "You are terse.",
    messages: [{ role: "user", content: [{ type: "text", text: "Hello there" }] }],
    stop_sequences: ["\n\n"],
    temperature: 0.3,
    metadata: { user_id: "user-7" },
  });
});

test("max_tokens defaults to the catalog's largest output", async () => {
  await ask();
  assert.equal((await upstream()).json.max_tokens, 8192);
});

test("stream: content deltas, one usage chunk, finish reason", async () => {
  await fake.script([{ chunks: ["The ", "quick ", "fox"], usage: { input_tokens: 11, output_tokens: 3 } }]);
  const stream = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: "user", content: "go" }],
    stream: true,
  });
  const out = await collect(stream);
  assert.equal(out.text, "The quick fox");
  assert.equal(out.finish, "stop");
  assert.equal(out.usage.prompt_tokens, 11);
  assert.equal(out.usage.completion_tokens, 3);
  assert.equal(picos(out.usage.cost), 11 * PRICE.prompt + 3 * PRICE.completion);
  const up = await upstream();
  assert.equal(up.json.stream, true);
  assert.equal(up.headers.accept, "text/event-stream");
});

const weatherTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

test("tools: arguments stream as they arrive, and the second turn carries tool_use and tool_result", async () => {
  const args = '{"city": "Paris, France"}';
  await fake.script([
    { tool_calls: [{ id: "toolu_01", name: "get_weather", arguments: args }], arg_chunk: 4, token_interval_ms: 15 },
    { content: "It is 18C in Paris." },
  ]);
  const messages = [{ role: "user", content: "Weather in Paris?" }];
  const stream = await client.chat.completions.create({
    model: MODEL,
    messages,
    tools: [weatherTool],
    tool_choice: "auto",
    stream: true,
  });
  const seen = [];
  const t0 = Date.now();
  let id, name, argsText = "", finish;
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    for (const tc of c?.delta?.tool_calls ?? []) {
      assert.equal(tc.index, 0);
      if (tc.id) ({ id, name } = { id: tc.id, name: tc.function.name });
      if (tc.function?.arguments) {
        argsText += tc.function.arguments;
        seen.push(Date.now() - t0);
      }
    }
    if (c?.finish_reason) finish = c.finish_reason;
  }
  assert.equal(id, "toolu_01");
  assert.equal(name, "get_weather");
  assert.equal(argsText, args);
  assert.equal(finish, "tool_calls");
  assert.equal(seen.length, Math.ceil(args.length / 4), "one delta per upstream piece");
  assert.ok(seen.at(-1) - seen[0] >= 50, `pieces arrive over time, not at once: ${seen}`);
  let up = await upstream();
  assert.deepEqual(up.json.tools, [
    {
      name: "get_weather",
      description: "Weather for a city",
      input_schema: weatherTool.function.parameters,
    },
  ]);
  assert.deepEqual(up.json.tool_choice, { type: "auto" });

  const second = await client.chat.completions.create({
    model: MODEL,
    tools: [weatherTool],
    messages: [
      ...messages,
      { role: "assistant", content: null, tool_calls: [{ id, type: "function", function: { name, arguments: argsText } }] },
      { role: "tool", tool_call_id: id, content: "18C, sunny" },
    ],
  });
  assert.equal(second.choices[0].message.content, "It is 18C in Paris.");
  up = await upstream();
  assert.deepEqual(up.json.messages, [
    { role: "user", content: [{ type: "text", text: "Weather in Paris?" }] },
    {
      role: "assistant",
      content: [{ type: "tool_use", id: "toolu_01", name: "get_weather", input: { city: "Paris, France" } }],
    },
    { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_01", content: "18C, sunny" }] },
  ]);
});

test("parallel tool calls: dense indexes, ids, and both results in one user message", async () => {
  await fake.script([
    {
      tool_calls: [
        { id: "toolu_a", name: "get_weather", arguments: '{"city":"Oslo"}' },
        { id: "toolu_b", name: "get_weather", arguments: '{"city":"Rome"}' },
      ],
    },
  ]);
  const out = await collect(
    await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Oslo and Rome?" }],
      tools: [weatherTool],
      stream: true,
    }),
  );
  assert.deepEqual(out.calls, [
    { id: "toolu_a", name: "get_weather", arguments: '{"city":"Oslo"}' },
    { id: "toolu_b", name: "get_weather", arguments: '{"city":"Rome"}' },
  ]);
  assert.equal(out.finish, "tool_calls");
  // non-stream gives the same calls
  await fake.script([
    {
      tool_calls: [
        { id: "toolu_a", name: "get_weather", arguments: '{"city":"Oslo"}' },
        { id: "toolu_b", name: "get_weather", arguments: '{"city":"Rome"}' },
      ],
    },
    { content: "done" },
  ]);
  const r = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: "user", content: "Oslo and Rome?" }],
    tools: [weatherTool],
  });
  assert.deepEqual(
    r.choices[0].message.tool_calls.map((t) => [t.id, t.function.name, JSON.parse(t.function.arguments)]),
    [
      ["toolu_a", "get_weather", { city: "Oslo" }],
      ["toolu_b", "get_weather", { city: "Rome" }],
    ],
  );
  await client.chat.completions.create({
    model: MODEL,
    tools: [weatherTool],
    messages: [
      { role: "user", content: "Oslo and Rome?" },
      { role: "assistant", content: null, tool_calls: r.choices[0].message.tool_calls },
      { role: "tool", tool_call_id: "toolu_a", content: "5C" },
      { role: "tool", tool_call_id: "toolu_b", content: "20C" },
    ],
  });
  const up = await upstream();
  assert.deepEqual(up.json.messages.at(-1), {
    role: "user",
    content: [
      { type: "tool_result", tool_use_id: "toolu_a", content: "5C" },
      { type: "tool_result", tool_use_id: "toolu_b", content: "20C" },
    ],
  });
});

test("thinking: reasoning streamed, the signature comes back intact on the next turn", async () => {
  const signature = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+Gs/5mCsXg==";
  await fake.script([
    {
      reasoning: "The user wants weather. I should call the tool.",
      signature,
      tool_calls: [{ id: "toolu_t", name: "get_weather", arguments: '{"city":"Lima"}' }],
    },
    { content: "Sunny." },
  ]);
  const out = await collect(
    await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Lima?" }],
      tools: [weatherTool],
      reasoning: { max_tokens: 2048 },
      stream: true,
    }),
  );
  let up = await upstream();
  assert.deepEqual(up.json.thinking, { type: "enabled", budget_tokens: 2048 });
  assert.equal(out.reasoning, "The user wants weather. I should call the tool.");
  assert.ok(out.details.every((d) => d.format === "anthropic-claude-v1" && d.index === 0));
  const sig = out.details.find((d) => d.signature);
  assert.equal(sig.signature, signature);
  // the client hands back the reasoning as one detail, as OpenRouter clients do
  const detail = { type: "reasoning.text", text: out.reasoning, signature: sig.signature, format: "anthropic-claude-v1", index: 0 };
  await client.chat.completions.create({
    model: MODEL,
    tools: [weatherTool],
    reasoning: { max_tokens: 2048 },
    messages: [
      { role: "user", content: "Lima?" },
      { role: "assistant", content: null, reasoning_details: [detail], tool_calls: out.calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })) },
      { role: "tool", tool_call_id: "toolu_t", content: "25C" },
    ],
  });
  up = await upstream();
  assert.deepEqual(up.json.messages[1], {
    role: "assistant",
    content: [
      { type: "thinking", thinking: "The user wants weather. I should call the tool.", signature },
      { type: "tool_use", id: "toolu_t", name: "get_weather", input: { city: "Lima" } },
    ],
  });
  // non-stream: reasoning and reasoning_details on the message
  await fake.script([{ reasoning: "Short thought.", signature: "SIG2", content: "Hi" }]);
  const r = await ask();
  assert.equal(r.choices[0].message.reasoning, "Short thought.");
  assert.deepEqual(r.choices[0].message.reasoning_details, [
    { type: "reasoning.text", text: "Short thought.", signature: "SIG2", format: "anthropic-claude-v1", index: 0 },
  ]);
});

test("cache hits: prompt tokens include cache reads and writes, priced at cache rates", async () => {
  const usage = { input_tokens: 10, cache_read_input_tokens: 1000, cache_creation_input_tokens: 100, output_tokens: 7 };
  await fake.script([{ content: "cached", usage }, { content: "cached", usage }]);
  const want = 10 * PRICE.prompt + 1000 * PRICE.read + 100 * PRICE.write + 7 * PRICE.completion;
  const r = await ask();
  assert.equal(r.usage.prompt_tokens, 1110);
  assert.equal(r.usage.prompt_tokens_details.cached_tokens, 1000);
  assert.equal(r.usage.prompt_tokens_details.cache_write_tokens, 100);
  assert.equal(r.usage.completion_tokens, 7);
  assert.equal(picos(r.usage.cost), want);
  const out = await collect(await ask({ stream: true }));
  assert.equal(out.usage.prompt_tokens, 1110);
  assert.equal(out.usage.prompt_tokens_details.cached_tokens, 1000);
  assert.equal(picos(out.usage.cost), want);
  const gen = await (await fetch(`${gw.url}/api/v1/generation?id=${r.id}`)).json();
  assert.equal(picos(gen.data.total_cost ?? gen.data.cost ?? 0), want);
});

test("max tokens and refusal map to length and content_filter", async () => {
  await fake.script([{ content: "Once upon", finish_reason: "max_tokens" }, { content: "No.", finish_reason: "refusal" }]);
  const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "story" }], max_tokens: 2 });
  assert.equal(r.choices[0].finish_reason, "length");
  assert.equal(r.choices[0].native_finish_reason, "max_tokens");
  const out = await collect(await ask({ stream: true }));
  assert.equal(out.finish, "content_filter");
});

test("errors before the stream: 400 keeps the provider's message, 529 overloaded is a 502", async () => {
  await fake.script([
    { status: 400, error_body: { type: "error", error: { type: "invalid_request_error", message: "prompt is too long" } } },
    { status: 529 },
  ]);
  await rejectsWith(ask(), 400, /prompt is too long/);
  await rejectsWith(ask({ stream: true }), 502, /fake error 529/);
});

test("an error event during the stream ends it with finish_reason error", async () => {
  await fake.script([
    {
      raw_events: [
        '{"type":"message_start","message":{"id":"m","type":"message","role":"assistant","content":[],"usage":{"input_tokens":5,"output_tokens":1}}}',
        '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
        '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Partial"}}',
        '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
      ],
    },
  ]);
  const { status, events, chunks } = await rawChatStream(gw, { model: MODEL, messages: [{ role: "user", content: "x" }], stream: true });
  assert.equal(status, 200);
  assert.equal(events.at(-1), "data: [DONE]");
  assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join(""), "Partial");
  const err = chunks.find((c) => c.error);
  assert.match(err.error.message, /Overloaded/);
  assert.equal(err.choices[0].finish_reason, "error");
  assert.ok(chunks.at(-1).usage, "the usage chunk still ends the stream");
});

// Through libcurl (SWITCHBOARD_UPSTREAM_CLIENT=curl) the gateway waits for
// the provider's body to end (docs/upstream.md, Detach).
test("a stream ends at message_stop even when the provider keeps its body open", { skip: process.env.SWITCHBOARD_UPSTREAM_CLIENT === "curl" }, async () => {
  await fake.script([{ chunks: ["a", "b"], no_end: true }]);
  const { events, chunks } = await rawChatStream(
    gw,
    { model: MODEL, messages: [{ role: "user", content: "x" }], stream: true },
    { "x-switchboard-idle-timeout-ms": "3000" },
  );
  assert.equal(events.at(-1), "data: [DONE]");
  assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join(""), "ab");
  assert.ok(!chunks.some((c) => c.error), "no error chunk");
  assert.ok(chunks.at(-1).usage.completion_tokens > 0);
});

test("a stream cut before message_stop is an error, not a success", async () => {
  await fake.script([{ chunks: ["a", "b", "c"], cut_after: 2 }]);
  const { chunks } = await rawChatStream(gw, { model: MODEL, messages: [{ role: "user", content: "x" }], stream: true });
  assert.ok(chunks.some((c) => c.choices[0]?.finish_reason === "error"));
});

test("429 from Anthropic: status and Retry-After reach the client", async () => {
  await fake.script([{ status: 429, retry_after: 9 }]);
  await rejectsRateLimited(ask(), 9);
});

test("response_format json_schema: a forced tool whose input comes back as content", async () => {
  const schema = { type: "object", properties: { a: { type: "integer" } }, required: ["a"] };
  const answer = { name: "json_response", arguments: '{"a": 42}' };
  await fake.script([{ tool_calls: [answer] }, { tool_calls: [answer], arg_chunk: 3 }]);
  const params = {
    model: MODEL,
    messages: [{ role: "user", content: "x" }],
    response_format: { type: "json_schema", json_schema: { name: "x", schema } },
  };
  const r = await client.chat.completions.create(params);
  assert.deepEqual(JSON.parse(r.choices[0].message.content), { a: 42 });
  assert.equal(r.choices[0].message.tool_calls, undefined);
  assert.equal(r.choices[0].finish_reason, "stop");
  const up = await upstream();
  assert.deepEqual(up.json.tools, [
    { name: "json_response", description: "Give the answer as this tool's input.", input_schema: schema },
  ]);
  assert.deepEqual(up.json.tool_choice, { type: "tool", name: "json_response" });
  const out = await collect(await client.chat.completions.create({ ...params, stream: true }));
  assert.equal(out.text, '{"a": 42}');
  assert.deepEqual(out.calls, []);
  assert.equal(out.finish, "stop");
});

test("what Anthropic cannot honour gets a clear 400 without calling the provider", async () => {
  await assert.rejects(
    client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "x" }],
      tools: [weatherTool],
      response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object" } } },
    }),
    (e) => e.status === 400 && /cannot be combined with tools/.test(e.message),
  );
  await rejectsWith(ask({ n: 2 }), 400, /n > 1/);
  assert.equal((await fake.requests()).length, 0);
});

test("skill contract: an Anthropic model returns the canonical shape", async () => {
  await fake.script([
    { content: "Hi there", usage: { input_tokens: 12, output_tokens: 3 } },
    { tool_calls: [{ id: "toolu_s", name: "get_weather", arguments: '{"city":"Bern"}' }] },
  ]);
  const call = (params) => skillChat(gw, params);
  let r = await call({ model: MODEL, system: "Be brief.", messages: [{ role: "user", content: "Hi" }] });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.content, "Hi there");
  assert.deepEqual(r.json.tool_calls, []);
  assert.equal(r.json.stop_reason, "end_turn");
  assert.equal(r.json.usage.input_tokens, 12);
  assert.equal(r.json.usage.output_tokens, 3);
  let up = await upstream();
  assert.equal(up.json.system, "Be brief.");
  r = await call({
    model: MODEL,
    messages: [{ role: "user", content: "Bern?" }],
    tools: [{ name: "get_weather", description: "w", input_schema: { type: "object", properties: { city: { type: "string" } } } }],
  });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.stop_reason, "tool_use");
  assert.deepEqual(r.json.tool_calls, [{ id: "toolu_s", name: "get_weather", input: { city: "Bern" } }]);
});
