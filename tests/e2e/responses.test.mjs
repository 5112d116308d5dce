// SPDX-License-Identifier: MIT
// The official `openai` SDK's Responses API (responses.create,
// responses.stream, retrieve, inputItems, delete, cancel, inputTokens)
// against switchboard, for a model of each provider format: an OpenAI
// model on a provider that speaks Responses (passed through), an
// Anthropic, a Gemini and a chat-only OpenAI-compatible model (translated
// on the hub). Plain text, streams, a function tool round trip with the
// whole input list and again with previous_response_id, parallel calls,
// reasoning with its encrypted content carried to the next turn,
// json_schema output, max_output_tokens -> incomplete, errors before and
// during a stream, OpenAI's own tools dropped (and named) for the other
// providers, the stored responses, WebSocket mode refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setup, fakeProviderConfig, fetchText, ledgerRow } from "./lib/harness.mjs";

const { fake, gw, lastUpstream, openai } = setup({
  config: (fake) => ({
    providers: {
      openai: fakeProviderConfig(fake), // speaks Responses (a known service's default)
      anthropic: fakeProviderConfig(fake, { format: "anthropic", base_url: fake.url }),
      gemini: fakeProviderConfig(fake, { format: "gemini", base_url: fake.url }),
      groq: fakeProviderConfig(fake), // chat completions only
    },
  }),
});
const client = openai();

// Each format: the model, the upstream path it is asked on, how its stop
// reasons are written, and where a request's tools and last user text are.
const FORMATS = {
  openai: {
    model: "openai/gpt-4.1",
    path: /\/v1\/responses$/,
    length: "length",
    tools: (j) => j.tools.map((t) => t.name ?? t.type),
  },
  anthropic: {
    model: "anthropic/claude-sonnet-4",
    path: /\/v1\/messages$/,
    length: "max_tokens",
    tools: (j) => (j.tools ?? []).map((t) => t.name),
  },
  gemini: {
    model: "google/gemini-2.5-flash",
    path: /:generateContent$|:streamGenerateContent$/,
    length: "MAX_TOKENS",
    tools: (j) => (j.tools ?? []).flatMap((t) => (t.functionDeclarations ?? []).map((f) => f.name)),
  },
  chat: {
    model: "meta-llama/llama-3.3-70b-instruct",
    path: /\/chat\/completions$/,
    length: "length",
    tools: (j) => (j.tools ?? []).map((t) => t.function.name),
  },
};

const weather = {
  type: "function",
  name: "get_weather",
  description: "Weather for a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false },
  strict: true,
};

/** Every event of a stream: their types, and the final response. */
async function streamAll(params) {
  const stream = client.responses.stream(params);
  const events = [];
  for await (const ev of stream) events.push(ev);
  const final = await stream.finalResponse();
  events.forEach((e, i) => assert.equal(e.sequence_number, i, `sequence_number of ${e.type}`));
  return { events, types: events.map((e) => e.type), final };
}

/** A stream read raw: its events ({event, data}) in order. */
async function rawStream(body, headers = {}) {
  const res = await fetch(`${gw.url}/v1/responses`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ ...body, stream: true }),
  });
  const text = await res.text();
  const events = text
    .split("\n\n")
    .filter(Boolean)
    .map((block) => {
      const [ev, data] = block.split("\n");
      assert.ok(ev.startsWith("event: ") && data.startsWith("data: "), block);
      return { event: ev.slice(7), data: JSON.parse(data.slice(6)) };
    });
  for (const e of events) assert.equal(e.data.type, e.event);
  return { status: res.status, headers: res.headers, events };
}

