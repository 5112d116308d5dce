// SPDX-License-Identifier: MIT
// Cheap-first escalation (docs/routing.md): the router model id
// `switchboard/auto` climbs a ladder of models, cheap to strong, when an
// answer is cut by `length`, has tool arguments that are not JSON or do not
// fit the tool's schema, is empty, or the upstream fails. The reply says
// which rung answered (model, X-Switchboard-Rung) and what the rungs below
// cost (X-Switchboard-Escalation-Cost); the ledger bills both.
import { test } from "node:test";
import assert from "node:assert/strict";
import { switchboardBin } from "./lib/gateway.mjs";
import { setup, fetchText, ledgerRow } from "./lib/harness.mjs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const NANO = "openai/gpt-4.1-nano";
const MINI = "openai/gpt-4.1-mini";
const TOP = "openai/gpt-4o";

const h = setup({
  config: (fake) => ({
    escalation: { ladder: [NANO, MINI, TOP] },
    providers: {
      // no retries: an upstream error climbs the ladder at once
      openai: { format: "openai", base_url: `${fake.url}/v1`, api_key: "sk-x", retry: { attempts: 0 } },
    },
  }),
});
const { fake, gw } = h;
const client = h.openai({ apiKey: "k" });

const msgs = [{ role: "user", content: "hi" }];
const on = (upstream, over) => ({ match: { model: upstream }, ...over });
const weatherTool = {
  type: "function",
  function: {
    name: "get_weather",
    parameters: {
      type: "object",
      properties: { city: { type: "string" }, unit: { type: "string", enum: ["c", "f"] } },
      required: ["city"],
    },
  },
};

