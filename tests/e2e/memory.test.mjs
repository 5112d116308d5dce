// SPDX-License-Identifier: MIT
// Memory taken by a burst of streams goes back to the system once the
// burst is over, even while a monitor keeps polling /health (a trickle of
// requests must not keep the high-water mark resident).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http from "node:http";
import { setup, fakeProviderConfig } from "./lib/harness.mjs";

const STREAMS = 600;
// The sanitizer's allocator keeps its own quarantine and ignores
// malloc_trim: there is nothing to measure in that build.
const sanitized = (process.env.ASAN_OPTIONS ?? "") !== "";

const { fake, gw } = setup({
  config: (f) => ({ workers: 2, providers: { openai: fakeProviderConfig(f) } }),
});

const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]);

// One streamed chat completion over its own connection, read to the end.
function stream(agent) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${gw.url}/v1/chat/completions`,
      { method: "POST", agent, headers: { "content-type": "application/json" } },
      (res) => {
        let n = 0;
        res.on("data", (d) => (n += d.length));
        res.on("end", () => resolve({ status: res.statusCode, bytes: n }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify({ model: "openai/gpt-4o-mini", stream: true, messages: [{ role: "user", content: "x" }] }));
  });
}

test("a burst of streams: the memory it took is handed back while /health is polled", { skip: sanitized && "sanitizer build" }, async () => {
  const pid = gw.proc.pid;
  await fake.setDefault({
    chunks: Array.from({ length: 30 }, (_, i) => `token${i} `),
    first_token_ms: 400,
    token_interval_ms: 30,
    times: -1,
  });
  const before = rssKb(pid);
  const agent = new http.Agent({ keepAlive: false, maxSockets: STREAMS });
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssKb(pid))), 50);
  const results = await Promise.all(Array.from({ length: STREAMS }, () => stream(agent)));
  clearInterval(sampler);
  peak = Math.max(peak, rssKb(pid));
  assert.ok(results.every((r) => r.status === 200 && r.bytes > 0), "every stream completed");
  const added = peak - before;
  assert.ok(added > 4096, `the burst took memory (RSS ${before} -> ${peak} KB)`);

  // A monitor polls /health every 100 ms; within 30 s at least half of
  // what the burst added must be gone.
  const goal = before + added / 2;
  const deadline = Date.now() + 30000;
  let now = rssKb(pid);
  while (now > goal && Date.now() < deadline) {
    const r = await fetch(`${gw.url}/health`);
    await r.arrayBuffer();
    await new Promise((r) => setTimeout(r, 100));
    now = rssKb(pid);
  }
  assert.ok(now <= goal, `RSS ${before} KB idle, ${peak} KB at the peak, still ${now} KB after 30 s of health checks`);
});
