// Draws the analytics dashboard from the JSON embedded in the page (#datos) with plotly.js (served locally).
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("datos").textContent);
  var layout = function (extra) {
    return Object.assign({ margin: { t: 10, r: 10, b: 60, l: 60 }, font: { family: "system-ui, sans-serif" },
                           separators: ".,", legend: { orientation: "h" } }, extra || {});
  };
  var config = { displaylogo: false, responsive: true, locale: "es" };
  function draw(id, traces, extra) {
    var el = document.getElementById(id);
    var empty = traces.every(function (t) { return !(t.x || t.values || t.y || []).length; });
    if (empty) { el.textContent = "Sin datos en el periodo."; el.dataset.rendered = "empty"; return; }
    Plotly.newPlot(el, traces, layout(extra), config).then(function () { el.dataset.rendered = "1"; });
  }
  var f = data.funnel;
  draw("g-embudo", [{ type: "funnel", y: f.labels, x: f.users, textinfo: "value+percent initial",
                      hovertext: f.drop_pct.map(function (d) { return "abandono: " + d.toFixed(1) + " %"; }) }],
       { margin: { t: 10, r: 10, b: 30, l: 230 } });
  draw("g-bancos", [{ type: "bar", x: data.banks.labels, y: data.banks.values, marker: { color: "#0b4f8a" } }],
       { yaxis: { title: "evaluaciones" } });
  var d = data.decisions, colors = { aprobado: "#1b7f3b", revisar: "#e0a800", rechazado: "#b3261e" };
  draw("g-decisiones", Object.keys(d.series).map(function (k) {
    return { type: "bar", name: k, x: d.dates, y: d.series[k], marker: { color: colors[k] } };
  }), { barmode: "stack", xaxis: { type: "category" } });
  draw("g-pd", [{ type: "bar", x: data.pd_histogram.centers, y: data.pd_histogram.counts,
                  marker: { color: "#5f6368" } }],
       { bargap: 0.05, xaxis: { title: "PD", tickformat: ".0%" }, yaxis: { title: "evaluaciones" } });
  draw("g-perdida", [{ type: "bar", x: data.expected_loss.labels, y: data.expected_loss.values,
                       marker: { color: "#b3261e" } }], { yaxis: { title: "MXN" } });
  var s = data.segments;
  draw("g-segmentos", [
    { type: "bar", name: "evaluaciones", x: s.labels, y: s.count, marker: { color: "#0b4f8a" } },
    { type: "scatter", mode: "lines+markers", name: "aprobación %", x: s.labels, y: s.approval_pct,
      yaxis: "y2", marker: { color: "#1b7f3b" } }
  ], { margin: { t: 10, r: 50, b: 60, l: 60 },
       yaxis2: { overlaying: "y", side: "right", range: [0, 100], title: "%" } });
})();
