// The inbox's keyboard and saved replies (CSP: our own files only, no inline script).
// Progressive enhancement: the inbox works without it.
//   j / k: next / previous item    Enter / o: open it    r: reply    a: assign    ?: the keys
(function () {
  "use strict";

  // On a phone the filters fold away (the list comes first) unless some are in use.
  var filtersBox = document.querySelector("details.inbox-filters-box");
  if (filtersBox && filtersBox.dataset.filtersActive !== "true" && window.matchMedia("(max-width: 48rem)").matches) {
    filtersBox.open = false;
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function items() {
    return Array.prototype.slice.call(document.querySelectorAll(".inbox-item"));
  }

  function select(list, index) {
    list.forEach(function (item) { item.classList.remove("current"); });
    var item = list[index];
    if (!item) return;
    item.classList.add("current");
    var link = item.querySelector("a.open");
    if (link) link.focus();
    item.scrollIntoView({ block: "nearest" });
  }

  function currentIndex(list) {
    for (var i = 0; i < list.length; i++) {
      if (list[i].classList.contains("current") || list[i].contains(document.activeElement)) return i;
    }
    return -1;
  }

  function help() {
    var dialog = document.getElementById("keys-help");
    if (dialog && typeof dialog.showModal === "function" && !dialog.open) dialog.showModal();
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var list = items();
    var index = currentIndex(list);
    switch (event.key) {
      case "j":
        if (list.length) select(list, Math.min(index + 1, list.length - 1));
        break;
      case "k":
        if (list.length) select(list, Math.max(index - 1, 0));
        break;
      case "o":
      case "Enter":
        if (index < 0 || event.key === "Enter" && document.activeElement && document.activeElement.tagName === "A") return;
        var link = list[index].querySelector("a.open");
        if (link) window.location.assign(link.href);
        break;
      case "r":
        var reply = document.getElementById("reply-text");
        if (!reply) return;
        reply.focus();
        break;
      case "a":
        var assign = document.getElementById("assign-select");
        if (!assign) return;
        assign.focus();
        break;
      case "?":
        help();
        break;
      default:
        return;
    }
    event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-keys-help]")) help();
  });

  // Saved replies: choosing one in the list, or typing its /code alone in the box, fills the text.
  function savedText(code) {
    var list = document.querySelector("[data-saved-replies]");
    if (!list) return null;
    for (var i = 0; i < list.options.length; i++) {
      if (list.options[i].value === code) return list.options[i].getAttribute("data-text");
    }
    return null;
  }

  document.addEventListener("change", function (event) {
    var list = event.target;
    if (!list.matches || !list.matches("[data-saved-replies]") || !list.value) return;
    var box = document.getElementById("reply-text");
    var text = savedText(list.value);
    if (box && text !== null) {
      box.value = text;
      box.focus();
    }
  });

  document.addEventListener("input", function (event) {
    var box = event.target;
    if (box.id !== "reply-text") return;
    var match = /^\/([A-Za-z0-9_-]+)$/.exec(box.value.trim());
    if (!match) return;
    var text = savedText(match[1].toLowerCase());
    if (text !== null) box.value = text;
  });
})();