const post = (path, body) =>
  fetchText(`${gw.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

const generation = (id) => ledgerRow(gw, id);

const upstreamModels = async () => (await fake.requests()).map((r) => r.json.model);

test("the cheapest rung answers when its answer is fine", async () => {
  const { data, response } = await client.chat.completions
    .create({ model: "switchboard/auto", messages: msgs })
    .withResponse();
  assert.equal(data.model, NANO);
  assert.equal(response.headers.get("x-switchboard-rung"), "1");
  assert.equal(response.headers.get("x-switchboard-escalation-cost"), "0");
  assert.deepEqual(await upstreamModels(), ["gpt-4.1-nano"]);
});

test("a `length` stop climbs; the ledger bills both rungs", async () => {
  await fake.script([on("gpt-4.1-nano", { finish_reason: "length", content: "cut sh" })]);
  const r = await post("/v1/chat/completions", { model: "switchboard/auto", messages: msgs });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.model, MINI);
  assert.equal(r.json.choices[0].finish_reason, "stop");
  assert.equal(r.headers.get("x-switchboard-rung"), "2");
  const discarded = Number(r.headers.get("x-switchboard-escalation-cost"));
  assert.ok(discarded > 0);
  assert.deepEqual(await upstreamModels(), ["gpt-4.1-nano", "gpt-4.1-mini"]);
  const row = await generation(r.json.id);
  assert.equal(row.model, MINI);
  assert.equal(row.requested_model, "switchboard/auto");
  assert.ok(Math.abs(row.total_cost - (r.json.usage.cost + discarded)) < 1e-12,
    `${row.total_cost} = ${r.json.usage.cost} + ${discarded}`);
});

test("tool arguments that are not JSON climb", async () => {
  await fake.script([
    on("gpt-4.1-nano", { tool_calls: [{ name: "get_weather", arguments: '{"city": "Par' }] }),
    on("gpt-4.1-mini", { tool_calls: [{ name: "get_weather", arguments: '{"city":"Paris"}' }] }),
  ]);
  const r = await client.chat.completions.create({ model: "switchboard/auto", messages: msgs, tools: [weatherTool] });
  assert.equal(r.model, MINI);
  assert.equal(r.choices[0].message.tool_calls[0].function.arguments, '{"city":"Paris"}');
});

test("tool arguments that do not fit the tool's schema climb", async () => {
  await fake.script([
    on("gpt-4.1-nano", { tool_calls: [{ name: "get_weather", arguments: '{"town":"Paris"}' }] }),
    on("gpt-4.1-mini", { tool_calls: [{ name: "get_weather", arguments: '{"city":"Paris","unit":"k"}' }] }),
    on("gpt-4o", { tool_calls: [{ name: "get_weather", arguments: '{"city":"Paris","unit":"c"}' }] }),
  ]);
  const r = await post("/v1/chat/completions", { model: "switchboard/auto", messages: msgs, tools: [weatherTool] });
  assert.equal(r.json.model, TOP);
  assert.equal(r.headers.get("x-switchboard-rung"), "3");
  assert.deepEqual(await upstreamModels(), ["gpt-4.1-nano", "gpt-4.1-mini", "gpt-4o"]);
});

test("an empty answer climbs; the top rung's answer stands whatever it is", async () => {
  await fake.script([
    on("gpt-4.1-nano", { content: "" }),
    on("gpt-4.1-mini", { content: "  " }),
    on("gpt-4o", { content: "" }),
  ]);
  const r = await post("/v1/chat/completions", { model: "switchboard/auto", messages: msgs });
  assert.equal(r.status, 200);
  assert.equal(r.json.model, TOP);
  assert.equal(r.json.choices[0].message.content, "");
});

test("when the top rung fails, the client gets its error and the key pays the lower rungs", async () => {
  await fake.script([
    on("gpt-4.1-nano", { content: "" }),
    on("gpt-4.1-mini", { finish_reason: "length" }),
    on("gpt-4o", { status: 500 }),
  ]);
  const r = await post("/v1/chat/completions", { model: "switchboard/auto", messages: msgs });
  assert.equal(r.status, 502, r.text);
  const row = await generation(r.headers.get("x-generation-id"));
  assert.equal(row.status, 502);
  assert.ok(row.total_cost > 0, "the discarded rungs were spent upstream");
});

test("an upstream error climbs, also for a stream before its first byte", async () => {
  await fake.script([on("gpt-4.1-nano", { status: 503 }), on("gpt-4.1-mini", { chunks: ["a ", "b"] })]);
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "switchboard/auto", messages: msgs, stream: true }),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-switchboard-rung"), "2");
  const text = await res.text();
  assert.match(text, /"model":"openai\/gpt-4.1-mini"/);
  assert.doesNotMatch(text, /gpt-4.1-nano/);
});

async function streamText(body) {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...body, stream: true }),
  });
  const raw = await res.text();
  const events = raw
    .split("\n\n")
    .filter((e) => e.startsWith("data: ") && e !== "data: [DONE]")
    .map((e) => JSON.parse(e.slice(6)));
  const text = events.map((e) => e.choices?.[0]?.delta?.content ?? "").join("");
  return { res, raw, events, text };
}

test("a stream that ends empty climbs before its first byte", async () => {
  await fake.script([on("gpt-4.1-nano", { content: "", chunks: [] }), on("gpt-4.1-mini", { chunks: ["a ", "b"] })]);
  const { res, raw, text, events } = await streamText({ model: "switchboard/auto", messages: msgs });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-switchboard-rung"), "2");
  assert.equal(text, "a b");
  assert.doesNotMatch(raw, /gpt-4.1-nano/);
  assert.equal(events.filter((e) => e.choices?.[0]?.delta?.role === "assistant").length, 1);
  assert.deepEqual(await upstreamModels(), ["gpt-4.1-nano", "gpt-4.1-mini"]);
});

test("a stream with output is held only until its first content", async () => {
  await fake.script([on("gpt-4.1-nano", { chunks: ["x ", "y ", "z"], token_interval_ms: 20 })]);
  const { res, text, events } = await streamText({ model: "switchboard/auto", messages: msgs });
  assert.equal(res.headers.get("x-switchboard-rung"), "1");
  assert.equal(text, "x y z");
  assert.equal(events.at(-1).choices.length, 0); // the usage chunk ends it
  assert.ok(events.at(-1).usage.cost > 0);
  assert.deepEqual(await upstreamModels(), ["gpt-4.1-nano"]);
});

test("the request's `models` is the ladder when given", async () => {
  await fake.script([on("gpt-4o-mini", { finish_reason: "length" })]);
  const r = await post("/v1/chat/completions", {
    model: "switchboard/auto",
    models: ["openai/gpt-4o-mini", "openai/gpt-4.1"],
    messages: msgs,
  });
  assert.equal(r.json.model, "openai/gpt-4.1");
  assert.deepEqual(await upstreamModels(), ["gpt-4o-mini", "gpt-4.1"]);
});

test("an ordinary model does not escalate on content", async () => {
  await fake.script([on("gpt-4.1-nano", { finish_reason: "length" })]);
  const r = await post("/v1/chat/completions", { model: NANO, models: [MINI], messages: msgs });
  assert.equal(r.json.model, NANO);
  assert.equal(r.json.choices[0].finish_reason, "length");
  assert.equal(r.headers.get("x-switchboard-rung"), null);
});

test("skill contract: switchboard/auto climbs the same way", async () => {
  await fake.script([on("gpt-4.1-nano", { content: "" })]);
  const r = await post("/api/skills/openrouter/chat", { model: "switchboard/auto", messages: msgs });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.content, "echo: hi");
  assert.deepEqual(await upstreamModels(), ["gpt-4.1-nano", "gpt-4.1-mini"]);
});

test("the ledger records the rung; `switchboard usage` shows the spend saved", async () => {
  await fake.script([on("gpt-4.1-nano", { finish_reason: "length" })]);
  const a = await post("/v1/chat/completions", { model: "switchboard/auto", messages: msgs });
  const b = await post("/v1/chat/completions", { model: "switchboard/auto", messages: msgs });
  await generation(a.json.id);
  await generation(b.json.id);
  const out = spawnSync(switchboardBin, ["usage", "--database", `sqlite:${join(gw.dir, "ledger.db")}`], {
    encoding: "utf8",
    env: { PATH: process.env.PATH, ASAN_OPTIONS: process.env.ASAN_OPTIONS ?? "" },
  });
  assert.equal(out.status, 0, out.stderr);
  const line = out.stdout.split("\n").find((l) => l.startsWith("ESCALATION"));
  assert.ok(line, out.stdout);
  // every switchboard/auto request so far (this file's), of which these two
  const m = line.match(/(\d+) requests: spent \$([\d.]+) \(\$([\d.]+) on rungs .*top rung alone: \$([\d.]+); saved (-?)\$([\d.]+)/);
  assert.ok(m, line);
  const [spent, lower, top, neg, saved] = [Number(m[2]), Number(m[3]), Number(m[4]), m[5], Number(m[6])];
  assert.ok(Number(m[1]) >= 2);
  assert.ok(lower > 0 && lower < spent);
  assert.ok(Math.abs((neg ? -saved : saved) - (top - spent)) < 1e-9, line);
  assert.ok(top > spent, "cheap first costs less than the top rung here");
});
