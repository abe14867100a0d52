// Activity page: draw heart rate, power, speed and altitude over time on canvases,
// from the page's own JSON endpoint. No library and no request to another host.
"use strict";

const SERIES = [
  { key: "heart_rate", title: "Heart rate", unit: "bpm", color: "#d62839", scale: 1, digits: 0 },
  { key: "power", title: "Power", unit: "W", color: "#7b2cbf", scale: 1, digits: 0 },
  { key: "speed", title: "Speed", unit: "km/h", color: "#1f6fb2", scale: 3.6, digits: 1 },
  { key: "altitude", title: "Altitude", unit: "m", color: "#2a9d8f", scale: 1, digits: 0 },
];
const HEIGHT = 120;
const PAD = { left: 48, right: 10, top: 8, bottom: 18 };

function clock(seconds) {
  const whole = Math.max(0, Math.round(seconds));
  const hours = Math.floor(whole / 3600);
  const minutes = String(Math.floor((whole % 3600) / 60)).padStart(2, "0");
  const rest = String(whole % 60).padStart(2, "0");
  return hours ? `${hours}:${minutes}:${rest}` : `${minutes}:${rest}`;
}

function niceRange(values) {
  let low = Infinity;
  let high = -Infinity;
  for (const value of values) {
    if (value === null) continue;
    if (value < low) low = value;
    if (value > high) high = value;
  }
  if (low === high) {
    low -= 1;
    high += 1;
  }
  const margin = (high - low) * 0.08;
  // Heart rate, power and speed cannot go below zero, so neither does their axis.
  return [low >= 0 ? Math.max(0, low - margin) : low - margin, high + margin];
}

// Seconds between samples above which the line breaks: a pause, not a straight ramp.
function gapLimit(seconds) {
  const steps = [];
  for (let index = 1; index < seconds.length; index += 1) {
    steps.push(seconds[index] - seconds[index - 1]);
  }
  steps.sort((a, b) => a - b);
  const median = steps.length ? steps[steps.length >> 1] : 1;
  return Math.max(10, median * 5);
}

class Chart {
  constructor(container, seconds, spec, values) {
    this.seconds = seconds;
    this.spec = spec;
    this.values = values.map((value) => (value === null ? null : value * spec.scale));
    this.gap = gapLimit(seconds);
    [this.low, this.high] = niceRange(this.values);
    const title = document.createElement("p");
    title.className = "chart-title";
    title.textContent = `${spec.title} (${spec.unit})`;
    this.canvas = document.createElement("canvas");
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("aria-label", `${spec.title} over time`);
    const row = document.createElement("div");
    row.className = "chart-row";
    row.append(title, this.canvas);
    container.append(row);
  }

  x(seconds, width) {
    const end = this.seconds[this.seconds.length - 1] || 1;
    return PAD.left + (seconds / end) * (width - PAD.left - PAD.right);
  }

  y(value) {
    const span = this.high - this.low;
    return PAD.top + (1 - (value - this.low) / span) * (HEIGHT - PAD.top - PAD.bottom);
  }

  draw(cursorIndex) {
    const ratio = window.devicePixelRatio || 1;
    const width = this.canvas.clientWidth;
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(HEIGHT * ratio);
    const context = this.canvas.getContext("2d");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, HEIGHT);

    context.font = "11px system-ui, sans-serif";
    context.fillStyle = "#6b7280";
    context.strokeStyle = "#e5e7eb";
    context.lineWidth = 1;
    for (const fraction of [0, 0.5, 1]) {
      const value = this.low + (this.high - this.low) * fraction;
      const y = this.y(value);
      context.beginPath();
      context.moveTo(PAD.left, y);
      context.lineTo(width - PAD.right, y);
      context.stroke();
      context.fillText(value.toFixed(this.spec.digits), 4, y + 4);
    }
    const end = this.seconds[this.seconds.length - 1] || 0;
    for (const fraction of [0, 0.25, 0.5, 0.75, 1]) {
      const label = clock(end * fraction);
      const x = this.x(end * fraction, width);
      // Align the first label left, the last right and the others centred on their tick.
      let offset = context.measureText(label).width / 2;
      if (fraction === 0) offset = 0;
      if (fraction === 1) offset *= 2;
      context.fillText(label, x - offset, HEIGHT - 4);
    }

    context.strokeStyle = this.spec.color;
    context.lineWidth = 1.5;
    context.beginPath();
    let drawing = false;
    this.values.forEach((value, index) => {
      if (value === null) {
        drawing = false;
        return;
      }
      if (index > 0 && this.seconds[index] - this.seconds[index - 1] > this.gap) {
        drawing = false;
      }
      const x = this.x(this.seconds[index], width);
      const y = this.y(value);
      if (drawing) context.lineTo(x, y);
      else context.moveTo(x, y);
      drawing = true;
    });
    context.stroke();

    if (cursorIndex !== null) {
      const x = this.x(this.seconds[cursorIndex], width);
      context.strokeStyle = "rgba(31, 41, 55, 0.5)";
      context.lineWidth = 1;
      context.beginPath();
      context.moveTo(x, PAD.top);
      context.lineTo(x, HEIGHT - PAD.bottom);
      context.stroke();
    }
  }

  indexAt(clientX) {
    const box = this.canvas.getBoundingClientRect();
    const end = this.seconds[this.seconds.length - 1] || 1;
    const fraction = (clientX - box.left - PAD.left) / (box.width - PAD.left - PAD.right);
    const target = Math.min(Math.max(fraction, 0), 1) * end;
    let low = 0;
    let high = this.seconds.length - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.seconds[middle] < target) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  readout(index) {
    const value = this.values[index];
    return `${this.spec.title} ${value === null ? "—" : value.toFixed(this.spec.digits)} ${this.spec.unit}`;
  }
}

function render(container, data) {
  container.replaceChildren();
  const charts = SERIES.filter((spec) => data.series[spec.key]).map(
    (spec) => new Chart(container, data.seconds, spec, data.series[spec.key]),
  );
  if (charts.length === 0) {
    const empty = document.createElement("p");
    empty.className = "muted";
    empty.textContent = "This file has no heart rate, power, speed or altitude samples.";
    container.append(empty);
    return;
  }

  const readout = document.getElementById("chart-readout");
  const drawAll = (index) => charts.forEach((chart) => chart.draw(index));
  drawAll(null);
  window.addEventListener("resize", () => drawAll(null));
  for (const chart of charts) {
    chart.canvas.addEventListener("pointermove", (event) => {
      const index = chart.indexAt(event.clientX);
      drawAll(index);
      if (readout) {
        readout.textContent = [clock(data.seconds[index]), ...charts.map((each) => each.readout(index))].join(" · ");
      }
    });
    chart.canvas.addEventListener("pointerleave", () => {
      drawAll(null);
      if (readout) readout.textContent = "";
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const container = document.getElementById("charts");
  if (!container) return;
  fetch(container.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then((response) => {
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return response.json();
    })
    .then((data) => render(container, data))
    .catch((error) => {
      const status = document.getElementById("chart-status");
      if (status) status.textContent = `The chart data could not be loaded (${error.message}).`;
    });
});
