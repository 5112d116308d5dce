// SPDX-License-Identifier: MIT
// A catalog that stays current (docs/catalog.md): the fake provider plays
// OpenRouter's GET /api/v1/models (hundreds of generated models, malformed
// entries mixed in, scripted faults) and the providers' own lists.
// `switchboard models --refresh` fetches, stores and reports; a gateway
// with catalog.refresh picks up new models and prices without a restart
// and bills the new price; a bad refresh keeps the last good catalog and
// says why; a restart without network uses the stored lists; a key with a
// credit limit cannot use a model whose price is unknown.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway, fakeProviderConfig, switchboardBin, toYaml } from "./lib/gateway.mjs";
import { setup, waitFor, ledgerRow, fetchText } from "./lib/harness.mjs";

const { fake } = setup({ config: null, reset: false });

const pico = (usd) => Math.round(Number(usd) * 1e12);
const decimalPico = (s) => {
  const [whole, frac = ""] = s.split(".");
  return Number(whole) * 1e12 + Number(frac.padEnd(12, "0"));
};

/** An entry of OpenRouter's list. */
function orModel(id, prompt, completion, extra = {}) {
  return {
    id,
    canonical_slug: id,
    name: `Acme: ${id.split("/")[1]}`,
    created: 1760000000,
    description: "a model of the test",
    context_length: 65536,
    architecture: { modality: "text->text", input_modalities: ["text"], output_modalities: ["text"], tokenizer: "Other", instruct_type: null },
    pricing: { prompt, completion, request: "0", image: "0" },
    top_provider: { context_length: 65536, max_completion_tokens: 8192, is_moderated: false },
    per_request_limits: null,
    supported_parameters: ["max_tokens", "temperature", "tools"],
    ...extra,
  };
}

function run(args, env = {}) {
  return new Promise((resolve) => {
    const p = spawn(switchboardBin, args, {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, SWITCHBOARD_LOG: "warn", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const listUrl = (gw) => `${gw.url}/api/v1/models`;
async function modelsById(gw) {
  const body = await (await fetch(listUrl(gw))).json();
  return { body, byId: new Map(body.data.map((m) => [m.id, m])) };
}

async function chat(gw, model, key) {
  const r = await fetchText(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "price me" }] }),
  });
  return r;
}

/** The exact cost of `usage` at prompt / completion prices (decimal strings). */
const costOf = (usage, prompt, completion) =>
  usage.prompt_tokens * decimalPico(prompt) + usage.completion_tokens * decimalPico(completion);

