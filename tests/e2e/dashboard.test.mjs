// SPDX-License-Identifier: MIT
// The dashboard in a real browser (Debian's chromium through
// playwright-core): signing in with the admin key, every page without a
// console error or failed request, the overview's figures against the
// ledger's rows, a key created in the browser used by the OpenAI SDK and
// revoked (refused at once), the playground's stream, and local mode.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { setup, fakeProviderConfig, ledgerRow, waitFor, fetchText } from "./lib/harness.mjs";
import { startGateway } from "./lib/gateway.mjs";
import { launchBrowser, openPage } from "./lib/browser.mjs";

const ADMIN = "sb-admin-dashboard-test";
const MODEL = "openai/gpt-4o-mini";
const { fake, gw } = setup({
  config: (fake) => ({ admin_key: ADMIN, providers: { openai: fakeProviderConfig(fake) } }),
});

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const admin = () => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: ADMIN, maxRetries: 0 });

// A page signed in with the admin key through the sign-in form.
async function signedIn() {
  const p = await openPage(browser);
  await p.page.goto(`${gw.url}/`);
  await p.page.fill("#signin-form input[name=key]", ADMIN);
  await p.page.click("#signin-form button[type=submit]");
  await p.page.waitForSelector("#nav:not([hidden])");
  return p;
}

// Go to a page and wait until it shows its data.
async function visit(page, name) {
  await page.goto(`${gw.url}/#/${name}`);
  await page.waitForSelector(`.page[data-page=${name}][data-loaded]`);
}

const text = (page, sel) => page.locator(sel).innerText();
const int = (n) => Number(n).toLocaleString("en-US");

// Exact decimal USD strings summed without floating point.
function usdToPico(s) {
  const [i, f = ""] = String(s).split(".");
  return BigInt(i) * 10n ** 12n + BigInt((f + "0".repeat(12)).slice(0, 12));
}
function picoToUsd(p) {
  const i = p / 10n ** 12n, f = (p % 10n ** 12n).toString().padStart(12, "0").replace(/0+$/, "");
  return f ? `${i}.${f}` : `${i}`;
}

