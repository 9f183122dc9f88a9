// Print views of the agenda and report: show the Print button only when scripts run; the page works without it.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button.js-print").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      window.print();
    });
  });
});