test("models --refresh: OpenRouter's list and the providers' lists, stored, with what changed", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "sb-catalog-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await fake.reset();
  await fake.models({
    openrouter: {
      generate: 300,
      malformed: 12,
      models: [orModel("openai/gpt-4.1", "0.0000021", "0.0000084"), orModel("openai/gpt-5-new", "0.000004", "0.00003")],
    },
    lists: {
      "/openai/v1/models": ["gpt-4.1", "gpt-5-new", "gpt-4o"],
      "/groq/v1/models": ["llama-3.3-70b-versatile", "groq-only"],
      "/anthropic/v1/models": ["claude-sonnet-4-20250514", "claude-haiku-4-5-20251001", "claude-new"],
      "/gemini/v1beta/models": ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash-001"],
    },
    page_size: 2, // the Anthropic and Gemini lists come in pages
  });
  const config = join(dir, "switchboard.yaml");
  writeFileSync(
    config,
    toYaml({
      database: `sqlite:${join(dir, "ledger.db")}`,
      providers: {
        openrouter: fakeProviderConfig(fake, { base_url: `${fake.url}/api/v1`, api_key: "sk-or-list" }),
        openai: fakeProviderConfig(fake, { base_url: `${fake.url}/openai/v1`, api_key: "sk-oai" }),
        groq: fakeProviderConfig(fake, { base_url: `${fake.url}/groq/v1`, api_key: "gsk-list" }),
        anthropic: { format: "anthropic", base_url: `${fake.url}/anthropic`, api_key: "sk-ant-list" },
        gemini: { format: "gemini", base_url: `${fake.url}/gemini`, api_key: "gm-list" },
      },
      catalog: { sources: ["openrouter", "providers"] },
    }) + "\n",
  );

  const r = await run(["models", "--refresh", "--config", config]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^openrouter\s+302 models, 12 malformed entries left out \(entry \d+: not an object\)$/m);
  assert.match(r.stdout, /^provider:openai\s+3 models$/m);
  assert.match(r.stdout, /^provider:groq\s+2 models$/m);
  assert.match(r.stdout, /^provider:anthropic\s+3 models$/m);
  assert.match(r.stdout, /^provider:gemini\s+3 models$/m);
  // new: OpenRouter's models; gone: what openai's own list no longer has
  assert.match(r.stdout, /^catalog: \d+ models; 303 added \(openai\/gpt-5-new, fake-lab-0\/model-0, .*\), \d+ removed \(openai\/gpt-4o-mini, .*\), 1 with new prices \(openai\/gpt-4\.1\)$/m);
  assert.match(r.stderr, /catalog: openrouter: 302 models, 12 malformed entries left out/);

  // what went upstream: the keys each provider's own requests carry, pages
  const reqs = await fake.requests();
  const or = reqs.find((q) => q.path === "/api/v1/models");
  assert.equal(or.method, "GET");
  assert.equal(or.headers.authorization, "Bearer sk-or-list");
  const ant = reqs.filter((q) => q.path === "/anthropic/v1/models");
  assert.deepEqual(ant.map((q) => q.query), ["limit=1000", "limit=1000&after_id=claude-haiku-4-5-20251001"]);
  assert.equal(ant[0].headers["x-api-key"], "sk-ant-list");
  assert.equal(ant[0].headers["anthropic-version"], "2023-06-01");
  const gem = reqs.filter((q) => q.path === "/gemini/v1beta/models");
  assert.deepEqual(gem.map((q) => q.query), ["pageSize=1000", "pageSize=1000&pageToken=p2"]);
  assert.equal(gem[0].headers["x-goog-api-key"], "gm-list");
  assert.equal(reqs.find((q) => q.path === "/groq/v1/models").headers.authorization, "Bearer gsk-list");

  // the stored lists make the catalog `models` and `check` show
  const list = await run(["models", "--config", config]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^openai\/gpt-4\.1\s+65536\s+\$2\.1\s+\$8\.4\s+openai\*, openrouter\*$/m);
  assert.match(list.stdout, /^openai\/gpt-5-new\s+65536\s+\$4\s+\$30\s+openai\*, openrouter\*$/m);
  assert.match(list.stdout, /^fake-lab-3\/model-3\s+16384\s+\$0\.04\s+\$0\.16\s+openrouter\*$/m);
  assert.match(list.stdout, /^anthropic\/claude-sonnet-4\s+\d+\s+\$3\s+\$15\s+anthropic\*$/m);
  assert.match(list.stdout, /^groq\/groq-only\s+0\s+\?\s+\?\s+groq\*$/m);
  assert.match(list.stdout, /^anthropic\/claude-new\s+0\s+\?\s+\?\s+anthropic\*$/m);
  const check = await run(["check", "--config", config]);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /^catalog:\s+no background refresh .*; sources: openrouter \(http:\/\/127\.0\.0\.1:\d+\/api\/v1\/models\) providers; fetch timeout 30000ms$/m);
  assert.match(check.stdout, /^\s+stored openrouter list of \d{4}-\d\d-\d\dT[\d:]+Z: 302 models$/m);
  assert.match(check.stdout, /^\s+stored provider:anthropic list of .*: 3 models$/m);
  assert.match(check.stdout, /^warning:\s+\d+ routable models have no known price \(.*groq\/groq-only.*\): .*credit limit cannot use them$/m);
  assert.doesNotMatch(check.stdout, /older than 30 days/);

  // a failing source: a non-zero status, the other lists still stored
  await fake.models({
    openrouter: { generate: 300, malformed: 12, models: [orModel("openai/gpt-4.1", "0.0000022", "0.0000084")] },
    lists: {
      "/openai/v1/models": ["gpt-4.1"],
      "/groq/v1/models": ["llama-3.3-70b-versatile"],
      "/gemini/v1beta/models": ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash-001"],
    },
    faults: [{ path_contains: "/anthropic/", kind: "status", status: 503, times: -1 }],
  });
  const again = await run(["models", "--refresh", "--config", config]);
  assert.equal(again.code, 1);
  assert.match(again.stdout, /^provider:anthropic\s+FAILED: HTTP 503: .*fake error 503.* \(keeping the list of .*\)$/m);
  assert.match(again.stdout, /^provider:openai\s+1 models$/m);
  assert.match(again.stdout, /, \d+ removed \(.*openai\/gpt-5-new.*\), \d+ with new prices \(openai\/gpt-4\.1/m);
});

