// Pressroom admin UI: progressive enhancement only. Every behaviour is keyed by a data-*
// attribute and optional; without this script every page works with links and forms.
//   [data-countdown]      ticking "Submits in …" (server time in data-now fixes clock skew)
//   [data-live-preview]   debounced live preview of the design form into img[data-preview]
//   [data-dialog]         confirm links open the <dialog> with that id (showModal)
//   [data-select]         selection count in the bulk bar
//   [data-import]         import progress from its server-sent events, reload when done
//   [data-once]           a submit button disables itself after the first press
//   [data-focus]          an error summary takes focus on load

// Errors of any script on the page are kept for the browser tests to read; the script marks
// the page when it has set everything up (html[data-js=ready]).
window.pressroomErrors = [];
window.addEventListener("error", (e) => window.pressroomErrors.push(String(e.message)));
window.addEventListener("unhandledrejection", (e) => window.pressroomErrors.push(String(e.reason)));

const skew = (() => {
  const el = document.querySelector("[data-now]");
  if (!el) return 0;
  const server = Date.parse(el.dataset.now);
  return Number.isNaN(server) ? 0 : server - Date.now();
})();
const now = () => Date.now() + skew;

function durationText(secs) {
  if (secs >= 86400) return `${Math.floor(secs / 86400)} d ${Math.floor((secs % 86400) / 3600)} h`;
  if (secs >= 3600) return `${Math.floor(secs / 3600)} h ${Math.floor((secs % 3600) / 60)} min`;
  if (secs >= 60) return `${Math.ceil(secs / 60)} min`;
  return `${secs} s`;
}

function countdowns() {
  const els = [...document.querySelectorAll("time[data-countdown]")];
  if (!els.length) return;
  let reloaded = false;
  const started = new Map();
  const tick = () => {
    let soonest = Infinity;
    for (const el of els) {
      const at = Date.parse(el.getAttribute("datetime"));
      if (Number.isNaN(at)) continue;
      const left = Math.round((at - now()) / 1000);
      soonest = Math.min(soonest, left);
      if (!started.has(el)) started.set(el, left);
      if (left <= 0) {
        el.textContent = "Submitting…";
        // Reload once when it reaches zero while watched (not in a loop when overdue).
        if (!reloaded && !el.dataset.done && started.get(el) > 0) {
          el.dataset.done = "1";
          reloaded = true;
          setTimeout(() => location.reload(), 5000);
        }
      } else {
        el.textContent = `Submits in ${durationText(left)}`;
      }
    }
    // Each second under an hour, else each minute.
    setTimeout(tick, soonest < 3600 ? 1000 : 60000);
  };
  tick();
}

function livePreview() {
  const form = document.querySelector("form[data-live-preview]");
  const img = document.querySelector("img[data-preview]");
  if (!form || !img) return;
  const box = document.querySelector("[data-preview-box]");
  const state = document.querySelector("[data-preview-state]");
  const url = form.dataset.livePreview;
  let timer = 0;
  let controller = null;
  let lastQuery = null;
  const query = () => {
    const params = new URLSearchParams();
    for (const [k, v] of new FormData(form)) {
      if (k !== "csrf" && typeof v === "string") params.append(k, v);
    }
    return params.toString();
  };
  const update = async () => {
    const q = query();
    if (q === lastQuery) return;
    if (controller) controller.abort();
    controller = new AbortController();
    const mine = controller;
    box?.setAttribute("aria-busy", "true");
    form.dataset.state = "loading";
    if (state) state.textContent = "Updating…";
    try {
      // Fetch (abortable) into the HTTP cache, then show the same URL once decoded: the
      // image's address stays the preview URL with the typed values.
      const src = `${url}?${q}`;
      const resp = await fetch(src, { signal: mine.signal, credentials: "same-origin" });
      if (!resp.ok) throw new Error(`preview ${resp.status}`);
      await resp.blob();
      if (mine !== controller) return;
      const next = new Image();
      next.src = src;
      await next.decode();
      if (mine !== controller) return;
      img.src = src;
      img.dataset.rev = String(Number(img.dataset.rev || "0") + 1);
      lastQuery = q;
      if (state) state.textContent = "Preview";
      form.dataset.state = "ready";
    } catch (e) {
      if (e.name === "AbortError") return;
      if (state) state.textContent = "The preview could not be updated; the last one is shown.";
      form.dataset.state = "error";
    } finally {
      if (mine === controller) box?.setAttribute("aria-busy", "false");
    }
  };
  lastQuery = query();
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(update, 300);
  });
  form.addEventListener("change", () => {
    clearTimeout(timer);
    timer = setTimeout(update, 300);
  });
}

function dialogs() {
  for (const link of document.querySelectorAll("a[data-dialog]")) {
    const dialog = document.getElementById(link.dataset.dialog);
    if (!dialog || typeof dialog.showModal !== "function") continue;
    link.addEventListener("click", (ev) => {
      ev.preventDefault();
      dialog.showModal();
      dialog.querySelector("[data-close]")?.focus();
    });
    dialog.addEventListener("close", () => link.focus());
    for (const close of dialog.querySelectorAll("[data-close]")) {
      close.addEventListener("click", () => dialog.close());
    }
  }
}

function once() {
  for (const button of document.querySelectorAll("button[data-once]")) {
    button.form?.addEventListener("submit", () => {
      setTimeout(() => { button.disabled = true; }, 0);
    });
  }
}

function selection() {
  const bar = document.querySelector("form[data-bulk]");
  const count = bar?.querySelector("[data-selected-count]");
  if (!bar || !count) return;
  const boxes = [...document.querySelectorAll("input[data-select]")];
  const update = () => {
    const n = boxes.filter((b) => b.checked).length;
    count.textContent = `${n} selected`;
    bar.dataset.count = String(n);
  };
  for (const b of boxes) b.addEventListener("change", update);
  update();
}

function importProgress() {
  const box = document.querySelector("[data-import]");
  if (!box || box.dataset.state !== "running") return;
  const progress = box.querySelector("progress");
  const counts = box.querySelector("[data-import-counts]");
  const show = (s) => {
    const p = s.progress || {};
    const total = Math.max(p.total || 0, p.seen || 0, 1);
    if (progress) { progress.max = total; progress.value = p.seen || 0; }
    if (counts) {
      counts.textContent = `${p.seen || 0} of ${total} seen · ${p.created || 0} new · ${p.updated || 0} updated · ${p.unchanged || 0} unchanged · ${p.failed || 0} failed`;
    }
  };
  // Each event carries the whole state, so the browser's own reconnects lose nothing.
  const events = new EventSource(box.dataset.import);
  events.addEventListener("progress", (ev) => {
    const s = JSON.parse(ev.data);
    show(s);
    if (s.state !== "running") {
      events.close();
      location.reload();
    }
  });
}

function focusErrors() {
  document.querySelector("[data-focus]")?.focus();
}

for (const f of [countdowns, livePreview, dialogs, once, selection, importProgress, focusErrors]) {
  try { f(); } catch (e) { window.pressroomErrors.push(`${f.name}: ${e}`); console.error(e); }
}
document.documentElement.dataset.js = "ready";