// A generation's ledger row, and its cost as the exact decimal written
// (a double could not carry it).
async function ledger(id) {
  const row = await ledgerRow(gw, id, ADMIN);
  const raw = await fetchText(`${gw.url}/api/v1/generation?id=${id}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  return { ...row, total_cost: raw.text.match(/"total_cost":([0-9.]+)/)[1] };
}

test("the overview's figures are the ledger's", async () => {
  // a scripted mix: streamed and not, two agents, a client key, an
  // upstream failure (502) and an unknown model (404)
  const created = await fetchText(`${gw.url}/api/v1/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "scripted" }),
  });
  assert.equal(created.status, 201, created.text);
  const ids = [];
  const call = async (key, body, agent) => {
    const r = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "x-agent": agent },
      body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hello there" }], ...body }),
    });
    await r.text();
    ids.push(r.headers.get("x-generation-id"));
    return r.status;
  };
  await fake.script([{ content: "one two three" }, { chunks: ["a", "b", "c", "d"] }, { status: 500 }]);
  assert.equal(await call(ADMIN, {}, "planner"), 200);
  assert.equal(await call(created.json.key, { stream: true }, "coder"), 200);
  assert.equal(await call(ADMIN, {}, "planner"), 502);
  assert.equal(await call(ADMIN, { model: "nobody/unknown" }, "coder"), 404);
  assert.equal(await call(created.json.key, { max_tokens: 5 }, "coder"), 200);
  assert.ok(ids.every(Boolean), "every answer names its generation");

  // what the ledger holds for them, row by row
  const rows = [];
  for (const id of ids) rows.push(await ledger(id));
  const want = {
    requests: rows.length,
    errors: rows.filter((r) => r.status >= 400).length,
    prompt: rows.reduce((s, r) => s + r.tokens_prompt, 0),
    completion: rows.reduce((s, r) => s + r.tokens_completion, 0),
    cost: picoToUsd(rows.reduce((s, r) => s + usdToPico(r.total_cost), 0n)),
  };
  assert.equal(want.errors, 2);
  assert.ok(want.prompt > 0 && want.completion > 0);
  assert.match(want.cost, /^0\.00\d{1,6}$/, "below a cent: a cost the overview shows exactly");
  // every row is in the store (no longer waiting for the writer)
  await waitFor(async () => {
    const r = await fetchText(`${gw.url}/api/v1/stats?from=1h`, { headers: { authorization: `Bearer ${ADMIN}` } });
    return r.json.data.pending === 0 && r.json.data.totals.requests === rows.length;
  }, "the rows in the store");

  const { page, problems, context } = await signedIn();
  await visit(page, "overview");
  assert.equal(await text(page, "[data-stat=requests] .value"), int(want.requests));
  assert.equal(await text(page, "[data-stat=errors] .value"), int(want.errors));
  assert.equal(await text(page, "[data-stat=tokens_prompt] .value"), int(want.prompt));
  assert.equal(await text(page, "[data-stat=tokens_completion] .value"), int(want.completion));
  assert.equal(await text(page, "[data-stat=cost] .value"), `$${want.cost}`);

  // by agent and by key, against the same rows
  for (const agent of ["planner", "coder"]) {
    const mine = rows.filter((r) => r.agent === agent);
    const cells = await page.locator(`[data-group=agent] tr[data-id="${agent}"] td`).allInnerTexts();
    assert.equal(cells[1], int(mine.length), `${agent}: requests`);
    assert.equal(cells[2], int(mine.filter((r) => r.status >= 400).length), `${agent}: errors`);
    assert.equal(cells[3], int(mine.reduce((s, r) => s + r.tokens_prompt, 0)), `${agent}: prompt tokens`);
  }
  const keyed = rows.filter((r) => r.key_label === "scripted");
  assert.equal(keyed.length, 2);
  const keyCells = await page.locator(`[data-group=key] tr[data-id="${keyed[0].key_hash}"] td`).allInnerTexts();
  assert.equal(keyCells[0], "scripted");
  assert.equal(keyCells[1], "2");
  // one bar per bucket that had requests, and the range buttons
  assert.ok((await page.locator("svg.chart rect.bar").count()) > 0);
  await page.click("[data-range='1h']");
  await page.waitForSelector(".page[data-page=overview][data-loaded='2']");
  assert.equal(await text(page, "[data-stat=requests] .value"), int(want.requests));
  assert.deepEqual(problems, []);
  await context.close();
});

test("every page loads without a console error", async () => {
  const { page, problems, context } = await signedIn();
  for (const name of ["overview", "keys", "providers", "logs", "playground"]) {
    await visit(page, name);
    assert.equal(await page.locator("nav a.active").getAttribute("data-page"), name);
  }
  // the providers page shows the configured provider and its traffic
  await visit(page, "providers");
  assert.match(await text(page, "[data-provider=openai] .provider-head"), /OpenAI/);
  assert.match(await text(page, "[data-provider=openai]"), /gpt-4o-mini/);
  assert.deepEqual(problems, []);
  await context.close();
});

