// The metrics page's charts (review_ui/templates/review/metrics.html), drawn with the vendored
// Chart.js from GET /review/metrics.json. Each canvas has an aria-label and a data table beside it.
(function () {
  "use strict";
  var PALETTE = ["#0a4fa3", "#0b5d36", "#8a1c14", "#6b4500", "#5b2a86", "#1b1f23", "#00677f", "#9c2d6b"];

  function draw(data) {
    var depth = data.queue_depth || {};
    var queues = Object.keys(depth);
    new Chart(document.getElementById("chart-depth"), {
      type: "line",
      data: {
        labels: data.labels,
        datasets: queues.map(function (queue, i) {
          return {label: queue, data: depth[queue], borderColor: PALETTE[i % PALETTE.length],
                  backgroundColor: PALETTE[i % PALETTE.length]};
        })
      },
      options: {responsive: true, maintainAspectRatio: false, animation: false,
                scales: {y: {beginAtZero: true, ticks: {precision: 0}, title: {display: true, text: "open cases"}}}}
    });
    new Chart(document.getElementById("chart-age"), {
      type: "line",
      data: {labels: data.labels,
             datasets: [{label: "oldest open case (hours)", data: data.oldest_open_hours,
                         borderColor: PALETTE[2], backgroundColor: PALETTE[2]}]},
      options: {responsive: true, maintainAspectRatio: false, animation: false,
                scales: {y: {beginAtZero: true, title: {display: true, text: "hours"}}}}
    });
    new Chart(document.getElementById("chart-decisions"), {
      type: "bar",
      data: {labels: data.labels,
             datasets: [{label: "decisions", data: data.decisions_per_day, backgroundColor: PALETTE[1]}]},
      options: {responsive: true, maintainAspectRatio: false, animation: false,
                scales: {y: {beginAtZero: true, ticks: {precision: 0}}}}
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector(".metrics[data-source]");
    if (!root || typeof Chart === "undefined") { return; }
    fetch(root.getAttribute("data-source"), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error("metrics: HTTP " + response.status); }
        return response.json();
      })
      .then(draw)
      .catch(function (error) { root.setAttribute("data-error", String(error)); });
  });
})();
