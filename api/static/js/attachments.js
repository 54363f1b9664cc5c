// Complaint attachments: read chosen files as base64 for the API; links that download a stored file
// with the bearer token (a plain <a href> cannot send it), or open a URL reference.
import { el, showError, token } from "./common.js";

export async function readFiles(input) {
  const read = (file) => new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve({ name: file.name, content_type: file.type || "application/octet-stream",
      data_b64: String(r.result).slice(String(r.result).indexOf(",") + 1) });
    r.onerror = () => reject(new Error(`cannot read ${file.name}: ${r.error}`));
    r.readAsDataURL(file);
  });
  return Promise.all([...input.files].map(read));
}

// The files being fetched, by download address: a second click on a link while its file is on its way (a
// photo over a slow link) started a second download. The link says so meanwhile, also when the list it is
// in is drawn again by a live update.
const fetching = new Set();
const preparing = (a, busy) => {
  for (const link of document.querySelectorAll(`a.attachment[data-download="${CSS.escape(a.download)}"]`)) {
    link.setAttribute("aria-disabled", String(busy));
    link.classList.toggle("preparing", busy);
    link.querySelector(".attachment-state").textContent = busy ? " preparing…" : "";
  }
};

async function download(a) {
  if (fetching.has(a.download)) return;
  fetching.add(a.download);
  preparing(a, true);
  try {
    let res;
    try {
      res = await fetch(a.download, { headers: { Authorization: `Bearer ${token() || ""}` } });
    } catch (err) { throw new Error(`no answer from the server (${err.message}): check the connection, then try again`); }
    if (!res.ok) {
      let detail = `${res.status} ${res.statusText}`;
      try { detail = (await res.json()).detail || detail; } catch (_) { /* not JSON */ }
      throw new Error(detail);
    }
    const url = URL.createObjectURL(await res.blob());
    const link = el("a", { href: url, download: a.name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) {
    showError(new Error(`Download of ${a.name} failed: ${err.message}`));
  } finally {
    fetching.delete(a.download);
    preparing(a, false);
  }
}

const kib = (n) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MiB` : n >= 1024 ? `${Math.round(n / 1024)} KiB`
  : `${n} B`);  // a 12-byte log is not "1 KiB"

export function attachmentLinks(attachments) {
  return el("span", { class: "attachments" }, (attachments || []).map((a) => {
    if (a.download) {
      const busy = fetching.has(a.download);
      const link = el("a", { href: "#", class: busy ? "attachment preparing" : "attachment", "data-attachment": a.id,
        "data-download": a.download, "aria-disabled": String(busy), title: `sha256 ${a.sha256}` },
      `${a.name} (${kib(a.size)})`, el("span", { class: "attachment-state" }, busy ? " preparing…" : ""));
      link.addEventListener("click", (e) => { e.preventDefault(); download(a); });
      return [" ", link];
    }
    return a.url && /^https?:\/\//.test(a.url)
      ? [" ", el("a", { href: a.url, class: "attachment", rel: "noopener noreferrer", target: "_blank" }, a.name)]
      : [" ", el("span", { class: "attachment" }, a.name)];
  }).flat());
}
