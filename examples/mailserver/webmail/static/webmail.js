// mailwire webmail: the only script (no inline script is allowed by the
// page's Content-Security-Policy). It waits on /poll for the shown
// folder's change counter to move, then reloads the message list and the
// folder list in place: new mail appears without a reload (ticked messages
// stay ticked). "Select all" ticks a page's messages. In the message view
// it sizes the (sandboxed, script-free) message frame to its content.
"use strict";
(function () {
  function listLoop() {
    var list = document.getElementById("list");
    if (!list) return;
    var folder = list.getAttribute("data-folder");
    var version = list.getAttribute("data-version");
    var url = "/poll?f=" + encodeURIComponent(folder) + "&v=" + encodeURIComponent(version);
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (j) {
        if (String(j.v) === version) return listLoop();
        return fetch(location.href, { credentials: "same-origin", cache: "no-store" })
          .then(function (r) { return r.text(); })
          .then(function (text) {
            var doc = new DOMParser().parseFromString(text, "text/html");
            var fresh = doc.getElementById("list");
            var nav = doc.getElementById("folders");
            var current = document.getElementById("list");
            // Keep what is being typed in the search box, the ticked
            // messages and the chosen action.
            var focused = document.activeElement && document.activeElement.id;
            var ticked = {};
            document.querySelectorAll("#list input[name=u]:checked").forEach(function (c) { ticked[c.value] = true; });
            var kept = {};
            ["op", "to"].forEach(function (id) { var el = document.getElementById(id); if (el) kept[id] = el.value; });
            if (fresh && current) current.replaceWith(fresh);
            document.querySelectorAll("#list input[name=u]").forEach(function (c) { if (ticked[c.value]) c.checked = true; });
            Object.keys(kept).forEach(function (id) { var el = document.getElementById(id); if (el) el.value = kept[id]; });
            var oldNav = document.getElementById("folders");
            if (nav && oldNav) oldNav.replaceWith(nav);
            if (focused) { var el = document.getElementById(focused); if (el) el.focus(); }
            listLoop();
          });
      })
      .catch(function () { setTimeout(listLoop, 5000); });
  }

  function sizeFrame() {
    var f = document.querySelector("iframe.body");
    if (!f) return;
    function fit() {
      try {
        var d = f.contentDocument;
        if (d && d.documentElement) f.style.height = (d.documentElement.scrollHeight + 20) + "px";
      } catch (e) { /* not readable: keep the CSS height */ }
    }
    f.addEventListener("load", fit);
    fit();
  }

  // "Select all" in the list's head ticks every message of the page (a
  // listener on the document: the list is replaced when mail comes).
  function pickAll() {
    document.addEventListener("change", function (e) {
      if (!e.target || e.target.id !== "pick-all") return;
      document.querySelectorAll("#list input[name=u]").forEach(function (c) { c.checked = e.target.checked; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    listLoop();
    sizeFrame();
    pickAll();
  });
})();
