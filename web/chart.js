// SPDX-License-Identifier: MIT
// Charts drawn as SVG: stacked bars or lines over time buckets, with a
// y axis of round numbers, a few time labels and a tooltip per bucket.
import { el } from "./lib.js";

const NS = "http://www.w3.org/2000/svg";
const W = 640, H = 200, LEFT = 72, RIGHT = 12, TOP = 10, BOTTOM = 24;

function svg(tag, attrs = {}, text) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  if (text !== undefined) n.textContent = text;
  return n;
}

// The smallest "round" number (1, 2 or 5 × 10^k) at or above v.
function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function timeLabel(ms, step) {
  const d = new Date(ms);
  const hm = `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
  return step >= 86400000 ? `${d.getMonth() + 1}/${d.getDate()}` : hm;
}

// chart({times, step, series: [{name, cls, values}], kind: "bars"|"line",
//        format: v => text, minStep}) -> a figure with the SVG and its legend.
// A line has a gap where a value is null (a bucket without requests).
// The y axis has 4 steps of a round size, at least `minStep` (1 for
// counts, so that no label is a fraction).
export function chart({ title, times, step, series, kind = "bars", format = String, minStep = 0 }) {
  const n = times.length;
  const plotW = W - LEFT - RIGHT, plotH = H - TOP - BOTTOM;
  const totals = times.map((_, i) =>
    kind === "bars" ? series.reduce((s, x) => s + (x.values[i] || 0), 0)
                    : Math.max(0, ...series.map((x) => x.values[i] || 0)));
  const top = Math.max(0, ...totals);
  const max = 4 * Math.max(minStep, top > 0 ? niceCeil(top / 4) : 1);
  const y = (v) => TOP + plotH - (v / max) * plotH;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
                            "aria-label": title });
  for (let g = 0; g <= 4; g++) {
    const v = (max * g) / 4;
    root.append(svg("line", { x1: LEFT, x2: W - RIGHT, y1: y(v), y2: y(v), class: "grid" }));
    root.append(svg("text", { x: LEFT - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, format(v)));
  }
  const bw = n > 0 ? plotW / n : plotW;
  const labels = Math.min(6, n);
  for (let k = 0; k < labels; k++) {
    const i = Math.round((k * (n - 1)) / Math.max(1, labels - 1));
    const anchor = labels > 1 && k === 0 ? "start" : labels > 1 && k === labels - 1 ? "end" : "middle";
    const x = anchor === "start" ? LEFT + i * bw : anchor === "end" ? LEFT + (i + 1) * bw : LEFT + i * bw + bw / 2;
    root.append(svg("text", { x, y: H - 6, class: "axis", "text-anchor": anchor }, timeLabel(times[i], step)));
  }
  if (kind === "line") {
    for (const s of series) {
      let run = [];
      const flush = () => {
        if (run.length > 1) root.append(svg("polyline", { points: run.join(" "), class: `line ${s.cls}` }));
        if (run.length === 1) {
          const [cx, cy] = run[0].split(",");
          root.append(svg("circle", { cx, cy, r: 2.5, class: `dot ${s.cls}` }));
        }
        run = [];
      };
      s.values.forEach((v, i) => {
        if (v === null || v === undefined) flush();
        else run.push(`${LEFT + i * bw + bw / 2},${y(v)}`);
      });
      flush();
    }
  }
  for (let i = 0; i < n; i++) {
    const g = svg("g", { class: "bucket" });
    let base = 0;
    if (kind === "bars") {
      for (const s of series) {
        const v = s.values[i] || 0;
        if (v > 0)
          g.append(svg("rect", { x: LEFT + i * bw + 0.5, width: Math.max(1, bw - 1),
                                 y: y(base + v), height: y(base) - y(base + v), class: `bar ${s.cls}` }));
        base += v;
      }
    }
    // the whole bucket's column carries the tooltip
    g.append(svg("rect", { x: LEFT + i * bw, width: bw, y: TOP, height: plotH, class: "hit" }));
    g.append(svg("title", {}, `${timeLabel(times[i], 0)} ` +
      series.map((s) => `${s.name}: ${s.values[i] === null ? "–" : format(s.values[i] || 0)}`).join(", ")));
    root.append(g);
  }
  return el("figure", { class: "chart-box" },
    el("figcaption", {}, title,
      el("span", { class: "legend" },
        series.map((s) => el("span", { class: `key ${s.cls}` }, s.name)))),
    root);
}
