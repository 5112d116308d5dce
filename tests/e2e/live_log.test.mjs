// SPDX-License-Identifier: MIT
// The live request feed, GET /api/v1/admin/logs/live (docs/observability.md,
// "The live request feed"): server-sent events, each `data:` line one
// access record as JSON (the access log's fields), filtered by the query;
// the admin key only; a subscriber that does not read loses lines (counted,
// and told with an `event: dropped`), never slowing requests; every feed
// ends when the gateway stops.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway } from "./lib/gateway.mjs";
import { setup, fakeProviderConfig, fetchText, waitFor } from "./lib/harness.mjs";

const ADMIN = "sk-admin-e2e-live";
const MODEL = "openai/gpt-4o-mini";
const dir = mkdtempSync(join(tmpdir(), "sb-live-"));
const logFile = join(dir, "access.log");
after(() => rmSync(dir, { recursive: true, force: true }));

const h = setup({
  config: (fake) => ({ admin_key: ADMIN, log: { file: logFile }, providers: { openai: fakeProviderConfig(fake) } }),
});
const { fake, gw } = h;

/** An open feed: its events one by one ({ event, data }), then close(). */
async function openFeed(g, query = "", key = ADMIN) {
  const ac = new AbortController();
  const res = await fetch(`${g.url}/api/v1/admin/logs/live${query}`, {
    headers: key ? { authorization: `Bearer ${key}` } : {},
    signal: ac.signal,
  });
  if (res.status !== 200) return { status: res.status, body: await res.text() };
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  let ended = false;
  return {
    status: 200,
    headers: res.headers,
    /** The next event (comments skipped); null once the stream ended. */
    async next() {
      for (;;) {
        const end = buf.indexOf("\n\n");
        if (end >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const ev = { event: "message", data: null };
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) ev.event = line.slice(7);
            if (line.startsWith("data: ")) ev.data = JSON.parse(line.slice(6));
          }
          if (ev.data !== null) return ev;
          continue;
        }
        if (ended) return null;
        const { value, done } = await reader.read();
        if (done) ended = true;
        else buf += decoder.decode(value, { stream: true });
      }
    },
    close: () => ac.abort(),
  };
}

