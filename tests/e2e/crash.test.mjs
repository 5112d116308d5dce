// SPDX-License-Identifier: MIT
// Nothing lost: the gateway is killed under load (kill -9) and restarted on
// the same ledger; every request whose client got the complete response is
// looked up. With `durable: true` none may be missing; the default mode's
// figure is reported. A SIGTERM under load loses nothing in either mode.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway, fakeProviderConfig } from "./lib/gateway.mjs";
import { setup } from "./lib/harness.mjs";

const MODEL = "openai/gpt-4o-mini";
// the gateways are started by each test, on ledgers it keeps
const { fake } = setup({
  config: null,
  reset: false,
  // a little latency so that many requests are in flight at any moment
  started: ({ fake }) =>
    fake.setDefault({ chunks: ["a ", "b ", "c"], first_token_ms: 5, token_interval_ms: 2, latency_ms: 3 }),
});
const dirs = [];

after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function ledgerPath() {
  const d = mkdtempSync(join(tmpdir(), "sb-crash-"));
  dirs.push(d);
  return join(d, "ledger.db");
}

async function gateway(db, durable) {
  return startGateway({
    config: { database: `sqlite:${db}`, durable, workers: 2, providers: { openai: fakeProviderConfig(fake) } },
  });
}

// One request; resolves to its generation id only if the client received
// the complete response (the whole JSON body, or a stream through [DONE]
// and its terminating chunk), else null.
async function oneRequest(url, stream, i) {
  try {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, stream, max_tokens: 16, messages: [{ role: "user", content: `request ${i}` }] }),
    });
    const text = await res.text(); // rejects if the connection is cut
    if (res.status !== 200) return null;
    if (stream) return text.endsWith("data: [DONE]\n\n") ? res.headers.get("x-generation-id") : null;
    return JSON.parse(text).id;
  } catch {
    return null;
  }
}

// `clients` loops of requests until `stop()`; returns the completed ids.
function load(url, clients) {
  const completed = [];
  let running = true, n = 0, started = 0;
  const loops = Array.from({ length: clients }, async (_, c) => {
    while (running) {
      started++;
      const id = await oneRequest(url, (n++ + c) % 2 === 0, n);
      if (id) completed.push(id);
    }
  });
  return {
    completed,
    started: () => started,
    async stop() {
      running = false;
      await Promise.all(loops);
      return completed;
    },
  };
}

async function missingRows(db, ids) {
  const gw = await gateway(db, false);
  let missing = 0;
  try {
    // in batches, to keep the number of connections small
    for (let i = 0; i < ids.length; i += 25) {
      const r = await Promise.all(
        ids.slice(i, i + 25).map((id) => fetch(`${gw.url}/api/v1/generation?id=${id}`).then((x) => x.status)),
      );
      for (const s of r) {
        assert.ok(s === 200 || s === 404, `lookup status ${s}`);
        if (s === 404) missing++;
      }
    }
  } finally {
    await gw.stop();
  }
  return missing;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function killRun(durable) {
  const db = ledgerPath();
  const gw = await gateway(db, durable);
  const l = load(gw.url, 24);
  await sleep(1500);
  gw.proc.kill("SIGKILL");
  const completed = await l.stop();
  await gw.stop();
  const rate = completed.length / 1.5;
  return { completed: completed.length, started: l.started(), missing: await missingRows(db, completed), rate };
}

test("kill -9 under load with durable: true loses no completed request's row", async (t) => {
  const r = await killRun(true);
  t.diagnostic(`durable: ${r.completed} completed of ${r.started} started, ${r.missing} rows missing after kill -9 (${r.rate.toFixed(0)} req/s)`);
  assert.ok(r.completed > 50, `only ${r.completed} requests completed`);
  assert.equal(r.missing, 0);
});

test("kill -9 under load in the default mode: the figure", async (t) => {
  const r = await killRun(false);
  t.diagnostic(`default: ${r.completed} completed of ${r.started} started, ${r.missing} rows missing after kill -9 (${r.rate.toFixed(0)} req/s)`);
  assert.ok(r.completed > 50, `only ${r.completed} requests completed`);
  // not asserted to be zero: rows still in the queue when the process dies
  // are lost in this mode, by design (docs/accounts.md)
  assert.ok(r.missing <= r.completed);
});

for (const durable of [false, true]) {
  test(`SIGTERM under load loses nothing (durable: ${durable})`, async (t) => {
    const db = ledgerPath();
    const gw = await gateway(db, durable);
    const l = load(gw.url, 16);
    await sleep(700);
    gw.proc.kill("SIGTERM");
    const exit = await gw.exited;
    const completed = await l.stop();
    await gw.stop();
    assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}`);
    const missing = await missingRows(db, completed);
    t.diagnostic(`${completed.length} completed, ${missing} missing after SIGTERM`);
    assert.ok(completed.length > 20);
    assert.equal(missing, 0);
  });
}
