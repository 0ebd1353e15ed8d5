// kilngit serve: keyboard labeling and time on item. No inline scripts anywhere (the page's CSP forbids them).
(function () {
  "use strict";
  var shownAt = performance.now();

  function form() { return document.getElementById("label-form"); }
  function rows() { var f = form(); return f ? Array.prototype.slice.call(f.querySelectorAll("tr.row")) : []; }
  function active() { return rows().findIndex(function (r) { return r.classList.contains("active"); }); }
  function activate(i) {
    var all = rows();
    if (!all.length) return;
    i = Math.max(0, Math.min(i, all.length - 1));
    all.forEach(function (r, j) { r.classList.toggle("active", j === i); });
  }
  function submit() {
    var f = form();
    if (!f) return;
    f.querySelector("input[name=seconds]").value = ((performance.now() - shownAt) / 1000).toFixed(1);
    f.requestSubmit();
  }
  function typing(el) {
    return el && (el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && el.type === "text") || el.tagName === "SELECT");
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var f = form();
    if (typing(e.target)) {
      if (e.key === "Escape") e.target.blur();
      return;
    }
    if (!f && e.key !== "u") return;
    var key = e.key.toLowerCase();
    var i = active(), all = rows();
    var input = f && i >= 0 && key.length === 1 ? all[i].querySelector("input[data-key='" + CSS.escape(key) + "']") : null;
    if (input) {
      input.checked = true;
      e.preventDefault();
      if (i === all.length - 1) submit(); else activate(i + 1);
      return;
    }
    var handled = true;
    if (key === "j" || e.key === "ArrowDown") activate(i + 1);
    else if (key === "k" || e.key === "ArrowUp") activate(i - 1);
    else if (e.key === "Enter") submit();
    else if (key === "s") { var skip = document.getElementById("skip"); if (skip) skip.click(); }
    else if (key === "u") { var undo = document.getElementById("undo-form"); if (undo) undo.requestSubmit(); }
    else if (key === "n") f.querySelector("textarea[name=note]").focus();
    else if (key === "t") f.querySelector("input[name=tags]").focus();
    else if (key === "a") f.querySelector("textarea[name=reference]").focus();
    else if (key === "e") {
      var repair = f.querySelector("textarea[name=repair]");
      if (!repair.value) repair.value = repair.dataset.output;
      repair.focus();
    } else if (key === "?") document.body.classList.toggle("show-help");
    else handled = false;
    if (handled) e.preventDefault();
  });

  // A new item was swapped in: start its clock.
  document.addEventListener("htmx:afterSwap", function () { shownAt = performance.now(); });
  document.addEventListener("click", function (e) {
    var row = e.target.closest && e.target.closest("tr.row");
    if (row) activate(rows().indexOf(row));
  });
})();
