// SPDX-License-Identifier: MIT
// The OpenAI SDK against switchboard's /v1/embeddings, with the fake
// provider playing OpenAI: vectors (float and base64), usage and cost,
// the exact upstream request, the ledger row (api "embeddings", found by
// the generation id), and errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startGateway } from "./lib/gateway.mjs";
import { setup, fakeProviderConfig, ledgerRow } from "./lib/harness.mjs";

const MODEL = "openai/text-embedding-3-small";
const PROMPT_PICO = 20000; // $0.00000002 per token (catalog/models.json)

const { fake, gw, lastUpstream, openai } = setup();
const client = openai();

async function post(body, path = "/v1/embeddings") {
  const res = await fetch(`${gw.url}${path}`, { method: "POST", body: JSON.stringify(body) });
  return { res, json: await res.json() };
}

test("SDK embeddings: vectors, usage with cost, exact upstream request, ledger row", async () => {
  const input = ["hello world", "x"];
  const { data: r, response } = await client.embeddings.create({ model: MODEL, input, dimensions: 4 }).withResponse();
  assert.equal(r.object, "list");
  assert.equal(r.model, MODEL);
  assert.equal(r.provider, "OpenAI");
  assert.equal(r.data.length, 2);
  for (const [i, d] of r.data.entries()) {
    assert.equal(d.index, i);
    assert.equal(d.embedding.length, 4);
    for (const v of d.embedding) assert.ok(v >= -1 && v <= 1);
  }
  assert.notDeepEqual(r.data[0].embedding, r.data[1].embedding);
  // "hello world" = 11 bytes -> 2 tokens, "x" -> 1
  assert.equal(r.usage.prompt_tokens, 3);
  assert.equal(r.usage.total_tokens, 3);
  assert.equal(Math.round(r.usage.cost * 1e12), 3 * PROMPT_PICO);
  const genId = response.headers.get("x-generation-id");
  assert.match(genId, /^gen-\d+-[0-9A-Za-z]{20}$/);
  assert.equal(r.id, genId);

  // the SDK asks for base64 and decodes it: the same numbers as float
  const up = await lastUpstream();
  assert.equal(up.path, "/v1/embeddings");
  assert.equal(up.headers.authorization, "Bearer sk-fake-upstream");
  assert.deepEqual(up.json, { model: "text-embedding-3-small", input, dimensions: 4, encoding_format: "base64" });
  const { json: asFloat } = await post({ model: MODEL, input, dimensions: 4, encoding_format: "float" });
  assert.deepEqual(
    r.data.map((d) => d.embedding),
    asFloat.data.map((d) => d.embedding.map(Math.fround)),
  );

  const row = await ledgerRow(gw, genId);
  assert.equal(row.api, "embeddings");
  assert.equal(row.model, MODEL);
  assert.equal(row.upstream_model, "text-embedding-3-small");
  assert.equal(row.tokens_prompt, 3);
  assert.equal(row.tokens_completion, 0);
  assert.equal(row.usage_estimated, false);
  assert.equal(Math.round(row.total_cost * 1e12), 3 * PROMPT_PICO);
  assert.equal(row.status, 200);
});

test("input forms: a string, token arrays; /api/v1 answers too; default dimensions", async () => {
  let { res, json } = await post({ model: MODEL, input: "just one string here" }, "/api/v1/embeddings");
  assert.equal(res.status, 200);
  assert.equal(json.data.length, 1);
  assert.equal(json.data[0].embedding.length, 8);
  assert.equal(json.usage.prompt_tokens, 5);
  ({ res, json } = await post({ model: MODEL, input: [[1, 2, 3], [4, 5]] }));
  assert.equal(res.status, 200);
  assert.equal(json.data.length, 2);
  assert.equal(json.usage.prompt_tokens, 5);
  // the large model is priced at its own rate
  ({ json } = await post({ model: "openai/text-embedding-3-large", input: "abcdefgh" }));
  assert.equal(json.usage.prompt_tokens, 2);
  assert.equal(Math.round(json.usage.cost * 1e12), 2 * 130000);
});

