/* The rally map's service worker: the map, the list and the rally pages a visitor opened keep
 * working when the network is cut. Served at the site's root (/sw.js, under its path prefix)
 * so that its scope is the whole site; Workbox's modules are the app's own copies
 * (static/vendor/workbox, from npm), never Google's CDN.
 *
 * - Pages (map, list, rally pages, about) and data (the map's feed, a rally's details):
 *   network first, the cached copy only when the network fails or is slower than a few
 *   seconds, so a danger or a cancellation is never hidden behind an old copy while the
 *   network works. A copy used says when it was fetched: a page gets `data-offline-as-of`
 *   on its <html>, an open page a message, and the page shows "as of 18:40"
 *   (static/offline-status.js). A copy the site now answers 404 or 410 for (a rally taken
 *   down) is deleted, so it cannot come back offline.
 * - Static files, the basemap and map tiles: from the cache first (their URLs change with them).
 * - Nothing private: only GETs of the public paths below; manage links, moderation and the
 *   submit form are never stored, nor any page or data marked no-store or private (every
 *   tile is no-store, for the HTTP cache's sake: tilesFirst keeps them all the same), nor the tiles
 *   of a view made from the visitor's position ("Near me": a page says so, below) or of a
 *   page where a rally is placed (the form's preview, the manage page: PLACING).
 * - A page asked for with no network and never saved here (a rally page not opened before)
 *   gets our own page, not the browser's error page: "this page was not saved", in the
 *   visitor's language, with the ways to the map kept here and to the offline copy
 *   (FALLBACK, notSaved). It shows nothing of any rally: another page's copy never stands in
 *   for the one asked for.
 */
"use strict";

// The site's path prefix: this script is at <prefix>/sw.js.
var BASE = self.location.pathname.replace(/\/sw\.js$/, "");
importScripts(BASE + "/static/vendor/workbox/workbox-sw.js");
workbox.setConfig({ debug: false, modulePathPrefix: BASE + "/static/vendor/workbox/" });

var DATA_TIMEOUT = 4; // seconds: past this the cached copy is shown, marked with its time
var STAMP = "X-Rallymap-Fetched-At";
var PAGES = /^\/(rallies(\/\d+)?|about)?$/;
var DATA = /^\/api\/rallies(\.geojson|\/\d+)$/;
var STATIC = /^\/(static|vendor|basemap)\//;
var TILES = /^\/(tiles|test-tiles)\/\d+\/\d+\/\d+\.png$/;
// The offline copy (a download from the map's page and /about): kept once fetched, so that
// the page for a page not saved can offer it with no network.
var COPY = /^\/offline\.html$/;
var LANGS = ["be", "ru", "en"];
var FALLBACK = "rallymap-fallback";

workbox.core.setCacheNameDetails({ prefix: "rallymap" });
self.skipWaiting();
workbox.core.clientsClaim();

function sitePath(url) {
  if (url.origin !== self.location.origin || url.pathname.indexOf(BASE) !== 0) return null;
  return url.pathname.slice(BASE.length) || "/";
}

function storable(response) {
  var control = response.headers.get("Cache-Control") || "";
  return response.status === 200 && !/no-store|private/.test(control);
}

// Copies are stamped with the time they were fetched, and say it when they are used.
var stamped = {
  cacheWillUpdate: async function (args) {
    var response = args.response;
    if (!response || !storable(response)) return null;
    var headers = new Headers(response.headers);
    headers.set(STAMP, new Date().toISOString());
    headers.delete("Content-Encoding"); // the body here is already decoded
    headers.delete("Content-Length");
    return new Response(await response.blob(), {
      status: response.status,
      statusText: response.statusText,
      headers: headers,
    });
  },
  cachedResponseWillBeUsed: async function (args) {
    var cached = args.cachedResponse;
    if (!cached) return cached;
    var asOf = cached.headers.get(STAMP) || "";
    var type = cached.headers.get("Content-Type") || "";
    if (type.indexOf("text/html") === 0) {
      // The page itself is old: it says so as soon as it is drawn.
      var html = await cached.text();
      html = html.replace(/<html\b/, '<html data-offline-as-of="' + asOf.replace(/[^0-9TZ:.-]/g, "") + '"');
      return new Response(html, { status: 200, headers: cached.headers });
    }
    var event = args.event;
    var id = event && (event.clientId || event.resultingClientId);
    if (id) {
      var client = await self.clients.get(id);
      if (client) client.postMessage({ type: "rallymap:as-of", asOf: asOf });
    }
    return cached;
  },
};

