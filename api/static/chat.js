// The web chat without reloads: a form's post goes by fetch and the new messages are added in place; focus
// moves to the first new message (read out by the log's aria-live); the transcript is polled for what arrives
// from elsewhere (an advisor's answer, another tab). Without this script every form still works as a plain
// post that reloads the page.
(function () {
  "use strict";
  var log = document.getElementById("log");
  if (!log || !window.fetch || !window.FormData) return;
  var status = document.getElementById("estado");
  var answer = document.getElementById("answer");
  var seq = parseInt(log.dataset.seq || "0", 10);
  var busy = false;

  function setHidden(turn) {
    document.querySelectorAll("form[data-chat]").forEach(function (f) {
      var t = f.querySelector("input[name=turn]");
      var s = f.querySelector("input[name=seen]");
      if (t && turn) t.value = turn;
      if (s) s.value = String(seq);
    });
  }

  function apply(data, focus) {
    var before = seq;
    if (data.reset) {
      log.innerHTML = data.html;
    } else if (data.html) {
      log.insertAdjacentHTML("beforeend", data.html);
    }
    seq = data.seq;
    log.dataset.seq = String(seq);
    var rev = data.rev === null || data.rev === undefined ? "" : String(data.rev);
    log.dataset.rev = rev;
    // buttons of an older screen would be stale: only the current revision's stay
    log.querySelectorAll("form.kb").forEach(function (f) {
      if (f.dataset.rev !== rev) f.remove();
    });
    setHidden(data.turn);
    // the first new message of Asesor or the advisor (the applicant's own echo needs no reading out)
    var first = null;
    var fresh = Array.prototype.filter.call(log.querySelectorAll("li.msg"), function (li) {
      return data.reset || parseInt(li.dataset.seq, 10) > before;
    });
    fresh.forEach(function (li) {
      if (!first && !li.classList.contains("user")) first = li;
    });
    if (!first && fresh.length) first = fresh[0];
    if (first && focus) first.focus();
    if (first && !focus) first.scrollIntoView({ block: "nearest" });
  }

  function fail(message) {
    status.textContent = message || "No pudimos enviar tu respuesta. Inténtalo de nuevo.";
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.matches || !form.matches("form[data-chat]")) return;
    ev.preventDefault();
    if (busy) return;
    busy = true;
    status.textContent = "";
    // URL-encoded, as the plain form posts it (the server reads that form without a multipart parser)
    var body = new URLSearchParams(new FormData(form, ev.submitter || undefined));
    fetch(form.action, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-Asesor-Chat": "1" },
    })
      .then(function (r) {
        return r.json().then(function (data) { return { ok: r.ok, status: r.status, data: data }; });
      })
      .then(function (r) {
        if (r.data && r.data.reload) { window.location.reload(); return; }
        if (!r.ok) { fail(r.data && r.data.error); return; }
        if (form.id === "say" && answer) answer.value = "";
        apply(r.data, true);
      })
      .catch(function () { fail(); })
      .then(function () { busy = false; });
  });

  function poll() {
    if (busy || document.hidden) return;
    fetch("/chat/log?after=" + seq, { credentials: "same-origin", headers: { "X-Asesor-Chat": "1" } })
      .then(function (r) {
        if (r.status === 204) return null;
        return r.json().then(function (data) { return { ok: r.ok, data: data }; });
      })
      .then(function (r) {
        if (!r || busy) return;
        if (r.data && r.data.reload) { window.location.reload(); return; }
        if (r.ok && r.data.seq !== seq) apply(r.data, false);
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ });
  }

  setInterval(poll, 2500);
  document.addEventListener("visibilitychange", poll);
})();
