// SPDX-License-Identifier: MIT
// The OpenAI SDK against a Gemini model: switchboard translates the chat
// request into a generateContent request for the fake provider (playing
// Gemini) and the answer, streamed (alt=sse) or not, back into OpenAI
// shapes. Plain, stream, tools with the exact second turn (functionResponse
// named after the call), parallel calls, the thought signature round trip,
// cached and thought tokens with cost, max tokens, safety, errors before and
// during a stream, 429, and the skill contract.
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

const MODEL = "google/gemini-2.5-flash";
const UPSTREAM = "gemini-2.5-flash";
// catalog prices for gemini-2.5-flash, picodollars per token
const PRICE = { prompt: 300000, completion: 2500000, read: 30000 };
const picos = (usd) => Math.round(usd * 1e12);

const { fake, gw, lastUpstream: upstream, client, collect, ask } = setupModel({
  model: MODEL,
  providers: (fake) => ({ gemini: fakeProviderConfig(fake, { format: "gemini", base_url: fake.url, api_key: "g-fake-key" }) }),
});

const weatherTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Weather for a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string", description: "City name" } },
      required: ["city"],
      additionalProperties: false,
    },
  },
};

test("plain completion: the exact generateContent request, the answer, usage and cost", async () => {
  await fake.script([
    { content: "Hello from Gemini", usage: { promptTokenCount: 20, candidatesTokenCount: 5 } },
  ]);
  const r = await client.chat.completions.create({
    model: MODEL,
    messages: [
      { role: "system", content: "You are terse." },
      { role: "user", content: "Hello there" },
    ],
    temperature: 0.3,
    max_tokens: 50,
    stop: ["\n\n"],
  });
  assert.equal(r.choices[0].message.content, "Hello from Gemini");
  assert.equal(r.choices[0].finish_reason, "stop");
  assert.equal(r.choices[0].native_finish_reason, "STOP");
  assert.equal(r.model, MODEL);
  assert.equal(r.usage.prompt_tokens, 20);
  assert.equal(r.usage.completion_tokens, 5);
  assert.equal(picos(r.usage.cost), 20 * PRICE.prompt + 5 * PRICE.completion);
  const up = await upstream();
  assert.equal(up.path, `/v1beta/models/${UPSTREAM}:generateContent`);
  assert.equal(up.headers["x-goog-api-key"], "g-fake-key");
  assert.equal(up.headers.authorization, undefined);
  assert.deepEqual(up.json, {
    contents: [{ role: "user", parts: [{ text: "Hello there" }] }],
    systemInstruction: { parts: [{ text: "You are terse." }] },
    generationConfig: { temperature: 0.3, maxOutputTokens: 50, stopSequences: ["\n\n"], candidateCount: 1 },
  });
});

test("stream: alt=sse, content deltas, one usage chunk, finish reason", async () => {
  await fake.script([{ chunks: ["The ", "quick ", "fox"], usage: { promptTokenCount: 11, candidatesTokenCount: 3 } }]);
  const out = await collect(
    await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "go" }], stream: true }),
  );
  assert.equal(out.text, "The quick fox");
  assert.equal(out.finish, "stop");
  assert.equal(out.usage.prompt_tokens, 11);
  assert.equal(out.usage.completion_tokens, 3);
  assert.equal(picos(out.usage.cost), 11 * PRICE.prompt + 3 * PRICE.completion);
  const up = await upstream();
  assert.equal(up.path, `/v1beta/models/${UPSTREAM}:streamGenerateContent`);
  assert.equal(up.query, "alt=sse");
});

test("tools: streamed call, then the second turn carries functionCall and a named functionResponse", async () => {
  await fake.script([
    { tool_calls: [{ name: "get_weather", arguments: '{"city":"Paris"}' }], token_interval_ms: 10 },
    { content: "It is 18C in Paris." },
  ]);
  const messages = [{ role: "user", content: "Weather in Paris?" }];
  const out = await collect(
    await client.chat.completions.create({ model: MODEL, messages, tools: [weatherTool], tool_choice: "required", stream: true }),
  );
  assert.equal(out.finish, "tool_calls");
  assert.equal(out.calls.length, 1);
  assert.match(out.calls[0].id, /^call_/);
  assert.equal(out.calls[0].name, "get_weather");
  assert.deepEqual(JSON.parse(out.calls[0].arguments), { city: "Paris" });
  let up = await upstream();
  assert.deepEqual(up.json.tools, [
    {
      functionDeclarations: [
        {
          name: "get_weather",
          description: "Weather for a city",
          parameters: { type: "object", required: ["city"], properties: { city: { type: "string", description: "City name" } } },
        },
      ],
    },
  ]);
  assert.deepEqual(up.json.toolConfig, { functionCallingConfig: { mode: "ANY" } });

  const id = out.calls[0].id;
  const second = await client.chat.completions.create({
    model: MODEL,
    tools: [weatherTool],
    messages: [
      ...messages,
      { role: "assistant", content: null, tool_calls: [{ id, type: "function", function: { name: "get_weather", arguments: out.calls[0].arguments } }] },
      { role: "tool", tool_call_id: id, content: "18C, sunny" },
    ],
  });
  assert.equal(second.choices[0].message.content, "It is 18C in Paris.");
  up = await upstream();
  assert.deepEqual(up.json.contents, [
    { role: "user", parts: [{ text: "Weather in Paris?" }] },
    { role: "model", parts: [{ functionCall: { name: "get_weather", args: { city: "Paris" } } }] },
    { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { content: "18C, sunny" } } }] },
  ]);
});