test("a key created in the browser works with the OpenAI SDK; disabled or revoked there, it is refused at once", async () => {
  const { page, problems, context } = await signedIn();
  page.on("dialog", (d) => d.accept());
  await visit(page, "keys");
  await page.fill("#create-key input[name=name]", "from-the-browser");
  await page.fill("#create-key input[name=limit]", "2.5");
  await page.selectOption("#create-key select[name=limit_reset]", "daily");
  await page.fill("#create-key input[name=rpm]", "100");
  await page.fill("#create-key input[name=models]", MODEL);
  await page.click("#create-key button[type=submit]");
  const secret = await (await page.waitForSelector("#new-secret")).inputValue();
  assert.match(secret, /^sk-sb-/);
  const row = page.locator("tr[data-name='from-the-browser']");
  await row.waitFor();
  assert.match(await row.innerText(), /\$2\.50 daily · 100 RPM/);

  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: secret, maxRetries: 0 });
  const ask = () => client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "hi" }] });
  const ok = await ask();
  assert.equal(ok.choices[0].message.content, "echo: hi");
  assert.equal((await ledgerRow(gw, ok.id, ADMIN)).key_label, "from-the-browser");
  // only the models it allows
  await assert.rejects(
    client.chat.completions.create({ model: "openai/gpt-4o", messages: [{ role: "user", content: "hi" }] }),
    (e) => e.status === 403,
  );

  await row.locator("[data-action=disable]").click();
  await row.locator("[data-action=enable]").waitFor();
  await assert.rejects(ask(), (e) => e.status === 401 && /disabled/.test(e.message));
  await row.locator("[data-action=enable]").click();
  await row.locator("[data-action=disable]").waitFor();
  assert.equal((await ask()).choices[0].message.content, "echo: hi");

  await row.locator("[data-action=revoke]").click();
  await row.waitFor({ state: "detached" });
  await assert.rejects(ask(), (e) => e.status === 401);
  assert.deepEqual(problems, []);
  await context.close();
});

test("the playground streams the answer and shows its cost and generation", async () => {
  const { page, problems, context } = await signedIn();
  await visit(page, "playground");
  await fake.script([{ chunks: ["Hel", "lo ", "from ", "the stream"], token_interval_ms: 100 }]);
  // every text the answer showed, in order
  await page.evaluate(() => {
    window.shown = [];
    const out = document.getElementById("pg-output");
    new MutationObserver(() => window.shown.push(out.textContent)).observe(out, { childList: true, characterData: true, subtree: true });
  });
  await page.fill("#pg-model", MODEL);
  await page.fill("#pg-prompt", "Say hello");
  await page.click("#pg-send");
  await page.waitForSelector("#generation");
  const shown = (await page.evaluate(() => window.shown)).filter(Boolean);
  assert.equal(shown.at(-1), "Hello from the stream");
  assert.ok(shown.includes("Hel") && shown.includes("Hello from "), `streamed piece by piece: ${JSON.stringify(shown)}`);

  // the stream went upstream as a stream, and its generation is the ledger's
  const up = (await fake.requests()).at(-1);
  assert.equal(up.json.stream, true);
  const id = await text(page, "#generation dd[data-field=Generation]");
  const row = await ledger(id);
  assert.equal(row.streamed, true);
  assert.equal(await text(page, "#generation dd[data-field=Cost]"), `$${row.total_cost}`);
  assert.match(await text(page, "#pg-summary"), new RegExp(`cost \\$${row.total_cost.replace(".", "\\.")}`));
  assert.equal(await text(page, "#generation dd[data-field='Completion tokens']"), int(row.tokens_completion));
  assert.deepEqual(problems, []);
  await context.close();
});

