// SPDX-License-Identifier: MIT
// Playground: pick any routable model, stream a chat through
// POST /v1/chat/completions, and see the answer's cost and its
// generation (X-Generation-Id, GET /api/v1/generation).
import { api, clear, el, errorBox, fmtInt, fmtMs, fmtUSD, parseJson, sseEvents } from "./lib.js";

export const title = "Playground";

function genDetails(g) {
  const rows = [
    ["Generation", g.id], ["Model", g.model], ["Provider", g.provider_name],
    ["Upstream model", g.upstream_model], ["Finish reason", g.finish_reason],
    ["Prompt tokens", fmtInt(g.tokens_prompt)], ["Completion tokens", fmtInt(g.tokens_completion)],
    ["Cost", fmtUSD(g.total_cost)], ["Latency", fmtMs(g.latency)],
    ["First token", fmtMs(g.time_to_first_token)],
    ["Gateway overhead", `${fmtInt(g.gateway_overhead_us)} µs`],
    ["Usage", g.usage_estimated ? "estimated (the provider reported none)" : "reported by the provider"],
  ];
  return el("dl", { class: "gen", id: "generation" },
    rows.filter(([, v]) => v !== null && v !== undefined && v !== "")
      .flatMap(([k, v]) => [el("dt", {}, k), el("dd", { "data-field": k }, String(v))]));
}

export function mount(root) {
  const models = el("input", { id: "pg-model", list: "pg-models", required: true,
                               placeholder: "openai/gpt-4o-mini", autocomplete: "off" });
  const list = el("datalist", { id: "pg-models" });
  const system = el("textarea", { id: "pg-system", rows: 2, placeholder: "optional system prompt" });
  const prompt = el("textarea", { id: "pg-prompt", rows: 4, required: true, placeholder: "Say hello" });
  const temperature = el("input", { id: "pg-temperature", type: "number", min: "0", max: "2", step: "0.1", placeholder: "default" });
  const maxTokens = el("input", { id: "pg-max-tokens", type: "number", min: "1", step: "1", placeholder: "default" });
  const send = el("button", { type: "submit", id: "pg-send" }, "Send");
  const stop = el("button", { type: "button", class: "quiet", id: "pg-stop", hidden: true }, "Stop");
  const output = el("pre", { class: "answer", id: "pg-output", "aria-live": "polite" });
  const meta = el("div", { id: "pg-meta" });
  const form = el("form", { class: "card playground", id: "pg-form" },
    el("div", { class: "fields" },
      el("label", { class: "span2" }, "Model", models, list),
      el("label", {}, "Temperature", temperature),
      el("label", {}, "Max tokens", maxTokens),
      el("label", { class: "wide" }, "System", system),
      el("label", { class: "wide" }, "Message", prompt)),
    el("div", { class: "row" }, send, stop));
  root.append(el("div", { class: "page-head" }, el("h1", {}, "Playground")), form,
    el("section", { class: "card" }, el("h2", {}, "Answer"), output, meta));

  api("/v1/models").then((r) => {
    clear(list, r.data.map((m) => el("option", { value: m.id }, m.name || m.id)));
    if (!models.value && r.data.length) models.value = r.data[0].id;
    root.dataset.loaded = "playground";
  }).catch((e) => clear(meta, errorBox(e)));

  let abort = null;
  stop.addEventListener("click", () => abort && abort.abort());
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const messages = [];
    if (system.value.trim()) messages.push({ role: "system", content: system.value });
    messages.push({ role: "user", content: prompt.value });
    const body = { model: models.value.trim(), messages, stream: true };
    if (temperature.value !== "") body.temperature = Number(temperature.value);
    if (maxTokens.value !== "") body.max_tokens = Number(maxTokens.value);
    abort = new AbortController();
    send.disabled = true;
    stop.hidden = false;
    output.textContent = "";
    output.classList.remove("done");
    clear(meta);
    let id = null, usage = null, finish = null, provider = null, model = null;
    try {
      const r = await api("/v1/chat/completions", { method: "POST", body, raw: true, signal: abort.signal });
      id = r.headers.get("x-generation-id");
      for await (const e of sseEvents(r)) {
        if (e.data === "[DONE]") break;
        const chunk = parseJson(e.data);
        if (chunk.error) throw new Error(chunk.error.message || "the stream failed");
        id = id || chunk.id;
        provider = chunk.provider || provider;
        model = chunk.model || model;
        for (const c of chunk.choices || []) {
          if (c.delta && c.delta.content) output.append(c.delta.content);
          if (c.finish_reason) finish = c.finish_reason;
        }
        if (chunk.usage) usage = chunk.usage;
      }
    } catch (e) {
      if (!abort.signal.aborted) meta.append(errorBox(e));
    }
    send.disabled = false;
    stop.hidden = true;
    output.classList.add("done");
    meta.append(el("p", { class: "summary", id: "pg-summary" },
      [model && `${model}`, provider && `via ${provider}`, finish && `finish: ${finish}`,
       usage && `${fmtInt(usage.prompt_tokens)} + ${fmtInt(usage.completion_tokens)} tokens`,
       usage && usage.cost !== undefined && `cost ${fmtUSD(usage.cost)}`]
        .filter(Boolean).join(" · ")));
    if (id) {
      try {
        meta.append(genDetails((await api(`/api/v1/generation?id=${encodeURIComponent(id)}`)).data));
      } catch (e) {
        meta.append(errorBox(e));
      }
    }
  });
}