for (const [name, f] of Object.entries(FORMATS)) {
  test(`${name}: a plain answer, whole and streamed, with usage, cost, ids and the ledger's api`, async () => {
    await fake.script([{ content: "Hello from upstream" }, { chunks: ["Hel", "lo ", "again"] }]);
    const { data: r, response } = await client.responses
      .create({ model: f.model, input: "Say hello", instructions: "Be brief.", max_output_tokens: 100 })
      .withResponse();
    assert.equal(r.object, "response");
    assert.equal(r.status, "completed");
    assert.equal(r.model, f.model);
    assert.equal(r.output_text, "Hello from upstream");
    const gen = response.headers.get("x-generation-id");
    assert.match(gen, /^gen-/);
    assert.equal(r.id, `resp_${gen.slice(4)}`);
    assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0);
    assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
    assert.equal(typeof r.usage.input_tokens_details.cached_tokens, "number");
    assert.equal(typeof r.usage.output_tokens_details.reasoning_tokens, "number");
    assert.ok(r.usage.cost > 0, "the cost at the catalog's prices");
    if (name !== "openai") {
      assert.equal(r.instructions, "Be brief.");
      assert.equal(r.max_output_tokens, 100);
    }
    const up = await lastUpstream();
    assert.match(up.path, f.path);
    const row = await ledgerRow(gw, gen);
    assert.equal(row.api, "responses");
    assert.equal(row.model, f.model);

    const s = await streamAll({ model: f.model, input: "Again" });
    assert.equal(s.final.output_text, "Hello again");
    assert.equal(s.types[0], "response.created");
    assert.equal(s.types[1], "response.in_progress");
    assert.equal(s.types.at(-1), "response.completed");
    for (const t of ["response.output_item.added", "response.content_part.added", "response.output_text.delta",
                     "response.output_text.done", "response.content_part.done", "response.output_item.done"])
      assert.ok(s.types.includes(t), t);
    assert.equal(s.events.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta).join(""), "Hello again");
    assert.ok(s.final.usage.cost > 0);
  });

  test(`${name}: a function tool round trip, with the whole input list and with previous_response_id`, async () => {
    await fake.script([
      { tool_calls: [{ id: "call_w1", name: "get_weather", arguments: '{"city":"Paris"}' }] },
      { content: "It is sunny in Paris." },
      { content: "Still sunny." },
    ]);
    const input = [{ role: "user", content: "Weather in Paris?" }];
    const first = await client.responses.create({ model: f.model, input, tools: [weather] });
    const call = first.output.find((o) => o.type === "function_call");
    assert.ok(call, JSON.stringify(first.output));
    assert.equal(call.name, "get_weather");
    assert.equal(call.arguments, '{"city":"Paris"}');
    assert.ok(call.call_id);
    assert.match(call.id, /^fc_/);
    assert.deepEqual(f.tools((await lastUpstream()).json), ["get_weather"]);

    // the whole list back: the call and its output
    const output = { type: "function_call_output", call_id: call.call_id, output: '{"sky":"sunny"}' };
    const second = await client.responses.create({
      model: f.model,
      input: [...input, ...first.output, output],
      tools: [weather],
      store: false,
    });
    assert.equal(second.output_text, "It is sunny in Paris.");
    const up2 = JSON.stringify((await lastUpstream()).json);
    assert.ok(up2.includes("Weather in Paris?") && up2.includes("get_weather") && up2.includes("sunny"), up2);
    assert.ok(up2.includes(call.call_id) || name === "gemini", up2);

    // the same turn from the store: previous_response_id and the output alone
    const third = await client.responses.create({
      model: f.model,
      previous_response_id: first.id,
      input: [output],
      tools: [weather],
    });
    assert.equal(third.output_text, "Still sunny.");
    assert.equal(third.previous_response_id, first.id);
    const up3 = JSON.stringify((await lastUpstream()).json);
    assert.equal(up3.includes("previous_response_id"), false);
    if (name === "openai" || name === "chat") {
      // the stored items: the user's message as parts
      assert.ok(up3.includes("Weather in Paris?") && up3.includes(call.call_id) && up3.includes("sunny"), up3);
      assert.equal(up3.includes("_sb_"), false, "switchboard's own item ids stay home");
    } else {
      assert.equal(up3, up2, "the same conversation went upstream");
    }
  });

  test(`${name}: parallel calls are items of their own, streamed by output_index`, async () => {
    await fake.script([
      {
        parallel: true,
        arg_chunk: 4,
        tool_calls: [
          { id: "call_a", name: "get_weather", arguments: '{"city":"Oslo"}' },
          { id: "call_b", name: "get_weather", arguments: '{"city":"Rome"}' },
        ],
      },
    ]);
    const s = await streamAll({ model: f.model, input: "Both cities", tools: [weather], parallel_tool_calls: true });
    const calls = s.final.output.filter((o) => o.type === "function_call");
    assert.deepEqual(calls.map((c) => JSON.parse(c.arguments).city), ["Oslo", "Rome"]);
    const deltas = s.events.filter((e) => e.type === "response.function_call_arguments.delta");
    const byIndex = {};
    for (const d of deltas) byIndex[d.output_index] = (byIndex[d.output_index] ?? "") + d.delta;
    const indexes = calls.map((c) => s.final.output.indexOf(c));
    assert.deepEqual(indexes.map((i) => byIndex[i]), ['{"city":"Oslo"}', '{"city":"Rome"}']);
    assert.equal(s.events.filter((e) => e.type === "response.function_call_arguments.done").length, 2);
  });

  test(`${name}: max_output_tokens cut: incomplete, with the reason, whole and streamed`, async () => {
    await fake.script([
      { content: "Once upon", finish_reason: f.length },
      { content: "Once upon", finish_reason: f.length },
    ]);
    const r = await client.responses.create({ model: f.model, input: "A story", max_output_tokens: 16 });
    assert.equal(r.status, "incomplete");
    assert.deepEqual(r.incomplete_details, { reason: "max_output_tokens" });
    assert.equal(r.output_text, "Once upon");
    const raw = await rawStream({ model: f.model, input: "A story", max_output_tokens: 16 });
    const last = raw.events.at(-1);
    assert.equal(last.event, "response.incomplete");
    assert.equal(last.data.response.incomplete_details.reason, "max_output_tokens");
  });

  test(`${name}: json_schema output`, async () => {
    await fake.script([{ content: '{"city":"Lima","temp":21}' }]);
    const format = {
      type: "json_schema",
      name: "report",
      strict: true,
      schema: { type: "object", properties: { city: { type: "string" }, temp: { type: "number" } }, required: ["city", "temp"], additionalProperties: false },
    };
    const r = await client.responses.create({ model: f.model, input: "Report", text: { format } });
    if (name !== "anthropic") assert.deepEqual(JSON.parse(r.output_text), { city: "Lima", temp: 21 });
    const up = JSON.stringify((await lastUpstream()).json);
    assert.ok(up.includes('"temp":{"type":"number"}'), `the schema went upstream: ${up}`);
  });

  test(`${name}: an error before the stream is an HTTP error; during it, error and response.failed`, async () => {
    await fake.script([{ status: 500 }, { chunks: ["a ", "b ", "c"], cut_after: 2 }]);
    await assert.rejects(client.responses.create({ model: f.model, input: "x", stream: true }), (e) => {
      assert.equal(e.status, 502);
      assert.equal(e.error?.type ?? e.type, "server_error");
      assert.match(e.message, /returned 500/);
      return true;
    });
    const raw = await rawStream({ model: f.model, input: "x" });
    assert.equal(raw.status, 200);
    const types = raw.events.map((e) => e.event);
    assert.deepEqual(types.slice(-2), ["error", "response.failed"]);
    const failed = raw.events.at(-1).data.response;
    assert.equal(failed.status, "failed");
    assert.match(failed.error.message, /stream|closed|ended|provider/);
  });
}

