// SPDX-License-Identifier: MIT
// The Gemini API door's surface, with @google/genai and raw HTTP: the key
// as x-goog-api-key, ?key= or a bearer, judged like every door's (admin
// key, client keys) and refused in Google's shape; model names bare, as
// catalog ids with their slash literal or %2F, under /v1beta and /v1; the
// Google-style model lists; errors before a stream (Google's shape, 404,
// 429 with Retry-After, 400 from the schema check) and during one (a final
// chunk with the error, which the SDK throws); the pass-through path byte
// for byte both ways; streams as Google's JSON array without alt=sse;
// Gemini's own tools left out for other formats, with
// X-Switchboard-Dropped-Tools.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GoogleGenAI } from "@google/genai";
import { setup, fakeProviderConfig, fetchText, ledgerRow as generationRow } from "./lib/harness.mjs";

const ADMIN = "sb-admin-key";
const { fake, gw } = setup({
  config: (fake) => ({
    admin_key: ADMIN,
    providers: {
      openai: fakeProviderConfig(fake),
      gemini: fakeProviderConfig(fake, { format: "gemini", base_url: fake.url }),
    },
  }),
});

const sdk = (key = ADMIN, opts = {}) => new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: gw.url, ...opts } });
const ledgerRow = (genId) => generationRow(gw, genId, ADMIN);
const ONE = { contents: [{ role: "user", parts: [{ text: "hello there" }] }] };

function post(path, body, headers = { "x-goog-api-key": ADMIN }) {
  return fetchText(`${gw.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function upstreams() {
  return (await fake.requests()).filter((r) => r.scenario !== null);
}

// The SDK call rejects with an ApiError of `status` whose body is Google's
// error shape with `name` and a message matching `re`.
function rejectsGoogle(promise, status, name, re) {
  return assert.rejects(promise, (e) => {
    assert.equal(e.name, "ApiError");
    assert.equal(e.status, status);
    const body = JSON.parse(e.message.slice(e.message.indexOf("{")));
    assert.equal(body.error.code, status);
    assert.equal(body.error.status, name);
    assert.match(body.error.message, re);
    return true;
  });
}

test("keys: x-goog-api-key, ?key= and a bearer; a wrong one is a 401 in Google's shape", async () => {
  const path = "/v1beta/models/gemini-2.5-flash:generateContent";
  for (const [headers, q] of [
    [{ "x-goog-api-key": ADMIN }, ""],
    [{}, `?key=${ADMIN}`],
    [{ authorization: `Bearer ${ADMIN}` }, ""],
  ]) {
    const r = await post(path + q, ONE, headers);
    assert.equal(r.status, 200, r.text);
  }
  // the key in the query reaches neither the provider nor the ledger
  const ups = await upstreams();
  assert.ok(ups.every((u) => u.query === "" && !JSON.stringify(u).includes(ADMIN)));
  for (const [headers, q] of [[{ "x-goog-api-key": "wrong" }, ""], [{}, "?key=wrong"], [{}, ""]]) {
    const r = await post(path + q, ONE, headers);
    assert.equal(r.status, 401);
    assert.equal(r.json.error.code, 401);
    assert.equal(r.json.error.status, "UNAUTHENTICATED");
  }
  await rejectsGoogle(sdk("wrong").models.generateContent({ model: "gemini-2.5-flash", contents: "x" }),
    401, "UNAUTHENTICATED", /invalid API key/);
  // ?key= is the Gemini API's only: the chat door does not read it
  const chat = await post(`/v1/chat/completions?key=${ADMIN}`, { model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "x" }] }, {});
  assert.equal(chat.status, 401);
  assert.ok(!gw.logs().includes(ADMIN), "the key is in no log line");
});

test("keys: a client key is held to its own rules, and named in the ledger", async () => {
  const created = await fetchText(`${gw.url}/api/v1/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "gemini-user", models: ["openai/gpt-4o-mini"] }),
  });
  assert.equal(created.status, 201, created.text);
  const key = created.json.key;
  const ok = await sdk(key).models.generateContent({ model: "openai/gpt-4o-mini", contents: "hi" });
  const row = await ledgerRow(ok.sdkHttpResponse.headers["x-generation-id"]);
  assert.equal(row.key_label, "gemini-user");
  await rejectsGoogle(sdk(key).models.generateContent({ model: "gemini-2.5-flash", contents: "hi" }),
    403, "PERMISSION_DENIED", /not allowed|may not/);
});

