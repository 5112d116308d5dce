// SPDX-License-Identifier: MIT
// The official @google/genai SDK against switchboard's Gemini API door
// (/v1beta/models/{model}:...), for a Gemini model (the pass-through path:
// the client's body goes upstream as it came), an OpenAI-format model and
// an Anthropic-format model, the fake provider playing each:
// generateContent, generateContentStream, countTokens, embedContent, a
// function-calling round trip (calls get ids; results are matched back by
// name), thinking whose signatures come back with the next turn, JSON
// schema output, and the ledger's rows (api "gemini").
import { test } from "node:test";
import assert from "node:assert/strict";
import { GoogleGenAI } from "@google/genai";
import { setup, fakeProviderConfig, ledgerRow as generationRow } from "./lib/harness.mjs";

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

let ai;
const client = () => (ai ??= new GoogleGenAI({ apiKey: ADMIN, httpOptions: { baseUrl: gw.url } }));
const ledgerRow = (genId) => generationRow(gw, genId, ADMIN);
const genId = (r) => r.sdkHttpResponse.headers["x-generation-id"];

// The three kinds of model a Gemini client may ask for, by the name it uses.
const MODELS = [
  { name: "gemini-2.5-flash", id: "google/gemini-2.5-flash", format: "gemini" },
  { name: "openai/gpt-4o-mini", id: "openai/gpt-4o-mini", format: "openai" },
  { name: "anthropic/claude-sonnet-4", id: "anthropic/claude-sonnet-4", format: "anthropic" },
];

async function upstreams() {
  return (await fake.requests()).filter((r) => r.scenario !== null);
}

