// SPDX-License-Identifier: MIT
// The access log (docs/observability.md, "The access log"): one line per
// request on every door, JSON by default, never a secret, written by the
// operations thread to `log.file` (reopened on SIGUSR1) or to stderr, as
// text when asked, and nothing with `access: false`.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, existsSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway } from "./lib/gateway.mjs";
import { setup, fakeProviderConfig, waitFor, fetchText, skillChat } from "./lib/harness.mjs";

const ADMIN = "sk-admin-e2e-access";
const MODEL = "openai/gpt-4o-mini";
const msgs = [{ role: "user", content: "hello" }];
const dir = mkdtempSync(join(tmpdir(), "sb-access-"));
const logFile = join(dir, "access.log");
after(() => rmSync(dir, { recursive: true, force: true }));

const h = setup({
  config: (fake) => ({ admin_key: ADMIN, log: { file: logFile }, providers: { openai: fakeProviderConfig(fake) } }),
});
const { fake, gw } = h;

function lines(file = logFile) {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** The line for which `pick` holds, once written. */
const lineWhere = (pick, what, file = logFile) => waitFor(() => lines(file).find(pick), what);

async function createKey(name) {
  const r = await fetchText(`${gw.url}/api/v1/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify({ name }),
  });
  assert.equal(r.status, 201, r.text);
  return r.json.key;
}

test("every door writes one JSON line per request, with the fields an operator needs and no secret", async () => {
  const secret = await createKey("access-team");
  const asTeam = h.openai({ apiKey: secret, defaultHeaders: { "x-agent": "cursor" } });
  const asAdmin = h.openai({ apiKey: ADMIN });

  const chat = await asTeam.chat.completions.create({ model: MODEL, messages: msgs });
  const stream = await asAdmin.chat.completions.create({ model: MODEL, messages: msgs, stream: true });
  let streamId;
  for await (const c of stream) streamId = c.id;
  const msg = await h.anthropic({ apiKey: ADMIN }).messages.create({ model: MODEL, max_tokens: 50, messages: msgs });
  const emb = await asAdmin.embeddings.create({ model: "openai/text-embedding-3-small", input: "hi" });
  const skill = await skillChat(gw, { model: MODEL, messages: msgs }, { authorization: `Bearer ${ADMIN}` });
  assert.equal(skill.status, 200);
  const bad = await fetchText(`${gw.url}/v1/chat/completions?key=not-logged`, {
    method: "POST",
    headers: { authorization: "Bearer sk-wrong", "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL, messages: msgs }),
  });
  assert.equal(bad.status, 401);
  assert.equal((await fetchText(`${gw.url}/v1/nothing-here`, { headers: { authorization: `Bearer ${ADMIN}` } })).status, 404);
  assert.equal((await fetchText(`${gw.url}/api/v1/keys`, { headers: { authorization: `Bearer ${ADMIN}` } })).status, 200);

  const l = await lineWhere((x) => x.id === chat.id, "the chat line");
  assert.equal(l.door, "chat");
  assert.equal(l.method, "POST");
  assert.equal(l.path, "/v1/chat/completions");
  assert.equal(l.status, 200);
  assert.equal(l.model_requested, MODEL);
  assert.equal(l.model, MODEL);
  assert.equal(l.provider, "openai");
  assert.equal(l.attempts, 1);
  assert.equal(l.key, "access-team");
  assert.equal(l.agent, "cursor");
  assert.equal(l.prompt_tokens, chat.usage.prompt_tokens);
  assert.equal(l.completion_tokens, chat.usage.completion_tokens);
  assert.equal(l.cached_tokens, 0);
  assert.equal(l.reasoning_tokens, 0);
  assert.equal(l.cost, chat.usage.cost);
  assert.equal(l.finish_reason, "stop");
  assert.equal(l.error_type, null);
  assert.equal(l.stream, false);
  assert.equal(typeof l.latency_ms, "number");
  assert.ok(l.ttft_ms <= l.latency_ms);
  assert.ok(Number.isInteger(l.overhead_us) && l.overhead_us >= 0);
  assert.ok(Math.abs(Date.parse(l.time) - Date.now()) < 600_000, l.time);

  const s = await lineWhere((x) => x.id === streamId, "the stream's line");
  assert.deepEqual([s.door, s.stream, s.key, s.status, s.finish_reason], ["chat", true, "admin", 200, "stop"]);
  assert.ok(s.completion_tokens > 0);

  const m = await lineWhere((x) => x.door === "messages", "the messages line");
  assert.deepEqual([m.path, m.status, m.model, m.provider], ["/v1/messages", 200, MODEL, "openai"]);
  assert.equal(m.prompt_tokens, msg.usage.input_tokens);

  const e = await lineWhere((x) => x.door === "embeddings", "the embeddings line");
  assert.deepEqual([e.status, e.model, e.completion_tokens], [200, "openai/text-embedding-3-small", 0]);
  assert.equal(e.prompt_tokens, emb.usage.prompt_tokens);

  const k = await lineWhere((x) => x.door === "skill", "the skill line");
  assert.deepEqual([k.path, k.status, k.key], ["/api/skills/openrouter/chat", 200, "admin"]);

  const u = await lineWhere((x) => x.status === 401, "the 401 line");
  assert.deepEqual([u.door, u.path, u.id, u.key, u.error_type], ["chat", "/v1/chat/completions", null, null, "authentication"]);

  const n = await lineWhere((x) => x.status === 404, "the 404 line");
  // an unknown path is answered before anyone is asked who calls
  assert.deepEqual([n.door, n.path, n.error_type, n.key], ["other", "/v1/nothing-here", "not_found", null]);

  const a = await lineWhere((x) => x.door === "admin" && x.method === "GET", "the admin line");
  assert.deepEqual([a.path, a.status, a.key], ["/api/v1/keys", 200, "admin"]);

  // each line is one request: the key creation too, and nothing twice
  const all = lines();
  assert.equal(all.filter((x) => x.id === chat.id).length, 1);
  assert.equal(all.filter((x) => x.door === "admin" && x.method === "POST").length, 1);
  const text = readFileSync(logFile, "utf8");
  for (const s of [ADMIN, secret, "sk-fake-upstream", "not-logged", "sk-wrong"])
    assert.ok(!text.includes(s), `the log holds no secret (${s.slice(0, 8)}...)`);
});

test("a client that goes away before the answer: 499, cancelled", async () => {
  await fake.script([{ content: "late", latency_ms: 5000 }]);
  const ac = new AbortController();
  const p = fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "abandoned" }] }),
    signal: ac.signal,
  });
  await waitFor(async () => (await fake.requests()).length > 0, "the upstream request");
  ac.abort();
  await assert.rejects(p);
  const l = await lineWhere((x) => x.status === 499, "the cancelled request's line");
  assert.deepEqual([l.door, l.error_type, l.finish_reason, l.provider], ["chat", "cancelled", "cancelled", "openai"]);
  assert.match(l.id, /^gen-/);
});

test("SIGUSR1 reopens the file: after a rotation, new lines go to a new file", async () => {
  const before = await h.openai({ apiKey: ADMIN }).chat.completions.create({ model: MODEL, messages: msgs });
  await lineWhere((x) => x.id === before.id, "the line before the rotation");
  renameSync(logFile, `${logFile}.1`);
  gw.proc.kill("SIGUSR1");
  await waitFor(() => existsSync(logFile), "the reopened file");
  const afterRot = await h.openai({ apiKey: ADMIN }).chat.completions.create({ model: MODEL, messages: msgs });
  await lineWhere((x) => x.id === afterRot.id, "the line after the rotation");
  const old = lines(`${logFile}.1`);
  assert.ok(old.some((x) => x.id === before.id));
  assert.ok(!old.some((x) => x.id === afterRot.id));
  assert.ok(!lines().some((x) => x.id === before.id));
});

test("format text, to stderr: key=value lines", async () => {
  const g = await startGateway({ config: { log: { format: "text" }, providers: { openai: fakeProviderConfig(fake) } } });
  try {
    const r = await fetchText(`${g.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-agent": "two words" },
      body: JSON.stringify({ model: MODEL, messages: msgs }),
    });
    assert.equal(r.status, 200);
    const line = await waitFor(() => g.logs().split("\n").find((l) => l.includes(`id=${r.json.id}`)), "the text line");
    assert.match(
      line,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z status=200 door=chat method=POST path=\/v1\/chat\/completions id=gen-\S+ model_requested=openai\/gpt-4o-mini model=openai\/gpt-4o-mini provider=openai attempts=1 key=local agent="two words" prompt_tokens=\d+ completion_tokens=\d+ cached_tokens=0 reasoning_tokens=0 cost=[\d.]+ latency_ms=[\d.]+ ttft_ms=[\d.]+ overhead_us=\d+ finish_reason=stop error_type=- stream=false$/,
    );
  } finally {
    assert.deepEqual(await g.stop(), { code: 0, signal: null });
  }
});