test("model names: bare, a catalog id with a literal slash or %2F, under /v1beta and /v1", async () => {
  const cases = [
    ["/v1beta/models/gemini-2.5-flash:generateContent", "/v1beta/models/gemini-2.5-flash:generateContent"],
    ["/v1beta/models/google%2Fgemini-2.5-flash:generateContent", "/v1beta/models/gemini-2.5-flash:generateContent"],
    ["/v1/models/gemini-2.5-flash:generateContent", "/v1beta/models/gemini-2.5-flash:generateContent"],
    ["/v1beta/models/openai/gpt-4o-mini:generateContent", "/v1/chat/completions"],
    ["/v1beta/models/openai%2Fgpt-4o-mini:generateContent", "/v1/chat/completions"],
    ["/v1/models/openai%2fgpt-4o-mini:generateContent", "/v1/chat/completions"],
    // a Gemini model the catalog does not list: the Gemini provider's
    ["/v1beta/models/gemini-9-ultra-preview:generateContent", "/v1beta/models/gemini-9-ultra-preview:generateContent"],
  ];
  for (const [path, upstream] of cases) {
    await fake.reset();
    const r = await post(path, ONE);
    assert.equal(r.status, 200, `${path}: ${r.text}`);
    const [up] = await upstreams();
    assert.equal(up.path, upstream, path);
  }
  const unknown = await post("/v1beta/models/nobody%2Fnothing:generateContent", ONE);
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json.error.status, "NOT_FOUND");
  const method = await post("/v1beta/models/gemini-2.5-flash:predict", ONE);
  assert.equal(method.status, 404);
  assert.match(method.json.error.message, /method 'predict' is not served/);
  const get = await fetchText(`${gw.url}/v1beta/models/gemini-2.5-flash:generateContent`, { headers: { "x-goog-api-key": ADMIN } });
  assert.equal(get.status, 405);
  assert.equal(get.json.error.status, "UNIMPLEMENTED");
  const none = await fetchText(`${gw.url}/v1beta/tunedModels`, { headers: { "x-goog-api-key": ADMIN } });
  assert.equal(none.status, 404);
  assert.equal(none.json.error.status, "NOT_FOUND");
});

