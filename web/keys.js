// SPDX-License-Identifier: MIT
// Keys: the client keys (GET /api/v1/keys), creating one with its limits
// (the secret is shown once), disabling, enabling and revoking.
import { api, clear, el, errorBox, fmtInt, fmtUSD } from "./lib.js";

export const title = "Keys";

function status(k) {
  if (k.disabled) return ["disabled", "off"];
  if (k.expires_at && Date.parse(k.expires_at) <= Date.now()) return ["expired", "off"];
  return ["active", "ok"];
}

function limits(k) {
  const parts = [];
  if (k.limit !== null) parts.push(`${fmtUSD(k.limit)}${k.limit_reset ? ` ${k.limit_reset}` : ""}`);
  if (k.rpm) parts.push(`${fmtInt(k.rpm)} RPM`);
  if (k.tpm) parts.push(`${fmtInt(k.tpm)} TPM`);
  return parts.length ? parts.join(" · ") : "none";
}

function createForm(models, onCreated) {
  const err = el("p", { class: "error", hidden: true });
  const form = el("form", { class: "card create", id: "create-key" },
    el("h2", {}, "New key"),
    el("div", { class: "fields" },
      el("label", {}, "Name", el("input", { name: "name", required: true, maxlength: 64, placeholder: "ci-bot" })),
      el("label", {}, "Spend limit (USD)", el("input", { name: "limit", type: "number", min: "0", step: "any", placeholder: "no limit" })),
      el("label", {}, "Limit resets",
        el("select", { name: "limit_reset" },
          el("option", { value: "" }, "never"), el("option", { value: "daily" }, "daily"),
          el("option", { value: "weekly" }, "weekly"), el("option", { value: "monthly" }, "monthly"))),
      el("label", {}, "Requests per minute", el("input", { name: "rpm", type: "number", min: "1", step: "1", placeholder: "no limit" })),
      el("label", {}, "Tokens per minute", el("input", { name: "tpm", type: "number", min: "1", step: "1", placeholder: "no limit" })),
      el("label", {}, "Expires", el("input", { name: "expires_at", type: "datetime-local" })),
      el("label", { class: "wide" }, "Allowed models (comma-separated; empty: all)",
        el("input", { name: "models", list: "model-ids", placeholder: "openai/gpt-4o-mini, anthropic/claude-3.5-haiku" }))),
    el("datalist", { id: "model-ids" }, models.map((m) => el("option", { value: m }))),
    err,
    el("button", { type: "submit" }, "Create key"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = form.elements;
    const body = { name: f.name.value.trim() };
    if (f.limit.value !== "") body.limit = Number(f.limit.value);
    if (f.limit_reset.value) body.limit_reset = f.limit_reset.value;
    if (f.rpm.value) body.rpm = Number(f.rpm.value);
    if (f.tpm.value) body.tpm = Number(f.tpm.value);
    if (f.expires_at.value) body.expires_at = new Date(f.expires_at.value).toISOString();
    const ids = f.models.value.split(",").map((s) => s.trim()).filter(Boolean);
    if (ids.length) body.models = ids;
    err.hidden = true;
    try {
      const r = await api("/api/v1/keys", { method: "POST", body });
      form.reset();
      onCreated(r);
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
    }
  });
  return form;
}

// The secret, once: copy it now.
function secretBox(created) {
  const input = el("input", { readonly: true, value: created.key, id: "new-secret", class: "secret" });
  return el("div", { class: "card notice-ok", role: "status" },
    el("h2", {}, `Key “${created.data.name}” created`),
    el("p", {}, "Copy the key now: it is shown only this once (the gateway keeps only its hash)."),
    el("div", { class: "row" }, input,
      el("button", { type: "button", onclick: async (ev) => {
        input.select();
        try {
          await navigator.clipboard.writeText(created.key);
          ev.target.textContent = "Copied";
        } catch {
          ev.target.textContent = "Select and copy";
        }
      } }, "Copy")));
}

function keyRow(k, act) {
  const [word, cls] = status(k);
  return el("tr", { "data-hash": k.hash, "data-name": k.name },
    el("td", {}, el("strong", {}, k.name), el("div", { class: "muted mono" }, k.hash.slice(0, 12))),
    el("td", {}, el("span", { class: `badge ${cls}` }, word)),
    el("td", {}, limits(k)),
    el("td", { class: "num" }, k.limit === null ? "–" : fmtUSD(k.limit_remaining)),
    el("td", { class: "num" }, fmtUSD(k.usage_daily)),
    el("td", { class: "num" }, fmtUSD(k.usage_monthly)),
    el("td", { class: "num" }, fmtUSD(k.usage)),
    el("td", { class: "num" }, fmtInt(k.requests)),
    el("td", {}, k.models ? k.models.join(", ") : "all"),
    el("td", { class: "actions" },
      el("button", { type: "button", class: "quiet", "data-action": k.disabled ? "enable" : "disable",
                     onclick: () => act("PATCH", k, { disabled: !k.disabled }) },
        k.disabled ? "Enable" : "Disable"),
      el("button", { type: "button", class: "danger", "data-action": "revoke",
                     onclick: () => {
                       if (confirm(`Revoke the key “${k.name}”? Requests with it are refused at once; this cannot be undone.`))
                         act("DELETE", k);
                     } }, "Revoke")));
}

export function mount(root) {
  const top = el("div");
  const list = el("div", { class: "card" });
  root.append(el("div", { class: "page-head" }, el("h1", {}, "Keys")), top, list);

  async function act(method, k, body) {
    try {
      await api(`/api/v1/keys/${encodeURIComponent(k.hash)}`, { method, body });
    } catch (e) {
      list.prepend(errorBox(e));
      return;
    }
    load();
  }

  async function load() {
    let keys;
    try {
      keys = (await api("/api/v1/keys?include_disabled=true")).data;
    } catch (e) {
      clear(list, errorBox(e));
      return;
    }
    clear(list,
      el("h2", {}, `${keys.length} ${keys.length === 1 ? "key" : "keys"}`),
      keys.length === 0 ? el("p", { class: "muted" }, "No client keys yet: create one above.") :
      el("table", { id: "keys" },
        el("thead", {}, el("tr", {},
          ["Key", "Status", "Limits", "Remaining", "Today", "This month", "All time", "Requests", "Models", ""]
            .map((h, i) => el("th", { class: i >= 3 && i <= 7 ? "num" : "" }, h)))),
        el("tbody", {}, keys.map((k) => keyRow(k, act)))));
    root.dataset.loaded = "keys";
  }

  (async () => {
    let models = [];
    try {
      models = (await api("/v1/models")).data.map((m) => m.id);
    } catch {
      models = [];
    }
    clear(top, createForm(models, (created) => {
      top.querySelector(".notice-ok")?.remove();
      top.prepend(secretBox(created));
      load();
    }));
    load();
  })();
}
