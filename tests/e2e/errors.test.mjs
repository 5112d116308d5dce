// SPDX-License-Identifier: MIT
// Every error a client can see, in the OpenAI / OpenRouter error shape with
// the right status: bad requests, unknown models, missing providers,
// oversized bodies, upstream 4xx/5xx/429, timeouts, streams cut or garbled
// mid-way, a client that hangs up, and keys in admin mode.
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startGateway } from "./lib/gateway.mjs";
import { setup, fakeProviderConfig, fetchText, waitFor } from "./lib/harness.mjs";

const { fake, gw, openai } = setup({
  config: (fake) => ({
    max_body_bytes: 64 * 1024,
    providers: {
      openai: fakeProviderConfig(fake),
      // the same fake, with short timeouts, for the timeout cases
      groq: fakeProviderConfig(fake, { first_byte_timeout_ms: 300, idle_timeout_ms: 300 }),
    },
  }),
});
const client = openai({ apiKey: "k" });

function post(path, body, headers = {}) {
  return fetchText(`${gw.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

function assertErrorShape(r, status) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json.error.code, status);
  assert.equal(typeof r.json.error.message, "string");
  assert.ok(r.json.error.message.length > 0);
}

const chat = (over = {}) => ({
  model: "openai/gpt-4o-mini",
  messages: [{ role: "user", content: "hi" }],
  ...over,
});

test("400: malformed JSON, wrong shapes", async () => {
  let r = await post("/v1/chat/completions", '{"model": "x", "messages": [}');
  assertErrorShape(r, 400);
  assert.match(r.json.error.message, /invalid JSON at byte \d+/);
  r = await post("/v1/chat/completions", '{"model":"openai/gpt-4o-mini","messages":"hi"}');
  assertErrorShape(r, 400);
  r = await post("/v1/chat/completions", { model: "openai/gpt-4o-mini", messages: [] });
  assertErrorShape(r, 400);
  r = await post("/v1/chat/completions", { messages: [{ role: "user", content: "x" }] });
  assertErrorShape(r, 400);
  r = await post("/v1/chat/completions", chat({ stream: "yes" }));
  assertErrorShape(r, 400);
  r = await post("/v1/chat/completions", "");
  assertErrorShape(r, 400);
  // invalid UTF-8 is refused, not forwarded
  const bad = Buffer.concat([
    Buffer.from('{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"'),
    Buffer.from([0xff, 0xfe]),
    Buffer.from('"}]}'),
  ]);
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", body: bad });
  assert.equal(res.status, 400);
  assert.equal((await fake.requests()).length, 0, "nothing reached the provider");
  // through the SDK
  await assert.rejects(
    client.chat.completions.create({ model: "openai/gpt-4o-mini", messages: [] }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400,
  );
});

test("400: a repeated member, at any depth and however escaped, on every door; nothing goes upstream", async () => {
  // The fake provider, like most JSON parsers, keeps a repeated member's
  // last value: forwarded, `"stream": false, ..., "stream": true` would
  // stream, and `"max_tokens": 1, ..., "max_tokens": 5000` would spend
  // past what the gateway reserved for 1 token.
  const m = '"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]';
  const cases = [
    ["/v1/chat/completions", `{${m},"max_tokens":1,"max_tokens":5000}`, "max_tokens"],
    ["/v1/chat/completions", `{${m},"stream":false,"stream":true}`, "stream"],
    ["/v1/chat/completions", `{${m},"max_tokens":1,"max\\u005ftokens":5000}`, "max\\u005ftokens"],
    ["/v1/chat/completions", `{"mod\\u0065l":"openai/gpt-4o","model":"openai/gpt-4o-mini","messages":[]}`, "model"],
    ["/v1/chat/completions", `{${m},"stream":true,"stream_options":{"include_usage":true,"include_usage":false}}`, "include_usage"],
    ["/v1/chat/completions", `{${m},"provider":{"order":["openai"],"order":["groq"]}}`, "order"],
    ["/v1/chat/completions", `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","role":"system","content":"hi"}]}`, "role"],
    ["/api/v1/chat/completions", `{${m},"models":["a"],"models":["openai/gpt-4o"]}`, "models"],
    ["/v1/embeddings", '{"model":"openai/text-embedding-3-small","input":"a","input":"b"}', "input"],
    ["/api/skills/openrouter/chat", `{${m},"max_tokens":1,"max_tokens":5000}`, "max_tokens"],
    ["/api/v1/keys", '{"name":"a","limit":0.01,"limit":1000}', "limit"],
  ];
  for (const [path, body, name] of cases) {
    const r = await post(path, body);
    assert.equal(r.status, 400, `${path} ${body}: ${r.text}`);
    const message = path.startsWith("/api/skills") ? r.json.error : r.json.error.message;
    assert.ok(message.startsWith(`duplicate member "${name}" at byte `), message);
  }
  // the Messages door answers in Anthropic's shape
  const r = await post("/v1/messages", `{"model":"openai/gpt-4o-mini","max_tokens":1,"max_tokens":5000,"messages":[{"role":"user","content":"hi"}]}`);
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.type, "error");
  assert.equal(r.json.error.type, "invalid_request_error");
  assert.match(r.json.error.message, /^duplicate member "max_tokens"/);
  assert.equal((await fake.requests()).length, 0, "nothing reached the provider");
  // the same names once each, in different objects, are fine
  const ok = await post("/v1/chat/completions", `{${m},"max_tokens":5,"stream":false,"metadata":{"max_tokens":"x","stream":"y"}}`);
  assert.equal(ok.status, 200, ok.text);
});