test("models: Google's list and one model, every routable model, pages", async () => {
  const ai = sdk();
  const names = [];
  const pager = await ai.models.list({ config: { pageSize: 5 } });
  for await (const m of pager) names.push(m.name);
  assert.ok(names.includes("models/gemini-2.5-flash"), names.join(" "));
  assert.ok(names.includes("models/openai/gpt-4o-mini"));
  assert.ok(!names.includes("models/anthropic/claude-sonnet-4"), "no Anthropic provider is configured");
  assert.equal(new Set(names).size, names.length);
  const raw = await fetchText(`${gw.url}/v1beta/models?pageSize=2`, { headers: { "x-goog-api-key": ADMIN } });
  assert.equal(raw.json.models.length, 2);
  assert.equal(raw.json.nextPageToken, "2");
  const m = raw.json.models[0];
  for (const k of ["name", "baseModelId", "displayName", "description", "inputTokenLimit", "outputTokenLimit", "supportedGenerationMethods"])
    assert.ok(k in m, `${k} in ${JSON.stringify(m)}`);
  const flash = await ai.models.get({ model: "gemini-2.5-flash" });
  assert.equal(flash.name, "models/gemini-2.5-flash");
  assert.equal(flash.inputTokenLimit, 1048576);
  assert.ok(flash.supportedActions.includes("generateContent"));
  const mini = await ai.models.get({ model: "openai/gpt-4o-mini" });
  assert.equal(mini.displayName, "OpenAI: GPT-4o-mini");
  const emb = await fetchText(`${gw.url}/v1beta/models/gemini-embedding-001`, { headers: { "x-goog-api-key": ADMIN } });
  assert.deepEqual(emb.json.supportedGenerationMethods, ["embedContent", "batchEmbedContents"]);
  await rejectsGoogle(ai.models.get({ model: "nobody/nothing" }), 404, "NOT_FOUND", /not found/);
  // /v1/models: Google's for a Gemini client, OpenAI's for anyone else
  const google = await fetchText(`${gw.url}/v1/models`, { headers: { "x-goog-api-key": ADMIN } });
  assert.ok(Array.isArray(google.json.models));
  const openai = await fetchText(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${ADMIN}` } });
  assert.equal(openai.json.object, "list");
});

test("errors before the answer: Google's shape, 429 with Retry-After, the schema check", async () => {
  await fake.script([{ status: 429, retry_after: 7 }]);
  const r = await post("/v1beta/models/openai/gpt-4o-mini:streamGenerateContent?alt=sse", ONE);
  assert.equal(r.status, 429);
  assert.equal(r.headers.get("retry-after"), "7");
  assert.equal(r.json.error.status, "RESOURCE_EXHAUSTED");
  await fake.script([{ status: 400, error_body: { error: { code: 400, message: "bad thing", status: "INVALID_ARGUMENT" } } }]);
  await rejectsGoogle(sdk().models.generateContent({ model: "gemini-2.5-flash", contents: "x" }),
    400, "INVALID_ARGUMENT", /bad thing/);
  const bad = await post("/v1beta/models/openai/gpt-4o-mini:generateContent", {
    contents: [{ role: "user", parts: [{ text: "x" }] }],
    generationConfig: { temperature: 9 },
  });
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.json, {
    error: { code: 400, message: "generationConfig.temperature: must be a number between 0 and 2", status: "INVALID_ARGUMENT" },
  });
  const dup = await post("/v1beta/models/openai/gpt-4o-mini:generateContent", '{"contents":[],"contents":[]}');
  assert.equal(dup.status, 400);
  assert.match(dup.json.error.message, /duplicate member "contents"/);
  const cached = await post("/v1beta/models/openai/gpt-4o-mini:generateContent", { ...ONE, cachedContent: "cachedContents/abc" });
  assert.equal(cached.status, 400);
  assert.match(cached.json.error.message, /cachedContent names a Gemini context cache/);
});

test("errors during a stream: the last chunk holds the error, and the SDK throws it", async () => {
  const chunk = (t) =>
    JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { content: t }, finish_reason: null }] });
  for (const [model, scenario, status] of [
    ["openai/gpt-4o-mini", { raw_events: [chunk("Par"), JSON.stringify({ error: { message: "upstream broke", code: 502 } })] }, 502],
    ["gemini-2.5-flash", {
      raw_events: [
        JSON.stringify({ candidates: [{ content: { role: "model", parts: [{ text: "Par" }] }, index: 0 }] }),
        JSON.stringify({ error: { code: 503, message: "The model is overloaded.", status: "UNAVAILABLE" } }),
      ],
    }, 503],
  ]) {
    await fake.script([scenario]);
    const stream = await sdk().models.generateContentStream({ model, contents: "go" });
    let text = "";
    await assert.rejects(
      (async () => {
        for await (const c of stream) text += c.text ?? "";
      })(),
      (e) => e.name === "ApiError" && e.status === status,
    );
    assert.equal(text, "Par");
  }
});

test("pass-through: the body goes upstream byte for byte, the events come back as they came", async () => {
  const body = '{"contents": [ {"role":"user","parts":[{"text":"hi \\u00e9"}]} ],\n  "futureField": {"x": [1, 2.50]}}';
  await fake.script([{ chunks: ["Hel", "lo"] }]);
  const r = await fetchText(`${gw.url}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": ADMIN },
    body,
  });
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type"), /^text\/event-stream/);
  const [up] = await upstreams();
  assert.equal(up.body, body);
  assert.equal(up.path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent");
  assert.equal(up.query, "alt=sse");
  // the fake's own events, each as it sent it
  const events = r.text.split("\r\n\r\n").filter(Boolean);
  assert.ok(events.length >= 3);
  for (const e of events) assert.ok(e.startsWith("data: {"), e);
  const first = JSON.parse(events[0].slice(6));
  assert.equal(first.responseId, `resp-fake-${up.seq}`);
  assert.equal(first.candidates[0].content.parts[0].text, "Hel");
  const row = await ledgerRow(r.headers.get("x-generation-id"));
  assert.equal(row.provider_name, "gemini");
  assert.equal(row.streamed, true);
  assert.ok(row.tokens_completion > 0);
});

