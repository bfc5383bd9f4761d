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

  document.addEventListener("DOMContentLoaded", function () {
    var print = document.getElementById("print-report");
    if (print) { print.addEventListener("click", function () { window.print(); }); }
    var start = document.getElementById("start-reviewing");
    if (start && !document.getElementById("act-next")) { SHORTCUTS.n = "start-reviewing"; }
  });
})();
