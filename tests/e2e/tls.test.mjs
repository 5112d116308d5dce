// SPDX-License-Identifier: MIT
// https providers: every real provider is one. The fake provider behind a
// TLS front (lib/tls_front.mjs: a private CA made by the test, trusted
// through tls.ca_file; the front offers h2 and http/1.1), through the
// native client and through libcurl (SWITCHBOARD_UPSTREAM_CLIENT=curl):
//  - the main chat, messages and Anthropic-provider files, run again
//    whole against the https provider;
//  - certificate errors (unknown CA, wrong host, expired) give a 502 that
//    names the cause; tls_verify: false takes any certificate, loudly;
//  - a server that closes its kept-alive connections after a few requests
//    (as a request arrives) loses no request and counts no failure;
//  - a provider's `proxy`, and HTTPS_PROXY, tunnel through a proxy;
//  - the catalog fetches a provider's model list the same way (its CA,
//    its proxy);
//  - settings the gateway cannot read are refused at start.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setup, fakeProviderConfig, fetchText } from "./lib/harness.mjs";
import { startGateway, switchboardBin, toYaml } from "./lib/gateway.mjs";
import { testCertificates, startTlsFront, startConnectProxy } from "./lib/tls_front.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const certs = testCertificates();
const { fake } = setup({ config: null });

const TRANSPORTS = [
  ["native client", {}],
  ["curl", { SWITCHBOARD_UPSTREAM_CLIENT: "curl" }],
];
const MODEL = "openai/gpt-4o-mini";
const chatBody = (extra = {}) =>
  JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hi" }], ...extra });

// ---- the main files again, over https ---------------------------------------------

function runFile(file, env) {
  // a test runner of its own (not a subtest of this file's)
  const { NODE_TEST_CONTEXT, ...outer } = process.env;
  return new Promise((resolve) => {
    execFile(process.execPath, ["--test", "--test-concurrency=1", file], {
      cwd: here,
      env: { ...outer, ...env, SB_E2E_UPSTREAM: "https", NODE_EXTRA_CA_CERTS: certs.ca },
      maxBuffer: 64 << 20,
    }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, out: stdout + stderr }));
  });
}

