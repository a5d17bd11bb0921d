// The result page's automatic move to the form (seed 002), with a pause/continue control (WCAG 2.2.1).
(function () {
  "use strict";
  var box = document.getElementById("cuenta");
  if (!box) { return; }
  var left = Number(box.dataset.seconds), url = box.dataset.url, timer = null;
  var shown = document.getElementById("cuenta-segundos"), status = document.getElementById("cuenta-estado");
  var button = document.getElementById("pausar");
  function tick() {
    left -= 1;
    shown.textContent = String(Math.max(left, 0));
    if (left <= 0) { stop(); window.location.assign(url); }
  }
  function start() { timer = window.setInterval(tick, 1000); }
  function stop() { if (timer !== null) { window.clearInterval(timer); timer = null; } }
  button.addEventListener("click", function () {
    var paused = timer !== null;
    if (paused) { stop(); } else { start(); }
    button.textContent = paused ? "Continuar" : "Pausar";
    button.setAttribute("aria-pressed", paused ? "true" : "false");
    status.textContent = paused ? "En pausa: continúa cuando quieras." : "Continuamos la cuenta.";
  });
  box.hidden = false;
  start();
})();