test("OpenAI's own tools: passed to a provider that runs them, else left out and named in a header", async () => {
  const tools = [{ type: "web_search" }, weather, { type: "file_search", vector_store_ids: ["vs_1"] }];
  for (const [name, f] of Object.entries(FORMATS)) {
    await fake.script([{ content: "ok" }]);
    const { data: r, response } = await client.responses.create({ model: f.model, input: "Search", tools }).withResponse();
    assert.equal(r.output_text, "ok");
    const up = (await lastUpstream()).json;
    if (name === "openai") {
      assert.equal(response.headers.get("x-switchboard-dropped-tools"), null);
      assert.deepEqual(f.tools(up), ["web_search", "get_weather", "file_search"]);
    } else {
      assert.equal(response.headers.get("x-switchboard-dropped-tools"), "web_search, file_search", name);
      assert.deepEqual(f.tools(up), ["get_weather"], name);
    }
    if (name !== "openai") assert.equal(r.tools.length, 3, "the response echoes the tools asked for");
  }
});

test("reasoning with its encrypted content carried to the next turn", async () => {
  const signature = "EqQBCkYIBRgCKkA0sig==";
  await fake.script([
    { reasoning: "Need the weather.", signature, tool_calls: [{ id: "toolu_1", name: "get_weather", arguments: '{"city":"Oslo"}' }] },
    { content: "Cold." },
  ]);
  const model = FORMATS.anthropic.model;
  const include = ["reasoning.encrypted_content"];
  const first = await client.responses.create({ model, input: "Oslo?", tools: [weather], include, reasoning: { effort: "low", summary: "auto" }, store: false });
  const rs = first.output.find((o) => o.type === "reasoning");
  assert.deepEqual(rs.summary, [{ type: "summary_text", text: "Need the weather." }]);
  assert.ok(rs.encrypted_content.length > 0);
  const call = first.output.find((o) => o.type === "function_call");
  await client.responses.create({
    model,
    input: ["Oslo?", ...first.output, { type: "function_call_output", call_id: call.call_id, output: "-5C" }].map((x) =>
      typeof x === "string" ? { role: "user", content: x } : x,
    ),
    tools: [weather],
    include,
    store: false,
  });
  const up = (await lastUpstream()).json;
  const assistant = up.messages.find((m) => m.role === "assistant");
  assert.deepEqual(assistant.content[0], { type: "thinking", thinking: "Need the weather.", signature });
  assert.equal(assistant.content[1].type, "tool_use");

  // Gemini: the thought signature rides with its call
  await fake.script([
    { reasoning: "Thinking.", signature: "CiQB0e2sig=", tool_calls: [{ name: "get_weather", arguments: '{"city":"Lima"}' }] },
    { content: "Warm." },
  ]);
  const g = FORMATS.gemini.model;
  const gf = await client.responses.create({ model: g, input: "Lima?", tools: [weather], include, store: false });
  const gcall = gf.output.find((o) => o.type === "function_call");
  await client.responses.create({
    model: g,
    input: [{ role: "user", content: "Lima?" }, ...gf.output, { type: "function_call_output", call_id: gcall.call_id, output: "25C" }],
    tools: [weather],
    store: false,
  });
  const gup = (await lastUpstream()).json;
  const model_turn = gup.contents.find((c) => c.role === "model");
  const fc = model_turn.parts.find((p) => p.functionCall);
  assert.equal(fc.thoughtSignature, "CiQB0e2sig=");

  // OpenAI's own encrypted content goes back to OpenAI as it came
  await fake.script([{ reasoning: "Plan.", signature: "gAAAAABopaque==", content: "Done." }, { content: "ok" }]);
  const o = FORMATS.openai.model;
  const of = await client.responses.create({ model: o, input: "Go", include, store: false });
  const ors = of.output.find((x) => x.type === "reasoning");
  assert.equal(ors.encrypted_content, "gAAAAABopaque==");
  await client.responses.create({ model: o, input: [{ role: "user", content: "Go" }, ...of.output], include, store: false });
  const oup = (await lastUpstream()).json;
  assert.equal(oup.input.find((x) => x.type === "reasoning").encrypted_content, "gAAAAABopaque==");
});