for (const [name, env] of TRANSPORTS)
  for (const file of ["chat.test.mjs", "messages.test.mjs", "anthropic_provider.test.mjs"])
    test(`${file} against an https provider (${name})`, async () => {
      const { code, out } = await runFile(file, env);
      const failed = out.split("\n").filter((l) => /^not ok|^# (pass|fail)/.test(l)).join("\n");
      assert.equal(code, 0, `${failed}\n${out.slice(-4000)}`);
      assert.match(out, /^# fail 0$/m);
    });

// ---- one gateway, one front ------------------------------------------------------

/** A front with `pair`'s certificate before the fake, and a gateway whose
 *  provider `openai` reaches it, trusting the test's CA unless `provider`
 *  says otherwise, over `env`'s transport. */
async function httpsGateway(t, { pair = certs.localhost, provider = {}, env = {}, top = {}, front: frontOpts = {} } = {}) {
  const front = await startTlsFront({ port: fake.port, ...pair, ...frontOpts });
  const openai = fakeProviderConfig(fake, { base_url: `${front.url}/v1`, tls: { ca_file: certs.ca }, ...provider });
  const gw = await startGateway({ config: { ...top, providers: { openai } }, env });
  t.after(async () => {
    await gw.stop();
    await front.stop();
  });
  return { front, gw };
}

const chat = (gw, extra) =>
  fetchText(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: chatBody(extra) });

/** The answer's text, streamed or not. */
function answerText(r) {
  if (r.json) return r.json.choices[0].message.content;
  return r.text
    .split("\n\n")
    .filter((e) => e.startsWith("data: {"))
    .map((e) => JSON.parse(e.slice(6)).choices[0]?.delta?.content ?? "")
    .join("");
}

// ---- certificate errors ----------------------------------------------------------

const CERT_CASES = [
  // [what, certificate, CA given, the cause (native | curl)]
  ["an unknown CA", certs.localhost, false, /certificate verify failed: unable to get local issuer certificate|SSL certificate problem: unable to get local issuer certificate/],
  ["another host's certificate", certs.wrongHost, true, /certificate verify failed: hostname mismatch|no alternative certificate subject name matches target host name 'localhost'/],
  ["an expired certificate", certs.expired, true, /certificate verify failed: certificate has expired|SSL certificate problem: certificate has expired/],
];

for (const [name, env] of TRANSPORTS)
  for (const [what, pair, trusted, cause] of CERT_CASES)
    test(`${what}: a 502 that names the cause (${name})`, async (t) => {
      const provider = trusted ? {} : { tls: null };
      const { front, gw } = await httpsGateway(t, { pair, provider, env });
      for (const stream of [false, true]) {
        const r = await chat(gw, { stream });
        assert.equal(r.status, 502);
        assert.equal(r.json.error.metadata.error_type, "provider_unavailable");
        assert.match(r.json.error.message, /^provider openai: /);
        assert.match(r.json.error.message, cause);
        if (!env.SWITCHBOARD_UPSTREAM_CLIENT)
          assert.match(r.json.error.message, new RegExp(`TLS handshake with localhost:${front.port} failed`));
      }
      assert.equal((await fake.requests()).length, 0, "nothing reached the provider");
      // (curl checks the host name once the handshake is over)
      if (!env.SWITCHBOARD_UPSTREAM_CLIENT) assert.equal(front.stats().handshake_failures, 2);
    });

for (const [name, env] of TRANSPORTS)
  test(`tls_verify: false takes any certificate, and says so at start (${name})`, async (t) => {
    const { gw } = await httpsGateway(t, { pair: certs.expired, provider: { tls: null, tls_verify: false }, env });
    const r = await chat(gw);
    assert.equal(r.status, 200, r.text);
    assert.equal(answerText(r), "echo: hi");
    assert.match(gw.logs(), /provider openai: tls_verify is false: its TLS certificate and host name are NOT checked/);
  });

// ---- kept-alive connections the server closes -------------------------------------

// Under keep-alive load, the TLS server closes each connection as its
// third request arrives (a limit of requests per connection, or an idle
// timeout just as a request comes): the request is sent again at once on
// a fresh connection,
// without a retry of the gateway's (attempts: 0 here) and without counting
// as a failure (the breaker would open after 2).
// Closed with close_notify and a FIN, or reset (curl was told only "error"
// of a reset and failed the request).
for (const [name, env] of TRANSPORTS)
  for (const reset of [false, true])
  test(`a server ${reset ? "resetting" : "closing"} its kept-alive connections every 3 requests loses none (${name})`, async (t) => {
    const { front, gw } = await httpsGateway(t, { env, front: { closeEvery: 3, reset }, top: { health: { breaker_failures: 2 } } });
    // 8 clients at once, 12 requests each, streamed and not
    const N = 96;
    const client = async (k) => {
      for (let i = 0; i < N / 8; i++) {
        const r = await chat(gw, { stream: (i + k) % 2 === 1 });
        assert.equal(r.status, 200, `client ${k}, request ${i}: ${r.text}`);
        assert.equal(answerText(r), "echo: hi");
      }
    };
    await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(client));
    assert.equal((await fake.requests()).length, N, "each request reached the provider once");
    const { connections, dropped } = front.stats();
    assert.ok(dropped >= N / 4, `only ${dropped} requests arrived on a connection being closed`);
    assert.ok(connections > dropped);
    const eps = await (await fetch(`${gw.url}/api/v1/models/${MODEL}/endpoints`)).json();
    const h = eps.data.endpoints.find((e) => e.tag === "openai").health;
    assert.equal(h.failures, 0);
    assert.equal(h.breaker, "closed");
  });

// ---- proxies: through libcurl -------------------------------------------------------

test("a provider's proxy: https through the proxy's tunnel, the certificate still checked", async (t) => {
  const proxy = await startConnectProxy();
  t.after(() => proxy.stop());
  const { front, gw } = await httpsGateway(t, { provider: { proxy: proxy.url } });
  for (const stream of [false, true]) {
    const r = await chat(gw, { stream });
    assert.equal(r.status, 200, r.text);
    assert.equal(answerText(r), "echo: hi");
  }
  assert.ok(proxy.tunnels.length >= 1);
  assert.ok(proxy.tunnels.every((h) => h === `localhost:${front.port}`), proxy.tunnels.join(" "));
  // an unknown CA through the proxy is refused as well
  const { gw: gw2 } = await httpsGateway(t, { provider: { proxy: proxy.url, tls: null } });
  const r = await chat(gw2);
  assert.equal(r.status, 502);
  assert.match(r.json.error.message, /unable to get local issuer certificate/);
});

