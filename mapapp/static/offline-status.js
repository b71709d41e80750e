/* The web app's side in the page: registers the service worker (sw.js), stores what this
 * page loaded before the worker controlled it, says since when the data is when a copy was
 * used ("as of 18:40", Minsk time), reloads when the network is back, and the "forget this
 * site on this phone" button of /about. No build step; plain script, no modules. */
(function () {
  "use strict";
  var script = document.currentScript;
  var root = document.documentElement;
  var shownAsOf = null;

  function minskTime(date) {
    var lang = root.getAttribute("lang") || "be";
    var options = { timeZone: "Europe/Minsk", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    var today = new Date().toLocaleDateString("en-CA", { timeZone: "Europe/Minsk" });
    if (date.toLocaleDateString("en-CA", { timeZone: "Europe/Minsk" }) !== today) {
      options.day = "numeric";
      options.month = "long";
    }
    return new Intl.DateTimeFormat(lang, options).format(date);
  }

  // A copy was used: the page says since when its data is (the oldest copy it shows).
  function showAsOf(iso) {
    var date = new Date(iso);
    if (!iso || isNaN(date.getTime())) return;
    if (shownAsOf && shownAsOf <= date) return;
    shownAsOf = date;
    var note = document.getElementById("offline-note");
    if (!note) return;
    note.textContent = script.getAttribute("data-as-of").replace("{time}", minskTime(date));
    note.hidden = false;
    root.setAttribute("data-as-of-shown", date.toISOString());
    // An old copy although the browser is online (a reload while the network came back).
    if (navigator.onLine && window.sessionStorage.getItem("rallymap-reloads")) reloadWhenBack(2000);
  }

  // The network is back (the browser says so): once the site answers, the page reloads, with
  // fresh data. A phone's network may come back slowly: asked again, less and less often.
  var probing = false;
  function reloadWhenBack(delay) {
    if (probing) return;
    probing = true;
    window.setTimeout(function () {
      fetch(script.getAttribute("data-health"), { cache: "no-store", credentials: "omit" })
        .then(function (response) {
          if (!response.ok) throw new Error(String(response.status));
          // A reload that still gets the old copy tries again, a few times at most.
          var tries = Number(window.sessionStorage.getItem("rallymap-reloads") || 0);
          window.sessionStorage.setItem("rallymap-reloads", String(tries + 1));
          if (tries < 5) window.location.reload();
        })
        .catch(function () {
          probing = false;
          if (navigator.onLine) reloadWhenBack(Math.min(delay * 2, 30000));
        });
    }, delay);
  }
  window.addEventListener("online", function () {
    window.sessionStorage.removeItem("rallymap-reloads");
    if (shownAsOf) reloadWhenBack(500);
  });

  function forgetButton() {
    var button = document.getElementById("forget-site");
    if (!button) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var work = [];
      if ("serviceWorker" in navigator) {
        work.push(navigator.serviceWorker.getRegistrations().then(function (registrations) {
          return Promise.all(registrations.map(function (r) { return r.unregister(); }));
        }));
      }
      if (window.caches) {
        work.push(caches.keys().then(function (names) {
          return Promise.all(names.map(function (name) { return caches.delete(name); }));
        }));
      }
      if (window.indexedDB && indexedDB.databases) {
        work.push(indexedDB.databases().then(function (databases) {
          databases.forEach(function (d) { indexedDB.deleteDatabase(d.name); });
        }));
      }
      try { window.localStorage.clear(); window.sessionStorage.clear(); } catch (e) { /* none */ }
      Promise.all(work)
        .then(function () {
          // The browser's HTTP cache (pages and feeds kept by their Cache-Control) is out of
          // a script's reach: the site's answer to this POST clears it (Clear-Site-Data).
          // Asked only now: its clearing aborts an unregister still under way.
          return fetch(button.getAttribute("data-forget"), {
            method: "POST", credentials: "same-origin", cache: "no-store",
          }).catch(function () { /* offline: the copies above are removed all the same */ });
        })
        .then(function () {
          document.getElementById("forget-status").textContent = button.getAttribute("data-done");
          root.setAttribute("data-forgotten", "1");
        });
    });
  }

  function start() {
    if (!root.getAttribute("data-offline-as-of")) window.sessionStorage.removeItem("rallymap-reloads");
    showAsOf(root.getAttribute("data-offline-as-of"));
    forgetButton();
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data && event.data.type === "rallymap:as-of") showAsOf(event.data.asOf);
    });
    if (document.getElementById("forget-site")) return; // /about: nothing to keep, maybe to forget
    whenSettled(register);
  }

  // Once the page has loaded (on the map, its feed and basemap have come: it is drawn) and the
  // browser is idle: the worker's install (Workbox's scripts, then the copies of what the page
  // loaded) no longer competes with the page's own first work for a phone's CPU. Registered
  // at once, it ran while the map parsed its feed and drew its markers.
  function whenSettled(then) {
    function idle() {
      if (window.requestIdleCallback) window.requestIdleCallback(then, { timeout: 2000 });
      else window.setTimeout(then, 0);
    }
    if (document.readyState === "complete") idle();
    else window.addEventListener("load", idle, { once: true });
  }

  function register() {
    navigator.serviceWorker
      .register(script.getAttribute("data-worker"), { scope: script.getAttribute("data-scope") })
      .then(function () { return navigator.serviceWorker.ready; })
      .then(function (registration) {
        // What this page loaded before the worker controlled it (the page, its feed, the
        // details of popups opened): stored through the worker's own routes.
        var origin = window.location.origin;
        // Nothing loaded since "Near me" made a view from the visitor's position
        // (data-private-since, map/view.js): its tiles would show where they were.
        function loaded() {
          var since = Number(root.getAttribute("data-private-since") || Infinity);
          return performance.getEntriesByType("resource")
            .filter(function (entry) { return entry.startTime < since; })
            .map(function (entry) { return entry.name; })
            .filter(function (url) { return url.indexOf(origin + "/") === 0; });
        }
        var urls = [window.location.href].concat(loaded());
        var channel = new MessageChannel();
        channel.port1.onmessage = function () { root.setAttribute("data-offline-ready", "1"); };
        registration.active.postMessage(
          { type: "CACHE_URLS", payload: { urlsToCache: urls } }, [channel.port2]
        );
        // What loaded after that list was made but before the worker took the page (a popup's
        // details, say) went past it: asked for once more when the worker controls the page.
        function again() {
          var more = loaded().filter(function (url) { return urls.indexOf(url) < 0; });
          if (more.length) registration.active.postMessage({ type: "CACHE_URLS", payload: { urlsToCache: more } });
        }
        window.setTimeout(again, 1500);
        navigator.serviceWorker.addEventListener("controllerchange", function () { window.setTimeout(again, 500); });
      })
      .catch(function () { /* no worker (private window, old browser): the site works online */ });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