test("models --refresh without a source to reach fails with the reason", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "sb-catalog-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, "c.yaml");
  writeFileSync(config, toYaml({ database: `sqlite:${join(dir, "l.db")}`, catalog: { openrouter_url: "http://127.0.0.1:1/api/v1", timeout_ms: 2000 } }) + "\n");
  const r = await run(["models", "--refresh", "--config", config]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^openrouter\s+FAILED: .*(refused|connect)/im);
  assert.doesNotMatch(r.stdout, /^catalog:/m);
});

// ---- a gateway that refreshes ------------------------------------------------

const ALPHA1 = ["0.000001", "0.000002"];
const ALPHA2 = ["0.000003", "0.000004"];
const v1 = { openrouter: { generate: 200, malformed: 5, models: [orModel("acme/alpha", ...ALPHA1)] } };
const v2 = {
  openrouter: {
    generate: 200,
    malformed: 5,
    models: [orModel("acme/alpha", ...ALPHA2), orModel("acme/beta", "0.0000005", "0.0000005")],
  },
};

// Shared by the tests below, in order: the gateway, then its restart.
const shared = {};

test("a gateway with catalog.refresh picks up a new model and a changed price, and bills it", async (t) => {
  shared.dir = mkdtempSync(join(tmpdir(), "sb-catalog-gw-"));
  await fake.reset();
  await fake.models(v1);
  shared.config = {
    database: `sqlite:${join(shared.dir, "ledger.db")}`,
    workers: 2,
    providers: { openrouter: fakeProviderConfig(fake, { base_url: `${fake.url}/api/v1` }) },
    catalog: { refresh: "1s", sources: ["openrouter"], timeout_ms: 1000 },
  };
  const gw = await startGateway({ config: shared.config, env: { SWITCHBOARD_LOG: "info" } });
  shared.gw = gw;

  // the first refresh runs at start (nothing stored yet)
  const first = await waitFor(async () => {
    const { body, byId } = await modelsById(gw);
    return byId.get("acme/alpha")?.pricing_source === "openrouter" ? { body, byId } : null;
  }, "the first refresh");
  // hundreds of models; the malformed entries are not among them
  assert.equal(first.body.total_count, 201);
  assert.ok(!first.byId.has("openai/gpt-4o"), "OpenRouter's list does not have it, and no direct provider serves it");
  const alpha = first.byId.get("acme/alpha");
  assert.deepEqual(alpha.pricing, { prompt: ALPHA1[0], completion: ALPHA1[1], request: "0", image: "0" });
  assert.ok(Number.isInteger(alpha.pricing_updated_at) && alpha.pricing_updated_at * 1000 > Date.now() - 60000);
  assert.match(gw.logs(), /catalog: openrouter: 201 models, 5 malformed entries left out/);

  let r = await chat(gw, "acme/alpha");
  assert.equal(r.status, 200, r.text);
  assert.equal(pico(r.json.usage.cost), costOf(r.json.usage, ...ALPHA1));
  assert.equal((await fake.requests()).at(-1).json.model, "acme/alpha");

  // a new list: a changed price and a new model, no restart
  await fake.models(v2);
  await waitFor(async () => {
    const { byId } = await modelsById(gw);
    return byId.has("acme/beta") && byId.get("acme/alpha").pricing.prompt === ALPHA2[0];
  }, "the refreshed catalog");
  assert.match(gw.logs(), /catalog: refreshed: \d+ models; 1 added \(acme\/beta\); 0 removed; 1 with new prices \(acme\/alpha\)/);

  r = await chat(gw, "acme/alpha");
  assert.equal(r.status, 200, r.text);
  const want = costOf(r.json.usage, ...ALPHA2);
  assert.equal(pico(r.json.usage.cost), want);
  const row = await ledgerRow(gw, r.json.id);
  assert.equal(pico(row.total_cost), want, "the ledger bills the new price");

  r = await chat(gw, "acme/beta");
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.model, "acme/beta");
  assert.equal((await fake.requests()).at(-1).json.model, "acme/beta");

  // the endpoints listing says where the price came from too
  const eps = await (await fetch(`${gw.url}/api/v1/models/acme/alpha/endpoints`)).json();
  const ep = eps.data.endpoints.find((e) => e.tag === "openrouter");
  assert.equal(ep.pricing.prompt, ALPHA2[0]);
  assert.equal(ep.pricing_source, "openrouter");
  assert.ok(ep.pricing_updated_at >= alpha.pricing_updated_at);
});

