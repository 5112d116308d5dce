// SPDX-License-Identifier: MIT
// The official OpenRouter SDK against switchboard: its response schemas are
// strict, so this checks the gateway's shapes as much as its behaviour.
import { test } from "node:test";
import assert from "node:assert/strict";
import { OpenRouter } from "@openrouter/sdk";
import { setup } from "./lib/harness.mjs";

let or;
const { fake } = setup({
  started: ({ gw }) => {
    or = new OpenRouter({
      apiKey: "any",
      serverURL: `${gw.url}/api/v1`,
      httpReferer: "https://sdk-test.example",
      appTitle: "SDK Test",
    });
  },
});

test("chat.send, non-stream", async () => {
  const r = await or.chat.send({
    chatRequest: {
      model: "openai/gpt-4o-mini",
      messages: [{ role: "user", content: "Hello SDK" }],
      temperature: 0.2,
    },
  });
  assert.equal(r.choices[0].message.content, "echo: Hello SDK");
  assert.equal(r.choices[0].finishReason, "stop");
  assert.match(r.id, /^gen-/);
  assert.equal(r.model, "openai/gpt-4o-mini");
  assert.ok(r.usage.totalTokens > 0);
  assert.equal(typeof r.usage.cost, "number");
  const up = (await fake.requests()).at(-1);
  assert.equal(up.json.model, "gpt-4o-mini");
  assert.equal(up.json.temperature, 0.2);
});

test("chat.send, streamed", async () => {
  await fake.script([{ chunks: ["Hello ", "from ", "the stream"] }]);
  const stream = await or.chat.send({
    chatRequest: {
      model: "openai/gpt-4o-mini",
      messages: [{ role: "user", content: "x" }],
      stream: true,
    },
  });
  let text = "";
  let usage = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? "";
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, "Hello from the stream");
  assert.ok(usage && usage.promptTokens > 0 && typeof usage.cost === "number");
});

test("chat.send with tools", async () => {
  await fake.script([{ tool_calls: [{ id: "call_or", name: "lookup", arguments: '{"q":"x"}' }] }]);
  const r = await or.chat.send({
    chatRequest: {
      model: "openai/gpt-4o-mini",
      messages: [{ role: "user", content: "look it up" }],
      tools: [
        {
          type: "function",
          function: { name: "lookup", parameters: { type: "object", properties: { q: { type: "string" } } } },
        },
      ],
    },
  });
  assert.equal(r.choices[0].finishReason, "tool_calls");
  assert.equal(r.choices[0].message.toolCalls[0].function.name, "lookup");
  assert.equal(r.choices[0].message.toolCalls[0].function.arguments, '{"q":"x"}');
});

test("an error surfaces as the SDK's error with the status", async () => {
  await fake.script([{ status: 429, retry_after: 2 }]);
  await assert.rejects(
    or.chat.send({
      chatRequest: { model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "x" }] },
    }),
    (e) => {
      assert.equal(e.statusCode ?? e.status, 429);
      return true;
    },
  );
});
