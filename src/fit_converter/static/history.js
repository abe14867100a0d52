// History page: select all entries for the .zip download, refresh while jobs run.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const selectAll = document.getElementById("select-all");
  if (selectAll) {
    selectAll.addEventListener("change", () => {
      for (const box of document.querySelectorAll('input[name="entry"]')) {
        box.checked = selectAll.checked;
      }
    });
  }

  // Reload while a conversion is running, unless the user has started selecting.
  const form = document.getElementById("zip-form");
  const seconds = form ? Number(form.dataset.refresh) : 0;
  if (seconds > 0) {
    window.setTimeout(() => {
      if (!document.querySelector('input[name="entry"]:checked')) {
        window.location.reload();
      }
    }, seconds * 1000);
  }
});
