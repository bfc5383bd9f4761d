/* CareScreen console: keyboard shortcuts and the print button. Loaded as a file (the CSP forbids inline script). */
(function () {
  "use strict";

  var SHORTCUTS = { a: "act-approve", r: "act-reject", e: "act-escalate", n: "act-next" };

  function typing(el) {
    if (!el) { return false; }
    var tag = (el.tagName || "").toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || el.isContentEditable;
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey || ev.repeat) { return; }
    if (typing(ev.target) || typing(document.activeElement)) { return; }
    var id = SHORTCUTS[(ev.key || "").toLowerCase()];
    if (!id) { return; }
    var button = document.getElementById(id);
    if (!button || button.disabled) { return; }
    ev.preventDefault();
    if (button.form && button.form.dataset.sent === "1") { return; }  // one decision per keypress
    if (button.form) { button.form.dataset.sent = "1"; }
    button.click();
  });

  /* Parts of the page marked data-live-src (the queue, the lead's urgent banner) refresh themselves: fetched
     every data-live-every seconds and swapped in when they changed, without reloading the page. A part the
     user is working in (focus inside it) is left alone until they move on. */
  function live(el) {
    var src = el.getAttribute("data-live-src");
    var every = Math.max(2, parseInt(el.getAttribute("data-live-every"), 10) || 10) * 1000;
    var last = null;
    function schedule() { window.setTimeout(tick, every); }
    function tick() {
      if (document.hidden) { schedule(); return; }
      window.fetch(src, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) {
          if (r.status === 401) { window.location.assign("/console/login"); return null; }
          return r.ok ? r.text() : null;
        })
        .then(function (html) {
          if (html === null || html === last) { return; }
          if (el.contains(document.activeElement) && document.activeElement !== el) { return; }
          last = html;
          el.innerHTML = html;
          el.setAttribute("data-refreshed", String(Date.now()));
        })
        .catch(function () { /* offline for a moment: try again at the next tick */ })
        .then(schedule);
    }
    schedule();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var parts = document.querySelectorAll("[data-live-src]");
    for (var i = 0; i < parts.length; i++) { live(parts[i]); }
    var print = document.getElementById("print-report");
    if (print) { print.addEventListener("click", function () { window.print(); }); }
    var start = document.getElementById("start-reviewing");
    if (start && !document.getElementById("act-next")) { SHORTCUTS.n = "start-reviewing"; }
  });
})();
