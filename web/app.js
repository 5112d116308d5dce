// SPDX-License-Identifier: MIT
// The dashboard's shell: signing in (the admin key, when the gateway has
// one), the navigation and the pages, one module each.
import { api, clear, el, errorBox, session, setKey, signedOut } from "./lib.js";
import * as overview from "./overview.js";
import * as keys from "./keys.js";
import * as providers from "./providers.js";
import * as logs from "./logs.js";
import * as playground from "./playground.js";

const pages = { overview, keys, providers, logs, playground };
const view = document.getElementById("view");
const nav = document.getElementById("nav");
let leave = null; // the shown page's cleanup

function show(name) {
  if (leave) leave();
  leave = null;
  const page = pages[name] || overview;
  for (const a of nav.querySelectorAll("a"))
    a.classList.toggle("active", a.dataset.page === (pages[name] ? name : "overview"));
  // a page of its own each time: what a page still fetching from before
  // finishes lands in a box no longer shown (each sets data-loaded on its
  // box once its data is shown)
  const box = el("div", { class: "page", "data-page": pages[name] ? name : "overview" });
  clear(view, box);
  document.title = `switchboard · ${page.title}`;
  leave = page.mount(box) || null;
}

function route() {
  show(location.hash.replace(/^#\/?/, "").split("?")[0] || "overview");
}

function signIn(message) {
  if (leave) leave();
  leave = null;
  nav.hidden = true;
  document.getElementById("signout").hidden = true;
  document.getElementById("who").textContent = "";
  clear(view, document.getElementById("signin").content.cloneNode(true));
  const form = document.getElementById("signin-form");
  const err = document.getElementById("signin-error");
  if (message) {
    err.textContent = message;
    err.hidden = false;
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    setKey(form.elements.key.value.trim());
    const why = await check();
    if (why) {
      setKey(null);
      err.textContent = why;
      err.hidden = false;
      return;
    }
    start();
  });
}

// Whether the stored key opens the dashboard: null, or why not.
async function check() {
  try {
    const me = await api("/api/v1/key");
    const d = me.data || {};
    if (!d.is_management_key) return "This is a client key: the dashboard needs the admin key.";
    session.label = d.label || "admin";
    return null;
  } catch (e) {
    return e.status === 401 ? "The gateway refused this key." : e.message;
  }
}

function start() {
  nav.hidden = false;
  document.getElementById("who").textContent =
    session.auth === "key" ? "signed in with the admin key" : "local mode";
  document.getElementById("signout").hidden = session.auth !== "key";
  route();
}

async function boot() {
  let summary;
  try {
    summary = await api("/", { headers: { accept: "application/json" } });
  } catch (e) {
    clear(view, errorBox(e));
    return;
  }
  session.auth = summary.auth === "key" ? "key" : "none";
  session.setup = summary.setup || null;
  if (session.auth === "key") {
    if (!session.key) return signIn();
    const why = await check();
    if (why) {
      setKey(null);
      return signIn(why);
    }
  }
  start();
}

window.addEventListener("hashchange", () => {
  if (!nav.hidden) route();
});
document.getElementById("signout").addEventListener("click", () => {
  setKey(null);
  signIn();
});
signedOut.addEventListener("signedout", () => {
  if (session.auth !== "key" || nav.hidden) return;
  setKey(null);
  signIn("The gateway refused the key (changed or removed?): sign in again.");
});

boot();
