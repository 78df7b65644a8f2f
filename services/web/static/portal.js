// The portal's only script of its own. The pages work without it (plain posts and 303s);
// htmx (hx-boost) makes them smoother, and every request it sends carries the session's
// CSRF token as a header, as every form carries it as a hidden field.
"use strict";

document.addEventListener("htmx:configRequest", (event) => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) {
    event.detail.headers["X-CSRF-Token"] = meta.content;
  }
});

// After a boosted navigation, move focus to the page's main heading, as a page load would
// put a screen reader at the start of the new page.
document.addEventListener("htmx:afterSettle", () => {
  const heading = document.querySelector("main h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
});

// A new ticket's help topic: the chosen topic's instructions beside the select, copied from
// the list of every topic's (which the page shows without this script, as a <details>).
document.addEventListener("change", (event) => {
  const select = event.target;
  if (!(select instanceof HTMLSelectElement) || !select.dataset.instructions) {
    return;
  }
  const shown = document.getElementById(select.dataset.instructions);
  const all = document.getElementById(select.dataset.instructionsFrom || "");
  if (!shown) {
    return;
  }
  const source = all
    ? Array.from(all.querySelectorAll("[data-topic]")).find(
        (item) => item.dataset.topic === select.value,
      )
    : undefined;
  shown.replaceChildren(...(source ? source.cloneNode(true).childNodes : []));
});
