// SPDX-License-Identifier: MIT
// The HTTP/1.1 server on raw sockets: keep-alive, pipelining, chunked
// request bodies, Expect: 100-continue, HTTP/1.0, and the limits that keep
// a slow or hostile client from holding a worker.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { setup, fakeProviderConfig } from "./lib/harness.mjs";

const { gw } = setup({
  config: (fake) => ({
    request_timeout_ms: 400,
    idle_timeout_ms: 400,
    max_header_bytes: 4096,
    providers: { openai: fakeProviderConfig(fake) },
  }),
  reset: false,
});

// A socket that collects everything the server sends until it closes.
function connect() {
  const sock = net.connect(gw.port, "127.0.0.1");
  let data = "";
  const waiters = [];
  sock.setEncoding("utf8");
  sock.on("data", (d) => {
    data += d;
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise((r) => sock.on("close", r));
  sock.on("error", () => {});
  return {
    sock,
    closed,
    get data() {
      return data;
    },
    // resolves once `pred(data)` holds (the socket's data events drive it)
    until(pred) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pred(data)) return resolve(data);
          if (sock.destroyed) return reject(new Error(`closed; got:\n${data}`));
          waiters.push(check);
        };
        sock.once("close", check);
        check();
      });
    },
  };
}

const countResponses = (s) => (s.match(/HTTP\/1\.1 \d{3} /g) || []).length;
const chatBody = JSON.stringify({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });

test("keep-alive: several requests on one connection", async () => {
  const c = connect();
  for (let i = 1; i <= 3; i++) {
    c.sock.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    await c.until((d) => countResponses(d) === i && d.endsWith("}"));
  }
  assert.ok(!c.sock.destroyed);
  c.sock.end();
  await c.closed;
});

test("pipelined requests are answered in order", async () => {
  const c = connect();
  c.sock.write(
    "GET /health HTTP/1.1\r\nHost: x\r\n\r\n" +
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: ${chatBody.length}\r\n\r\n${chatBody}` +
      "GET /v1/nope HTTP/1.1\r\nHost: x\r\n\r\n",
  );
  const d = await c.until((s) => countResponses(s) === 3 && /no endpoint/.test(s));
  const statuses = [...d.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
  assert.deepEqual(statuses, ["200", "200", "404"]);
  assert.ok(d.indexOf('"status":"ok"') < d.indexOf("echo: hi"));
  c.sock.end();
});

test("a chunked request body", async () => {
  const c = connect();
  const half = Math.floor(chatBody.length / 2);
  c.sock.write(
    "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
      `${half.toString(16)}\r\n${chatBody.slice(0, half)}\r\n` +
      `${(chatBody.length - half).toString(16)}\r\n${chatBody.slice(half)}\r\n0\r\n\r\n`,
  );
  const d = await c.until((s) => s.includes("echo: hi"));
  assert.match(d, /^HTTP\/1\.1 200 OK/);
  c.sock.end();
});

test("Expect: 100-continue is answered before the body is sent", async () => {
  const c = connect();
  c.sock.write(
    `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: ${chatBody.length}\r\n\r\n`,
  );
  await c.until((s) => s.startsWith("HTTP/1.1 100 Continue\r\n\r\n"));
  c.sock.write(chatBody);
  const d = await c.until((s) => s.includes("echo: hi"));
  assert.match(d, /HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK/);
  c.sock.end();
});

test("a body too large is refused as soon as its length is known", async () => {
  const c = connect();
  c.sock.write("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n");
  const d = await c.until((s) => s.includes("}"));
  assert.match(d, /^HTTP\/1\.1 413 /);
  await c.closed;
});

test("headers over the limit: 431", async () => {
  const c = connect();
  c.sock.write(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(8000)}\r\n\r\n`);
  const d = await c.until((s) => s.includes("}"));
  assert.match(d, /^HTTP\/1\.1 431 /);
  await c.closed;
});

test("malformed requests: 400 and the connection closes", async () => {
  for (const bad of ["NOT HTTP AT ALL\r\n\r\n", "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n"]) {
    const c = connect();
    c.sock.write(bad);
    await c.closed;
    assert.match(c.data, /^HTTP\/1\.1 400 /);
  }
});