test("400: wrong types and out-of-range values of the chat schema, named; unknown members still pass", async () => {
  const cases = [
    [{ max_tokens: -1 }, "'max_tokens' must be an integer between 1 and 2147483647"],
    [{ max_tokens: "str" }, "'max_tokens' must be an integer between 1 and 2147483647"],
    [{ max_tokens: [] }, "'max_tokens' must be an integer between 1 and 2147483647"],
    [{ max_tokens: 2 ** 63 }, "'max_tokens' must be an integer between 1 and 2147483647"],
    [{ max_completion_tokens: 0 }, "'max_completion_tokens' must be an integer between 1 and 2147483647"],
    [{ temperature: 3 }, "'temperature' must be a number between 0 and 2"],
    [{ top_p: "1" }, "'top_p' must be a number between 0 and 1"],
    [{ n: 0 }, "'n' must be an integer between 1 and 128"],
    [{ stop: 5 }, "'stop' must be a string or an array of strings"],
    [{ user: 5 }, "'user' must be a string"],
    [{ tools: [{ type: "function", function: {} }] }, "'tools[0].function.name' is required"],
    [{ tool_choice: "sometimes" }, `'tool_choice' must be "none", "auto", "required" or an object naming a tool`],
    [{ response_format: { type: "json_schema" } }, "'response_format.json_schema' is required"],
    [{ stream: true, stream_options: { include_usage: "yes" } }, "'stream_options.include_usage' must be a boolean"],
    [{ messages: [{ role: "robot", content: "x" }] }, `'messages[0].role' must be one of "system", "developer", "user", "assistant", "tool", "function"`],
  ];
  for (const [over, message] of cases) {
    const r = await post("/v1/chat/completions", chat(over));
    assertErrorShape(r, 400);
    assert.equal(r.json.error.message, message, JSON.stringify(over));
    assert.equal(r.json.error.metadata.error_type, "invalid_request");
  }
  // through the SDK
  await assert.rejects(
    client.chat.completions.create(chat({ temperature: -1 })),
    (e) => e instanceof OpenAI.BadRequestError && /'temperature' must be a number between 0 and 2/.test(e.message),
  );
  await assert.rejects(
    client.chat.completions.create(chat({ max_tokens: 1.5 })),
    (e) => e instanceof OpenAI.BadRequestError && /'max_tokens' must be an integer/.test(e.message),
  );
  assert.equal((await fake.requests()).length, 0, "nothing reached the provider");
  // good values of every kind, and members the schema does not know, go through
  const ok = await client.chat.completions.create(
    chat({
      max_tokens: 5, temperature: 0.2, top_p: 0.9, n: 1, stop: ["\n\n"], user: "u-1", seed: 7,
      logprobs: true, top_logprobs: 2, logit_bias: { 50256: -100 }, presence_penalty: 0.5,
      tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }],
      tool_choice: "auto", parallel_tool_calls: false, response_format: { type: "json_object" },
      metadata: { run: "e2e" }, provider_specific_knob: { anything: [1, "two"] },
    }),
  );
  assert.equal(ok.choices[0].message.content, "echo: hi");
  const up = (await fake.requests()).at(-1).json;
  assert.deepEqual(up.provider_specific_knob, { anything: [1, "two"] });
  assert.equal(up.max_tokens, 5);
});

