// SPDX-License-Identifier: MIT
// The OpenAI SDK against switchboard's /v1 chat API, with the fake provider
// playing OpenAI: plain, streamed, tools (streamed and not), parallel tool
// calls, parameters passed through, and the exact upstream request.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setup, fakeProviderConfig, ledgerRow, waitFor, rawChatStream } from "./lib/harness.mjs";

// gpt-4o-mini list prices in picodollars per token (catalog/models.json)
const PROMPT_PICO = 150000;
const COMPLETION_PICO = 600000;

function picos(usd) {
  return Math.round(usd * 1e12);
}

const { fake, gw, lastUpstream, openai } = setup({
  config: (fake) => ({
    providers: {
      openai: fakeProviderConfig(fake),
      openrouter: fakeProviderConfig(fake, { base_url: `${fake.url}/api/v1` }),
    },
  }),
});
const client = openai();

test("plain completion: content, ids, provider, cost, exact upstream request", async () => {
  const { data, response } = await client.chat.completions
    .create({
      model: "openai/gpt-4o-mini",
      messages: [
        { role: "system", content: "You are terse." },
        { role: "user", content: "Hello there" },
      ],
      temperature: 0.3,
      top_p: 0.9,
      seed: 7,
      max_tokens: 50,
      stop: ["\n\n"],
      user: "u-123",
      // a field switchboard does not know: forwarded as it is
      x_vendor_flag: { keep: [1, 2, 3] },
    })
    .withResponse();
  assert.equal(data.choices[0].message.content, "echo: Hello there");
  assert.equal(data.choices[0].finish_reason, "stop");
  assert.equal(data.choices[0].native_finish_reason, "stop");
  assert.match(data.id, /^gen-\d+-[0-9A-Za-z]{20}$/);
  assert.equal(response.headers.get("x-generation-id"), data.id);
  assert.equal(data.model, "openai/gpt-4o-mini");
  assert.equal(data.provider, "OpenAI");
  assert.equal(data.object, "chat.completion");
  const u = data.usage;
  assert.ok(u.prompt_tokens > 0 && u.completion_tokens > 0);
  assert.equal(picos(u.cost), u.prompt_tokens * PROMPT_PICO + u.completion_tokens * COMPLETION_PICO);

  const up = await lastUpstream();
  assert.equal(up.method, "POST");
  assert.equal(up.path, "/v1/chat/completions");
  assert.equal(up.headers.authorization, "Bearer sk-fake-upstream");
  assert.equal(up.headers["content-type"], "application/json");
  assert.deepEqual(up.json, {
    model: "gpt-4o-mini",
    messages: [
      { role: "system", content: "You are terse." },
      { role: "user", content: "Hello there" },
    ],
    temperature: 0.3,
    top_p: 0.9,
    seed: 7,
    max_tokens: 50,
    stop: ["\n\n"],
    user: "u-123",
    x_vendor_flag: { keep: [1, 2, 3] },
  });
});

test("generation ids sort in the order the requests arrived", async () => {
  const ids = [];
  for (let i = 0; i < 20; i++) {
    const data = await client.chat.completions.create({
      model: "openai/gpt-4o-mini",
      messages: [{ role: "user", content: `n${i}` }],
    });
    assert.match(data.id, /^gen-\d+-[0-9A-Za-z]{20}$/);
    ids.push(data.id);
  }
  const sorted = [...ids].sort();
  assert.deepEqual(sorted, ids);
  assert.equal(new Set(ids).size, ids.length);
});

test("streamed completion: deltas, one final usage chunk with cost, same id throughout", async () => {
  await fake.script([{ chunks: ["The ", "quick ", "brown ", "fox"] }]);
  const stream = await client.chat.completions.create({
    model: "openai/gpt-4o-mini",
    messages: [{ role: "user", content: "go" }],
    stream: true,
  });
  let text = "";
  const ids = new Set();
  const usageChunks = [];
  let finish = null;
  for await (const chunk of stream) {
    ids.add(chunk.id);
    assert.equal(chunk.model, "openai/gpt-4o-mini");
    if (chunk.usage) usageChunks.push(chunk);
    const c = chunk.choices[0];
    if (c?.delta?.content) text += c.delta.content;
    if (c?.finish_reason) finish = c.finish_reason;
  }
  assert.equal(text, "The quick brown fox");
  assert.equal(finish, "stop");
  assert.equal(ids.size, 1);
  assert.match([...ids][0], /^gen-/);
  assert.equal(usageChunks.length, 1, "exactly one usage chunk");
  const last = usageChunks[0];
  assert.deepEqual(last.choices, []);
  assert.equal(
    picos(last.usage.cost),
    last.usage.prompt_tokens * PROMPT_PICO + last.usage.completion_tokens * COMPLETION_PICO,
  );
  const up = await lastUpstream();
  assert.equal(up.json.stream, true);
  assert.deepEqual(up.json.stream_options, { include_usage: true });
  assert.equal(up.headers.accept, "text/event-stream");
});

