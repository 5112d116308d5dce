// SPDX-License-Identifier: MIT
// Preloaded into a Node program under test (NODE_OPTIONS="--require
// <this file>"): every TCP connection it opens, and every name it looks
// up, must be loopback. Anything else is refused at once (the socket or
// the lookup errors) and written, one line each, to the file
// $SB_LOOPBACK_LOG, which the test reads: a client that phones home fails
// the test instead of reaching the internet.
"use strict";
const net = require("node:net");
const dns = require("node:dns");
const fs = require("node:fs");

const log = process.env.SB_LOOPBACK_LOG;
const loopback = (host) =>
  host === undefined || host === "localhost" || host === "::1" || /^127\./.test(host) || host === "::ffff:127.0.0.1";

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  // net.connect() hands its arguments on normalized, as an array
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  const opts = typeof first === "object" && first !== null ? first : { port: first, host: args[1] };
  const target = opts.path !== undefined ? null : opts.host;
  if (opts.path === undefined && !loopback(target)) {
    if (log) fs.appendFileSync(log, `${target}:${opts.port}\n`);
    process.nextTick(() => this.destroy(new Error(`connection to ${target}:${opts.port} refused: loopback only`)));
    return this;
  }
  return connect.apply(this, args);
};

const lookup = dns.lookup;
dns.lookup = function (hostname, ...rest) {
  if (loopback(hostname)) return lookup.call(this, hostname, ...rest);
  if (log) fs.appendFileSync(log, `lookup ${hostname}\n`);
  const cb = rest.at(-1);
  const err = Object.assign(new Error(`lookup of ${hostname} refused: loopback only`), { code: "ENOTFOUND" });
  process.nextTick(() => cb(err));
};
