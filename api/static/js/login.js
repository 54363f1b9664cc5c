import { ApiError, el, safeNext, setToken, token } from "./common.js";

const main = document.getElementById("main");
const input = el("input", { id: "token", type: "password", autocomplete: "off", placeholder: "fs_…", required: true });
const msg = el("div", { id: "login-error" });
const form = el("form", { class: "panel login", id: "login-form" },
  el("h1", {}, "Foreshock"),
  el("p", { class: "muted" }, "Paste your API token (from ", el("code", {}, "foreshock token create"), ")."),
  el("label", { for: "token" }, "Token", input), msg, el("button", { type: "submit", id: "login-button" }, "Log in"));
main.append(form);

// A server that cannot be reached (down, a proxy in between, the phone offline) is said: the button did
// nothing at all, and a slow answer is waited for with the button disabled.
const button = form.querySelector("#login-button");
form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (button.disabled) return;
  msg.replaceChildren();
  const fail = (text) => msg.append(el("div", { class: "error", role: "alert" }, `Login failed: ${text}`));
  button.disabled = true;
  try {
    const res = await fetch("/api/v1/me", { headers: { Authorization: `Bearer ${input.value.trim()}` } });
    if (!res.ok) {
      fail((await res.json().catch(() => ({}))).detail || `${res.status} ${res.statusText}`);
      return;
    }
    setToken(input.value);
    location.href = safeNext(new URLSearchParams(location.search).get("next"));
  } catch (err) {
    fail(`the Foreshock server cannot be reached (${err.message}); check the connection and try again`);
  } finally { button.disabled = false; }
});
if (token()) msg.append(el("p", { class: "muted" }, "You are logged in; log in again to switch tokens."));
void ApiError;
