// SPDX-License-Identifier: MIT
// Live reload (README, "Live reload"): POST /api/v1/admin/reload and SIGHUP
// read the config file again. New requests run with the new providers,
// models, keys, limits and routing settings; a stream in flight finishes on
// the config it started with; a file that does not load, or whose catalog
// cannot be built, is refused with the reason and the config in use stays;
// settings only a restart can change are kept, and the answer says so.
import { test, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { startGateway, toYaml } from "./lib/gateway.mjs";
import { startFakeProvider } from "./lib/fake_provider.mjs";
import { setup, fakeProviderConfig, fetchText, waitFor } from "./lib/harness.mjs";

const ADMIN = "sk-admin-reload-first";
const ADMIN2 = "sk-admin-reload-second";
const MODEL = "openai/gpt-4o-mini";

// A second provider, reached only through a reloaded config.
const second = {};
const base = (fake) => ({ admin_key: ADMIN, providers: { openai: fakeProviderConfig(fake) } });
const h = setup({
  config: base,
  started: async () => Object.assign(second, await startFakeProvider()),
});
const { fake, gw } = h;
after(async () => {
  const exit = await second.stop?.();
  if (exit) assert.deepEqual(exit, { code: 0, signal: null });
});

let adminNow = ADMIN; // the admin key of the config in use

/** Replace the gateway's config file: `cfg` as YAML, or raw text. */
function writeConfig(cfg) {
  const path = join(gw.dir, "switchboard.yaml");
  const text =
    typeof cfg === "string" ? cfg : toYaml({ database: `sqlite:${join(gw.dir, "ledger.db")}`, ...cfg }) + "\n";
  writeFileSync(path, text);
}

/** POST /api/v1/admin/reload: { status, json }. */
async function reload(key = adminNow) {
  const r = await fetchText(`${gw.url}/api/v1/admin/reload`, {
    method: "POST",
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });
  return r;
}

/** Write `cfg` and reload it; asserts it took. */
async function apply(cfg) {
  writeConfig(cfg);
  const r = await reload();
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.reloaded, true);
  adminNow = cfg.admin_key ?? null;
  return r.json;
}

const client = (key = adminNow) =>
  new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key ?? "any", maxRetries: 0 });
const ask = (model = MODEL, key) =>
  client(key).chat.completions.create({ model, messages: [{ role: "user", content: "x" }] });

// every test starts from the first config, whatever the last one left
beforeEach(async () => {
  await second.reset();
  await apply(base(fake));
});

test("a reload takes effect for new requests; a stream in flight finishes on the old config", async () => {
  const chunks = Array.from({ length: 40 }, (_, i) => `w${i} `);
  await fake.script({ chunks, token_interval_ms: 100 });
  const stream = await client().chat.completions.create({
    model: MODEL,
    messages: [{ role: "user", content: "long" }],
    stream: true,
  });
  const it = stream[Symbol.asyncIterator]();
  let text = "";
  const first = await it.next(); // the stream is under way upstream
  text += first.value.choices[0]?.delta?.content ?? "";

  // the same provider name, now at the second fake with another key
  const cfg = base(fake);
  cfg.providers.openai = { ...fakeProviderConfig(second), api_key: "sk-second-upstream" };
  const res = await apply(cfg);
  assert.match(res.message, /configuration reloaded from .*switchboard\.yaml: 1 provider, \d+ models, admin key required/);
  assert.equal((await fake.stats()).active_streams, 1, "the first stream is still running");

  // a new request: the new config
  const reply = await ask();
  assert.equal(reply.choices[0].message.content, "echo: x");
  const up = (await second.requests()).at(-1);
  assert.equal(up.headers.authorization, "Bearer sk-second-upstream");
  assert.equal((await fake.requests()).length, 1, "nothing new went to the old provider");

  // the stream in flight ends on the old one, whole
  for (let r = await it.next(); !r.done; r = await it.next()) text += r.value.choices[0]?.delta?.content ?? "";
  assert.equal(text, chunks.join(""));
  const st = await waitFor(async () => {
    const s = await fake.stats();
    return s.completed + s.cancelled === 1 ? s : null;
  }, "the first stream's end upstream");
  assert.equal(st.completed, 1);
  assert.equal(st.cancelled, 0);
});