test("404: unknown model; 503: known model without a provider", async () => {
  await assert.rejects(
    client.chat.completions.create(chat({ model: "nobody/nothing-7b" })),
    (e) => e instanceof OpenAI.NotFoundError && /not in the catalog/.test(e.message),
  );
  const r = await post("/v1/chat/completions", chat({ model: "anthropic/claude-3.5-haiku" }));
  assertErrorShape(r, 503);
  assert.equal(r.json.error.metadata.error_type, "provider_unavailable");
  assert.equal((await fake.requests()).length, 0);
});

test("404 for unknown paths, 405 for wrong methods", async () => {
  let res = await fetch(`${gw.url}/v1/nope`);
  assert.equal(res.status, 404);
  res = await fetch(`${gw.url}/v1/chat/completions`);
  assert.equal(res.status, 405);
  res = await fetch(`${gw.url}/v1/models`, { method: "POST" });
  assert.equal(res.status, 405);
});

test("413: a body over max_body_bytes", async () => {
  const big = chat({ messages: [{ role: "user", content: "x".repeat(70 * 1024) }] });
  const r = await post("/v1/chat/completions", big);
  assert.equal(r.status, 413);
  assert.equal(r.json.error.code, 413);
  assert.equal((await fake.requests()).length, 0);
});

test("429 from the provider: status, Retry-After, message", async () => {
  await fake.script([{ status: 429, retry_after: 7 }]);
  const r = await post("/v1/chat/completions", chat());
  assertErrorShape(r, 429);
  assert.equal(r.headers.get("retry-after"), "7");
  assert.equal(r.json.error.metadata.error_type, "rate_limit_exceeded");
  assert.equal(r.json.error.metadata.provider_status, 429);
  await fake.script([{ status: 429, retry_after: 3 }]);
  await assert.rejects(client.chat.completions.create(chat()), (e) => {
    assert.ok(e instanceof OpenAI.RateLimitError);
    assert.equal(e.headers.get("retry-after"), "3");
    return true;
  });
});

test("provider errors map to 400 / 502, with the provider's message", async () => {
  await fake.script([
    {
      status: 400,
      error_body: { error: { message: "Invalid 'messages[0].role'", type: "invalid_request_error" } },
    },
  ]);
  let r = await post("/v1/chat/completions", chat());
  assertErrorShape(r, 400);
  assert.match(r.json.error.message, /Invalid 'messages\[0\]\.role'/);

  await fake.script([{ status: 500 }]);
  r = await post("/v1/chat/completions", chat());
  assertErrorShape(r, 502);
  assert.equal(r.json.error.metadata.provider_status, 500);
  assert.match(r.json.error.metadata.raw, /fake error 500/);

  await fake.script([{ status: 401 }]);
  r = await post("/v1/chat/completions", chat());
  assertErrorShape(r, 502);
  assert.equal(r.json.error.metadata.error_type, "provider_auth");

  await fake.script([{ status: 503, error_body: "<html>upstream down</html>" }]);
  r = await post("/v1/chat/completions", chat());
  assertErrorShape(r, 502);
  assert.match(r.json.error.message, /upstream down/);
});

