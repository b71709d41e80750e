/* The urgent banner, over the map or at the top of a rally page: role=alert, so a screen
 * reader says it at once when a rally's status turns to danger, cancelled or moved.
 *
 * Over a phone's map several notices took up to 40 % of it: the banner shows the most
 * urgent line (a warning first, then a new place, then a cancel), and the others behind a
 * 44 px disclosure ("And 3 more"), the whole banner kept within a quarter of the map
 * (app.css: .urgent-over-map; it scrolls within that when opened). */

import { element, within } from "./dom.js";
import { isUrgent, rallyLink, statusSentence } from "./rally.js";

// How many rallies the urgent banner names at most (the map and the list show the rest):
// past it a less urgent line gives way to a more urgent one, never the reverse.
var BANNER_LIMIT = 10;

// The order of the lines: a warning first (people are on their way), then a new place
// (an old copy of the place sends them to the wrong one), then a cancel.
var RANK = { danger: 0, moved: 1, cancelled: 2 };

function rankOf(line) {
  return RANK[line.dataset.status];
}

// Each rally has one line, replaced when its status changes. With a DetailStore, a line
// names its rally by title (once the title is there).
export function Banner(config, details) {
  var node = document.getElementById("urgent");
  var lines = {};
  var open = false;
  var more = null, rest = null, said = null;
  var labels = config.labels || {};

  if (node && node.classList.contains("urgent-over-map")) {
    // The disclosure: a button after the first line, the other lines after it (a screen
    // reader and the Tab key meet them in that order once it is opened).
    more = element("button", "urgent-more");
    more.type = "button";
    more.setAttribute("aria-expanded", "false");
    more.setAttribute("aria-controls", "urgent-rest");
    more.hidden = true;
    rest = element("div", "urgent-rest");
    rest.id = "urgent-rest";
    rest.hidden = true;
    // A notice that arrives while the others are folded away is still said at once (the
    // banner is role=alert): its words here, seen by no one, for a few seconds.
    said = element("span", "visually-hidden urgent-said");
    more.addEventListener("click", function () {
      open = !open;
      arrange();
      if (!open) node.scrollTop = 0;
    });
  }

  function ordered() {
    return Object.keys(lines).map(function (id) { return lines[id]; }).sort(function (a, b) {
      return rankOf(a) - rankOf(b) || a.seq - b.seq;
    });
  }

  // The lines in their order: the first over the disclosure, the rest after it. Only lines
  // out of place move (a moved node is said again by the alert).
  function arrange() {
    if (!more) return;
    var all = ordered();
    if (!all.length) {
      // None left: the banner empty again (app.css: .urgent-banner:empty takes no room).
      open = false;
      [more, rest, said].forEach(function (part) { if (part.parentNode) part.remove(); });
      node.classList.remove("urgent-open");
      return;
    }
    var focused = document.activeElement;
    var first = all[0];
    if (first && node.firstChild !== first) node.insertBefore(first, node.firstChild);
    if (first && first.nextSibling !== more) node.insertBefore(more, first.nextSibling);
    if (more.nextSibling !== rest) node.insertBefore(rest, more.nextSibling);
    if (rest.nextSibling !== said) node.appendChild(said);
    all.slice(1).forEach(function (line, i) {
      if (rest.children[i] !== line) rest.insertBefore(line, rest.children[i] || null);
    });
    if (focused && focused !== document.activeElement && node.contains(focused)) {
      focused.focus({ preventScroll: true });
    }
    var others = all.length - 1;
    more.hidden = others < 1;
    rest.hidden = !open || others < 1;
    if (others < 1) open = false;
    more.setAttribute("aria-expanded", open ? "true" : "false");
    more.textContent = open ? labels.urgentFewer : (labels.urgentMore || "{count}").replace("{count}", String(others));
    node.classList.toggle("urgent-open", open);
  }

  function announce(line) {
    if (!said || !rest.hidden || !rest.contains(line)) return;
    said.textContent = line.textContent;
    window.setTimeout(function () {
      if (said.textContent === line.textContent) said.textContent = "";
    }, 5000);
  }

  function write(line, p, title) {
    if (title !== null) {
      line.appendChild(rallyLink(config, p, "urgent-title", title));
      line.appendChild(document.createTextNode(": "));
    }
    line.appendChild(element("strong", null, statusSentence(p.status, config.labels)));
    announce(line);
  }

  var seq = 0;

  return {
    say: function (p, withTitle) {
      if (!node) return;
      var id = String(p.id);
      if (lines[id]) lines[id].remove();
      delete lines[id];
      if (!isUrgent(p.status)) {
        arrange();
        return;
      }
      var line = element("p", "urgent-line urgent-" + p.status);
      line.dataset.status = p.status;
      line.seq = seq++;
      var all = ordered();
      if (all.length >= BANNER_LIMIT) {
        var last = all[all.length - 1];
        if (rankOf(last) <= rankOf(line)) { arrange(); return; }
        last.remove();
        delete lines[last.dataset.id];
      }
      line.dataset.id = id;
      lines[id] = line;
      // In the order said within a status (a warning first), whenever its title comes.
      node.appendChild(line);
      arrange();
      var known = withTitle && details ? details.known(p) : p;
      if (!withTitle || (known && known.title)) {
        write(line, p, withTitle ? known.title : null);
        return;
      }
      // The compact feed has no titles: the line waits a moment for one, else names the town.
      within(details.load(p), 3000).then(function (d) {
        if (lines[id] !== line) return;  // replaced meanwhile
        write(line, p, d && d.title ? d.title : [p.town, p.dayName].filter(Boolean).join(", "));
      });
    }
  };
}

// While a popup is open the banner keeps two lines (app.css: .popup-open) and the popup pans
// clear of it (popups.js popupPadding); on a map too short for both (a partner's small
// frame) the popup keeps its title under the controls and may still reach the banner's
// place: then the banner steps aside (.urgent-yield) until the popup closes, rather than be
// drawn over it. A newer notice is said all the same (the banner stays in the page).
export function yieldToPopups(map) {
  var frame = map.getContainer().closest(".map-frame, .embed-map");
  var banner = frame && frame.querySelector(".urgent-over-map");
  if (!banner) return;
  var watched = null;
  var sizes = window.ResizeObserver ? new ResizeObserver(check) : null;

  function overlaps(a, b) {
    return a.width && b.width && a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  }

  function check() {
    var node = watched && watched.getElement();
    frame.classList.remove("urgent-yield");
    if (!node || !map.hasLayer(watched)) return;
    var popup = node.querySelector(".leaflet-popup-content-wrapper") || node;
    if (overlaps(popup.getBoundingClientRect(), banner.getBoundingClientRect())) {
      frame.classList.add("urgent-yield");
    }
  }

  map.on("popupopen", function (event) {
    watched = event.popup;
    if (sizes) {
      sizes.disconnect();
      var node = watched.getElement();
      if (node) sizes.observe(node);
    }
    window.requestAnimationFrame(check);
  });
  map.on("moveend", check);
  map.on("popupclose", function (event) {
    if (watched !== event.popup) return;
    watched = null;
    if (sizes) sizes.disconnect();
    frame.classList.remove("urgent-yield");
  });
}