test("admin key, provider keys, providers, models, limits and retries change", async () => {
  // under the first config: no retry, and a large answer passes
  await fake.script({ status: 500 });
  await assert.rejects(ask(), (e) => e.status >= 500, "no retry yet");
  const big = "y".repeat(4000);
  await fake.script({ content: big });
  assert.equal((await ask()).choices[0].message.content, big);
  assert.equal((await fetchText(`${gw.url}/v1/models/acme/widget`, { headers: { authorization: `Bearer ${ADMIN}` } })).status, 404);

  const res = await apply({
    admin_key: ADMIN2,
    upstream: { max_body_bytes: 1024 },
    providers: {
      openai: { ...fakeProviderConfig(fake), api_key: "sk-rotated", retry: { attempts: 1, base_ms: 1 } },
      lab: fakeProviderConfig(second),
    },
    models: [
      {
        id: "acme/widget",
        endpoints: [{ provider: "lab", model: "widget-1", pricing: { prompt: "0.000001", completion: "0.000002" } }],
      },
    ],
  });
  assert.match(res.message, /2 providers \(added: lab\)/);

  // the admin key: the old one is refused at once, the new one works
  await assert.rejects(ask(MODEL, ADMIN), (e) => e.status === 401, "the old admin key");
  const listed = await fetchText(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${ADMIN2}` } });
  assert.equal(listed.status, 200);
  assert.ok(listed.json.data.some((m) => m.id === "acme/widget"), "the config's new model is listed");

  // a new provider and a new model on it
  const w = await ask("acme/widget");
  assert.equal(w.choices[0].message.content, "echo: x");
  assert.equal((await second.requests()).at(-1).json.model, "widget-1");

  // the provider's new key goes upstream; a 500 is now retried once
  await fake.script([{ status: 500 }, { content: "after a retry" }]);
  assert.equal((await ask()).choices[0].message.content, "after a retry");
  const ups = await fake.requests();
  assert.equal(ups.at(-1).headers.authorization, "Bearer sk-rotated");
  assert.equal(ups.at(-2).headers.authorization, "Bearer sk-rotated");

  // the upstream body limit: the same large answer is now too large (on
  // the retry too)
  await fake.script({ content: big, times: 2 });
  await assert.rejects(ask(), (e) => e.status >= 500, "the upstream body limit");
});

test("an invalid file is refused with the reason and the config in use stays", async () => {
  const refused = async (cfg, reason) => {
    writeConfig(cfg);
    const r = await reload();
    assert.equal(r.status, 422, r.text);
    assert.equal(r.json.error.metadata.error_type, "invalid_config");
    assert.match(r.json.error.message, /^reload refused, the configuration in use stays: /);
    assert.match(r.json.error.message, reason);
    // still the first config: its admin key, its provider
    assert.equal((await ask()).choices[0].message.content, "echo: x");
    const health = await fetchText(`${gw.url}/health`);
    assert.equal(health.json.providers, 1);
  };
  await refused("providers: { openai: { format: openai, base_url: [\n", /switchboard\.yaml/);
  await refused({ ...base(fake), admin_key: ADMIN2, bogus_setting: 1 }, /unknown key 'bogus_setting'/);
  await refused({ ...base(fake), providers: { lab: { base_url: `${second.url}/v1` } } }, /providers\.lab: 'format' is required/);
  // loads, but its catalog cannot be built
  await refused(
    {
      ...base(fake),
      admin_key: ADMIN2,
      providers: { ...base(fake).providers, lab: fakeProviderConfig(second) },
      models: [{ id: "acme/widget", endpoints: [{ provider: "lab", model: "w", pricing: { prompt: "cheap", completion: "0" } }] }],
    },
    /acme\/widget/,
  );
  await assert.rejects(ask(MODEL, ADMIN2), (e) => e.status === 401);
  assert.equal((await second.requests()).length, 0);

  // a good file afterwards is taken
  await apply({ ...base(fake), providers: { ...base(fake).providers, lab: fakeProviderConfig(second) } });
  assert.equal((await ask("lab/anything")).choices[0].message.content, "echo: x");
});

test("SIGHUP reads the file again", async () => {
  writeConfig({ ...base(fake), providers: { ...base(fake).providers, lab: fakeProviderConfig(second) } });
  gw.proc.kill("SIGHUP");
  const r = await waitFor(async () => {
    const res = await fetchText(`${gw.url}/health`);
    return res.json.providers === 2 ? res : null;
  }, "the reloaded config");
  assert.equal(r.status, 200);
  assert.equal((await ask("lab/model-x")).choices[0].message.content, "echo: x");
  assert.equal((await second.requests()).at(-1).json.model, "model-x");
});

test("settings only a restart changes are kept, and the answer says which", async () => {
  const res = await apply({ ...base(fake), workers: 3, max_body_bytes: 1000, log: { format: "text" } });
  assert.match(res.message, /only a restart applies the change to workers, max_body_bytes, log\.format$/);
  assert.match(gw.logs(), /reload: workers, max_body_bytes, log\.format changed in .* but take effect only with a restart/);
  // the body limit read at start still holds
  const r = await ask(MODEL);
  assert.equal(r.choices[0].message.content, "echo: x");
  const long = await client().chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "z".repeat(2000) }] });
  assert.equal(long.choices[0].message.content, `echo: ${"z".repeat(2000)}`);
});

test("the reload needs the admin key and POST", async () => {
  let r = await reload(null);
  assert.equal(r.status, 401);
  r = await reload("sk-not-the-admin");
  assert.equal(r.status, 401);
  r = await fetchText(`${gw.url}/api/v1/admin/reload`, { headers: { authorization: `Bearer ${ADMIN}` } });
  assert.equal(r.status, 405);
});

test("a gateway started without a config file has nothing to reload", async () => {
  const g = await startGateway({ env: { OPENAI_API_KEY: "sk-env", OPENAI_BASE_URL: `${fake.url}/v1` } });
  try {
    const r = await fetchText(`${g.url}/api/v1/admin/reload`, { method: "POST" });
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.error.metadata.error_type, "reload_declined");
    assert.match(r.json.error.message, /without a config file/);
    // SIGHUP: the same, and it keeps serving
    g.proc.kill("SIGHUP");
    await waitFor(() => /without a config file[^\n]*\n[^]*without a config file/.test(g.logs()), "the SIGHUP refusal");
    assert.equal((await fetchText(`${g.url}/health`)).status, 200);
  } finally {
    assert.deepEqual(await g.stop(), { code: 0, signal: null });
  }
});
