/* A rally as the map keeps it, and the words it is said in: its time, place, status and
 * the link to its page. */

import { element, isolate } from "./dom.js";

// Statuses that warn people away: each has its own marker and a fixed sentence.
var URGENT = ["danger", "cancelled", "moved"];
// Direction controls, which only isolation keeps from reordering what follows.
var BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

export function startsText(p, lang) {
  // The server formats the time when asked with ?lang (browsers lack some languages).
  return p.starts_text || localTime(p.starts_at, lang);
}

function localTime(iso, lang) {
  try {
    return new Intl.DateTimeFormat(lang, {
      timeZone: "Europe/Minsk", dateStyle: "full", timeStyle: "short"
    }).format(new Date(iso));
  } catch (e) {
    return iso;
  }
}

function rallyUrl(config, id) {
  // The id is a number from our own API; anything else is refused.
  return config.rallyUrl + encodeURIComponent(String(Number(id))) +
    (config.lang ? "?lang=" + encodeURIComponent(config.lang) : "");
}

// A link to a rally's page. Inside another site's page (embed) it opens in a new tab:
// our pages refuse to be framed, and the partner's page stays where it was.
export function rallyLink(config, p, className, text) {
  if (!config.rallyUrl) return element("span", className, text);  // a page saved to disk
  var link = element("a", className, text);
  link.href = rallyUrl(config, p.id);
  if (config.mode === "embed") {
    link.target = "_blank";
    link.rel = "noopener";
    link.appendChild(element("span", "visually-hidden", " " + config.labels.newTab));
  }
  return link;
}

function placeLine(p) {
  return [p.place, p.town].filter(Boolean).map(isolate).join(", ");
}

export function appendPlace(node, p) {
  [p.place, p.town].filter(Boolean).forEach(function (text, i) {
    if (i) node.appendChild(document.createTextNode(", "));
    node.appendChild(element("bdi", null, text));
  });
  return node;
}

export function isUrgent(status) {
  return URGENT.indexOf(status) >= 0;
}

// The fixed sentence of an urgent status ("" for the others).
export function statusSentence(status, labels) {
  if (status === "danger") return labels.danger;
  if (status === "moved") return labels.moved;
  if (status === "cancelled") return labels.cancelledNotice;
  return "";
}

// The badge shown with a rally in a popup or the list.
export function statusBadge(tag, p, labels) {
  if (p.status === "cancelled") return element(tag, "badge badge-cancelled", labels.cancelled);
  if (isUrgent(p.status)) return element(tag, "badge badge-" + p.status, statusSentence(p.status, labels));
  return null;
}

// A rally as the map keeps it, from either form of the GeoJSON: the map's compact one
// (towns as an index into `towns`, the day, no texts) or the full one, whose properties
// are the rally's details already.
export function recordsOf(data) {
  var towns = data && data.towns;
  var compact = Array.isArray(towns);
  var dayNames = (data && data.day_names) || {};
  return ((data && data.features) || []).map(function (feature) {
    var p = feature.properties || {};
    var c = feature.geometry.coordinates;
    var id = feature.id !== undefined && feature.id !== null ? feature.id : p.id;
    var record = {
      id: id,
      lat: c[1],
      lon: c[0],
      status: p.status || "approved",
      featured: Boolean(p.featured),
      verification: VERIFICATIONS[p.verification] ? p.verification : null,
      town: compact ? towns[p.town] : p.town,
      day: compact ? p.day : String(p.starts_at || "").slice(0, 10),
      starts_at: compact ? null : p.starts_at,
      rev: compact ? p.rev : p.sequence,
      details: compact ? null : p
    };
    record.dayName = compact ? (dayNames[p.day] || p.day) : startsText(p);
    return record;
  });
}

// What tells a changed rally in a newer document (made only when one comes).
export function signature(r) {
  return JSON.stringify([r.lon, r.lat, r.status, r.featured, r.verification, r.town, r.day, r.rev, r.details]);
}

// The verification grades (mapapp.publishing.public.verification) and their words' labels:
// each grade has its own ring around the marker (app.css: solid, double, dashed, dotted).
var VERIFICATIONS = {
  "moderators": "vModerators", "known-organizer": "vKnownOrganizer",
  "moderator": "vModerator", "imported": "vImported"
};

// How a rally was checked, in words ("" when the data does not say).
export function verificationText(r, labels) {
  return r.verification ? labels[VERIFICATIONS[r.verification]] || "" : "";
}

// What a rally's marker is called: its title and place when the data has them (the
// moderators' map, the saved page), else its town and day: the compact feed has no texts.
export function markerLabel(r, labels) {
  var status = r.status === "cancelled" ? labels.cancelled : statusSentence(r.status, labels);
  var d = r.details;
  var name;
  if (d && d.title) {
    name = (BIDI.test(d.title) ? isolate(d.title) : d.title) + " — " + placeLine(d);
  } else {
    name = (r.featured ? labels.featured + ": " : "") +
      [r.town, r.dayName].filter(Boolean).map(isolate).join(", ");
  }
  var checked = verificationText(r, labels);
  return (status ? status + " " : "") + name + (checked ? ". " + checked : "");
}
