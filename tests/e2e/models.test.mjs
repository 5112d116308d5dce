// SPDX-License-Identifier: MIT
// The model list in OpenRouter's shape (read by the OpenAI SDK and the
// OpenRouter SDK), /health, /metrics, and generation lookups from the
// ledger with the caller's X-Agent.
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { OpenRouter } from "@openrouter/sdk";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setup, fakeProviderConfig } from "./lib/harness.mjs";
import { repoRoot } from "./lib/gateway.mjs";

const { gw } = setup({
  config: (fake) => ({
    providers: { openai: fakeProviderConfig(fake) },
    models: [
      {
        id: "acme/house-model",
        name: "Acme: House Model",
        context_length: 8192,
        endpoints: [
          { provider: "openai", model: "house-v1", pricing: { prompt: "0.000001", completion: "0.000002" } },
        ],
      },
    ],
  }),
  reset: false,
});

test("GET /v1/models: routable models in OpenRouter's shape", async () => {
  const res = await fetch(`${gw.url}/v1/models`);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.object, "list");
  const ids = body.data.map((m) => m.id);
  assert.ok(ids.includes("openai/gpt-4o-mini"));
  assert.ok(ids.includes("acme/house-model"));
  assert.ok(!ids.includes("anthropic/claude-3.5-haiku"), "no provider serves it here");
  assert.equal(body.total_count, body.data.length);
  const m = body.data.find((x) => x.id === "openai/gpt-4o-mini");
  assert.equal(m.object, "model");
  assert.equal(m.owned_by, "openai");
  assert.equal(m.canonical_slug, "openai/gpt-4o-mini");
  assert.equal(m.context_length, 128000);
  assert.equal(m.pricing.prompt, "0.00000015");
  assert.equal(m.pricing.completion, "0.0000006");
  assert.equal(m.pricing.input_cache_read, "0.000000075");
  assert.deepEqual(m.architecture.input_modalities, ["text", "image", "file"]);
  assert.ok(m.supported_parameters.includes("tools"));
  assert.equal(m.links.details, "/api/v1/models/openai/gpt-4o-mini/endpoints");
  const house = body.data.find((x) => x.id === "acme/house-model");
  assert.equal(house.name, "Acme: House Model");
  assert.equal(house.pricing.prompt, "0.000001");
});

test("every price says where and when it came from", async () => {
  const all = await (await fetch(`${gw.url}/api/v1/models?all=true`)).json();
  for (const m of all.data) {
    assert.ok(["embedded", "openrouter", "config"].includes(m.pricing_source) || m.pricing_source.startsWith("provider:"), m.id);
    assert.ok(Number.isInteger(m.pricing_updated_at), m.id);
  }
  const mini = all.data.find((x) => x.id === "openai/gpt-4o-mini");
  assert.equal(mini.pricing_source, "embedded");
  const embedded = JSON.parse(readFileSync(join(repoRoot, "catalog/models.json"), "utf8"));
  assert.equal(mini.pricing_updated_at, Date.parse(`${embedded.updated}T00:00:00Z`) / 1000);
  // a config entry's prices date from the config file
  const house = all.data.find((x) => x.id === "acme/house-model");
  assert.equal(house.pricing_source, "config");
  assert.ok(Math.abs(house.pricing_updated_at * 1000 - Date.now()) < 600000, `${house.pricing_updated_at}`);
  // and each endpoint of the listing
  const eps = await (await fetch(`${gw.url}/api/v1/models/openai/gpt-4o-mini/endpoints`)).json();
  const ep = eps.data.endpoints[0];
  assert.equal(ep.pricing_source, "embedded");
  assert.equal(ep.pricing_updated_at, mini.pricing_updated_at);
  assert.equal(ep.pricing.prompt, "0.00000015");
});

test("?all=true lists the whole catalog; /api/v1 answers the same", async () => {
  const all = await (await fetch(`${gw.url}/api/v1/models?all=true`)).json();
  const ids = all.data.map((m) => m.id);
  assert.ok(ids.includes("anthropic/claude-3.5-haiku"));
  assert.ok(ids.includes("google/gemini-2.5-pro"));
  const v1 = await (await fetch(`${gw.url}/api/v1/models`)).json();
  const direct = await (await fetch(`${gw.url}/v1/models`)).json();
  assert.deepEqual(v1, direct);
});

test("the SDKs read the list", async () => {
  const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "k", maxRetries: 0 });
  const ids = [];
  for await (const m of openai.models.list()) ids.push(m.id);
  assert.ok(ids.includes("openai/gpt-4o"));
  const or = new OpenRouter({ apiKey: "k", serverURL: `${gw.url}/api/v1` });
  const list = await or.models.list();
  const m = list.result.data.find((x) => x.id === "openai/gpt-4o");
  assert.equal(m.contextLength, 128000);
  assert.equal(m.pricing.prompt, "0.0000025");
});

test("GET /health and /metrics", async () => {
  const h = await (await fetch(`${gw.url}/health`)).json();
  assert.equal(h.status, "ok");
  assert.equal(h.providers, 1);
  assert.ok(h.models > 25);
  assert.ok(h.workers >= 1);
  const m = await (await fetch(`${gw.url}/metrics`)).text();
  assert.match(m, /^switchboard_requests_total\{worker="0"\} \d+$/m);
  assert.match(m, /^switchboard_ledger_rows_total \d+$/m);
});

test("a generation is looked up by its id, with the agent that asked", async () => {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "x-agent": "planner-7", "x-title": "Test Suite" },
    body: JSON.stringify({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
  });
  const body = await res.json();
  const id = res.headers.get("x-generation-id");
  assert.equal(id, body.id);
  const g = await fetch(`${gw.url}/api/v1/generation?id=${encodeURIComponent(id)}`);
  assert.equal(g.status, 200);
  const row = (await g.json()).data;
  assert.equal(row.id, id);
  assert.equal(row.agent, "planner-7");
  assert.equal(row.app, "Test Suite");
  assert.equal(row.model, "openai/gpt-4o-mini");
  assert.equal(row.provider_name, "openai");
  assert.equal(row.upstream_model, "gpt-4o-mini");
  assert.equal(row.tokens_prompt, body.usage.prompt_tokens);
  assert.equal(row.tokens_completion, body.usage.completion_tokens);
  assert.equal(row.total_cost, body.usage.cost);
  assert.equal(row.finish_reason, "stop");
  assert.equal(row.streamed, false);
  assert.equal(row.status, 200);
  assert.equal(row.usage_estimated, false);

  const missing = await fetch(`${gw.url}/api/v1/generation?id=gen-0-nope`);
  assert.equal(missing.status, 404);
  const bad = await fetch(`${gw.url}/api/v1/generation`);
  assert.equal(bad.status, 400);
});
