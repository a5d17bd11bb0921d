// The advisors' page kept current without a reload (no framework). The page works without this script: its
// forms post and redirect back. With it, a change of any case (made on this page, on another advisor's, on
// Telegram or through the API) redraws what changed: the queue, or the case's status, conversation, actions and
// notes. Changes arrive as server-sent events (/asesores/eventos); where EventSource is missing, or the stream
// keeps failing, the page polls /asesores/version instead.
(function () {
  "use strict";
  var notice = document.getElementById("aviso");
  if (notice) { notice.focus(); }  // after a form post, the result is the first thing read
  var live = document.getElementById("vivo");
  if (!live) { return; }
  var kind = live.getAttribute("data-live");
  var caseId = live.getAttribute("data-caso");
  var refreshUrl = live.getAttribute("data-refresh");
  var version = Number(live.getAttribute("data-version") || 0);
  var announcer = document.getElementById("anuncio");
  var busy = false, again = false, polling = null, failures = 0;

  function announce(text) {
    if (!announcer || !text) { return; }
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = text; }, 50);
  }

  function parse(html) {
    return new DOMParser().parseFromString("<div>" + html + "</div>", "text/html").body.firstChild;
  }

  function swapQueue(fresh) {
    var target = document.getElementById("cola");
    var before = target.querySelectorAll(".casos li").length;
    target.innerHTML = "";
    target.appendChild(fresh.firstElementChild || fresh);
    target.querySelectorAll("[data-cuenta-nueva]").forEach(function (n) {
      var shown = document.querySelector('[data-cuenta="' + n.getAttribute("data-cuenta-nueva") + '"]');
      if (shown) { shown.textContent = n.textContent; }
    });
    var after = target.querySelectorAll(".casos li").length;
    announce(after > before ? "Hay un caso nuevo en esta vista." : "La cola se actualizó.");
  }

  function swapCase(fresh) {
    var said = [];
    var state = fresh.querySelector("#estado");
    var oldState = document.getElementById("estado");
    if (state && oldState) {
      if (oldState.querySelector("#estado-caso").textContent !== state.querySelector("#estado-caso").textContent) {
        said.push("El caso ahora está " + state.querySelector("#estado-caso").textContent +
                  (state.querySelector("#quien") ? ", " + state.querySelector("#quien").textContent : "") + ".");
      }
      oldState.replaceWith(state);
    }
    var log = document.getElementById("conversacion");
    var freshLog = fresh.querySelector("#conversacion");
    if (log && freshLog) {
      freshLog.querySelectorAll("li").forEach(function (li) {
        var mine = document.getElementById(li.id);
        if (mine) {  // a message already shown: its delivery state may have changed
          var a = mine.querySelector(".entrega"), b = li.querySelector(".entrega");
          if (a && b) { a.replaceWith(b); }
        } else {
          log.appendChild(li);  // the log is aria-live: the new message is read out
          var empty = document.getElementById("sin-mensajes");
          if (empty) { empty.remove(); }
        }
      });
    }
    var actions = document.getElementById("acciones");
    var freshActions = fresh.querySelector("#acciones");
    if (actions && freshActions && actions.getAttribute("data-clave") !== freshActions.getAttribute("data-clave")) {
      actions.replaceWith(freshActions);  // the case changed hands or closed: other actions apply
    }
    var notes = document.getElementById("notas");
    var freshNotes = fresh.querySelector("#notas");
    if (notes && freshNotes && notes.innerHTML !== freshNotes.innerHTML) {
      notes.replaceWith(freshNotes);
      said.push("Hay una nota nueva.");
    }
    announce(said.join(" "));
  }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(refreshUrl, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.status === 401 || r.redirected) { window.location.reload(); throw new Error("sin sesión"); }
        return r.text();
      })
      .then(function (html) {
        var fresh = parse(html);
        if (kind === "cola") { swapQueue(fresh); } else { swapCase(fresh); }
        live.setAttribute("data-actualizado", String(Date.now()));
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }

  function changed(data) {
    if (data && typeof data.v === "number") {
      if (data.v === version) { return; }
      version = data.v;
    }
    if (kind === "caso" && data && data.case && String(data.case) !== caseId) { return; }
    refresh();
  }

  function poll() {
    if (polling) { return; }
    live.setAttribute("data-modo", "consulta");
    polling = window.setInterval(function () {
      fetch("/asesores/version", { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (d) {
          if (d && d.v !== version) { version = d.v; refresh(); }
        })
        .catch(function () {});
    }, 3000);
  }

  if (!window.EventSource) { poll(); return; }
  var source = new EventSource("/asesores/eventos");
  live.setAttribute("data-modo", "eventos");
  source.addEventListener("hola", function (e) {
    failures = 0;
    var d = JSON.parse(e.data);
    if (d.v !== version) { version = d.v; refresh(); }  // something changed while the stream was down
  });
  source.addEventListener("caso", function (e) { changed(JSON.parse(e.data)); });
  source.onerror = function () {
    failures += 1;
    if (failures >= 3) { source.close(); poll(); }  // the browser's retries keep failing: poll instead
  };
})();
