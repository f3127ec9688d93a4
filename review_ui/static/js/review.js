// The reviewers' pages (review_ui/review.py). No inline script anywhere: the CSP forbids it.
// 1. Deadlines: every <time class="sla" data-due> says "due in ..." / "overdue by ..."; the server
//    writes the text, this refreshes it every minute (same wording as review_ui/web.py deadline()).
// 2. The case page's keyboard shortcuts: a/b/u/o/e pick a decision, p focuses the policy, Enter
//    decides, n decides and opens the next case, r reveals the video. Ignored while typing in a
//    text field or with a modifier key held.
// 3. "Show colour" lifts the greyscale from a revealed video.
(function () {
  "use strict";

  function span(seconds) {
    var minutes = Math.max(Math.floor(seconds / 60), 0);
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    var mins = minutes % 60;
    if (days) { return days + " d " + hours + " h"; }
    if (hours) { return hours + " h " + mins + " min"; }
    return mins + " min";
  }

  function refreshDeadlines() {
    var now = Date.now();
    document.querySelectorAll("time.sla[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      if (isNaN(due)) { return; }
      var left = (due - now) / 1000;
      if (left < 0) {
        el.textContent = "overdue by " + span(-left);
        el.classList.add("sla-overdue");
      } else {
        el.textContent = "due in " + span(left);
        el.classList.remove("sla-overdue");
      }
    });
  }

  function isTyping(target) {
    if (!target || !target.tagName) { return false; }
    if (target.isContentEditable) { return true; }
    var tag = target.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select") { return true; }
    if (tag !== "input") { return false; }
    var type = (target.getAttribute("type") || "text").toLowerCase();
    return ["checkbox", "radio", "button", "submit", "reset", "range", "color", "file"].indexOf(type) === -1;
  }

  function submitWith(form, buttonId) {
    var button = document.getElementById(buttonId);
    if (typeof form.requestSubmit === "function") {
      form.requestSubmit(button || undefined);
    } else if (button) {
      button.click();
    }
  }

  function policyRequirement(form) {
    // Escalating needs no policy: the senior reviewer who decides cites one.
    var policy = document.getElementById("policy-code");
    var chosen = form.querySelector('input[name="decision"]:checked');
    if (policy) { policy.required = !(chosen && chosen.value === "escalate"); }
  }

  function setUpShortcuts() {
    var form = document.getElementById("decision-form");
    if (!form) { return; }
    form.addEventListener("change", function () { policyRequirement(form); });
    policyRequirement(form);

    form.addEventListener("keydown", function (event) {
      // Enter in the form decides; in the note a newline stays a newline (Ctrl+Enter decides).
      if (event.key !== "Enter" || event.defaultPrevented) { return; }
      var tag = event.target.tagName.toLowerCase();
      if (tag === "button") { return; }
      if (tag === "textarea" && !(event.ctrlKey || event.metaKey)) { return; }
      event.preventDefault();
      submitWith(form, "decide-button");
    });

    document.addEventListener("keydown", function (event) {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) { return; }
      if (isTyping(event.target)) { return; }
      var key = event.key.toLowerCase();
      var radio = form.querySelector('input[name="decision"][data-shortcut="' + key + '"]');
      if (radio) {
        radio.checked = true;
        radio.focus();
        policyRequirement(form);
        event.preventDefault();
        return;
      }
      if (key === "p") {
        var policy = document.getElementById("policy-code");
        if (policy) { policy.focus(); event.preventDefault(); }
      } else if (key === "n") {
        event.preventDefault();
        submitWith(form, "decide-next-button");
      } else if (key === "r") {
        var reveal = document.getElementById("reveal-button");
        if (reveal) { event.preventDefault(); reveal.click(); }
      }
    });
  }

  function setUpColour() {
    var toggle = document.getElementById("show-colour");
    var video = document.getElementById("case-video");
    if (!toggle || !video) { return; }
    toggle.addEventListener("change", function () {
      video.classList.toggle("greyscale", !toggle.checked);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    refreshDeadlines();
    window.setInterval(refreshDeadlines, 60000);
    setUpShortcuts();
    setUpColour();
  });
})();
