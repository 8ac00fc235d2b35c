// Porte-voix admin: the only script besides htmx (CSP forbids inline scripts).
// Progressive enhancement: every page works without it.
(function () {
  "use strict";

  // <button data-copy="#id">: copy a shown-once secret to the clipboard.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      button.textContent = button.getAttribute("data-copied") || button.textContent;
    });
  });

  // <form data-confirm="…">: ask before a consequential post (deactivate, reset, revoke).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // The composer's upload form: empty it once the file is stored (htmx added it to the list).
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target;
    if (form && form.id === "media-upload" && event.detail.successful) form.reset();
  });

  // The composer's live check: the panel itself is not a live region (it would be read out whole at
  // every keystroke); one short sentence is, in #live-check-summary: the outcome and how many remarks.
  function liveSummary() {
    var panel = document.getElementById("live-check");
    if (!panel) return null;
    var summary = document.getElementById("live-check-summary");
    if (!summary) {
      summary = document.createElement("p");
      summary.id = "live-check-summary";
      summary.className = "visually-hidden";
      summary.setAttribute("role", "status");
      var body = document.getElementById("live-check-body");
      panel.insertBefore(summary, body);
    }
    return summary;
  }
  document.addEventListener("DOMContentLoaded", liveSummary);
  document.addEventListener("htmx:afterSwap", function (event) {
    if (!event.target || event.target.id !== "live-check-body") return;
    var summary = liveSummary();
    if (!summary) return;
    var outcome = event.target.querySelector(".outcome, .error");
    var count = event.target.querySelectorAll(".finding").length;
    var text = outcome ? outcome.textContent.replace(/\s+/g, " ").trim() : "";
    var template = summary.getAttribute(count === 1 ? "data-one" : "data-many");
    if (count && template) text += " " + template.replace("%(num)d", String(count));
    summary.textContent = text;
  });
})();