test("HTTPS_PROXY sends https providers through the proxy", async (t) => {
  const proxy = await startConnectProxy();
  t.after(() => proxy.stop());
  const { front, gw } = await httpsGateway(t, { env: { HTTPS_PROXY: proxy.url } });
  const r = await chat(gw);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(proxy.tunnels, [`localhost:${front.port}`]);
});

// ---- the catalog's list fetches reach a provider as its requests do ----------------

/** `switchboard models --refresh` with provider `openai` behind `front`. */
async function refreshThrough(front, provider) {
  const dir = mkdtempSync(join(tmpdir(), "sb-tls-catalog-"));
  try {
    const config = join(dir, "switchboard.yaml");
    writeFileSync(config, toYaml({
      database: `sqlite:${join(dir, "ledger.db")}`,
      providers: { openai: fakeProviderConfig(fake, { base_url: `${front.url}/openai/v1`, ...provider }) },
      catalog: { sources: ["providers"], timeout_ms: 5000 },
    }) + "\n");
    return await new Promise((resolve) => {
      execFile(switchboardBin, ["models", "--refresh", "--config", config],
        { env: { PATH: process.env.PATH, HOME: dir, SWITCHBOARD_LOG: "warn" } },
        (err, stdout, stderr) => resolve({ code: err ? err.code : 0, out: stdout + stderr }));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("a provider's model list is fetched with its CA and through its proxy", async (t) => {
  await fake.models({ lists: { "/openai/v1/models": ["gpt-4.1", "gpt-tls-only"] } });
  const front = await startTlsFront({ port: fake.port, ...certs.localhost });
  const proxy = await startConnectProxy();
  t.after(async () => {
    await proxy.stop();
    await front.stop();
  });
  const trusted = await refreshThrough(front, { tls: { ca_file: certs.ca } });
  assert.equal(trusted.code, 0, trusted.out);
  assert.match(trusted.out, /^provider:openai\s+2 models$/m);
  // without the provider's CA the list is refused for its certificate
  const unknown = await refreshThrough(front, { tls: null });
  assert.notEqual(unknown.code, 0, unknown.out);
  assert.match(unknown.out, /provider:openai.*(unable to get local issuer certificate|certificate problem)/);
  // the provider's proxy carries the fetch, the certificate still checked
  const proxied = await refreshThrough(front, { tls: { ca_file: certs.ca }, proxy: proxy.url });
  assert.equal(proxied.code, 0, proxied.out);
  assert.match(proxied.out, /^provider:openai\s+2 models$/m);
  assert.deepEqual(proxy.tunnels, [`localhost:${front.port}`]);
});

// ---- settings ------------------------------------------------------------------------

test("TLS files the gateway cannot read are refused at start, naming the key", async () => {
  for (const [provider, re] of [
    [{ tls: { ca_file: "/nonexistent/ca.pem" } }, /providers\.openai\.tls\.ca_file: cannot read \/nonexistent\/ca\.pem/],
    [{ tls: { ca_path: certs.ca } }, /providers\.openai\.tls\.ca_path: .* is not a directory/],
    [{ tls_cert: "/nonexistent/c.pem" }, /providers\.openai\.tls_cert: cannot read/],
    [{ tls_cert: certs.localhost.cert, tls_key: "/nonexistent/k.pem" }, /providers\.openai\.tls_key: cannot read/],
    [{ tls_key: certs.localhost.key }, /providers\.openai\.tls_key needs tls_cert/],
    [{ proxy: "proxy.example:3128" }, /providers\.openai\.proxy must be a URL/],
  ])
    await assert.rejects(
      startGateway({ config: { providers: { openai: fakeProviderConfig(fake, provider) } } }),
      (e) => re.test(e.message),
    );
  await assert.rejects(startGateway({ config: { tls: { ca_file: "/nonexistent/x.pem" }, providers: {} } }), /tls\.ca_file: cannot read/);
});

// A provider's tls block replaces the global one key by key; a global CA is
// enough for every provider that says nothing.
test("tls.ca_file set once for every provider", async (t) => {
  const front = await startTlsFront({ port: fake.port, ...certs.localhost });
  const gw = await startGateway({
    config: { tls: { ca_file: certs.ca }, providers: { openai: fakeProviderConfig(fake, { base_url: `${front.url}/v1` }) } },
  });
  t.after(async () => {
    await gw.stop();
    await front.stop();
  });
  const r = await chat(gw);
  assert.equal(r.status, 200, r.text);
  assert.equal(front.stats().connections, 1);
});
