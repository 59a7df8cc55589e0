// Keeps a signing request's page current: polls its status (data-status-url on #sign-status),
// moves the progress bar, and reloads the page when the status changes — approved on the
// phone, signed, failed, expired. Without JavaScript the page refreshes itself while signing.
"use strict";

(function () {
  const FINAL = ["signed", "failed", "rejected", "expired", "cancelled"];

  document.addEventListener("DOMContentLoaded", function () {
    const box = document.getElementById("sign-status");
    if (!box || !box.dataset.statusUrl) return;
    const initial = box.dataset.status;
    if (FINAL.indexOf(initial) >= 0) return;

    async function tick() {
      try {
        const resp = await fetch(box.dataset.statusUrl, {
          credentials: "same-origin",
          cache: "no-store",
        });
        if (resp.ok) {
          const s = await resp.json();
          const bar = document.getElementById("progress");
          const count = document.getElementById("progress-count");
          if (bar) {
            bar.max = s.total;
            bar.value = s.done;
          }
          if (count) count.textContent = s.done + " / " + s.total;
          if (s.status !== initial) {
            window.location.reload();
            return;
          }
        }
      } catch (e) {
        // A network hiccup: try again at the next tick.
      }
      setTimeout(tick, initial === "approved" ? 1000 : 2000);
    }
    setTimeout(tick, 1000);
  });
})();
