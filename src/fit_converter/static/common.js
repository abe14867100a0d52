// Shared by every page: local times and confirmation of destructive forms.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Show <time class="localtime"> values in the viewer's own time zone.
  for (const element of document.querySelectorAll("time.localtime")) {
    const moment = new Date(element.getAttribute("datetime"));
    if (!Number.isNaN(moment.getTime())) {
      element.title = element.textContent;
      element.textContent = moment.toLocaleString(undefined, {
        dateStyle: "medium",
        timeStyle: "short",
      });
    }
  }

  // Ask before submitting a form that carries data-confirm (delete buttons).
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
      }
    });
  }
});