for (const m of MODELS) {
  test(`${m.format}: generateContent, the answer, usage, the ledger row`, async () => {
    await fake.script([{ content: "Hello from the fake", usage: {} }]);
    const r = await client().models.generateContent({
      model: m.name,
      contents: "Say hello",
      config: { systemInstruction: "Be brief.", temperature: 0.3, maxOutputTokens: 50 },
    });
    assert.equal(r.text, "Hello from the fake");
    assert.equal(r.candidates[0].finishReason, "STOP");
    assert.equal(r.candidates[0].content.role, "model");
    assert.ok(r.usageMetadata.promptTokenCount > 0);
    assert.ok(r.usageMetadata.candidatesTokenCount > 0);
    assert.equal(
      r.usageMetadata.totalTokenCount,
      r.usageMetadata.promptTokenCount + r.usageMetadata.candidatesTokenCount,
    );
    const [up] = await upstreams();
    if (m.format === "gemini") {
      assert.equal(up.path, "/v1beta/models/gemini-2.5-flash:generateContent");
      assert.equal(up.query, "");
      assert.equal(up.headers["x-goog-api-key"], "sk-fake-upstream");
      // the client's body, as the SDK wrote it
      assert.deepEqual(up.json.systemInstruction, { parts: [{ text: "Be brief." }], role: "user" });
      assert.deepEqual(up.json.generationConfig, { temperature: 0.3, maxOutputTokens: 50 });
    } else if (m.format === "openai") {
      assert.equal(up.path, "/v1/chat/completions");
      assert.deepEqual(up.json.messages, [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Say hello" },
      ]);
      assert.equal(up.json.temperature, 0.3);
      assert.equal(up.json.max_tokens, 50);
      assert.equal(r.modelVersion, m.id);
      assert.equal(r.responseId, genId(r));
    } else {
      assert.equal(up.path, "/v1/messages");
      assert.equal(up.json.system, "Be brief.");
      assert.equal(up.json.max_tokens, 50);
      assert.equal(r.modelVersion, m.id);
    }
    const row = await ledgerRow(genId(r));
    assert.equal(row.api, "gemini");
    assert.equal(row.model, m.id);
    assert.equal(row.streamed, false);
    assert.equal(row.tokens_prompt, r.usageMetadata.promptTokenCount);
  });

  test(`${m.format}: generateContentStream, chunks with usage, the last with the finish`, async () => {
    await fake.script([{ chunks: ["The ", "quick ", "fox"], usage_mode: "always" }]);
    const stream = await client().models.generateContentStream({ model: m.name, contents: "Go" });
    let text = "";
    const chunks = [];
    for await (const c of stream) {
      chunks.push(c);
      text += c.text ?? "";
    }
    assert.equal(text, "The quick fox");
    assert.ok(chunks.length >= 3, `${chunks.length} chunks`);
    for (const c of chunks) assert.ok(c.usageMetadata, "every chunk carries the usage so far");
    const last = chunks.at(-1);
    assert.equal(last.candidates[0].finishReason, "STOP");
    assert.ok(last.usageMetadata.candidatesTokenCount > 0);
    const [up] = await upstreams();
    if (m.format === "gemini") {
      assert.equal(up.path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent");
      assert.equal(up.query, "alt=sse");
    } else {
      assert.equal(up.json.stream, true);
    }
    const row = await ledgerRow(last.sdkHttpResponse.headers["x-generation-id"]);
    assert.equal(row.streamed, true);
    assert.equal(row.api, "gemini");
  });

  test(`${m.format}: countTokens is an estimate, no upstream call`, async () => {
    const r = await client().models.countTokens({
      model: m.name,
      contents: [{ role: "user", parts: [{ text: "How many tokens is this sentence, roughly?" }] }],
    });
    assert.ok(r.totalTokens > 5 && r.totalTokens < 30, `${r.totalTokens}`);
    assert.equal(r.sdkHttpResponse.headers["x-token-count"], "estimate");
    assert.equal((await upstreams()).length, 0);
  });

  test(`${m.format}: a function-calling round trip`, async () => {
    await fake.script([
      { tool_calls: [{ id: "call_w1", name: "get_weather", arguments: '{"city":"Paris"}' }] },
      { content: "It is 18C in Paris." },
    ]);
    const tools = [
      {
        functionDeclarations: [
          {
            name: "get_weather",
            description: "Weather for a city",
            parameters: { type: "OBJECT", properties: { city: { type: "STRING" } }, required: ["city"] },
          },
        ],
      },
    ];
    const contents = [{ role: "user", parts: [{ text: "Weather in Paris?" }] }];
    const r1 = await client().models.generateContent({ model: m.name, contents, config: { tools } });
    assert.equal(r1.functionCalls.length, 1);
    const call = r1.functionCalls[0];
    assert.equal(call.name, "get_weather");
    assert.deepEqual(call.args, { city: "Paris" });
    if (m.format !== "gemini") assert.ok(call.id, "the call has an id");
    // the SDK's next turn: the model's content as it came, then the result
    // (named, with the call's id when it had one)
    contents.push(r1.candidates[0].content);
    contents.push({
      role: "user",
      parts: [{ functionResponse: { id: call.id, name: "get_weather", response: { output: "18C" } } }],
    });
    const r2 = await client().models.generateContent({ model: m.name, contents, config: { tools } });
    assert.equal(r2.text, "It is 18C in Paris.");
    const [, up] = await upstreams();
    if (m.format === "openai") {
      const [, asst, tool] = up.json.messages;
      assert.equal(asst.tool_calls[0].id, call.id);
      assert.equal(asst.tool_calls[0].function.name, "get_weather");
      assert.deepEqual(tool, { role: "tool", tool_call_id: call.id, content: "18C" });
      assert.deepEqual(up.json.tools[0].function.parameters, {
        type: "object",
        properties: { city: { type: "string" } },
        required: ["city"],
      });
    } else if (m.format === "anthropic") {
      const [, asst, user] = up.json.messages;
      assert.equal(asst.content.at(-1).type, "tool_use");
      assert.equal(asst.content.at(-1).id, call.id);
      assert.deepEqual(user.content, [{ type: "tool_result", tool_use_id: call.id, content: "18C" }]);
    } else {
      // a Gemini model gets the client's turns as they are
      assert.deepEqual(up.json.contents.at(-1).parts[0].functionResponse.response, { output: "18C" });
      assert.equal(up.json.contents[1].parts[0].functionCall.name, "get_weather");
    }
  });

  test(`${m.format}: JSON schema output`, async () => {
    await fake.script([{ content: '{"city":"Paris","temp":18}' }]);
    const r = await client().models.generateContent({
      model: m.name,
      contents: "Weather as JSON",
      config: {
        responseMimeType: "application/json",
        responseSchema: {
          type: "OBJECT",
          properties: { city: { type: "STRING" }, temp: { type: "INTEGER", nullable: true } },
          required: ["city"],
        },
      },
    });
    assert.deepEqual(JSON.parse(r.text), { city: "Paris", temp: 18 });
    const [up] = await upstreams();
    const schema = {
      type: "object",
      properties: { city: { type: "string" }, temp: { type: ["integer", "null"] } },
      required: ["city"],
    };
    if (m.format === "openai") {
      assert.deepEqual(up.json.response_format, {
        type: "json_schema",
        json_schema: { name: "response", schema },
      });
    } else if (m.format === "anthropic") {
      assert.equal(up.json.tool_choice.name, "json_response");
      assert.deepEqual(up.json.tools[0].input_schema, schema);
    } else {
      assert.equal(up.json.generationConfig.responseMimeType, "application/json");
      assert.equal(up.json.generationConfig.responseSchema.type, "OBJECT");
    }
  });
}

test("anthropic: thinking with its signature, carried to the next turn", async () => {
  await fake.script([
    { reasoning: "Let me think it over.", signature: "SIG-ant-1", content: "42." },
    { content: "Yes." },
  ]);
  const model = "anthropic/claude-sonnet-4";
  const config = { thinkingConfig: { thinkingBudget: 2048, includeThoughts: true } };
  const contents = [{ role: "user", parts: [{ text: "The answer?" }] }];
  const r1 = await client().models.generateContent({ model, contents, config });
  const parts = r1.candidates[0].content.parts;
  assert.deepEqual(parts[0], { text: "Let me think it over.", thought: true });
  assert.equal(parts[1].text, "42.");
  assert.ok(parts[1].thoughtSignature, "the reasoning rides on the next part");
  assert.ok(r1.usageMetadata);
  let up = (await upstreams())[0];
  assert.deepEqual(up.json.thinking, { type: "enabled", budget_tokens: 2048 });
  // the client keeps its history without the thought part, as Gemini CLI does
  contents.push({ role: "model", parts: parts.filter((p) => !p.thought) });
  contents.push({ role: "user", parts: [{ text: "Sure?" }] });
  await client().models.generateContent({ model, contents, config });
  up = (await upstreams())[1];
  assert.deepEqual(up.json.messages[1].content, [
    { type: "thinking", thinking: "Let me think it over.", signature: "SIG-ant-1" },
    { type: "text", text: "42." },
  ]);
});

test("gemini: a thought signature on a call goes back upstream as it was", async () => {
  await fake.script([
    { tool_calls: [{ name: "lookup", arguments: '{"q":"x"}' }], signature: "GSIG-1", reasoning: "Need to look." },
    { content: "Found." },
  ]);
  const model = "gemini-2.5-flash";
  const config = {
    tools: [{ functionDeclarations: [{ name: "lookup", parameters: { type: "OBJECT", properties: { q: { type: "STRING" } } } }] }],
    thinkingConfig: { includeThoughts: true },
  };
  const contents = [{ role: "user", parts: [{ text: "Look it up" }] }];
  const s = await client().models.generateContentStream({ model, contents, config });
  const parts = [];
  for await (const c of s) parts.push(...(c.candidates?.[0]?.content?.parts ?? []));
  const callPart = parts.find((p) => p.functionCall);
  assert.equal(callPart.thoughtSignature, "GSIG-1");
  assert.ok(parts.some((p) => p.thought));
  contents.push({ role: "model", parts: parts.filter((p) => !p.thought) });
  contents.push({ role: "user", parts: [{ functionResponse: { name: "lookup", response: { output: "ok" } } }] });
  const r2 = await client().models.generateContent({ model, contents, config });
  assert.equal(r2.text, "Found.");
  const up = (await upstreams())[1];
  assert.equal(up.json.contents[1].parts.find((p) => p.functionCall).thoughtSignature, "GSIG-1");
});

test("openai: reasoning is shown as thoughts when asked, its level an effort", async () => {
  await fake.script([{ reasoning: "Thinking hard.", content: "Done." }]);
  const stream = await client().models.generateContentStream({
    model: "openai/o4-mini",
    contents: "Think",
    config: { thinkingConfig: { includeThoughts: true, thinkingLevel: "LOW" } },
  });
  let thoughts = "";
  let text = "";
  for await (const c of stream)
    for (const p of c.candidates?.[0]?.content?.parts ?? []) {
      if (p.thought) thoughts += p.text;
      else text += p.text ?? "";
    }
  assert.equal(thoughts, "Thinking hard.");
  assert.equal(text, "Done.");
  const [up] = await upstreams();
  assert.equal(up.json.reasoning_effort, "low");
});

test("embedContent: a Gemini embedding model and an OpenAI one", async () => {
  for (const model of ["gemini-embedding-001", "openai/text-embedding-3-small"]) {
    await fake.reset();
    const r = await client().models.embedContent({
      model,
      contents: ["first text", "second text"],
      config: { outputDimensionality: 8, taskType: "RETRIEVAL_DOCUMENT" },
    });
    assert.equal(r.embeddings.length, 2);
    for (const e of r.embeddings) assert.equal(e.values.length, 8);
    assert.notDeepEqual(r.embeddings[0].values, r.embeddings[1].values);
    const [up] = await upstreams();
    if (model.startsWith("gemini")) {
      // the client's requests, each with the route's model
      assert.equal(up.path, "/v1beta/models/gemini-embedding-001:batchEmbedContents");
      assert.equal(up.json.requests.length, 2);
      assert.equal(up.json.requests[0].model, "models/gemini-embedding-001");
      assert.equal(up.json.requests[0].taskType, "RETRIEVAL_DOCUMENT");
    } else {
      assert.equal(up.path, "/v1/embeddings");
      assert.deepEqual(up.json.input, ["first text", "second text"]);
      assert.equal(up.json.dimensions, 8);
    }
    const row = await ledgerRow(r.sdkHttpResponse.headers["x-generation-id"]);
    assert.equal(row.api, "embeddings");
  }
});