test("stored responses: retrieve, input items, delete, cancel; store: false keeps nothing", async () => {
  await fake.script([{ content: "stored answer" }, { content: "not stored" }]);
  const model = FORMATS.anthropic.model;
  const r = await client.responses.create({ model, input: [{ role: "user", content: "keep me" }], metadata: { k: "v" } });
  const got = await client.responses.retrieve(r.id);
  assert.equal(got.id, r.id);
  assert.equal(got.output_text, "stored answer");
  assert.deepEqual(got.metadata, { k: "v" });
  const items = await client.responses.inputItems.list(r.id);
  assert.equal(items.data.length, 1);
  assert.equal(items.data[0].type, "message");
  assert.equal(items.data[0].role, "user");
  assert.deepEqual(items.data[0].content, [{ type: "input_text", text: "keep me" }]);
  assert.match(items.data[0].id, /^msg_/);
  await assert.rejects(client.responses.cancel(r.id), (e) => e.status === 400 && /background/.test(e.message));
  await client.responses.delete(r.id);
  await assert.rejects(client.responses.retrieve(r.id), (e) => e.status === 404);
  await assert.rejects(client.responses.create({ model, input: "x", previous_response_id: r.id }), (e) => e.status === 404 && /Previous response/.test(e.message));

  const n = await client.responses.create({ model, input: "x", store: false });
  await assert.rejects(client.responses.retrieve(n.id), (e) => e.status === 404);
});

