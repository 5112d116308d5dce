// SPDX-License-Identifier: MIT
// An https provider for the end-to-end tests: certificates made by the
// test with the `openssl` command (a private CA, a server certificate for
// localhost and 127.0.0.1, one for another host, an expired one) and a TLS
// front that terminates TLS and passes the bytes to the fake provider, as
// a TLS terminator in front of a real provider would. It offers HTTP/2 as
// well as HTTP/1.1 (ALPN), as such terminators do: a client that took h2
// would fail, since the fake speaks HTTP/1.1.
//
//   const certs = testCertificates();
//   const front = await startTlsFront({ port: fake.port, ...certs.localhost });
//   ... base_url: `${front.url}/v1`, tls: { ca_file: certs.ca } ...
//   await front.stop();
//
// SB_E2E_UPSTREAM=https makes setup() (lib/harness.mjs) put a front before
// the fake provider, so that a test file runs against an https provider
// unchanged: `fake.url` is the front's https URL and fakeProviderConfig()
// adds the CA (`tls.ca_file`). tls.test.mjs runs the main test files that
// way, natively and with SWITCHBOARD_UPSTREAM_CLIENT=curl, and with
// NODE_EXTRA_CA_CERTS so that a test's own fetch() to `fake.url` trusts
// the CA too.
import tls from "node:tls";
import net from "node:net";
import http from "node:http";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** How setup() reaches the fake provider: "http" (default) or "https". */
export function upstreamMode() {
  const m = process.env.SB_E2E_UPSTREAM ?? "http";
  if (m !== "http" && m !== "https") throw new Error(`SB_E2E_UPSTREAM=${m}: want http or https`);
  return m;
}

const openssl = (args, cwd) => execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });

