// The console's ticket page: a draft that survives a reload, live countdowns and times, who
// else is here (server-sent events) with a typing heartbeat, the keys, and a refused send
// brought into view. The page works without it: every form posts on its own.
"use strict";

(() => {
  const root = document.getElementById("ticket-page");
  if (!root) {
    return;
  }
  const number = root.dataset.number;
  const pageVersion = Number(root.dataset.version || "0");
  const presenceUrl = root.dataset.presence;
  const tab = randomId();
  const form = document.getElementById("composer-form");
  const message = document.getElementById("composer-message");
  const dialog = document.getElementById("keys-dialog");
  let source = null;
  let ticker = null;

  function randomId() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  // Times, said as the server says them (services/web/console/ticket.py: span, ago).

  function span(seconds) {
    let minutes = Math.floor(Math.max(seconds, 0) / 60);
    if (minutes < 1) {
      return "less than a minute";
    }
    if (minutes < 60) {
      return `${minutes} min`;
    }
    let hours = Math.floor(minutes / 60);
    minutes %= 60;
    if (hours < 24) {
      return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
    }
    const days = Math.floor(hours / 24);
    hours %= 24;
    return hours ? `${days} d ${hours} h` : `${days} d`;
  }

  function tick() {
    if (!document.body.contains(root)) {
      teardown();
      return;
    }
    const now = Date.now();
    for (const time of root.querySelectorAll("time[data-relative]")) {
      const seconds = (now - Date.parse(time.getAttribute("datetime"))) / 1000;
      time.textContent = seconds < 60 ? "just now" : `${span(seconds)} ago`;
    }
    for (const countdown of root.querySelectorAll('.countdown[data-state="running"]')) {
      const left = (Date.parse(countdown.dataset.due) - now) / 1000;
      countdown.textContent = left > 0 ? `due in ${span(left)}` : `breached ${span(-left)} ago`;
      const clock = countdown.closest(".clock");
      if (clock) {
        clock.classList.toggle("breached", left <= 0);
      }
    }
  }

  // Drafts: one per ticket and kind, in this browser's storage, until sent.

  const draftKey = (kind) => `ticketflow:draft:${number}:${kind}`;
  let kind = currentKind();

  function currentKind() {
    const checked = form ? form.querySelector('input[name="kind"]:checked') : null;
    return checked ? checked.value : "reply";
  }

  function storeDraft(forKind, text) {
    // Storage may be refused (a private window, a full quota): the draft then lives only in
    // the page, as it would without this script.
    try {
      if (text.trim()) {
        localStorage.setItem(draftKey(forKind), text);
      } else {
        localStorage.removeItem(draftKey(forKind));
      }
    } catch (refused) {
      console.warn("draft not stored", refused);
    }
  }

  function storedDraft(forKind) {
    try {
      return localStorage.getItem(draftKey(forKind)) || "";
    } catch (refused) {
      console.warn("draft not read", refused);
      return "";
    }
  }

  function showKind() {
    if (!form) {
      return;
    }
    form.classList.toggle("writing-note", kind === "note");
    for (const part of form.querySelectorAll(".follow-up")) {
      part.hidden = kind === "note";
    }
  }

  function setUpDrafts() {
    const sent = root.dataset.sent || new URLSearchParams(location.search).get("sent");
    if (sent === "reply" || sent === "note") {
      storeDraft(sent, "");
    }
    if (new URLSearchParams(location.search).has("sent")) {
      history.replaceState(null, "", location.pathname + location.hash);
    }
    if (!form || !message) {
      return;
    }
    if (message.value.trim()) {
      storeDraft(kind, message.value); // the server gave the text back after a refusal
    } else {
      message.value = storedDraft(kind);
    }
    showKind();
    form.addEventListener("change", (event) => {
      if (event.target.name !== "kind") {
        return;
      }
      storeDraft(kind, message.value);
      kind = currentKind();
      message.value = storedDraft(kind);
      showKind();
      typed();
    });
    message.addEventListener("input", () => {
      storeDraft(kind, message.value);
      typed();
    });
  }

  // Files past the limits are refused here, before the upload: the text stays in the page.

  function checkFiles(event) {
    const input = document.getElementById("composer-files");
    const hint = document.getElementById("composer-files-hint");
    if (!input || !input.files) {
      return;
    }
    const maxBytes = Number(input.dataset.maxBytes);
    const maxFiles = Number(input.dataset.maxFiles);
    const chosen = Array.from(input.files);
    const fits = chosen.length <= maxFiles && chosen.every((file) => file.size <= maxBytes);
    let error = document.getElementById("composer-files-error");
    if (fits) {
      return;
    }
    event.preventDefault();
    if (!error) {
      error = document.createElement("p");
      error.className = "field-error";
      error.id = "composer-files-error";
      input.after(error);
    }
    error.textContent = `Not sent: too large. ${hint ? hint.textContent : ""}`;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", "composer-files-error composer-files-hint");
    input.focus();
  }

  if (form) {
    form.addEventListener("submit", checkFiles);
  }

  // Presence: this page's stream marks it viewing; the heartbeat says its agent is writing.

  let lastBeat = 0;

  function beat(state) {
    const body = new URLSearchParams({ tab, state, kind });
    fetch(presenceUrl, {
      method: "POST",
      body,
      headers: { "X-CSRF-Token": csrf() },
      credentials: "same-origin",
      keepalive: true,
    }).catch((failed) => console.warn("presence not reported", failed));
  }

  function typed() {
    if (!message) {
      return;
    }
    if (!message.value.trim()) {
      if (lastBeat) {
        beat("idle");
        lastBeat = 0;
      }
      return;
    }
    if (Date.now() - lastBeat > 5000) {
      lastBeat = Date.now();
      beat("typing");
    }
  }

  function showPresence(others) {
    const box = document.getElementById("presence");
    if (!box) {
      return;
    }
    box.hidden = false;
    if (!others.length) {
      box.replaceChildren(paragraph("No one else has this ticket open."));
      return;
    }
    const list = document.createElement("ul");
    for (const other of others) {
      const item = document.createElement("li");
      const what = other.typing === "note" ? "an internal note" : "a reply";
      item.textContent = other.typing
        ? `${other.name} is writing ${what}`
        : `${other.name} is viewing`;
      item.className = other.typing ? "typing" : "viewing";
      list.append(item);
    }
    box.replaceChildren(paragraph("Also on this ticket:"), list);
  }

  function paragraph(text) {
    const p = document.createElement("p");
    p.textContent = text;
    return p;
  }

  function showChanged(by) {
    const notice = document.getElementById("changed");
    const words = document.getElementById("changed-words");
    if (!notice || !words) {
      return;
    }
    words.textContent = `This ticket changed since this page was loaded (by ${by}).`;
    notice.hidden = false;
  }

  function connect() {
    if (!presenceUrl || typeof EventSource === "undefined") {
      return;
    }
    source = new EventSource(`${presenceUrl}?tab=${tab}`);
    source.addEventListener("presence", (event) => {
      showPresence(JSON.parse(event.data).others);
    });
    source.addEventListener("ticket", (event) => {
      const change = JSON.parse(event.data);
      if (change.version > pageVersion) {
        showChanged(change.by);
      }
    });
  }

  function teardown() {
    if (source) {
      source.close();
      source = null;
    }
    if (ticker) {
      clearInterval(ticker);
      ticker = null;
    }
  }

  // Keys: never while typing in a field, nor with a modifier held.

  const NOT_TEXT = new Set(["button", "submit", "reset", "checkbox", "radio", "file", "range", "color"]);

  function inField(target) {
    if (!(target instanceof HTMLElement)) {
      return false;
    }
    if (target.isContentEditable || target.closest("textarea, select, [contenteditable]")) {
      return true;
    }
    return target instanceof HTMLInputElement && !NOT_TEXT.has(target.type);
  }

  function write(which) {
    const choice = document.getElementById(`kind-${which}`);
    if (!choice || !message) {
      return false;
    }
    if (!choice.checked) {
      choice.checked = true;
      choice.dispatchEvent(new Event("change", { bubbles: true }));
    }
    message.focus();
    return true;
  }

  function assignToMe() {
    const assign = document.getElementById("action-assign-me");
    const button = assign ? assign.querySelector("button") : null;
    if (!assign || !button || button.disabled) {
      return false;
    }
    assign.requestSubmit(button);
    return true;
  }

  function showKeys() {
    if (!dialog || dialog.open) {
      return false;
    }
    dialog.showModal();
    return true;
  }

  document.addEventListener("keydown", (event) => {
    if (!document.body.contains(root) || event.defaultPrevented) {
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || inField(event.target)) {
      return;
    }
    if (dialog && dialog.open) {
      return;
    }
    const done = {
      r: () => write("reply"),
      n: () => write("note"),
      a: assignToMe,
      "?": showKeys,
    }[event.key];
    if (done && done()) {
      event.preventDefault();
    }
  });

  // A refused send: the entries that came in meanwhile into view, the words beside the form.

  function showRefusal() {
    const where = root.dataset.refused;
    if (!where) {
      return;
    }
    const problem = document.getElementById(`${where}-problem`);
    const firstNew = root.querySelector("[data-first-new]");
    if (firstNew) {
      firstNew.scrollIntoView({ block: "start" });
      if (problem) {
        problem.focus({ preventScroll: true });
      }
    } else if (problem) {
      problem.focus();
    }
  }

  const openKeys = document.getElementById("keys-open");
  if (openKeys) {
    openKeys.hidden = false;
    openKeys.addEventListener("click", showKeys);
  }
  const closeKeys = document.getElementById("keys-close");
  if (closeKeys && dialog) {
    closeKeys.addEventListener("click", () => dialog.close());
  }
  // A boosted navigation elsewhere swaps the body: this page's stream and timer go with it.
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.target === document.body || !document.body.contains(root)) {
      teardown();
    }
  });
  window.addEventListener("pagehide", teardown);

  function start() {
    tick();
    ticker = setInterval(tick, 15000);
    connect();
  }

  // Back to this page from the browser's cache: its stream and timer start again.
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) {
      start();
    }
  });

  setUpDrafts();
  showRefusal();
  start();
})();
