/* The urgent banner, over the map or at the top of a rally page: role=alert, so a screen
 * reader says it at once when a rally's status turns to danger, cancelled or moved. */

import { element, within } from "./dom.js";
import { isUrgent, rallyLink, statusSentence } from "./rally.js";

// How many rallies the urgent banner names at most (the map and the list show the rest).
var BANNER_LIMIT = 5;

// Each rally has one line, replaced when its status changes. With a DetailStore, a line
// names its rally by title (once the title is there).
export function Banner(config, details) {
  var node = document.getElementById("urgent");
  var lines = {};

  function write(line, p, title) {
    if (title !== null) {
      line.appendChild(rallyLink(config, p, "urgent-title", title));
      line.appendChild(document.createTextNode(": "));
    }
    line.appendChild(element("strong", null, statusSentence(p.status, config.labels)));
  }

  return {
    say: function (p, withTitle) {
      if (!node) return;
      var id = String(p.id);
      if (lines[id]) lines[id].remove();
      delete lines[id];
      if (!isUrgent(p.status)) return;
      if (Object.keys(lines).length >= BANNER_LIMIT) return;
      var line = element("p", "urgent-line urgent-" + p.status);
      lines[id] = line;
      // In the order said (a warning first), whenever its title comes.
      node.appendChild(line);
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