test("a bad refresh keeps the last good catalog and logs why", async () => {
  const gw = shared.gw;
  assert.ok(gw, "runs after the test above");
  const faults = [
    [{ kind: "timeout" }, /catalog: openrouter: refresh failed: no complete answer within 1000 ms; keeping the list of \d{4}-/],
    [{ kind: "status", status: 500 }, /catalog: openrouter: refresh failed: HTTP 500: .*fake error 500/],
    [{ kind: "garbage" }, /catalog: openrouter: refresh failed: the list is not JSON/],
    [{ kind: "truncated" }, /catalog: openrouter: refresh failed: the list is not JSON: .* at byte \d+/],
  ];
  for (const [fault, why] of faults) {
    const mark = gw.logs().length;
    await fake.models({ ...v2, faults: [{ path_contains: "/api/v1/models", times: -1, ...fault }] });
    await waitFor(() => why.test(gw.logs().slice(mark)), `the log line for ${fault.kind}`);
    const { body, byId } = await modelsById(gw);
    assert.equal(body.total_count, 202, fault.kind);
    assert.equal(byId.get("acme/alpha").pricing.prompt, ALPHA2[0], fault.kind);
  }
  // a list that is mostly malformed is not trusted either
  const mark = gw.logs().length;
  await fake.models({ openrouter: { generate: 3, malformed: 10, models: [orModel("acme/alpha", "0.1", "0.1")] } });
  await waitFor(
    () => /catalog: openrouter: refresh failed: 10 of 14 entries are malformed \(.*\): not trusted/.test(gw.logs().slice(mark)),
    "the malformed list refused",
  );
  const r = await chat(gw, "acme/alpha");
  assert.equal(r.status, 200, r.text);
  assert.equal(pico(r.json.usage.cost), costOf(r.json.usage, ...ALPHA2), "still billed at the last good price");
  const { byId } = await modelsById(gw);
  assert.ok(byId.has("acme/beta"));
  // back to a good list: picked up again
  await fake.models({ openrouter: { generate: 200, malformed: 5, models: [orModel("acme/alpha", "0.000005", "0.000006")] } });
  await waitFor(async () => (await modelsById(gw)).byId.get("acme/alpha").pricing.prompt === "0.000005", "a good list again");
  const exit = await gw.stop();
  assert.deepEqual(exit, { code: 0, signal: null }, gw.logs().slice(-4000));
});

