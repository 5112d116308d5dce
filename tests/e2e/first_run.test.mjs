// SPDX-License-Identifier: MIT
// A first run with no provider configured: a local OpenAI-compatible model
// server on its default port is found and added as a provider; without
// one, a model call (503) and GET / say in one sentence how to add one.
// The probe's ports are replaced by SWITCHBOARD_LOCAL_PROBE_PORTS (the
// fake provider and test servers on ephemeral ports stand in for Ollama &
// co., never the machine's real ports).
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { setup, fetchText, waitFor, freePort } from "./lib/harness.mjs";
import { startGateway, fakeProviderConfig } from "./lib/gateway.mjs";

const { fake, lastUpstream } = setup({ config: null });

const HINT =
  "No provider is configured: set a provider's key variable such as OPENAI_API_KEY or OPENROUTER_API_KEY, " +
  "start a local model server (Ollama, llama.cpp, LM Studio or vLLM) on its default port, or pass --config FILE, " +
  "then restart switchboard.";

const chat = (gw, model) =>
  fetchText(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
  });

// The gateway logs before it prints its "listening on" line, but stderr
// and stdout are separate pipes: a log line may reach us a little later.
const logged = (gw, text) => waitFor(() => gw.logs().includes(text), `the log line "${text}"`);

// Starts a gateway from the environment alone; stops it (exit 0) after `fn`.
async function withGateway(options, fn) {
  const gw = await startGateway(options);
  try {
    await fn(gw);
  } finally {
    assert.deepEqual(await gw.stop(), { code: 0, signal: null }, gw.logs());
  }
}

test("no provider: the log, a model call's 503 and GET / say how to add one", async () => {
  await withGateway({}, async (gw) => {
    await logged(gw, HINT);
    for (const model of ["openai/gpt-4o-mini", "some/unknown-model"]) {
      const r = await chat(gw, model);
      assert.equal(r.status, 503);
      assert.equal(r.json.error.message, HINT);
    }
    const root = await fetchText(`${gw.url}/`);
    assert.equal(root.status, 200);
    assert.equal(root.json.providers, 0);
    assert.equal(root.json.setup, HINT);
    assert.ok(root.json.endpoints.includes("POST /v1/chat/completions"));
  });
});

test("a local server that answers on its port is added as a provider, and serves", async () => {
  await withGateway(
    { env: { SWITCHBOARD_LOCAL_PROBE_PORTS: `ollama=${fake.port}`, SWITCHBOARD_LOG: "info" } },
    async (gw) => {
      await logged(gw, `found Ollama on 127.0.0.1:${fake.port}: added as provider 'ollama' (http://127.0.0.1:${fake.port}/v1;`);
      const probe = (await fake.requests()).find((q) => q.method === "GET");
      assert.equal(probe.path, "/v1/models");
      const root = await fetchText(`${gw.url}/`);
      assert.equal(root.json.providers, 1);
      assert.equal(root.json.setup, undefined);
      const r = await chat(gw, "ollama/llama3.2");
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.choices[0].message.content, "echo: hi");
      const up = await lastUpstream();
      assert.equal(up.path, "/v1/chat/completions");
      assert.equal(up.json.model, "llama3.2");
    },
  );
});

test("ports where no model server answers add nothing", async () => {
  // one answers HTTP but is no model server, one has nothing listening
  const web = http.createServer((req, res) => res.writeHead(404).end("not here"));
  await new Promise((r) => web.listen(0, "127.0.0.1", r));
  const closed = await freePort();
  try {
    await withGateway(
      {
        env: {
          SWITCHBOARD_LOCAL_PROBE_PORTS: `vllm=${web.address().port},llamacpp=${closed}`,
          SWITCHBOARD_LOG: "info",
        },
      },
      async (gw) => {
        await logged(gw, HINT);
        assert.equal((await fetchText(`${gw.url}/`)).json.providers, 0);
        assert.equal((await chat(gw, "vllm/x")).status, 503);
      },
    );
  } finally {
    await new Promise((r) => web.close(r));
  }
});

test("with a provider configured no local server is looked for", async () => {
  await withGateway(
    {
      config: { providers: { openai: fakeProviderConfig(fake) } },
      env: { SWITCHBOARD_LOCAL_PROBE_PORTS: `ollama=${fake.port}`, SWITCHBOARD_LOG: "info" },
    },
    async (gw) => {
      // the probe would have asked the fake before the gateway listened
      assert.deepEqual(await fake.requests(), []);
      assert.equal((await fetchText(`${gw.url}/`)).json.providers, 1);
      const r = await chat(gw, "ollama/llama3.2");
      assert.equal(r.status, 404);
    },
  );
});
