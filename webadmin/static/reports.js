// Draws the report charts with Chart.js from the page's JSON block (the CSP allows no inline script).
(function () {
  'use strict';
  const source = document.getElementById('report-charts');
  if (!source || typeof window.Chart === 'undefined') {
    return;
  }
  const charts = JSON.parse(source.textContent || '{}');
  // Colour-blind-safe palette (Okabe–Ito), then a few calm extras for long purpose lists.
  const palette = ['#0072B2', '#D55E00', '#E69F00', '#CC79A7', '#56B4E9', '#009E73',
    '#F0E442', '#000000', '#7f8c8d', '#8e44ad', '#2c3e50', '#c0392b'];
  const locale = document.documentElement.lang || undefined;

  function draw(canvas, spec) {
    const line = spec.type === 'line';
    // A series that is zero throughout (no refusals this week) only crowds the legend.
    const shown = spec.datasets.filter(function (dataset) {
      return dataset.data.some(function (value) { return value; });
    });
    const datasets = shown.map(function (dataset, index) {
      const colour = palette[index % palette.length];
      return Object.assign({
        backgroundColor: line ? colour : colour + 'cc',
        borderColor: colour,
        borderWidth: line ? 2 : 1,
        tension: 0.2,
      }, dataset);
    });
    const valueAxis = {stacked: Boolean(spec.stacked), beginAtZero: true, ticks: {precision: 0}};
    const labelAxis = {stacked: Boolean(spec.stacked)};
    return new window.Chart(canvas, {
      type: spec.type,
      data: {labels: spec.labels, datasets: datasets},
      options: {
        // Drawn at once: a report is read, not watched, and tests look at the pixels.
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        locale: locale,
        indexAxis: spec.horizontal ? 'y' : 'x',
        scales: spec.horizontal ? {x: valueAxis, y: labelAxis} : {x: labelAxis, y: valueAxis},
        plugins: {legend: {position: 'bottom'}},
      },
    });
  }

  document.querySelectorAll('canvas[data-chart]').forEach(function (canvas) {
    const spec = charts[canvas.dataset.chart];
    if (!spec || !spec.labels.length) {
      canvas.closest('.chart-box').hidden = true;
      return;
    }
    draw(canvas, spec);
    canvas.dataset.rendered = 'true';
  });
})();
