// SPDX-License-Identifier: MIT
// A small OTLP/HTTP collector for the trace tests: a loopback HTTP server
// that takes POST /v1/traces with a JSON body and keeps the spans.
//
//   const col = await startCollector();
//   ... otel: { endpoint: col.url } ...
//   const spans = await col.spansOf(traceId);   // waits until they arrive
//   col.failWith(500);                          // answer every export 500
import http from "node:http";
import { waitFor } from "./harness.mjs";

export async function startCollector() {
  const exports = [];
  let status = 200;
  const server = http.createServer((req, res) => {
    const parts = [];
    req.on("data", (d) => parts.push(d));
    req.on("end", () => {
      const body = Buffer.concat(parts).toString("utf8");
      if (status === 200)
        exports.push({ path: req.url, headers: req.headers, body: JSON.parse(body) });
      res.writeHead(status, { "content-type": "application/json" });
      res.end(status === 200 ? "{}" : '{"error":"no"}');
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${server.address().port}`;
  const spans = () =>
    exports.flatMap((e) =>
      e.body.resourceSpans.flatMap((rs) =>
        rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => ({ ...s, resource: rs.resource }))),
      ),
    );
  return {
    url,
    exports,
    spans,
    /** The spans of trace `traceId`, once at least `n` have arrived. */
    spansOf: (traceId, n = 1) =>
      waitFor(() => {
        const got = spans().filter((s) => s.traceId === traceId);
        return got.length >= n ? got : null;
      }, `${n} span(s) of trace ${traceId}`),
    failWith: (s) => (status = s),
    stop: () => new Promise((r) => server.close(r)),
  };
}

/** An attribute's value from a span: string, number (int as string in OTLP JSON), array or bool. */
export function attr(span, key) {
  const a = span.attributes.find((x) => x.key === key);
  if (!a) return undefined;
  const v = a.value;
  if ("stringValue" in v) return v.stringValue;
  if ("intValue" in v) return Number(v.intValue);
  if ("doubleValue" in v) return v.doubleValue;
  if ("boolValue" in v) return v.boolValue;
  if ("arrayValue" in v) return v.arrayValue.values.map((x) => x.stringValue);
  return v;
}