function leaf(dir, name, cn, san) {
  writeFileSync(join(dir, `${name}.ext`),
    `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`);
  openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`], dir);
}

function makeCertificates(dir) {
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=switchboard e2e CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir);
  for (const [name, cn, san] of [
    ["localhost", "localhost", "DNS:localhost,IP:127.0.0.1"],
    ["wrong-host", "other.example", "DNS:other.example"],
  ]) {
    leaf(dir, name, cn, san);
    openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
      "-days", "30", "-extfile", `${name}.ext`, "-out", `${name}.pem`], dir);
  }
  // expired: `openssl ca` sets both dates in the past
  leaf(dir, "expired", "localhost", "DNS:localhost,IP:127.0.0.1");
  writeFileSync(join(dir, "index.txt"), "");
  writeFileSync(join(dir, "serial"), "1000\n");
  writeFileSync(join(dir, "ca.cnf"), [
    "[ca]", "default_ca = test_ca", "[test_ca]", `dir = ${dir}`, "database = $dir/index.txt",
    "new_certs_dir = $dir", "serial = $dir/serial", "default_md = sha256", "policy = any",
    "unique_subject = no", "[any]", "commonName = supplied", ""].join("\n"));
  openssl(["ca", "-batch", "-notext", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key",
    "-in", "expired.csr", "-out", "expired.pem", "-startdate", "20200101000000Z",
    "-enddate", "20200201000000Z", "-extfile", "expired.ext"], dir);
  writeFileSync(join(dir, "done"), "");
}

/**
 * The test certificates as file paths: { dir, ca, localhost, wrongHost,
 * expired } (each server one { cert, key }). Made once into
 * $SB_E2E_TLS_DIR when set (tls.test.mjs shares one set with the files it
 * runs), else into a temp dir removed at exit. The private keys live only
 * there.
 */
export function testCertificates() {
  let dir = process.env.SB_E2E_TLS_DIR;
  if (!dir) {
    dir = mkdtempSync(join(tmpdir(), "sb-e2e-tls-"));
    process.env.SB_E2E_TLS_DIR = dir;
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  if (!existsSync(join(dir, "done"))) makeCertificates(dir);
  const pair = (name) => ({ cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) });
  return { dir, ca: join(dir, "ca.pem"), localhost: pair("localhost"), wrongHost: pair("wrong-host"), expired: pair("expired") };
}

// Where requests begin in what a client sends (heads with Content-Length,
// as switchboard sends them): calls onRequest() as each one begins; a
// false return drops that request and everything after it.
function requestStarts(onRequest) {
  let head = ""; // the head being read; "" between requests
  let inHead = false;
  let left = 0; // body bytes still to come
  return (chunk) => {
    let keep = 0; // bytes of `chunk` to pass on
    for (let i = 0; i < chunk.length; ) {
      if (left > 0) {
        const n = Math.min(left, chunk.length - i);
        left -= n;
        i += n;
        keep = i;
        continue;
      }
      if (!inHead) {
        if (!onRequest()) return chunk.subarray(0, keep);
        inHead = true;
      }
      const end = (head + chunk.toString("latin1", i)).indexOf("\r\n\r\n");
      if (end < 0) {
        head += chunk.toString("latin1", i);
        return chunk;
      }
      const used = end + 4 - head.length;
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head + chunk.toString("latin1", i, i + used));
      left = m ? Number(m[1]) : 0;
      head = "";
      inHead = false;
      i += used;
      keep = i;
    }
    return chunk;
  };
}

/**
 * startTlsFront({ port, cert, key, closeEvery, reset }): TLS on a free
 * loopback port, each connection piped to 127.0.0.1:port. With closeEvery
 * N, a connection is closed as its Nth request arrives, the request
 * unread: a server with a limit of requests per connection, or timing an
 * idle connection out just as a request comes; with close_notify and a
 * FIN, or with `reset` a TCP reset (a server that closes with unread
 * bytes in its socket, or is restarted). Resolves to
 * { url, port, stats(), stop() }: url is https://localhost:PORT; stats()
 * counts the connections accepted, the handshakes that failed and the
 * requests dropped by closeEvery.
 */
export async function startTlsFront({ port, cert, key, closeEvery = 0, reset = false }) {
  const open = new Set();
  const counts = { connections: 0, handshake_failures: 0, dropped: 0 };
  const secureContext = tls.createSecureContext({ cert: readFileSync(cert), key: readFileSync(key) });
  const server = net.createServer((raw) => {
    counts.connections++;
    const client = new tls.TLSSocket(raw, { isServer: true, secureContext, ALPNProtocols: ["h2", "http/1.1"] });
    let secure = false;
    client.once("secure", () => (secure = true));
    const upstream = net.connect(port, "127.0.0.1");
    open.add(raw);
    open.add(upstream);
    // an end on either side ends the other (over TLS: close_notify, FIN)
    if (closeEvery > 0) {
      let served = 0;
      const cut = requestStarts(() => {
        if (++served < closeEvery) return true;
        counts.dropped++;
        if (reset) raw.resetAndDestroy();
        else client.end();
        upstream.destroy();
        return false;
      });
      client.on("data", (d) => {
        const pass = cut(d);
        if (pass.length > 0 && !upstream.destroyed) upstream.write(pass);
      });
      client.on("end", () => upstream.end());
    } else {
      client.pipe(upstream);
    }
    upstream.pipe(client);
    client.on("error", () => {
      if (!secure) counts.handshake_failures++;
      upstream.destroy();
      raw.destroy();
    });
    upstream.on("error", () => client.destroy());
    raw.on("close", () => { open.delete(raw); upstream.destroy(); });
    upstream.on("close", () => { open.delete(upstream); client.end(); });
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const frontPort = server.address().port;
  return {
    url: `https://localhost:${frontPort}`,
    port: frontPort,
    stats: () => ({ ...counts }),
    async stop() {
      for (const s of open) s.destroy();
      await new Promise((r) => server.close(r));
      return {};
    },
  };
}

/**
 * startConnectProxy(): an HTTP proxy on a free loopback port that only
 * tunnels (CONNECT host:port), as https goes through proxies. Resolves to
 * { url, tunnels, stop() }: `tunnels` lists the "host:port" asked for.
 */
export async function startConnectProxy() {
  const tunnels = [];
  const open = new Set();
  const server = http.createServer((req, res) => res.writeHead(405).end());
  server.on("connect", (req, client, head) => {
    tunnels.push(req.url);
    const [host, port] = [req.url.slice(0, req.url.lastIndexOf(":")), Number(req.url.slice(req.url.lastIndexOf(":") + 1))];
    const upstream = net.connect(port, host === "localhost" ? "127.0.0.1" : host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    open.add(client);
    open.add(upstream);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.on("close", () => { open.delete(client); upstream.destroy(); });
    upstream.on("close", () => { open.delete(upstream); client.destroy(); });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    tunnels,
    async stop() {
      for (const s of open) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