test("a stream ends with usage even when the provider sends none", async () => {
  await fake.script([{ chunks: ["a", "b"], usage_mode: "never" }]);
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "openai/gpt-4o-mini",
      messages: [{ role: "user", content: "x" }],
      stream: true,
    }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^text\/event-stream/);
  const events = (await res.text()).split("\n\n").filter(Boolean);
  assert.equal(events.at(-1), "data: [DONE]");
  const usage = JSON.parse(events.at(-2).slice(6));
  assert.deepEqual(usage.choices, []);
  assert.ok(usage.usage.prompt_tokens > 0, "an estimate is reported");
  assert.equal(typeof usage.usage.cost, "number");
});

// A provider that holds its body open after the answer: the client gets the
// whole answer, usage and [DONE] without waiting for the body's end (here it
// never comes; the 3 s idle timeout would turn the answer into an error),
// and the gateway lets go of the held connection within a second or so.
// Through libcurl (SWITCHBOARD_UPSTREAM_CLIENT=curl) the gateway waits for
// the provider's body to end (docs/upstream.md, Detach).
async function heldBodyStream(scenario) {
  await fake.script([{ chunks: ["a", "b"], no_end: true, ...scenario }]);
  const { headers, events, chunks } = await rawChatStream(
    gw,
    { model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "x" }], stream: true },
    { "x-switchboard-idle-timeout-ms": "3000" },
  );
  assert.equal(events.at(-1), "data: [DONE]");
  assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join(""), "ab");
  assert.ok(!chunks.some((c) => c.error), "no error chunk");
  const row = await ledgerRow(gw, headers.get("x-generation-id"));
  assert.equal(row.status, 200);
  assert.equal(row.finish_reason, "stop");
  const stats = await waitFor(async () => {
    const st = await fake.stats();
    return st.active_streams === 0 ? st : null;
  }, "the held upstream connection to be closed");
  return { chunks, row, stats };
}

const nativeClientOnly = { skip: process.env.SWITCHBOARD_UPSTREAM_CLIENT === "curl" };

test("a stream ends at [DONE] even when the provider keeps its body open", nativeClientOnly, async () => {
  const { chunks, stats } = await heldBodyStream({});
  assert.ok(chunks.at(-1).usage.completion_tokens > 0);
  assert.ok(stats.cancelled >= 1);
});

// OpenAI's usage chunk (empty choices, after the finish) is the last before
// [DONE]: the client's stream ends there, here with no [DONE] ever sent.
test("a stream ends at the provider's usage chunk, the last before [DONE]", nativeClientOnly, async () => {
  const { chunks, row } = await heldBodyStream({ usage_mode: "always", no_done: true });
  assert.deepEqual(chunks.at(-1).choices, []);
  assert.ok(!row.usage_estimated, "the provider's usage, not an estimate");
});

