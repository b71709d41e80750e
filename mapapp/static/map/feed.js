/* The map's data from the server and its re-checks.
 *
 * Public maps load the map's compact feed (/api/rallies.geojson?fields=map: points, status,
 * town and day, no user text) and each rally's details when its popup opens or its line in
 * the list comes into view (/api/rallies/<id>?lang=). Both are asked for again now and
 * then with their ETag (If-None-Match), so what has not changed costs a 304.
 */

var FILTER_PARAMS = ["when", "region", "city", "from", "to", "featured"];

// This page's filters and language, as a query string ("" when there are none).
export function filterQuery(lang) {
  var page = new URLSearchParams(window.location.search);
  var query = new URLSearchParams();
  FILTER_PARAMS.forEach(function (name) {
    if (page.get(name)) query.set(name, page.get(name));
  });
  if (lang) query.set("lang", lang);
  var text = query.toString();
  return text ? "?" + text : "";
}

export function dataUrl(config) {
  // Towns and days in the page's language (the document is cached per language).
  var query = filterQuery(config.lang);
  if (query && config.dataUrl.indexOf("?") >= 0) query = "&" + query.slice(1);
  return config.dataUrl + query;
}

// Fetches `url` now and then every `seconds`, with the ETag of the last answer, so an
// unchanged document costs a 304 with no body. It waits while the tab is hidden and
// looks at once when the tab is shown again. `onData(json)` gets every new document;
// `onData(null)` a 404 (the thing is gone). `first`: a fetch of `url` already under way
// (the page's head starts the map's feed, see mapapp/web/mapshells.py EARLY_FEED), taken as the
// first answer. Until a first document has come, a failure is tried again soon (after the
// answer's Retry-After, else 1, 2, 4... seconds, never later than `seconds`), not at the next
// re-check: a 503 or 429 at load (a restart, a worker busy building, a burst of new filters)
// left the map blank for a whole re-check period, or for good when `seconds` is 0.
export var FIRST_ANSWER_SECONDS = 15;

// `promise`, or a rejection after `ms` milliseconds (aborting `controller`'s request).
function withDeadline(promise, ms, controller) {
  return new Promise(function (resolve, reject) {
    var timer = window.setTimeout(function () {
      if (controller) controller.abort();
      reject(new Error("no answer"));
    }, ms);
    promise.then(
      function (value) { window.clearTimeout(timer); resolve(value); },
      function (error) { window.clearTimeout(timer); reject(error); }
    );
  });
}

export function watch(url, seconds, credentials, onData, onError, first) {
  var etag = null;
  var timer = null;
  var busy = false;
  var stopped = false;
  var got = false;      // a first document has come
  var retry = null;     // seconds until the next try after a failure before that
  var backoff = 1;

  function schedule() {
    window.clearTimeout(timer);
    if (stopped || document.visibilityState === "hidden") return;
    var wait = seconds;
    if (!got && retry !== null) wait = seconds > 0 ? Math.min(retry, seconds) : retry;
    retry = null;
    if (!(wait > 0)) return;
    timer = window.setTimeout(check, wait * 1000);
  }

  function failedLoad(after) {
    if (got) return;
    var asked = parseInt(after, 10);
    retry = isFinite(asked) && asked > 0 ? Math.min(asked, 60) : backoff;
    backoff = Math.min(backoff * 2, 30);
  }

  function check() {
    if (busy) return;
    busy = true;
    var headers = etag ? { "If-None-Match": etag } : {};
    // no-store: this code, not the HTTP cache, keeps the last answer and its ETag.
    var stop = window.AbortController ? new AbortController() : null;
    var asked = first || fetch(url, {
      credentials: credentials, cache: "no-store", headers: headers, signal: stop && stop.signal
    });
    first = null;
    // Until a first document has come, an answer whose headers do not come within
    // FIRST_ANSWER_SECONDS is given up and asked again: one lost request (a connection
    // dropped without a reset, a proxy holding it) otherwise kept `busy` and the map blank.
    if (!got) asked = withDeadline(asked, FIRST_ANSWER_SECONDS * 1000, stop);
    asked
      .then(function (response) {
        if (response.status === 304) return null;
        if (response.status === 404) return onData(null);
        if (!response.ok) {
          failedLoad(response.headers.get("Retry-After"));
          throw new Error(String(response.status));
        }
        var next = response.headers.get("ETag");
        return response.json().then(function (data) {
          etag = next;
          got = true;
          return onData(data);
        });
      })
      .catch(function (error) {
        if (retry === null) failedLoad(null);  // no answer at all, or one cut short
        if (onError) onError(error);
      })
      .then(function () {
        busy = false;
        schedule();
      });
  }

  document.addEventListener("visibilitychange", function () {
    window.clearTimeout(timer);
    if (document.visibilityState === "visible" && !stopped) check();
  });
  check();
  return { stop: function () { stopped = true; window.clearTimeout(timer); } };
}

// Rallies' details, from the data when it has them, else from /api/rallies/<id>?lang=,
// kept in the page: each is asked for once, and again only after `fresh` ms (the page
// re-checks its data as often), with its ETag (a 304 then).
export function DetailStore(config) {
  var kept = new Map();  // id -> {data, at} or {promise}
  var fresh = Math.max(config.refreshSeconds || 0, 5) * 1000;

  function url(id) {
    return config.apiRallyUrl + encodeURIComponent(String(Number(id))) +
      (config.lang ? "?lang=" + encodeURIComponent(config.lang) : "");
  }

  return {
    known: function (r) {
      if (r.details) return r.details;
      var entry = kept.get(r.id);
      return entry && entry.data ? entry.data : null;
    },
    load: function (r) {
      if (r.details) return Promise.resolve(r.details);
      var entry = kept.get(r.id);
      if (entry && entry.promise) return entry.promise;
      if (entry && entry.data && Date.now() - entry.at < fresh) return Promise.resolve(entry.data);
      if (!config.apiRallyUrl) return Promise.reject(new Error("no details"));
      var next = { data: entry ? entry.data : null, at: entry ? entry.at : 0 };
      next.promise = fetch(url(r.id), { credentials: "omit", cache: "no-cache" })
        .then(function (response) {
          if (!response.ok) throw new Error(String(response.status));
          return response.json();
        })
        .then(function (data) {
          kept.set(r.id, { data: data, at: Date.now() });
          return data;
        }, function (error) {
          if (next.data) kept.set(r.id, { data: next.data, at: next.at }); else kept.delete(r.id);
          throw error;
        });
      kept.set(r.id, next);
      return next.promise;
    },
    forget: function (id) {
      var entry = kept.get(id);
      if (entry && !entry.promise) entry.at = 0;  // asked again (with its ETag) next time
    }
  };
}
