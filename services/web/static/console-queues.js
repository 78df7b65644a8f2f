// The console's queue page. It works without this script (links, a search form, a bulk form
// that posts); with it, the rows follow the change feed, the SLA countdowns count, and the
// keys j, k, x, / and ? work (never while typing in a field).
"use strict";

(() => {
  const ROWS_EVERY_MS = 500; // at most this often: the rows and counts, fetched again
  const COUNTS_EVERY_MS = 5000; // the counts alone, for changes outside this view
  const TICK_MS = 30000; // the SLA countdowns

  const results = () => document.getElementById("queue-results");
  const skew = () => {
    // The server's clock, as the page was rendered: countdowns count from it.
    const rendered = Number(results()?.dataset.now || Date.now());
    return rendered - loadedAt;
  };
  let loadedAt = Date.now();

  // ---- The SLA countdowns, in the words the server uses --------------------------------
  function span(seconds) {
    const minutes = Math.floor(seconds / 60);
    if (minutes < 1) return "under a minute";
    const days = Math.floor(minutes / 1440);
    const hours = Math.floor((minutes % 1440) / 60);
    const mins = minutes % 60;
    if (days) return hours ? `${days} d ${hours} h` : `${days} d`;
    if (hours) return mins ? `${hours} h ${mins} min` : `${hours} h`;
    return `${mins} min`;
  }

  function tick() {
    const now = Date.now() + skew();
    for (const sla of document.querySelectorAll(".sla[data-due]")) {
      const left = (Date.parse(sla.dataset.due) - now) / 1000;
      sla.textContent = left > 0 ? `due in ${span(left)}` : "due now";
    }
    for (const sla of document.querySelectorAll(".sla[data-breached]")) {
      const since = (now - Date.parse(sla.dataset.breached)) / 1000;
      sla.textContent = `breached ${span(Math.max(since, 0))} ago`;
    }
  }

  // ---- Live: fetch the rows again when a change concerns them ---------------------------
  function belongs(change, filter) {
    const d = filter.dataset;
    if (d.statuses && !d.statuses.split(" ").includes(change.status)) return false;
    if (d.assignee && change.assignee !== d.assignee) return false;
    if (d.unassigned && change.assignee) return false;
    if (d.inTeam && !change.team) return false;
    if (d.overdue && !change.overdue) return false;
    if (d.priority && change.priority !== d.priority) return false;
    if (d.team && change.team !== d.team) return false;
    if (d.department && change.department !== d.department) return false;
    if (d.helpTopic && change.help_topic !== d.helpTopic) return false;
    return true;
  }

  function throttled(part, every) {
    let last = 0;
    let timer = null;
    let running = false;
    let again = false;
    async function run() {
      timer = null;
      if (running) {
        again = true;
        return;
      }
      running = true;
      last = Date.now();
      try {
        await refresh(part);
      } finally {
        running = false;
        if (again) {
          again = false;
          schedule();
        }
      }
    }
    function schedule() {
      if (timer !== null) return;
      timer = setTimeout(run, Math.max(0, last + every - Date.now()));
    }
    return schedule;
  }

  const refreshRows = throttled("rows", ROWS_EVERY_MS);
  const refreshCounts = throttled("counts", COUNTS_EVERY_MS);

  async function refresh(part) {
    let answer;
    try {
      answer = await fetch(window.location.href, {
        headers: { "X-Queue-Part": part },
        credentials: "same-origin",
      });
    } catch {
      return; // offline for a moment: the next change fetches again
    }
    if (!answer.ok || answer.redirected) return;
    const fresh = new DOMParser().parseFromString(await answer.text(), "text/html");
    const views = fresh.getElementById("queue-views");
    if (views) document.getElementById("queue-views")?.replaceWith(views);
    const rows = fresh.getElementById("queue-results");
    if (part === "rows" && rows) swapRows(rows);
  }

  function swapRows(rows) {
    const old = results();
    if (!old) return;
    const checked = new Set(
      Array.from(old.querySelectorAll("input[name=ticket]:checked"), (box) => box.value),
    );
    const before = new Set(Array.from(old.querySelectorAll("tr[data-number]"), numberOf));
    const current = old.querySelector("tr.current");
    const focused = old.contains(document.activeElement) ? document.activeElement : null;
    old.replaceWith(rows);
    loadedAt = Date.now();
    for (const box of rows.querySelectorAll("input[name=ticket]")) {
      box.checked = checked.has(box.value);
    }
    if (current) {
      const again = rows.querySelector(`tr[data-number="${CSS.escape(numberOf(current))}"]`);
      if (again) mark(again, focused !== null);
    }
    setUp();
    tick();
    const after = Array.from(rows.querySelectorAll("tr[data-number]"), numberOf);
    const added = after.filter((n) => !before.has(n)).length;
    const gone = [...before].filter((n) => !after.includes(n)).length;
    if (added || gone) {
      const words = [];
      if (added) words.push(`${added} ticket${added === 1 ? "" : "s"} added`);
      if (gone) words.push(`${gone} gone`);
      announce(`The list changed: ${words.join(", ")}.`);
    }
  }

  function announce(words) {
    const status = document.getElementById("queue-live-status");
    if (status) status.textContent = words;
  }

  document.addEventListener("sse:ticket", (event) => {
    const filter = results();
    if (!filter || !event.detail || typeof event.detail.data !== "string") return;
    let change;
    try {
      change = JSON.parse(event.detail.data);
    } catch {
      return;
    }
    const shown = filter.querySelector(`tr[data-number="${CSS.escape(String(change.ticket))}"]`);
    if (shown || belongs(change, filter)) refreshRows();
    else refreshCounts();
  });

  // Whether the list is live just now: said beside the heading.
  function liveState(words, live) {
    const state = document.getElementById("queue-live-state");
    if (!state) return;
    state.hidden = false;
    state.textContent = words;
    state.classList.toggle("live", live);
  }
  document.addEventListener("htmx:sseOpen", () => liveState("Live", true));
  document.addEventListener("htmx:sseError", () => liveState("Reconnecting…", false));

  // ---- Keys ------------------------------------------------------------------------------
  const numberOf = (row) => row.dataset.number || "";

  function typing(target) {
    if (!(target instanceof HTMLElement)) return false;
    if (target.isContentEditable || target.closest("textarea, select, [contenteditable]")) {
      return true;
    }
    const input = target.closest("input");
    return input !== null && !["checkbox", "radio", "button", "submit"].includes(input.type);
  }

  function mark(row, focus = true) {
    for (const other of document.querySelectorAll("#queue-results tr.current")) {
      other.classList.remove("current");
    }
    row.classList.add("current");
    if (focus) row.querySelector(".ticket-link")?.focus();
  }

  function move(step) {
    const rows = Array.from(document.querySelectorAll("#queue-results tr[data-number]"));
    if (!rows.length) return;
    const at = rows.findIndex((row) => row.classList.contains("current"));
    const next = at < 0 ? (step > 0 ? 0 : rows.length - 1) : at + step;
    mark(rows[Math.min(Math.max(next, 0), rows.length - 1)]);
  }

  function showKeys() {
    const dialog = document.getElementById("queue-keys");
    if (dialog && !dialog.open) dialog.showModal();
  }

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (!results() || typing(event.target)) return;
    if (document.querySelector("dialog[open]")) return;
    if (event.key === "j" || event.key === "k") {
      move(event.key === "j" ? 1 : -1);
    } else if (event.key === "x") {
      const box = document.querySelector("#queue-results tr.current input[name=ticket]");
      if (!box) return;
      box.checked = !box.checked;
    } else if (event.key === "/") {
      document.getElementById("queue-q")?.focus();
    } else if (event.key === "?") {
      showKeys();
    } else {
      return;
    }
    event.preventDefault();
  });

  // ---- What needs the script to work is shown only with it -------------------------------
  function setUp() {
    const all = document.getElementById("select-all");
    if (all) {
      all.hidden = false;
      all.addEventListener("change", () => {
        for (const box of document.querySelectorAll("#queue-results input[name=ticket]")) {
          box.checked = all.checked;
        }
      });
    }
  }

  function start() {
    if (!results()) return;
    loadedAt = Date.now();
    const button = document.getElementById("keys-button");
    if (button) {
      button.hidden = false;
      button.addEventListener("click", showKeys);
    }
    setUp();
    tick();
  }

  setInterval(tick, TICK_MS);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
