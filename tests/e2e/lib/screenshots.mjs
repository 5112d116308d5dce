// SPDX-License-Identifier: MIT
// The dashboard's screenshots in docs/dashboard/, run by
// scripts/dashboard-screenshots: the real gateway and the fake provider
// (three providers of two formats), real traffic through them (client
// keys, agents, streams, failures, an open circuit breaker), and the
// pages in chromium.
//
// The overview shows a day: the requests of the past 24 hours before this
// run are made-up rows (a fixed pseudo-random sequence, priced from the
// catalog) that the gateway loads at start through its ledger's replay
// file (docs/accounts.md, "When the store fails"). Everything else on the
// pictures went through the gateway in this run.
//
//   node tests/e2e/lib/screenshots.mjs OUTDIR
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { startFakeProvider } from "./fake_provider.mjs";
import { startGateway, fakeProviderConfig, repoRoot } from "./gateway.mjs";
import { launchBrowser, openPage } from "./browser.mjs";

const out = resolve(process.argv[2] ?? join(repoRoot, "docs", "dashboard"));
const ADMIN = "sb-admin-screenshots";
const MODELS = [
  // model, provider, share of the traffic
  ["openai/gpt-4o-mini", "openai", 0.4],
  ["anthropic/claude-haiku-4.5", "anthropic", 0.25],
  ["openai/gpt-4.1", "openai", 0.15],
  ["meta-llama/llama-3.3-70b-instruct", "groq", 0.12],
  ["anthropic/claude-sonnet-4.5", "anthropic", 0.08],
];
const AGENTS = ["planner", "coder", "reviewer", "support-bot"];

// A fixed sequence (the same pictures each run, but for the clock).
let seed = 20261205;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
function pickModel() {
  let r = rnd();
  for (const m of MODELS) if ((r -= m[2]) <= 0) return m;
  return MODELS[0];
}

// Prices in picodollars per token, from the catalog.
const catalog = JSON.parse(readFileSync(join(repoRoot, "catalog", "models.json"), "utf8")).models;
const pico = (usd) => {
  const [i, f = ""] = usd.split(".");
  return Number(i) * 1e12 + Number((f + "000000000000").slice(0, 12));
};
function price(model) {
  const p = catalog.find((m) => m.id === model).endpoints[0].pricing;
  return { prompt: pico(p.prompt), completion: pico(p.completion) };
}

// The made-up day: rows in the form of the ledger's replay file.
function history(now) {
  const lines = [];
  for (let t = now - 24 * 3600e3; t < now - 10 * 60e3; t += 60e3) {
    const hour = new Date(t).getHours();
    const busy = 0.35 + 0.65 * Math.sin(((hour - 6) / 24) * Math.PI) ** 2;
    for (let k = Math.floor(rnd() * 6 * busy); k > 0; k--) {
      const [model, provider] = pickModel();
      const p = price(model);
      const failed = rnd() < 0.03;
      const prompt = failed ? 0 : 200 + Math.floor(rnd() * 3000);
      const completion = failed ? 0 : 20 + Math.floor(rnd() * 700);
      const latency = 300 + Math.floor(rnd() * 2500 + completion * 4);
      const id = `gen-${Math.floor(t / 1000)}-hist${String(lines.length).padStart(16, "0")}`;
      lines.push(JSON.stringify({ row: {
        id, created_ms: t + Math.floor(rnd() * 60e3), api: "chat", key_label: "admin",
        agent: pick(AGENTS), requested_model: model, model, provider,
        upstream_model: model.split("/")[1], tokens_prompt: prompt, tokens_completion: completion,
        cost_pico: prompt * p.prompt + completion * p.completion, latency_ms: latency,
        ttft_ms: failed ? 0 : 150 + Math.floor(rnd() * 500), status: failed ? 502 : 200,
        finish_reason: failed ? "" : "stop", streamed: rnd() < 0.6,
        error: failed ? `provider ${provider}: upstream answered 500` : "",
        overhead_us: 40 + Math.floor(rnd() * 60),
      } }));
    }
  }
  return lines.join("\n") + "\n";
}

const scenario = () => ({
  content: pick(["Here is the summary you asked for.", "The function returns the sorted list.",
                 "Three options stand out; the second is cheapest.", "Done: the tests pass."]),
  latency_ms: 40 + Math.floor(rnd() * 200),
  usage: { prompt_tokens: 300 + Math.floor(rnd() * 2000), completion_tokens: 40 + Math.floor(rnd() * 400) },
});