test("a restart without network uses the stored lists", async (t) => {
  assert.ok(shared.config, "runs after the tests above");
  t.after(() => rmSync(shared.dir, { recursive: true, force: true }));
  // OpenRouter's list is out of reach; chat still goes to the fake
  const offline = { ...shared.config, catalog: { ...shared.config.catalog, openrouter_url: "http://127.0.0.1:1/api/v1" } };
  const gw = await startGateway({ config: offline, env: { SWITCHBOARD_LOG: "info" } });
  try {
    // no refresh has succeeded, yet the last good catalog is there at once
    const { body, byId } = await modelsById(gw);
    assert.equal(body.total_count, 201);
    assert.equal(byId.get("acme/alpha").pricing.prompt, "0.000005");
    assert.equal(byId.get("acme/alpha").pricing_source, "openrouter");
    assert.match(gw.logs(), /catalog: the stored openrouter list of \d{4}-.* \(201 models\)/);
    await waitFor(() => /catalog: openrouter: refresh failed: .*; keeping the list of/.test(gw.logs()), "the failed refresh");
    const r = await chat(gw, "acme/alpha");
    assert.equal(r.status, 200, r.text);
    assert.equal(pico(r.json.usage.cost), costOf(r.json.usage, "0.000005", "0.000006"));
  } finally {
    assert.deepEqual(await gw.stop(), { code: 0, signal: null }, gw.logs().slice(-4000));
  }
  // and without any catalog block (no refresh at all), the stored list too
  const plain = { ...shared.config };
  delete plain.catalog;
  const gw2 = await startGateway({ config: plain });
  try {
    const { byId } = await modelsById(gw2);
    assert.equal(byId.get("acme/alpha").pricing.prompt, "0.000005");
  } finally {
    assert.deepEqual(await gw2.stop(), { code: 0, signal: null }, gw2.logs().slice(-4000));
  }
});

// ---- prices that are not known ------------------------------------------------

test("a key with a credit limit cannot use a model of unknown price; a key without one can", async (t) => {
  const ADMIN = "sk-admin-catalog";
  const dir = mkdtempSync(join(tmpdir(), "sb-catalog-keys-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await fake.reset();
  await fake.models({
    openrouter: {
      models: [
        orModel("openrouter/auto", "-1", "-1", { pricing: { prompt: "-1", completion: "-1", request: "-1", image: "-1" } }),
        orModel("acme/priced", "0.000001", "0.000001"),
        orModel("acme/free", "0", "0"),
      ],
    },
  });
  const gw = await startGateway({
    config: {
      database: `sqlite:${join(dir, "ledger.db")}`,
      admin_key: ADMIN,
      providers: { openrouter: fakeProviderConfig(fake, { base_url: `${fake.url}/api/v1` }) },
      catalog: { refresh: "1h", sources: ["openrouter"] },
    },
  });
  try {
    const admin = { authorization: `Bearer ${ADMIN}` };
    const auto = await waitFor(async () => {
      const r = await fetch(listUrl(gw), { headers: admin });
      return (await r.json()).data.find((m) => m.id === "openrouter/auto");
    }, "the refreshed catalog");
    assert.deepEqual(auto.pricing, { prompt: "-1", completion: "-1", request: "-1", image: "-1" });
    assert.equal(auto.pricing_source, "openrouter");

    const mk = async (body) => {
      const r = await fetchText(`${gw.url}/api/v1/keys`, {
        method: "POST",
        headers: { ...admin, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      assert.equal(r.status, 201, r.text);
      return r.json.key;
    };
    const limited = await mk({ name: "limited", limit: 1 });
    const open = await mk({ name: "open" });

    let r = await chat(gw, "openrouter/auto", limited);
    assert.equal(r.status, 403, r.text);
    assert.match(r.json.error.message, /model 'openrouter\/auto' has no known price, so its cost cannot be reserved against this key's credit limit/);
    // an id the catalog lacks has no known price either
    r = await chat(gw, "someone/unlisted", limited);
    assert.equal(r.status, 403, r.text);
    // known prices, free ones included, are fine
    assert.equal((await chat(gw, "acme/priced", limited)).status, 200);
    assert.equal((await chat(gw, "acme/free", limited)).status, 200);
    // without a limit there is nothing to reserve
    r = await chat(gw, "openrouter/auto", open);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.usage.cost, 0, "the fake provider reports no cost of its own");
    const seen = (await fake.requests()).filter((q) => q.path.endsWith("/chat/completions")).map((q) => q.json.model);
    assert.deepEqual(seen, ["acme/priced", "acme/free", "openrouter/auto"], "the refused calls never went upstream");
  } finally {
    assert.deepEqual(await gw.stop(), { code: 0, signal: null }, gw.logs().slice(-4000));
  }
});