// The map's view in its address (lat, lon, zoom: where the map was looked at) is not part of
// what a page is: one copy of the map page whatever its view, and no place kept in a key.
var VIEW = ["lat", "lon", "zoom"];
var withoutView = {
  cacheKeyWillBeUsed: async function (args) {
    var url = new URL(args.request.url);
    VIEW.forEach(function (name) { url.searchParams.delete(name); });
    return url.href === args.request.url ? args.request : url.href;
  },
};

// A page or data the site now answers 404 or 410 for (a rally taken down) is dropped from the
// caches, with the rally's other copies (its page and details, in every language): the old
// copy, place included, must not come back when the network is cut.
var RALLY = /^\/(?:api\/)?rallies\/(\d+)$/;
var goneIsForgotten = {
  fetchDidSucceed: async function (args) {
    var status = args.response.status;
    if (status !== 404 && status !== 410) return args.response;
    var url = new URL(args.request.url);
    var path = sitePath(url);
    var match = path && RALLY.exec(path);
    var paths = match ? ["/rallies/" + match[1], "/api/rallies/" + match[1]] : [path];
    var names = ["rallymap-pages", "rallymap-data"];
    await Promise.all(names.map(async function (name) {
      var cache = await caches.open(name);
      await Promise.all(paths.map(function (gone) {
        return cache.delete(url.origin + BASE + gone, { ignoreSearch: true, ignoreVary: true });
      }));
    }));
    return args.response;
  },
};

function networkFirst(name, entries, keyed) {
  return new workbox.strategies.NetworkFirst({
    cacheName: "rallymap-" + name,
    networkTimeoutSeconds: DATA_TIMEOUT,
    matchOptions: { ignoreVary: true },
    plugins: (keyed ? [keyed] : []).concat([
      goneIsForgotten,
      stamped,
      new workbox.expiration.ExpirationPlugin({ maxEntries: entries, purgeOnQuotaError: true }),
    ]),
  });
}

function cacheFirst(name, entries) {
  return new workbox.strategies.CacheFirst({
    cacheName: "rallymap-" + name,
    matchOptions: { ignoreVary: true },
    plugins: [
      new workbox.cacheableResponse.CacheableResponsePlugin({ statuses: [200] }),
      new workbox.expiration.ExpirationPlugin({ maxEntries: entries, purgeOnQuotaError: true }),
    ],
  });
}

// Pages whose view was made from the visitor's own position ("Near me", map/view.js) say so
// ({type: "rallymap:private-view"}, answered on the port they give once it is noted): their
// tiles are fetched but never stored, here or in the browser's HTTP cache (the site answers
// every tile `no-store`, mapapp/web/tiles.py), so the phone keeps no trace of where its owner
// was. Nothing of it reaches the server: the tiles' requests are the ones anyone looking at
// that region makes. The page's id is kept in memory and in a cache
// of its own (this worker may be stopped and started again while the page is open); ids of
// closed pages are dropped.
var PRIVATE = "rallymap-private";
var privateClients = new Set();

function privateKey(id) {
  return self.location.origin + BASE + "/private-view/" + encodeURIComponent(id);
}

// Pages where a rally is placed (the form and its preview, the manage page, moderation):
// their map shows a place that may still be hidden, so none of their tiles is kept either; a
// seized phone would show close-ups of where the organizer's rally is.
var PLACING = /^\/(submit|manage|moderate)(\/|$)/;