async function traffic(gw, fake, keys, n) {
  const sdk = (key) => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
  const claude = new Anthropic({ baseURL: gw.url, apiKey: keys[0], maxRetries: 0 });
  for (let i = 0; i < n; i++) {
    const [model, provider] = pickModel();
    const key = pick(keys);
    const fail = rnd() < 0.08;
    await fake.script([fail ? { status: pick([500, 503]) } : scenario()]);
    const headers = { "x-agent": pick(AGENTS) };
    try {
      if (provider === "anthropic" && rnd() < 0.5)
        await claude.messages.create({ model, max_tokens: 512, messages: [{ role: "user", content: "Summarise the ticket." }] }, { headers });
      else if (rnd() < 0.5) {
        const s = await sdk(key).chat.completions.create({ model, stream: true, messages: [{ role: "user", content: "Write the commit message." }] }, { headers });
        for await (const _ of s);
      } else await sdk(key).chat.completions.create({ model, messages: [{ role: "user", content: "Review this diff." }] }, { headers });
    } catch {
      // the failures are part of the picture
    }
  }
}

async function api(gw, method, path, body) {
  const r = await fetch(`${gw.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

async function main() {
  mkdirSync(out, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), "sb-shots-"));
  const fake = await startFakeProvider();
  writeFileSync(join(dir, "ledger.db-unsaved.jsonl"), history(Date.now()));
  const gw = await startGateway({ config: {
    database: `sqlite:${join(dir, "ledger.db")}`,
    admin_key: ADMIN,
    health: { breaker_failures: 3, breaker_cooldown_ms: 3600000 },
    providers: {
      openai: fakeProviderConfig(fake, { api_keys: ["sk-a", "sk-b"] }),
      anthropic: fakeProviderConfig(fake, { format: "anthropic", base_url: fake.url }),
      groq: fakeProviderConfig(fake),
    },
  } });
  const browser = await launchBrowser();
  try {
    const keys = [];
    for (const body of [{ name: "ci-bot", limit: 25, limit_reset: "daily", rpm: 120 },
                        { name: "notebook", tpm: 200000, models: ["openai/gpt-4o-mini", "anthropic/claude-haiku-4.5"] },
                        { name: "support-widget", limit: 100, limit_reset: "monthly" }])
      keys.push((await api(gw, "POST", "/keys", body)).key);
    const old = (await api(gw, "POST", "/keys", { name: "old-laptop" })).data.hash;
    await api(gw, "PATCH", `/keys/${old}`, { disabled: true });
    await traffic(gw, fake, [keys[0], keys[2], ADMIN], 40);
    // one endpoint down: its breaker opens
    await fake.script([{ status: 500, match: { model: "gpt-4.1" }, times: 3 }]);
    for (let i = 0; i < 3; i++)
      await fetch(`${gw.url}/v1/chat/completions`, { method: "POST",
        headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "openai/gpt-4.1", messages: [{ role: "user", content: "x" }] }) }).then((r) => r.text());

    const { page, problems } = await openPage(browser, { viewport: { width: 1280, height: 800 } });
    await page.goto(`${gw.url}/`);
    await page.fill("#signin-form input[name=key]", ADMIN);
    await page.click("#signin-form button[type=submit]");
    const shot = async (name) => {
      await page.goto(`${gw.url}/#/${name}`);
      await page.waitForSelector(`.page[data-page=${name}][data-loaded]`);
      return name;
    };
    const save = async (name) => {
      await page.mouse.move(0, 0); // no hover highlight on the pictures
      await page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
    };

    await save(await shot("overview"));
    await shot("keys");
    await page.fill("#create-key input[name=name]", "staging-deploy");
    await page.fill("#create-key input[name=limit]", "10");
    await page.selectOption("#create-key select[name=limit_reset]", "weekly");
    await page.click("#create-key button[type=submit]");
    await page.waitForSelector("#new-secret");
    await page.waitForSelector("tr[data-name=staging-deploy]");
    await save("keys");
    await save(await shot("providers"));
    await shot("logs");
    await traffic(gw, fake, [keys[0], keys[2], ADMIN], 14);
    await page.waitForFunction(() => document.querySelectorAll("#log tbody tr").length >= 12);
    await save("logs");
    await shot("playground");
    await fake.script([{ chunks: ["Switchboard ", "routes ", "each ", "request ", "to ", "the ", "cheapest ", "healthy ", "provider."],
                         token_interval_ms: 30, usage: { prompt_tokens: 24, completion_tokens: 9 } }]);
    await page.fill("#pg-model", "openai/gpt-4o-mini");
    await page.fill("#pg-system", "Answer in one sentence.");
    await page.fill("#pg-prompt", "What does switchboard do with my request?");
    await page.click("#pg-send");
    await page.waitForSelector("#generation");
    await save("playground");
    if (problems.length) throw new Error(`the pages reported problems:\n${problems.join("\n")}`);
    console.log(`screenshots written to ${out}`);
  } finally {
    await browser.close();
    await gw.stop();
    await fake.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
