/* The manage link's first page (templates/manage_open.html): it shows nothing of the rally
 * until its button is pressed (a POST that only a person's browser makes: views/submit.py,
 * manage). A browser that runs this script presses it at once, so a person sees no extra step.
 *
 * Submitted while the page is still loading, the form's answer takes this page's place in the
 * history: Back leads to the page before the link, not to this one. Not while the browser
 * prerenders the page (it may never be shown), and not twice within a few seconds (a browser
 * that keeps the session cookie but not the manage one would otherwise go round forever): the
 * button is there for that.
 */
(function () {
  "use strict";

  var form = document.getElementById("manage-open");
  if (!form) return;
  var KEY = "mapapp.manageOpened";
  var AGAIN_MS = 10000;

  // Only the time is kept (this tab's sessionStorage), not the link.
  function pressedJustNow() {
    try {
      var last = Number(window.sessionStorage.getItem(KEY)) || 0;
      var now = Date.now();
      window.sessionStorage.setItem(KEY, String(now));
      return now >= last && now - last < AGAIN_MS;
    } catch (e) {
      return false; // storage off: without cookies the press is refused (CSRF), no loop
    }
  }

  function press() {
    if (pressedJustNow()) return;
    form.submit(); // no submit event, no validation: the form has only its CSRF token
  }

  if (document.prerendering) {
    document.addEventListener("prerenderingchange", press, { once: true });
  } else {
    press();
  }
})();
