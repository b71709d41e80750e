/* Small helpers every part of the map uses.
 *
 * User text is put into the page only through textContent and setAttribute: never through
 * HTML strings or folium's popup templates.
 */

// An element with a class and text (never HTML).
export function element(tag, className, text) {
  var node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// User text isolated from what follows it, so a direction control inside cannot reverse
// it: in the page as <bdi> elements, in labels (plain text) between first-strong isolate
// and pop directional isolate, the plain-text <bdi>.
export function isolate(text) {
  return "\u2068" + text + "\u2069";
}

// `promise`, or after `ms` a promise of null: what to wait for before drawing.
export function within(promise, ms) {
  return Promise.race([
    promise.catch(function () { return null; }),
    new Promise(function (resolve) { window.setTimeout(function () { resolve(null); }, ms); })
  ]);
}

// Runs `then` once the frame being made now is painted (after the next animation frame), or
// after 100 ms at the latest: a hidden tab, or a frame out of view in a partner's page, makes
// no frames.
export function afterPaint(then) {
  var done = false;
  function once() {
    if (!done) { done = true; then(); }
  }
  window.requestAnimationFrame(function () { window.setTimeout(once, 0); });
  window.setTimeout(once, 100);
}

// Marks for bench/browser.py: where the time to markers goes.
export function mark(name) {
  if (window.performance && performance.mark) performance.mark(name);
}