// Sends `bytes` on a new connection and resolves once the server has
// answered and closed it: { status, data }.
async function refusal(bytes) {
  const c = connect();
  c.sock.write(bytes);
  await c.closed;
  const m = c.data.match(/^HTTP\/1\.1 (\d{3}) /);
  assert.ok(m, `no response; got:\n${c.data}`);
  assert.match(c.data, /\r\nConnection: close\r\n/i);
  return { status: Number(m[1]), data: c.data };
}

// What a front proxy could read differently from the gateway (request
// smuggling): refused, and the connection closed, before any handler runs.
test("chunk data followed by junk instead of CRLF: 400, the rest is not a request", async () => {
  const { status, data } = await refusal(
    "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5\r\nhelloXY0\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n",
  );
  assert.equal(status, 400);
  assert.equal(countResponses(data), 1);
  assert.doesNotMatch(data, /"status":"ok"/);
});

test("chunk data longer than its size: 400", async () => {
  // read leniently, "lo" would stand for the CRLF and "0" end the body
  const { status } = await refusal(
    "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello0\r\n\r\n",
  );
  assert.equal(status, 400);
});

test("chunked applied twice: 400", async () => {
  for (const te of ["Transfer-Encoding: chunked, chunked", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked"]) {
    const { status } = await refusal(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n${te}\r\n\r\n1\r\na\r\n0\r\n\r\n`,
    );
    assert.equal(status, 400, te);
  }
});

test("an endless chunk-size line: 413 at once, not the request timeout's 408", async () => {
  // 10 KB of one chunk-size line and no line end; the request timeout
  // (400 ms here) would answer 408.
  const { status, data } = await refusal(
    "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;" + "a".repeat(10000),
  );
  assert.equal(status, 413);
  assert.match(data, /chunk size line too long/);
});

test("HTTP/1.1 without Host: 400", async () => {
  const { status, data } = await refusal("GET /health HTTP/1.1\r\n\r\n");
  assert.equal(status, 400);
  assert.match(data, /Host/);
});

test("HTTP/9.9: 505", async () => {
  const { status } = await refusal("GET /health HTTP/9.9\r\nHost: x\r\n\r\n");
  assert.equal(status, 505);
});

test("obsolete line folding: 400", async () => {
  const { status } = await refusal("GET /health HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n");
  assert.equal(status, 400);
});

test("a request line without a version: 400", async () => {
  const { status } = await refusal("GET /health\r\nHost: x\r\n\r\n");
  assert.equal(status, 400);
});

test("a 100 KB target: 414, not 431", async () => {
  const c = connect();
  c.sock.write(`GET /health?q=${"a".repeat(100 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`);
  const d = await c.until((s) => s.includes("}"));
  assert.match(d, /^HTTP\/1\.1 414 URI Too Long\r\n/);
  c.sock.destroy();
});

test("a slow-loris client gets 408 and is dropped", async () => {
  const c = connect();
  c.sock.write("GET /health HTTP/1.1\r\nHost: x\r\n"); // never finishes
  await c.closed;
  assert.match(c.data, /^HTTP\/1\.1 408 /);
});

test("an idle keep-alive connection is closed by the server", async () => {
  const c = connect();
  c.sock.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  await c.until((s) => s.endsWith("}"));
  await c.closed; // idle_timeout_ms later
  assert.equal(countResponses(c.data), 1);
});

test("HTTP/1.0: answered, then closed", async () => {
  const c = connect();
  c.sock.write("GET /health HTTP/1.0\r\n\r\n");
  await c.closed;
  assert.match(c.data, /^HTTP\/1\.1 200 OK/);
  assert.match(c.data, /Connection: close/i);
});

test("HTTP/1.0 streaming: no chunked encoding, the close ends the stream", async () => {
  const body = JSON.stringify({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "s" }], stream: true });
  const c = connect();
  c.sock.write(`POST /v1/chat/completions HTTP/1.0\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  await c.closed;
  assert.doesNotMatch(c.data, /Transfer-Encoding/i);
  assert.match(c.data, /data: \[DONE\]\n\n$/);
});

test("many connections at once", async () => {
  const n = 200;
  const results = await Promise.all(
    Array.from({ length: n }, async () => (await fetch(`${gw.url}/health`)).status),
  );
  assert.deepEqual(results, Array(n).fill(200));
});