async function isPlacing(id) {
  var client = id ? await self.clients.get(id) : null;
  var path = client ? sitePath(new URL(client.url)) : null;
  return path !== null && PLACING.test(path);
}

async function isPrivate(id) {
  if (!id) return false;
  if (privateClients.has(id)) return true;
  if (await isPlacing(id)) {
    privateClients.add(id);
    return true;
  }
  var found = await (await caches.open(PRIVATE)).match(privateKey(id));
  if (found) privateClients.add(id);
  return Boolean(found);
}

self.addEventListener("message", function (event) {
  if (!event.data || event.data.type !== "rallymap:private-view") return;
  var id = event.source && event.source.id;
  var port = event.ports && event.ports[0];
  event.waitUntil((async function () {
    var cache = await caches.open(PRIVATE);
    if (id) {
      privateClients.add(id);
      await cache.put(privateKey(id), new Response(""));
    }
    if (port) port.postMessage("private");
    var open = new Set((await self.clients.matchAll({ includeUncontrolled: true })).map(function (c) { return c.id; }));
    var keys = await cache.keys();
    await Promise.all(keys.map(function (key) {
      var gone = decodeURIComponent(key.url.split("/private-view/")[1] || "");
      if (open.has(gone)) return null;
      privateClients.delete(gone);
      return cache.delete(key);
    }));
  })());
});

// A router of our own, so that pages can also ask it to store what they loaded before this
// worker controlled them ({type: "CACHE_URLS"}, workbox-routing's cache listener).
var router = new workbox.routing.Router();

function route(pattern, handler) {
  router.registerRoute(
    new workbox.routing.Route(function (options) {
      var path = sitePath(options.url);
      return path !== null && pattern.test(path);
    }, handler, "GET")
  );
}

// The page for a page not saved, one in each language, kept when this worker is installed
// (and again at each start if a bad network lost one then: an install never fails for it).
function fallbackUrl(lang) {
  return self.location.origin + BASE + "/offline?lang=" + lang;
}

// At an install (a new version of the site: the page's styles moved) each is fetched again,
// the old one kept if that fails; later only a missing one.
async function keepFallbacks(fresh) {
  var cache = await caches.open(FALLBACK);
  await Promise.all(LANGS.map(async function (lang) {
    if (!fresh && (await cache.match(fallbackUrl(lang), { ignoreVary: true }))) return;
    try {
      var response = await fetch(fallbackUrl(lang), { credentials: "omit", cache: fresh ? "no-cache" : "default" });
      if (response.status === 200) await cache.put(fallbackUrl(lang), response);
    } catch (e) { /* no network now: next time */ }
  }));
}

self.addEventListener("install", function (event) {
  event.waitUntil(keepFallbacks(true));
});
// Each page's list of what it loaded ({type: "CACHE_URLS"}, offline-status.js) comes with a
// network: the moment to keep a fallback a bad network lost at the install.
self.addEventListener("message", function (event) {
  if (event.data && event.data.type === "CACHE_URLS") event.waitUntil(keepFallbacks());
});

// The visitor's language: the one the address asks for, else the one of the pages they
// opened last (kept here), else the browser's first of ours (its Accept-Language), else be.
async function visitorLanguage(url) {
  var asked = url.searchParams.get("lang");
  if (LANGS.indexOf(asked) >= 0) return asked;
  var keys = await (await caches.open("rallymap-pages")).keys();
  for (var i = keys.length - 1; i >= 0; i--) {
    var kept = new URL(keys[i].url).searchParams.get("lang");
    if (LANGS.indexOf(kept) >= 0) return kept;
  }
  var accepted = (self.navigator && self.navigator.languages) || [];
  for (var j = 0; j < accepted.length; j++) {
    var tag = String(accepted[j]).toLowerCase().split("-")[0];
    if (LANGS.indexOf(tag) >= 0) return tag;
  }
  return "be";
}

