// SPDX-License-Identifier: MIT
// Debian's chromium driven by playwright-core, for the dashboard's tests
// and its screenshots (scripts/dashboard-screenshots). Headless; as root
// (CI) chromium's sandbox cannot start, so it runs without it there.
//
//   const browser = await launchBrowser();
//   const { page, problems } = await openPage(browser, gw.url);
//   ... page.goto(`${gw.url}/#/keys`) ...
//   assert.deepEqual(problems, []);   // console errors, page errors, failed requests
import { chromium } from "playwright-core";
import { existsSync } from "node:fs";

export function chromiumPath() {
  for (const p of [process.env.CHROMIUM_BIN, "/usr/bin/chromium", "/usr/bin/chromium-browser"])
    if (p && existsSync(p)) return p;
  throw new Error("chromium is not installed (scripts/install-deps --test installs it)");
}

export async function launchBrowser() {
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [...(root || process.env.CI ? ["--no-sandbox"] : []), "--disable-gpu", "--no-first-run"],
  });
}

// A new page (its own context: its own sessionStorage) whose console
// errors, uncaught errors and failed requests are collected in `problems`.
export async function openPage(browser, { viewport = { width: 1360, height: 900 } } = {}) {
  const context = await browser.newContext({ viewport, colorScheme: "light" });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => {
    // a stream the page closes itself (leaving the live log) is no failure
    if (r.failure()?.errorText !== "net::ERR_ABORTED") problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
  return { context, page, problems };
}