test("parallel tool calls: dense indexes, distinct ids, both responses in one content", async () => {
  const calls = [
    { name: "get_weather", arguments: '{"city":"Oslo"}' },
    { name: "get_weather", arguments: '{"city":"Rome"}' },
  ];
  await fake.script([{ tool_calls: calls }, { tool_calls: calls }, { content: "done" }]);
  const out = await collect(
    await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "Oslo and Rome?" }], tools: [weatherTool], stream: true }),
  );
  assert.equal(out.calls.length, 2);
  assert.notEqual(out.calls[0].id, out.calls[1].id);
  assert.deepEqual(out.calls.map((c) => JSON.parse(c.arguments)), [{ city: "Oslo" }, { city: "Rome" }]);
  const r = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: "user", content: "Oslo and Rome?" }],
    tools: [weatherTool],
  });
  const tc = r.choices[0].message.tool_calls;
  assert.equal(tc.length, 2);
  assert.equal(r.choices[0].finish_reason, "tool_calls");
  await client.chat.completions.create({
    model: MODEL,
    tools: [weatherTool],
    messages: [
      { role: "user", content: "Oslo and Rome?" },
      { role: "assistant", content: null, tool_calls: tc },
      { role: "tool", tool_call_id: tc[0].id, content: '{"temp":5}' },
      { role: "tool", tool_call_id: tc[1].id, content: '{"temp":20}' },
    ],
  });
  const up = await upstream();
  assert.deepEqual(up.json.contents.at(-1), {
    role: "user",
    parts: [
      { functionResponse: { name: "get_weather", response: { temp: 5 } } },
      { functionResponse: { name: "get_weather", response: { temp: 20 } } },
    ],
  });
});

test("thought signatures: reported with the call's id, restored on its functionCall next turn", async () => {
  const signature = "CiQB0e2Kb3dRh+BYdbZvmulSN2Pwwc75DfiG5mVqmVIk6Mu0bq4=";
  await fake.script([
    { reasoning: "Need the weather tool.", signature, tool_calls: [{ name: "get_weather", arguments: '{"city":"Lima"}' }] },
    { content: "Sunny." },
  ]);
  const out = await collect(
    await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Lima?" }],
      tools: [weatherTool],
      reasoning: { effort: "medium" },
      stream: true,
    }),
  );
  let up = await upstream();
  assert.deepEqual(up.json.generationConfig.thinkingConfig, { thinkingBudget: 8192, includeThoughts: true });
  assert.equal(out.reasoning, "Need the weather tool.");
  assert.equal(out.details.length, 1);
  assert.deepEqual(out.details[0], { type: "reasoning.encrypted", data: signature, format: "google-gemini-v1", id: out.calls[0].id, index: 0 });
  await client.chat.completions.create({
    model: MODEL,
    tools: [weatherTool],
    messages: [
      { role: "user", content: "Lima?" },
      {
        role: "assistant",
        content: null,
        reasoning_details: out.details,
        tool_calls: out.calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })),
      },
      { role: "tool", tool_call_id: out.calls[0].id, content: "25C" },
    ],
  });
  up = await upstream();
  assert.deepEqual(up.json.contents[1], {
    role: "model",
    parts: [{ functionCall: { name: "get_weather", args: { city: "Lima" } }, thoughtSignature: signature }],
  });
});