async function chat(g, model = MODEL, key = ADMIN) {
  return fetchText(`${g.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
  });
}

test("the admin key only: 401 without a key, 403 with a client key, 400 for a bad filter", async () => {
  const created = await fetchText(`${gw.url}/api/v1/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "not-an-admin" }),
  });
  assert.equal((await openFeed(gw, "", null)).status, 401);
  const asClient = await openFeed(gw, "", created.json.key);
  assert.equal(asClient.status, 403);
  assert.match(asClient.body, /admin key/);
  const badFilter = await openFeed(gw, "?status=7xx");
  assert.equal(badFilter.status, 400);
  assert.equal((await fetchText(`${gw.url}/api/v1/admin/logs/live`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` } })).status, 405);
});

test("each data line is the request's access record, as the access log has it", async () => {
  const feed = await openFeed(gw);
  try {
    assert.equal(feed.headers.get("content-type"), "text/event-stream");
    assert.equal(feed.headers.get("cache-control"), "no-cache");
    const r = await chat(gw);
    assert.equal(r.status, 200);
    let ev;
    while ((ev = await feed.next()).data.id !== r.json.id);
    assert.equal(ev.event, "message");
    assert.equal(ev.data.door, "chat");
    assert.equal(ev.data.model, MODEL);
    const line = await waitFor(
      () => readFileSync(logFile, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.id === r.json.id),
      "the access log's line",
    );
    assert.deepEqual(ev.data, line);
  } finally {
    feed.close();
  }
});

test("filters: model, provider, key, door and status classes", async () => {
  const byModel = await openFeed(gw, "?model=openai/gpt-4o");
  const errors = await openFeed(gw, "?status=4xx,5xx");
  const admin = await openFeed(gw, "?key=admin&provider=openai&door=chat&status=2xx");
  try {
    assert.equal((await chat(gw, "openai/gpt-4o-mini")).status, 200);
    assert.equal((await chat(gw, "openai/gpt-4o")).status, 200);
    assert.equal((await chat(gw, MODEL, "sk-not-a-key")).status, 401);
    assert.equal((await chat(gw, "nobody/none")).status, 404);
    await fake.script([{ status: 500 }]);
    assert.equal((await chat(gw, MODEL)).status, 502);
    // one more gpt-4o request: the model feed lets two records through, the
    // admin feed three (records of different workers come in any order)
    const marker = await chat(gw, "openai/gpt-4o");
    const take = async (feed, n) => {
      const got = [];
      for (let i = 0; i < n; i++) got.push((await feed.next()).data);
      return got;
    };
    const models = await take(byModel, 2);
    assert.deepEqual(models.map((d) => d.model), ["openai/gpt-4o", "openai/gpt-4o"]);
    assert.ok(models.some((d) => d.id === marker.json.id));
    const admins = await take(admin, 3);
    assert.deepEqual(admins.map((d) => d.model).sort(), ["openai/gpt-4o", "openai/gpt-4o", "openai/gpt-4o-mini"]);
    for (const d of admins) assert.deepEqual([d.key, d.provider, d.door, d.status], ["admin", "openai", "chat", 200]);
    // the errors feed: the 401, the 404 and the 502, and nothing between
    // (in any order: workers' records are not ordered among each other)
    const errs = [];
    for (let i = 0; i < 3; i++) errs.push((await errors.next()).data);
    errs.sort((a, b) => a.status - b.status);
    assert.deepEqual(errs.map((d) => [d.status, d.error_type]), [
      [401, "authentication"],
      [404, "not_found"],
      [502, "provider_unavailable"],
    ]);
  } finally {
    byModel.close();
    errors.close();
    admin.close();
  }
});

test("a subscriber that does not read loses lines, counted and told; requests are still answered", async () => {
  // a raw connection that stops reading once the feed started
  const sock = net.connect(gw.port, "127.0.0.1");
  await new Promise((r) => sock.once("connect", r));
  let got = "";
  sock.on("data", (d) => (got += d.toString("latin1")));
  sock.write(`GET /api/v1/admin/logs/live?door=other HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN}\r\n\r\n`);
  await waitFor(() => got.includes("switchboard live request log"), "the feed's start");
  sock.pause();
  const dropped = async () => {
    const m = /^switchboard_live_log_dropped_total (\d+)$/m.exec((await fetchText(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text);
    return Number(m[1]);
  };
  // long 404 paths make long lines: a few thousand fill the socket, the
  // connection's queue and the feed's own
  const path = `/v1/${"x".repeat(480)}`;
  const agent = { headers: { connection: "keep-alive" } };
  let sent = 0;
  while ((await dropped()) === 0) {
    assert.ok(sent < 40000, "lines were dropped before 40000 requests");
    await Promise.all(
      Array.from({ length: 50 }, async () => assert.equal((await fetchText(`${gw.url}${path}`, agent)).status, 404)),
    );
    sent += 50;
  }
  // reading again: the next line delivered is preceded by the count lost.
  // Until the backlog has drained, a new line finds the feed's queue still
  // full and is lost too (counted with the rest): requests go on, one at a
  // time, until a line gets through
  sock.resume();
  const m = await waitFor(async () => {
    await fetchText(`${gw.url}${path}`);
    return /event: dropped\ndata: \{"dropped":(\d+)\}\n\n/.exec(got);
  }, "the dropped event", 30000);
  assert.ok(Number(m[1]) > 0);
  sock.destroy();
});

test("the gateway stops: every feed ends at once, and it exits cleanly", async () => {
  const g = await startGateway({ config: { providers: { openai: fakeProviderConfig(fake) } } });
  const a = await openFeed(g);
  const b = await openFeed(g, "?status=5xx");
  const stopped = g.stop();
  assert.equal(await a.next(), null);
  assert.equal(await b.next(), null);
  assert.deepEqual(await stopped, { code: 0, signal: null });
});