test("the live log shows each request as it ends, and filters them", async () => {
  const { page, problems, context } = await signedIn();
  await visit(page, "logs"); // loaded: the feed is connected
  assert.equal(await text(page, "#live-state"), "live");
  const client = admin();
  const ok = await client.chat.completions.create(
    { model: MODEL, messages: [{ role: "user", content: "live" }] }, { headers: { "x-agent": "watcher" } });
  const okRow = page.locator(`#log tr[data-id="${ok.id}"]`);
  await okRow.waitFor();
  const cells = await okRow.locator("td").allInnerTexts();
  assert.equal(cells[1], "chat");
  assert.equal(cells[2], "POST /v1/chat/completions");
  assert.equal(cells[3], "200");
  assert.equal(cells[4], MODEL);
  assert.equal(cells[5], "openai");
  assert.equal(cells[6], "admin");
  assert.equal(cells[7], "watcher");
  const row = await ledger(ok.id);
  assert.equal(cells[8], int(row.tokens_prompt + row.tokens_completion));
  assert.equal(cells[9], `$${row.total_cost}`);
  assert.equal(cells[12], "stop");

  const bad = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "nobody/unknown", messages: [{ role: "user", content: "x" }] }),
  });
  const badId = bad.headers.get("x-generation-id");
  await bad.text();
  const badRow = page.locator(`#log tr[data-id="${badId}"]`);
  await badRow.waitFor();
  assert.equal(await badRow.getAttribute("class"), "err");
  // errors only; then a text filter that matches the first request alone
  await page.selectOption("#log-status", "errors");
  await okRow.waitFor({ state: "detached" });
  assert.equal(await badRow.count(), 1);
  await page.selectOption("#log-status", "");
  await page.fill("#log-filter", "watcher");
  await badRow.waitFor({ state: "detached" });
  assert.equal(await okRow.count(), 1);
  // calls of the admin API (the dashboard's own) are there too, once asked for
  await page.fill("#log-filter", "");
  await page.selectOption("#log-door", "admin");
  assert.equal((await fetchText(`${gw.url}/api/v1/stats?from=1h`, { headers: { authorization: `Bearer ${ADMIN}` } })).status, 200);
  // the test's own earlier admin calls (the ledger lookup) are admin rows too: wait for this one by its path
  const stats = page.locator("#log tr[data-status]", { hasText: "GET /api/v1/stats" }).first();
  await stats.waitFor();
  const statsCells = await stats.locator("td").allInnerTexts();
  assert.equal(statsCells[1], "admin");
  assert.equal(statsCells[2], "GET /api/v1/stats");
  assert.equal(statsCells[3], "200");
  assert.equal(await page.locator("#log tr[data-status]", { hasText: "POST /v1/chat/completions" }).count(), 0);
  // paused, it keeps what arrives and shows it on resume
  await page.selectOption("#log-door", "chat");
  await page.click("#log-pause");
  const later = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "later" }] });
  await page.click("#log-pause");
  await page.locator(`#log tr[data-id="${later.id}"]`).waitFor();
  assert.deepEqual(problems, []);
  await context.close();
});

test("a wrong admin key is refused at sign-in, and signing out forgets the key", async () => {
  const { page, context } = await openPage(browser);
  await page.goto(`${gw.url}/`);
  await page.fill("#signin-form input[name=key]", "not-the-key");
  await page.click("#signin-form button[type=submit]");
  assert.match(await (await page.waitForSelector("#signin-error:not([hidden])")).innerText(), /refused/);
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  await page.fill("#signin-form input[name=key]", ADMIN);
  await page.click("#signin-form button[type=submit]");
  await page.waitForSelector("#nav:not([hidden])");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("switchboard.key")), ADMIN);
  // a reload in the same tab keeps it; a new tab (context) has to sign in
  await page.reload();
  await page.waitForSelector(".page[data-page=overview][data-loaded]");
  await page.click("#signout");
  await page.waitForSelector("#signin-form");
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  await context.close();
});

test("in local mode the dashboard opens without a key", async () => {
  const local = await startGateway({ config: { providers: { openai: fakeProviderConfig(fake) } } });
  try {
    const { page, problems, context } = await openPage(browser);
    await page.goto(`${local.url}/`);
    await page.waitForSelector(".page[data-page=overview][data-loaded]");
    assert.equal(await page.locator("#signin-form").count(), 0);
    assert.equal(await text(page, "#who"), "local mode");
    await page.goto(`${local.url}/#/keys`);
    await page.waitForSelector(".page[data-page=keys][data-loaded]");
    assert.deepEqual(problems, []);
    await context.close();
  } finally {
    assert.deepEqual(await local.stop(), { code: 0, signal: null });
  }
});
