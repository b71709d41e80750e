/* The list beside the map: a page of rallies at a time ("Show more" adds as many), each
 * line at once with what the feed says (status, town, day), and its title, time and place
 * when it comes into view.
 *
 * `state` is the map's shared state, made by main.js.
 */

import { element } from "./dom.js";
import { filterQuery } from "./feed.js";
import { show } from "./popups.js";
import { appendPlace, isUrgent, rallyLink, startsText, statusBadge } from "./rally.js";

// The list beside the map shows this many rallies at a time ("Show more" adds as many);
// the list page has them all.
var LIST_PAGE = 50;

// A line of the list beside the map: at once what the feed says (status, town, day); the
// title, time and place when the rally's details are there (fillItem). The link and the
// button stay the same nodes, so focus on them survives.
function listItem(r, onShow, config) {
  var item = element("li", "rally-item" + (r.featured ? " rally-featured" : "") +
    (isUrgent(r.status) ? " rally-" + r.status : ""));
  item.dataset.id = String(r.id);
  var badge = statusBadge("strong", r, config.labels);
  if (badge) item.appendChild(badge);
  if (r.featured) item.appendChild(element("strong", "badge badge-featured", config.labels.featured));
  var link = rallyLink(config, r, "rally-title");
  link.insertBefore(element("bdi", "rally-title-text", r.town), link.firstChild);
  item.appendChild(link);
  var meta = element("p", "rally-meta");
  meta.appendChild(element("span", "rally-when", r.dayName));
  meta.appendChild(element("span", "rally-where"));
  var button = element("button", "show-on-map", config.labels.show);
  button.type = "button";
  button.addEventListener("click", function () { onShow(r, button); });
  meta.appendChild(button);
  item.appendChild(meta);
  return item;
}

function fillItem(item, d, config) {
  item.querySelector(".rally-title-text").textContent = d.title;
  item.querySelector(".rally-when").textContent = startsText(d, config.lang);
  var where = item.querySelector(".rally-where");
  where.textContent = " · ";
  appendPlace(where, d);
  // After a time change, the old time (people may have planned for it); gone once unsaid.
  var note = item.querySelector(".rally-rescheduled");
  if (note) note.remove();
  if (d.time_note) item.appendChild(element("p", "rally-rescheduled", d.time_note));
  item.dataset.filled = "true";
}

// The list in the element `list` (none: the page has no list, nothing is drawn).
export function List(state, list) {
  var config = state.config;
  var details = state.details;
  var listItems = new Map();   // rally id -> <li> beside the map
  var listed = 0;              // how many of `state.order` the list shows
  var moreItem = null;

  function onShow(r, opener) {
    show(state, r, opener);
  }

  var seen = window.IntersectionObserver ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (!entry.isIntersecting) return;
      seen.unobserve(entry.target);
      fill(entry.target);
    });
  }, { rootMargin: "300px 0px" }) : null;

  function fill(item) {
    var r = state.records.get(Number(item.dataset.id));
    if (!r) return;
    details.load(r).then(function (d) {
      if (listItems.get(r.id) === item) fillItem(item, d, config);
    }, function () {
      if (seen && listItems.get(r.id) === item) window.setTimeout(function () { seen.observe(item); }, 5000);
    });
  }

  function makeItem(r) {
    var item = listItem(r, onShow, config);
    var d = details.known(r);
    // Known details are drawn at once; fill() then loads them again if the map forgot them
    // (the rally changed: its revision moved), else it answers from the page's copy.
    if (d) { fillItem(item, d, config); fill(item); } else if (seen) seen.observe(item); else fill(item);
    listItems.set(r.id, item);
    return item;
  }

  function showMore(focusFirst) {
    if (!list) return;
    var order = state.order;
    var fragment = document.createDocumentFragment();
    var first = null;
    order.slice(listed, listed + LIST_PAGE).forEach(function (r) {
      var item = makeItem(r);
      first = first || item;
      fragment.appendChild(item);
    });
    listed = Math.min(order.length, listed + LIST_PAGE);
    if (moreItem) moreItem.remove();
    moreItem = null;
    if (listed < order.length) {
      moreItem = element("li", "rally-item rally-more");
      var button = element("button", "show-more", config.labels.showMore);
      button.type = "button";
      button.addEventListener("click", function () { showMore(true); });
      moreItem.appendChild(button);
      if (config.listUrl) {
        var link = element("a", null, config.labels.more.replace("{count}", String(order.length)));
        link.href = config.listUrl + filterQuery(config.lang);
        moreItem.appendChild(document.createTextNode(" "));
        moreItem.appendChild(link);
      }
      fragment.appendChild(moreItem);
    }
    list.appendChild(fragment);
    var firstLink = first && focusFirst && first.querySelector(".rally-title, .show-on-map");
    if (firstLink) firstLink.focus();
  }

  return {
    showMore: showMore,
    // A rally's line drawn again (new data), keeping focus where it was in it.
    replace: function (r) {
      var old = listItems.get(r.id);
      if (!old) return;
      var active = document.activeElement;
      var focused = old.contains(active) ? active.className : null;
      var fresh = makeItem(r);
      old.replaceWith(fresh);
      if (focused) {
        var again = fresh.getElementsByClassName(focused)[0];
        if (again) again.focus({ preventScroll: true });
      }
    },
    remove: function (r) {
      var item = listItems.get(r.id);
      if (item) item.remove();
      listItems.delete(r.id);
    }
  };
}
