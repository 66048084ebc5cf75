// mailwire webmail: the only script (no inline script is allowed by the
// page's Content-Security-Policy). It waits on /poll for the shown
// folder's change counter to move, then reloads the message list and the
// folder list in place: new mail appears without a reload. In the message
// view it sizes the (sandboxed, script-free) message frame to its content.
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
            // Keep what is being typed in the search box.
            var focused = document.activeElement && document.activeElement.id;
            if (fresh && current) current.replaceWith(fresh);
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

  document.addEventListener("DOMContentLoaded", function () {
    listLoop();
    sizeFrame();
  });
})();