test("a stream without alt=sse is Google's JSON array, for any model", async () => {
  for (const model of ["gemini-2.5-flash", "openai/gpt-4o-mini"]) {
    await fake.script([{ chunks: ["One ", "two"] }]);
    const r = await post(`/v1beta/models/${model}:streamGenerateContent`, ONE);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type"), /^application\/json/);
    assert.ok(Array.isArray(r.json), r.text);
    const text = r.json.map((c) => c.candidates?.[0]?.content?.parts?.map((p) => p.text ?? "").join("") ?? "").join("");
    assert.equal(text, "One two");
    assert.ok(r.json.at(-1).candidates[0].finishReason, "the last element has the finish");
    assert.ok(r.json.at(-1).usageMetadata.totalTokenCount > 0);
  }
});

test("Gemini's own tools: passed to a Gemini model, left out elsewhere and named", async () => {
  const body = {
    ...ONE,
    tools: [{ googleSearch: {} }, { codeExecution: {} }, { functionDeclarations: [{ name: "f" }] }],
  };
  await fake.script([{ content: "ok" }]);
  const other = await post("/v1beta/models/openai/gpt-4o-mini:generateContent", body);
  assert.equal(other.status, 200);
  assert.equal(other.headers.get("x-switchboard-dropped-tools"), "googleSearch,codeExecution");
  let [up] = await upstreams();
  assert.deepEqual(up.json.tools.map((t) => t.function.name), ["f"]);
  await fake.reset();
  await fake.script([{ content: "ok" }]);
  const own = await post("/v1beta/models/gemini-2.5-flash:generateContent", body);
  assert.equal(own.status, 200);
  assert.equal(own.headers.get("x-switchboard-dropped-tools"), null);
  [up] = await upstreams();
  assert.deepEqual(up.json.tools, body.tools);
  // a stream says it in its head too
  await fake.script([{ content: "ok" }]);
  const s = await post("/v1beta/models/openai/gpt-4o-mini:streamGenerateContent?alt=sse", body);
  assert.equal(s.headers.get("x-switchboard-dropped-tools"), "googleSearch,codeExecution");
});

test("the overhead header and the generation id, as every door's", async () => {
  const r = await post("/v1beta/models/openai/gpt-4o-mini:generateContent", ONE);
  assert.equal(r.status, 200);
  assert.match(r.headers.get("x-generation-id"), /^gen-/);
  assert.match(r.headers.get("x-switchboard-overhead-us"), /^\d+$/);
  assert.equal(r.json.responseId, r.headers.get("x-generation-id"));
  const row = await ledgerRow(r.headers.get("x-generation-id"));
  assert.equal(row.api, "gemini");
});