test("the raw stream: SSE framing, and bytes between the envelope fields untouched", async () => {
  await fake.script([{ chunks: ["hé", " \"quoted\"\n"] }]);
  const res = await fetch(`${gw.url}/api/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "openai/gpt-4o-mini",
      messages: [{ role: "user", content: "x" }],
      stream: true,
    }),
  });
  const body = await res.text();
  const events = body.split("\n\n").filter(Boolean);
  for (const e of events) assert.ok(e.startsWith("data: "), e);
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)));
  const content = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
  assert.equal(content, 'hé "quoted"\n');
  for (const c of chunks) {
    assert.equal(c.id, res.headers.get("x-generation-id"));
    assert.equal(c.provider, "OpenAI");
    assert.equal(c.object, "chat.completion.chunk");
  }
});

test("an event the provider splits over several data: lines reaches the SDK whole", async () => {
  // SSE joins repeated data lines with a line break; forwarded as it is, that
  // break would end the gateway's own data: line in the middle of the JSON.
  const split = (obj, at) => {
    const json = JSON.stringify(obj);
    const i = json.indexOf(at);
    return `${json.slice(0, i)}\ndata: ${json.slice(i)}`;
  };
  const chunk = (delta, finish) => ({
    id: "chatcmpl-x",
    object: "chat.completion.chunk",
    created: 1,
    model: "gpt-4o-mini",
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  await fake.script([
    {
      raw_events: [
        split(chunk({ role: "assistant", content: "split " }, null), '{"index"'),
        split(chunk({ content: "lines" }, null), '"content"'),
        split(chunk({}, "stop"), '"finish_reason"'),
      ],
    },
  ]);
  const stream = await client.chat.completions.create({
    model: "openai/gpt-4o-mini",
    messages: [{ role: "user", content: "x" }],
    stream: true,
  });
  let content = "";
  let finish = null;
  for await (const c of stream) {
    content += c.choices[0]?.delta?.content ?? "";
    finish = c.choices[0]?.finish_reason ?? finish;
    assert.equal(c.error, undefined);
  }
  assert.equal(content, "split lines");
  assert.equal(finish, "stop");
});

const weatherTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather for a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string" }, unit: { type: "string", enum: ["c", "f"] } },
      required: ["city"],
    },
  },
};

test("tool round trip, non-stream", async () => {
  const args = '{"city":"Paris","unit":"c"}';
  await fake.script([{ tool_calls: [{ id: "call_w1", name: "get_weather", arguments: args }] }]);
  const first = await client.chat.completions.create({
    model: "openai/gpt-4o-mini",
    messages: [{ role: "user", content: "Weather in Paris?" }],
    tools: [weatherTool],
    tool_choice: "auto",
    parallel_tool_calls: false,
  });
  const msg = first.choices[0].message;
  assert.equal(first.choices[0].finish_reason, "tool_calls");
  assert.equal(msg.tool_calls.length, 1);
  assert.equal(msg.tool_calls[0].id, "call_w1");
  assert.equal(msg.tool_calls[0].function.name, "get_weather");
  assert.equal(msg.tool_calls[0].function.arguments, args);
  let up = await lastUpstream();
  assert.deepEqual(up.json.tools, [weatherTool]);
  assert.equal(up.json.tool_choice, "auto");
  assert.equal(up.json.parallel_tool_calls, false);

  const second = await client.chat.completions.create({
    model: "openai/gpt-4o-mini",
    messages: [
      { role: "user", content: "Weather in Paris?" },
      msg,
      { role: "tool", tool_call_id: "call_w1", content: '{"temp":21}' },
    ],
    tools: [weatherTool],
  });
  assert.equal(second.choices[0].finish_reason, "stop");
  up = await lastUpstream();
  assert.equal(up.json.messages.length, 3);
  assert.equal(up.json.messages[1].tool_calls[0].id, "call_w1");
  assert.deepEqual(up.json.messages[2], {
    role: "tool",
    tool_call_id: "call_w1",
    content: '{"temp":21}',
  });
});

async function collectToolCalls(stream) {
  const calls = [];
  let finish = null;
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    if (!c) continue;
    if (c.finish_reason) finish = c.finish_reason;
    for (const d of c.delta?.tool_calls ?? []) {
      calls[d.index] ??= { id: "", name: "", arguments: "" };
      if (d.id) calls[d.index].id = d.id;
      if (d.function?.name) calls[d.index].name += d.function.name;
      if (d.function?.arguments) calls[d.index].arguments += d.function.arguments;
    }
  }
  return { calls, finish };
}

test("tool call streamed: arguments split across deltas arrive whole", async () => {
  const args = '{"city":"São Paulo","unit":"c","note":"a longer argument string"}';
  await fake.script([
    { tool_calls: [{ id: "call_s1", name: "get_weather", arguments: args }], arg_chunk: 3 },
  ]);
  const stream = await client.chat.completions.create({
    model: "openai/gpt-4o-mini",
    messages: [{ role: "user", content: "Weather?" }],
    tools: [weatherTool],
    stream: true,
  });
  const { calls, finish } = await collectToolCalls(stream);
  assert.equal(finish, "tool_calls");
  assert.deepEqual(calls, [{ id: "call_s1", name: "get_weather", arguments: args }]);
});

test("parallel tool calls streamed, interleaved", async () => {
  const a = '{"city":"Paris"}';
  const b = '{"city":"Tokyo"}';
  await fake.script([
    {
      tool_calls: [
        { id: "call_p1", name: "get_weather", arguments: a },
        { id: "call_p2", name: "get_weather", arguments: b },
      ],
      parallel: true,
      arg_chunk: 4,
    },
  ]);
  const stream = await client.chat.completions.create({
    model: "openai/gpt-4o-mini",
    messages: [{ role: "user", content: "Both?" }],
    tools: [weatherTool],
    stream: true,
  });
  const { calls, finish } = await collectToolCalls(stream);
  assert.equal(finish, "tool_calls");
  assert.deepEqual(calls, [
    { id: "call_p1", name: "get_weather", arguments: a },
    { id: "call_p2", name: "get_weather", arguments: b },
  ]);
});

test("response_format and the sampling parameters reach the provider unchanged", async () => {
  const schema = {
    type: "json_schema",
    json_schema: {
      name: "answer",
      strict: true,
      schema: { type: "object", properties: { a: { type: "number" } }, required: ["a"] },
    },
  };
  await client.chat.completions.create({
    model: "openai/gpt-4o-mini",
    messages: [{ role: "user", content: "json please" }],
    response_format: schema,
    frequency_penalty: 0.5,
    presence_penalty: -0.5,
    logit_bias: { "50256": -100 },
    logprobs: true,
    top_logprobs: 2,
    n: 1,
    max_completion_tokens: 99,
  });
  const up = await lastUpstream();
  assert.deepEqual(up.json.response_format, schema);
  assert.equal(up.json.frequency_penalty, 0.5);
  assert.equal(up.json.presence_penalty, -0.5);
  assert.deepEqual(up.json.logit_bias, { "50256": -100 });
  assert.equal(up.json.logprobs, true);
  assert.equal(up.json.top_logprobs, 2);
  assert.equal(up.json.max_completion_tokens, 99);
});

test("OpenRouter fields: dropped for plain OpenAI providers, kept for OpenRouter", async () => {
  const extra = {
    provider: { sort: "price" },
    transforms: ["middle-out"],
    models: ["openai/gpt-4o-mini"],
    reasoning: { effort: "low" },
  };
  await client.chat.completions.create({
    model: "openai/gpt-4o-mini",
    messages: [{ role: "user", content: "a" }],
    ...extra,
  });
  let up = await lastUpstream();
  for (const k of Object.keys(extra)) assert.equal(up.json[k], undefined, k);
  assert.equal(up.json.reasoning_effort, "low");

  // anthropic/... has no direct provider here: OpenRouter serves it
  const r = await client.chat.completions.create({
    model: "anthropic/claude-3.5-haiku",
    messages: [{ role: "user", content: "b" }],
    ...extra,
  }, { headers: { "HTTP-Referer": "https://agents.example", "X-Title": "Agent Lab" } });
  assert.equal(r.model, "anthropic/claude-3.5-haiku");
  assert.equal(r.provider, "OpenRouter");
  up = await lastUpstream();
  assert.equal(up.path, "/api/v1/chat/completions");
  assert.equal(up.json.model, "anthropic/claude-3.5-haiku");
  for (const [k, v] of Object.entries(extra)) assert.deepEqual(up.json[k], v, k);
  assert.equal(up.headers["http-referer"], "https://agents.example");
  assert.equal(up.headers["x-title"], "Agent Lab");
});

test("an id the catalog lacks passes through to the provider its prefix names", async () => {
  const r = await client.chat.completions.create({
    model: "openai/gpt-99-experimental",
    messages: [{ role: "user", content: "hi" }],
  });
  assert.equal(r.model, "openai/gpt-99-experimental");
  const up = await lastUpstream();
  assert.equal(up.json.model, "gpt-99-experimental");
  assert.equal(up.path, "/v1/chat/completions");
});

test("many concurrent streams all complete with their own content", async () => {
  const n = 40;
  const results = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const stream = await client.chat.completions.create({
        model: "openai/gpt-4o-mini",
        messages: [{ role: "user", content: `request number ${i}` }],
        stream: true,
      });
      let text = "";
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
      return text;
    }),
  );
  results.forEach((t, i) => assert.equal(t, `echo: request number ${i}`));
});