test("502: the provider is unreachable", async () => {
  const dead = await startGateway({
    config: { providers: { openai: { format: "openai", base_url: "http://127.0.0.1:9/v1", api_key: "k" } } },
  });
  try {
    const res = await fetch(`${dead.url}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify(chat()),
    });
    const json = await res.json();
    assert.equal(res.status, 502);
    assert.equal(json.error.metadata.error_type, "provider_unavailable");
    assert.match(json.error.message, /connect/i);
  } finally {
    await dead.stop();
  }
});

test("408: the provider takes too long to answer", async () => {
  await fake.script([{ latency_ms: 3000 }]);
  const r = await post("/v1/chat/completions", chat({ model: "groq/slow-model" }));
  assertErrorShape(r, 408);
  assert.equal(r.json.error.metadata.error_type, "timeout");
});

function sseEvents(text) {
  return text
    .split("\n\n")
    .filter(Boolean)
    .map((e) => e.slice(6));
}

test("a stream cut mid-way ends with an error event, usage and [DONE]", async () => {
  await fake.script([{ chunks: ["one ", "two ", "three ", "four"], cut_after: 2 }]);
  const r = await post("/v1/chat/completions", chat({ stream: true }));
  assert.equal(r.status, 200);
  const ev = sseEvents(r.text);
  assert.equal(ev.at(-1), "[DONE]");
  const usage = JSON.parse(ev.at(-2));
  assert.deepEqual(usage.choices, []);
  assert.ok(usage.usage);
  const err = JSON.parse(ev.at(-3));
  assert.equal(err.error.code, 502);
  assert.equal(err.choices[0].finish_reason, "error");
  const content = ev
    .slice(0, -3)
    .map((e) => JSON.parse(e).choices[0]?.delta?.content ?? "")
    .join("");
  assert.equal(content, "one two ");

  // the SDK surfaces it as an error after the content it got
  await fake.script([{ chunks: ["one ", "two ", "three"], cut_after: 2 }]);
  const stream = await client.chat.completions.create(chat({ stream: true }));
  let got = "";
  await assert.rejects(async () => {
    for await (const chunk of stream) got += chunk.choices[0]?.delta?.content ?? "";
  }, OpenAI.APIError);
  assert.equal(got, "one two ");
});

test("an idle stream times out with an error event", async () => {
  await fake.script([{ chunks: ["a", "b", "c"], token_interval_ms: 2000 }]);
  const r = await post("/v1/chat/completions", chat({ model: "groq/slow-model", stream: true }));
  const ev = sseEvents(r.text);
  const err = JSON.parse(ev.at(-3));
  assert.equal(err.error.code, 408);
  assert.equal(err.error.metadata.error_type, "timeout");
});

test("garbage in the provider's stream becomes an error event, not a crash", async () => {
  await fake.script([{ chunks: ["ok ", "then"], garbage: "data: {this is not json\n\n", garbage_after: 1 }]);
  const r = await post("/v1/chat/completions", chat({ stream: true }));
  const ev = sseEvents(r.text);
  assert.equal(ev.at(-1), "[DONE]");
  const err = JSON.parse(ev.at(-3));
  assert.equal(err.choices[0].finish_reason, "error");
  // and the gateway is still fine
  const again = await client.chat.completions.create(chat());
  assert.equal(again.choices[0].message.content, "echo: hi");
});

test("a provider failing before its first byte: a plain error response, not a stream", async () => {
  // twice: libcurl retries once on a fresh connection when a reused one
  // closes before answering
  await fake.script([{ drop_connection: true, times: 2 }]);
  const r = await post("/v1/chat/completions", chat({ stream: true }));
  assertErrorShape(r, 502);
  assert.match(r.headers.get("content-type"), /application\/json/);
});

test("a client that hangs up mid-stream cancels the upstream transfer", async () => {
  await fake.script([{ chunks: Array.from({ length: 50 }, (_, i) => `t${i} `), token_interval_ms: 100 }]);
  const ac = new AbortController();
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    body: JSON.stringify(chat({ stream: true })),
    signal: ac.signal,
  });
  const id = res.headers.get("x-generation-id");
  const reader = res.body.getReader();
  await reader.read(); // at least the first chunk
  ac.abort();
  const stats = await waitFor(async () => {
    const s = await fake.stats();
    return s.cancelled >= 1 ? s : null;
  }, "the upstream transfer to be cancelled");
  assert.equal(stats.active_streams, 0);
  const row = await waitFor(async () => {
    const r = await fetch(`${gw.url}/api/v1/generation?id=${id}`);
    return r.status === 200 ? (await r.json()).data : null;
  }, "the ledger row");
  assert.equal(row.cancelled, true);
  assert.equal(row.streamed, true);
  assert.ok(row.tokens_prompt > 0, "a cancelled stream is billed for what it used");
});

test("admin key mode: 401 without or with a wrong key; skills trusted on loopback", async () => {
  const secured = await startGateway({
    config: { admin_key: "sb-admin-123", providers: { openai: fakeProviderConfig(fake) } },
  });
  try {
    const body = JSON.stringify(chat());
    let res = await fetch(`${secured.url}/v1/chat/completions`, { method: "POST", body });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error.code, 401);
    res = await fetch(`${secured.url}/v1/chat/completions`, {
      method: "POST",
      body,
      headers: { authorization: "Bearer wrong" },
    });
    assert.equal(res.status, 401);
    const sdk = new OpenAI({ baseURL: `${secured.url}/v1`, apiKey: "sb-admin-123", maxRetries: 0 });
    const ok = await sdk.chat.completions.create(chat());
    assert.equal(ok.choices[0].message.content, "echo: hi");
    await assert.rejects(
      new OpenAI({ baseURL: `${secured.url}/v1`, apiKey: "nope", maxRetries: 0 }).models.list(),
      (e) => e instanceof OpenAI.AuthenticationError,
    );
    res = await fetch(`${secured.url}/health`);
    assert.equal(res.status, 200);
    res = await fetch(`${secured.url}/api/skills/openrouter/chat`, {
      method: "POST",
      body: JSON.stringify({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "x" }] }),
    });
    assert.equal(res.status, 200, "local_trust lets loopback agents call skills");
  } finally {
    await secured.stop();
  }
});