// The map page kept here, in this language if there is one.
async function savedMap(lang) {
  var keys = await (await caches.open("rallymap-pages")).keys();
  var maps = keys.map(function (key) { return new URL(key.url); })
    .filter(function (url) { return sitePath(url) === "/"; });
  var same = maps.filter(function (url) { return url.searchParams.get("lang") === lang; });
  var found = same[same.length - 1] || maps[maps.length - 1];
  return found ? found.pathname + found.search : null;
}

function attribute(text) {
  return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
}

// A page asked for with no network that is not kept here: our page that says so (a 503,
// never stored), else the browser's error.
async function notSaved(request) {
  var url = new URL(request.url);
  var lang = await visitorLanguage(url);
  var cache = await caches.open(FALLBACK);
  var page = await cache.match(fallbackUrl(lang), { ignoreVary: true });
  for (var i = 0; !page && i < LANGS.length; i++) page = await cache.match(fallbackUrl(LANGS[i]), { ignoreVary: true });
  if (!page) return Response.error();
  var html = await page.text();
  var map = await savedMap(lang);
  if (map) html = html.replace(/<a href="[^"]*" data-saved-map>/, '<a href="' + attribute(map) + '" data-saved-map>');
  var headers = new Headers(page.headers);
  headers.set("Cache-Control", "no-store");
  headers.delete("Content-Length");
  return new Response(html, { status: 503, statusText: "Service Unavailable", headers: headers });
}

function isNavigation(request) {
  return request.mode === "navigate" && request.method === "GET";
}

var tilesFirst = cacheFirst("tiles", 1000);
route(PAGES, networkFirst("pages", 200, withoutView));
route(DATA, networkFirst("data", 300));
route(COPY, networkFirst("copies", 6));
route(STATIC, cacheFirst("static", 100));
route(TILES, {
  handle: async function (options) {
    // A page's own request, or its list of what it loaded ({type: "CACHE_URLS"}, a message).
    var event = options.event;
    var client = event && (event.clientId || (event.source && event.source.id));
    // A page's list holds only what it loaded before "Near me" (offline-status.js leaves out
    // everything since data-private-since): stored whether or not the page's private-view
    // message came first (it often did, and then the first view's tiles were never kept).
    // A page that places a rally keeps no tile, listed or not.
    var fromList = event && event.data && event.data.type === "CACHE_URLS";
    if (fromList ? !(await isPlacing(client)) : !(await isPrivate(client))) {
      return tilesFirst.handle(options);
    }
    // A tile already stored is still used; a new one is fetched as the page asked for it:
    // another cache mode, credentials or destination would tell the server which requests
    // come from a position. The site answers tiles `no-store`: the HTTP cache keeps none.
    var stored = await caches.match(options.request.url, { cacheName: "rallymap-tiles", ignoreVary: true });
    return stored || fetch(options.request);
  },
});
// A page kept here that the network and the cache both fail (a rally page never opened):
// the page that says it was not saved. Anything else fails as it would.
router.setCatchHandler(async function (options) {
  if (options.request && isNavigation(options.request)) return notSaved(options.request);
  return Response.error();
});

// Other pages (the form, moderation, the feeds): the network as without this worker, and the
// same page that says it was not saved when there is none. None of them is stored.
self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (!isNavigation(request)) return;
  var path = sitePath(new URL(request.url));
  if (path === null || PAGES.test(path) || COPY.test(path)) return;  // the router's
  event.respondWith(fetch(request).catch(function () { return notSaved(request); }));
});
router.addFetchListener();
router.addCacheListener();

self.addEventListener("activate", function (event) {
  // Caches of an older version of this worker.
  var kept = ["rallymap-pages", "rallymap-data", "rallymap-static", "rallymap-tiles", "rallymap-copies", FALLBACK, PRIVATE];
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(
        names
          .filter(function (name) { return name.indexOf("rallymap-") === 0 && kept.indexOf(name) < 0; })
          .map(function (name) { return caches.delete(name); })
      );
    })
  );
});