test("cached and thought tokens: usage details and cost", async () => {
  const usage = { promptTokenCount: 2000, cachedContentTokenCount: 1500, candidatesTokenCount: 10, thoughtsTokenCount: 40 };
  await fake.script([{ content: "cached", usage }, { content: "cached", usage }]);
  const want = 500 * PRICE.prompt + 1500 * PRICE.read + 50 * PRICE.completion;
  const r = await ask();
  assert.equal(r.usage.prompt_tokens, 2000);
  assert.equal(r.usage.prompt_tokens_details.cached_tokens, 1500);
  assert.equal(r.usage.completion_tokens, 50);
  assert.equal(r.usage.completion_tokens_details.reasoning_tokens, 40);
  assert.equal(picos(r.usage.cost), want);
  const out = await collect(await ask({ stream: true }));
  assert.equal(out.usage.prompt_tokens_details.cached_tokens, 1500);
  assert.equal(picos(out.usage.cost), want);
});

test("MAX_TOKENS and SAFETY map to length and content_filter", async () => {
  await fake.script([{ content: "Once upon", finish_reason: "MAX_TOKENS" }, { content: "", finish_reason: "SAFETY" }]);
  const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "story" }], max_tokens: 2 });
  assert.equal(r.choices[0].finish_reason, "length");
  assert.equal(r.choices[0].native_finish_reason, "MAX_TOKENS");
  const out = await collect(await ask({ stream: true }));
  assert.equal(out.finish, "content_filter");
});

test("errors before the stream keep Google's message; 503 is a 502", async () => {
  await fake.script([
    { status: 400, error_body: { error: { code: 400, message: "Invalid JSON payload received.", status: "INVALID_ARGUMENT" } } },
    { status: 503 },
  ]);
  await rejectsWith(ask(), 400, /Invalid JSON payload received/);
  await rejectsWith(ask({ stream: true }), 502, /fake error 503/);
});

test("an error during the stream, and a stream without finishReason, end in finish_reason error", async () => {
  await fake.script([
    {
      raw_events: [
        '{"candidates":[{"content":{"parts":[{"text":"Partial"}],"role":"model"},"index":0}]}',
        '{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}',
      ],
    },
    { chunks: ["a", "b"], no_done: true },
  ]);
  for (const want of [/overloaded/, /ended before/]) {
    const { status, events, chunks } = await rawChatStream(gw, { model: MODEL, messages: [{ role: "user", content: "x" }], stream: true });
    assert.equal(status, 200);
    assert.equal(events.at(-1), "data: [DONE]");
    const err = chunks.find((c) => c.error);
    assert.ok(err, "an error chunk");
    assert.match(err.error.message, want);
    assert.equal(err.choices[0].finish_reason, "error");
    assert.ok(chunks.at(-1).usage);
  }
});

test("429 from Gemini: status and Retry-After reach the client", async () => {
  await fake.script([{ status: 429, retry_after: 4 }]);
  await rejectsRateLimited(ask(), 4);
});

test("json_schema response_format becomes responseSchema", async () => {
  await fake.script([{ content: '{"a":1}' }]);
  const r = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: "user", content: "x" }],
    response_format: {
      type: "json_schema",
      json_schema: { name: "x", schema: { type: "object", properties: { a: { type: "integer" } }, additionalProperties: false } },
    },
  });
  assert.deepEqual(JSON.parse(r.choices[0].message.content), { a: 1 });
  const up = await upstream();
  assert.equal(up.json.generationConfig.responseMimeType, "application/json");
  assert.deepEqual(up.json.generationConfig.responseSchema, { type: "object", properties: { a: { type: "integer" } } });
});

test("skill contract: a Gemini model returns the canonical shape", async () => {
  await fake.script([
    { content: "Hi there", usage: { promptTokenCount: 12, candidatesTokenCount: 3 } },
    { tool_calls: [{ name: "get_weather", arguments: '{"city":"Bern"}' }] },
  ]);
  const call = (params) => skillChat(gw, params);
  let r = await call({ model: MODEL, system: "Be brief.", messages: [{ role: "user", content: "Hi" }] });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.content, "Hi there");
  assert.deepEqual(r.json.tool_calls, []);
  assert.equal(r.json.stop_reason, "end_turn");
  assert.equal(r.json.usage.input_tokens, 12);
  assert.equal(r.json.usage.output_tokens, 3);
  assert.deepEqual((await upstream()).json.systemInstruction, { parts: [{ text: "Be brief." }] });
  r = await call({
    model: MODEL,
    messages: [{ role: "user", content: "Bern?" }],
    tools: [{ name: "get_weather", description: "w", input_schema: { type: "object", properties: { city: { type: "string" } } } }],
  });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.stop_reason, "tool_use");
  assert.equal(r.json.tool_calls.length, 1);
  assert.equal(r.json.tool_calls[0].name, "get_weather");
  assert.deepEqual(r.json.tool_calls[0].input, { city: "Bern" });
});
