// Starts the vendored Swagger UI 5 on /docs (no inline script: the page's CSP allows only 'self' scripts).
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  // Swagger UI's markup, made to pass axe (kept up to date as the UI re-renders): heading levels without
  // jumps, and the API's description in a labelled region
  function fix() {
    // heading levels never jump (Swagger UI goes h1 → h3 for tags, h2/h3 → h4 for schemas): each heading is
    // at most one level below the one before it, as aria-level
    var prev = 0;
    root.querySelectorAll("h1, h2, h3, h4, h5, h6").forEach(function (h) {
      var own = h.dataset.level ? Number(h.dataset.level) : Number(h.tagName.slice(1));
      if (h.classList.contains("opblock-tag")) { own = 2; }
      h.dataset.level = String(own);
      var level = Math.min(own, prev + 1);
      var current = h.hasAttribute("aria-level") ? Number(h.getAttribute("aria-level")) : Number(h.tagName.slice(1));
      if (current !== level) { h.setAttribute("role", "heading"); h.setAttribute("aria-level", String(level)); }
      prev = level;
    });
    var info = document.querySelector(".swagger-ui .information-container");
    if (info && !info.hasAttribute("role")) { info.setAttribute("role", "region"); info.setAttribute("aria-label", "Información de la API"); }
  }
  new MutationObserver(fix).observe(root, { childList: true, subtree: true });
  window.ui = window.SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    // no deep links: they are anchors inside each operation's toggle button (nested controls, tiny targets)
    deepLinking: false,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    defaultModelsExpandDepth: 0,
    tryItOutEnabled: false,
    persistAuthorization: false,
    onComplete: fix,
  });
})();
