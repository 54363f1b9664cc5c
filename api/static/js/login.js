import { ApiError, el, safeNext, setToken, token } from "./common.js";

const main = document.getElementById("main");
const input = el("input", { id: "token", type: "password", autocomplete: "off", placeholder: "fs_…", required: true });
const msg = el("div", { id: "login-error" });
const form = el("form", { class: "panel login", id: "login-form" },
  el("h1", {}, "Foreshock"),
  el("p", { class: "muted" }, "Paste your API token (from ", el("code", {}, "foreshock token create"), ")."),
  el("label", { for: "token" }, "Token", input), msg, el("button", { type: "submit", id: "login-button" }, "Log in"));
main.append(form);

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  msg.replaceChildren();
  const res = await fetch("/api/v1/me", { headers: { Authorization: `Bearer ${input.value.trim()}` } });
  if (!res.ok) {
    const detail = (await res.json().catch(() => ({}))).detail || res.statusText;
    msg.append(el("div", { class: "error", role: "alert" }, `Login failed: ${detail}`));
    return;
  }
  setToken(input.value);
  location.href = safeNext(new URLSearchParams(location.search).get("next"));
});
if (token()) msg.append(el("p", { class: "muted" }, "You are logged in; log in again to switch tokens."));
void ApiError;