test("errors: bad requests (400), unknown model (404), upstream 429 with Retry-After, upstream 500", async () => {
  for (const body of [
    { model: MODEL },
    { model: MODEL, input: [] },
    { model: MODEL, input: [1, "a"] },
    { model: MODEL, input: [[]] },
    { model: MODEL, input: "x", dimensions: 0 },
    { model: MODEL, input: "x", encoding_format: "hex" },
    { input: "x" },
  ]) {
    const { res, json } = await post(body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(json.error.code, 400);
  }
  const bad = await fetch(`${gw.url}/v1/embeddings`, { method: "POST", body: "{nope" });
  assert.equal(bad.status, 400);
  assert.equal((await fake.requests()).length, 0, "invalid requests never reach the provider");

  await assert.rejects(client.embeddings.create({ model: "nobody/none", input: "x" }), (e) => e.status === 404);

  await fake.script([{ status: 429, retry_after: 3 }]);
  await assert.rejects(client.embeddings.create({ model: MODEL, input: "x" }), (e) => {
    assert.equal(e.status, 429);
    assert.equal(e.headers.get("retry-after"), "3");
    return true;
  });
  await fake.script([{ status: 500 }]);
  await assert.rejects(client.embeddings.create({ model: MODEL, input: "x" }), (e) => e.status === 502);
  // a reply that is not an embeddings list
  await fake.script([{ body: { unexpected: true } }]);
  const { res, json } = await post({ model: MODEL, input: "x" });
  assert.equal(res.status, 502);
  assert.match(json.error.message, /data/);
});

test("Gemini provider: batchEmbedContents both ways, base64 for the SDK, estimated usage priced", async (t) => {
  const gGw = await startGateway({
    config: {
      providers: {
        openai: fakeProviderConfig(fake),
        gemini: fakeProviderConfig(fake, { format: "gemini", base_url: fake.url, api_key: "g-key" }),
      },
    },
  });
  t.after(() => gGw.stop());
  const gClient = new OpenAI({ baseURL: `${gGw.url}/v1`, apiKey: "any", maxRetries: 0 });
  const input = ["hello world", "second text"];
  const { data: r, response } = await gClient.embeddings
    .create({ model: "google/gemini-embedding-001", input, dimensions: 4 })
    .withResponse();
  assert.equal(r.model, "google/gemini-embedding-001");
  assert.equal(r.provider, "Google AI Studio");
  assert.equal(r.data.length, 2);
  const up = await lastUpstream();
  assert.equal(up.path, "/v1beta/models/gemini-embedding-001:batchEmbedContents");
  assert.equal(up.headers["x-goog-api-key"], "g-key");
  assert.deepEqual(up.json, {
    requests: input.map((text) => ({
      model: "models/gemini-embedding-001",
      content: { parts: [{ text }] },
      outputDimensionality: 4,
    })),
  });
  // the fake gives the same vector for the same text in both formats:
  // the base64 the SDK decoded matches the OpenAI-format floats
  const { json: viaOpenAI } = await (async () => {
    const res = await fetch(`${gGw.url}/v1/embeddings`, {
      method: "POST",
      body: JSON.stringify({ model: MODEL, input, dimensions: 4, encoding_format: "float" }),
    });
    return { json: await res.json() };
  })();
  assert.deepEqual(
    r.data.map((d) => d.embedding),
    viaOpenAI.data.map((d) => d.embedding.map(Math.fround)),
  );
  // float form straight through
  const res = await fetch(`${gGw.url}/v1/embeddings`, {
    method: "POST",
    body: JSON.stringify({ model: "google/gemini-embedding-001", input: "hello world", dimensions: 4, encoding_format: "float" }),
  });
  const f = await res.json();
  assert.deepEqual(f.data[0].embedding, viaOpenAI.data[0].embedding);
  // no usage from Gemini: estimated from the text (22 bytes -> 6 tokens)
  assert.equal(r.usage.prompt_tokens, 6);
  assert.equal(Math.round(r.usage.cost * 1e12), 6 * 150000);
  const row = await ledgerRow(gGw, response.headers.get("x-generation-id"));
  assert.equal(row.api, "embeddings");
  assert.equal(row.provider_name, "gemini");
  assert.equal(row.usage_estimated, true);
  // token arrays have no Gemini form
  const bad = await fetch(`${gGw.url}/v1/embeddings`, {
    method: "POST",
    body: JSON.stringify({ model: "google/gemini-embedding-001", input: [[1, 2]] }),
  });
  assert.equal(bad.status, 400);
  // a Gemini error maps like any provider error
  await fake.script([{ status: 429, retry_after: 2 }]);
  await assert.rejects(gClient.embeddings.create({ model: "google/gemini-embedding-001", input: "x" }), (e) => {
    assert.equal(e.status, 429);
    return true;
  });
});
