/* Progressive enhancement of forms (no framework; the server-rendered page works without it).
 * - A form that came back with errors: move focus to the error summary at its top (#problems) and scroll to it;
 *   a link in the summary focuses the field it names.
 * - A page that came after a save (a message such as "Opgeslagen in het EPD." at its top, no errors, no place on the
 *   page asked for): the message takes focus, so a screen reader says it and the keyboard starts from there.
 * - A long text area (textarea with maxlength): a counter of the characters left appears before the limit.
 * The counter's text comes from this script tag's data-counter attribute ("{left}" is replaced), so it is
 * translated with the rest of the page. */
(function () {
  "use strict";
  var script = document.currentScript;
  var counterText = (script && script.getAttribute("data-counter")) || "{left}";
  var SHOW_FROM = 0.8; // show the counter once this share of the limit is used

  function focusSummary() {
    var summary = document.getElementById("problems");
    if (!summary) {
      return;
    }
    if (!summary.hasAttribute("tabindex")) {
      summary.setAttribute("tabindex", "-1");
    }
    summary.scrollIntoView({ block: "start" });
    summary.focus();
    summary.addEventListener("click", function (event) {
      var link = event.target.closest ? event.target.closest("a[href^='#']") : null;
      if (!link) {
        return;
      }
      var field = document.getElementById(decodeURIComponent(link.getAttribute("href").slice(1)));
      if (field) {
        event.preventDefault();
        field.scrollIntoView({ block: "center" });
        field.focus();
      }
    });
  }

  function focusMessage() {
    var message = document.querySelector(".messages .flash");
    if (!message || document.getElementById("problems") || window.location.hash) {
      return;
    }
    message.setAttribute("tabindex", "-1");
    message.focus();
  }

  function addCounter(area) {
    var limit = parseInt(area.getAttribute("maxlength") || area.getAttribute("data-maxlength"), 10);
    if (!limit || limit <= 0) {
      return;
    }
    var counter = document.createElement("p");
    counter.className = "char-count";
    counter.id = (area.id || "text") + "-count";
    counter.setAttribute("aria-live", "polite");
    area.insertAdjacentElement("afterend", counter);
    function update() {
      var used = area.value.length;
      var near = used >= Math.floor(limit * SHOW_FROM);
      counter.hidden = !near;
      counter.textContent = near ? counterText.replace("{left}", String(Math.max(0, limit - used))) : "";
      counter.classList.toggle("char-count-full", used >= limit);
    }
    area.addEventListener("input", update);
    update();
  }

  function init() {
    focusSummary();
    focusMessage();
    var areas = document.querySelectorAll("textarea[maxlength], textarea[data-maxlength]");
    for (var i = 0; i < areas.length; i++) {
      addCounter(areas[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