test("input_tokens: an estimate, labelled as one", async () => {
  const res = await client.responses.inputTokens.count({ model: FORMATS.openai.model, input: "x".repeat(400), instructions: "Be brief." }).withResponse();
  assert.equal(res.data.object, "response.input_tokens");
  assert.ok(res.data.input_tokens >= 100 && res.data.input_tokens < 120, String(res.data.input_tokens));
  assert.equal(res.response.headers.get("x-token-count"), "estimate");
  await assert.rejects(client.responses.inputTokens.count({ model: "nosuch/model", input: "x" }), (e) => e.status === 404);
});

test("requests the gateway refuses, in OpenAI's error shape", async () => {
  for (const [body, re] of [
    [{ model: "openai/gpt-4.1", input: 5 }, /'input' must be/],
    [{ model: "openai/gpt-4.1", input: "x", background: true }, /background/],
    [{ model: "openai/gpt-4.1", input: "x", temperature: 9 }, /'temperature'/],
  ]) {
    const r = await fetchText(`${gw.url}/v1/responses`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.type, "invalid_request_error");
    assert.match(r.json.error.message, re);
    assert.equal(r.json.error.param, null);
  }
  const get = await fetchText(`${gw.url}/v1/responses`);
  assert.equal(get.status, 405);
});

test("WebSocket mode is refused at once with 426, which clients take as: use HTTP", async () => {
  const net = await import("node:net");
  const reply = await new Promise((resolve, reject) => {
    const sock = net.connect(gw.port, "127.0.0.1", () =>
      sock.write("GET /v1/responses HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
                 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"),
    );
    let buf = "";
    sock.on("data", (d) => (buf += d));
    sock.on("end", () => resolve(buf));
    sock.on("error", reject);
  });
  assert.match(reply, /^HTTP\/1\.1 426 Upgrade Required\r\n/);
  assert.match(reply, /WebSocket/);
});

test("fallbacks: `models` takes over when the first model's provider fails", async () => {
  await fake.script([{ status: 503 }, { content: "from the fallback" }]);
  const r = await client.responses.create({
    model: FORMATS.gemini.model,
    models: [FORMATS.anthropic.model],
    input: "x",
  });
  assert.equal(r.output_text, "from the fallback");
  assert.equal(r.model, FORMATS.anthropic.model);
});