test("access: false writes no line (the record still reaches a live feed)", async () => {
  const quiet = join(dir, "quiet.log");
  const g = await startGateway({ config: { log: { access: false, file: quiet }, providers: { openai: fakeProviderConfig(fake) } } });
  const ac = new AbortController();
  try {
    const live = await fetch(`${g.url}/api/v1/admin/logs/live?door=chat`, { signal: ac.signal });
    assert.equal(live.status, 200);
    const reader = live.body.getReader();
    const r = await fetchText(`${g.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, messages: msgs }),
    });
    let got = "";
    while (!got.includes(r.json.id)) {
      const { value, done } = await reader.read();
      assert.ok(!done, "the feed ended");
      got += new TextDecoder().decode(value);
    }
    const metrics = (await fetchText(`${g.url}/metrics`)).text;
    assert.match(metrics, /^switchboard_access_log_lines_total 0$/m);
    assert.ok(!existsSync(quiet), "no file is opened");
  } finally {
    ac.abort();
    assert.deepEqual(await g.stop(), { code: 0, signal: null });
  }
});

test("a log file that cannot be opened stops the start, with the reason", async () => {
  await assert.rejects(
    startGateway({ config: { log: { file: join(dir, "missing", "x.log") }, providers: { openai: fakeProviderConfig(fake) } } }),
    /cannot open the access log .*missing\/x\.log: No such file or directory/,
  );
});
