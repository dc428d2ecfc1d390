// The dashboard's orders-per-day chart: data from the page's json_script, drawn with the panel's own Chart.js.
(function () {
  "use strict";
  function draw() {
    var data = document.getElementById("dashboard-chart-data");
    var canvas = document.getElementById("dashboard-chart");
    if (!data || !canvas || typeof Chart === "undefined") return;
    var values = JSON.parse(data.textContent);
    var style = getComputedStyle(document.documentElement);
    var color = (style.getPropertyValue("--primary") || "#79aec8").trim();
    var text = (style.getPropertyValue("--body-quiet-color") || "#666").trim();
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: values.labels.map(function (d) { return d.slice(5); }),  // MM-DD: the year is the same
        datasets: [{ label: canvas.getAttribute("aria-label"), data: values.orders, backgroundColor: color }]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: false } },
        scales: {
          x: { ticks: { color: text, maxRotation: 0, autoSkip: true } },
          y: { beginAtZero: true, ticks: { color: text, precision: 0 } }
        }
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
