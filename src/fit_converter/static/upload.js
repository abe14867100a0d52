// Upload page: send each chosen or dropped file with its own XHR and progress bar,
// then follow its conversion job until it is converted or failed.
"use strict";

const PARALLEL_UPLOADS = 3;
const POLL_MS = 1000;

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function link(href, text, download) {
  const anchor = document.createElement("a");
  anchor.href = href;
  anchor.textContent = text;
  if (download) anchor.setAttribute("download", "");
  return anchor;
}

class FileRow {
  constructor(list, name, size) {
    this.item = document.createElement("li");
    this.name = document.createElement("span");
    this.name.className = "file-name";
    this.name.textContent = name;
    this.name.title = name;
    this.progress = document.createElement("progress");
    this.progress.max = 100;
    this.progress.value = 0;
    this.status = document.createElement("span");
    this.status.className = "file-status";
    this.status.textContent = size === null ? "queued" : `${formatBytes(size)} · waiting`;
    this.item.append(this.name, this.progress, this.status);
    list.append(this.item);
  }

  say(text) {
    this.status.replaceChildren(document.createTextNode(text));
  }

  fail(text) {
    this.item.classList.add("failed");
    this.progress.hidden = true;
    this.say(text);
  }

  finish(job) {
    this.progress.value = 100;
    if (job.status === "converted") {
      this.item.classList.add("done");
      const rows = job.rows === null ? "" : `${job.rows.toLocaleString()} rows · `;
      const warnings = job.warnings.length ? `${job.warnings.length} warning(s) · ` : "";
      this.status.replaceChildren(document.createTextNode(`converted · ${rows}${warnings}`));
      for (const output of job.outputs) {
        this.status.append(link(output.url, `Download ${output.name}`, true));
      }
      this.status.append(link(job.activity_url, "View activity", false));
    } else if (job.status === "duplicate") {
      this.item.classList.add("done");
      this.status.replaceChildren(
        document.createTextNode(`already converted as entry ${job.duplicate_of} (duplicate) · `),
      );
      for (const output of job.outputs) {
        this.status.append(link(output.url, `Download ${output.name}`, true));
      }
      if (job.outputs.length) this.status.append(link(job.activity_url, "View activity", false));
    } else {
      this.fail(`${job.status}: ${job.error || "no reason recorded"}`);
    }
  }
}

function followJob(row, statusUrl) {
  const poll = () => {
    fetch(statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => {
        if (!response.ok) throw new Error(`status check failed (HTTP ${response.status})`);
        return response.json();
      })
      .then((job) => {
        row.name.textContent = job.name;
        if (job.finished) {
          row.finish(job);
        } else {
          row.say(job.status === "running" ? "converting…" : job.status);
          window.setTimeout(poll, POLL_MS);
        }
      })
      .catch((error) => row.fail(error.message));
  };
  poll();
}

function handleAccepted(row, list, body) {
  const jobs = body.jobs || [];
  if (jobs.length === 0) {
    row.fail("nothing to convert in this upload");
    return;
  }
  row.progress.value = 100;
  // A zip becomes one job per FIT file: the first keeps this row, the rest get new rows.
  jobs.forEach((job, index) => {
    const target = index === 0 ? row : new FileRow(list, `job ${job.id}`, null);
    target.progress.value = 100;
    target.say("queued for conversion");
    followJob(target, job.status_url);
  });
  if (body.skipped && body.skipped.length) {
    const note = new FileRow(list, `${body.skipped.length} zip entries skipped`, null);
    note.progress.remove();
    note.say(body.skipped.join("; "));
  }
}

function upload(form, list, file, done) {
  const row = new FileRow(list, file.name, file.size);
  const maxBytes = Number(form.dataset.maxBytes || 0);
  if (file.size === 0) {
    row.fail("empty file (0 bytes), not sent");
    done();
    return;
  }
  if (maxBytes && file.size > maxBytes) {
    row.fail(`larger than the limit of ${formatBytes(maxBytes)}, not sent`);
    done();
    return;
  }

  const data = new FormData();
  data.append("file", file, file.name);
  const request = new XMLHttpRequest();
  request.open("POST", form.action);
  request.setRequestHeader("Accept", "application/json");
  request.setRequestHeader("X-CSRFToken", csrfToken());
  request.upload.addEventListener("progress", (event) => {
    if (event.lengthComputable) {
      row.progress.value = Math.round((event.loaded / event.total) * 100);
      row.say(`uploading ${formatBytes(event.loaded)} of ${formatBytes(event.total)}`);
    }
  });
  request.addEventListener("load", () => {
    let body = {};
    try {
      body = JSON.parse(request.responseText);
    } catch (error) {
      body = { error: `unexpected answer (HTTP ${request.status})` };
    }
    if (request.status === 202) {
      handleAccepted(row, list, body);
    } else if (request.status === 401) {
      row.fail("your login has expired; reload the page and log in again");
    } else {
      row.fail(`${body.error || "rejected"} (HTTP ${request.status}). ${body.hint || ""}`);
    }
    done();
  });
  request.addEventListener("error", () => {
    row.fail("the connection failed; check the network and try again");
    done();
  });
  row.say("uploading…");
  request.send(data);
}

function startUploads(form, list, files) {
  const queue = Array.from(files);
  let running = 0;
  const next = () => {
    while (running < PARALLEL_UPLOADS && queue.length) {
      running += 1;
      upload(form, list, queue.shift(), () => {
        running -= 1;
        next();
      });
    }
  };
  next();
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("upload-form");
  const input = document.getElementById("file-input");
  const zone = document.getElementById("dropzone");
  const list = document.getElementById("file-list");
  if (!form || !input || !zone || !list) return;

  input.addEventListener("change", () => {
    startUploads(form, list, input.files);
    input.value = "";
  });
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.classList.add("over");
    });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, () => zone.classList.remove("over"));
  }
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) {
      startUploads(form, list, event.dataTransfer.files);
    }
  });
});
