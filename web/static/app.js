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
})();
