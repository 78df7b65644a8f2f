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
