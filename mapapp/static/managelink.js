/* The page after sending a rally: keeps the manage link in this tab, and copies or shares it.
 *
 * The server shows the link once. This script keeps it in sessionStorage, so a reload (or
 * Android bringing a discarded tab back after the organizer went to Telegram to paste it)
 * shows it again for KEEP_MINUTES. sessionStorage belongs to this tab only: other tabs, other
 * windows and the server never see it, and it is gone when the tab is closed. No cookie holds
 * it and no request carries it.
 *
 * The server shows it again as long in the same browser (sealed in the session cookie), so
 * without JavaScript a reload keeps it too, with the Telegram link (a plain tg:// link, which
 * opens the app and sends nothing to a web server). "Remove the link from this page" forgets
 * it in both places.
 */
(function () {
  "use strict";

  var KEY = "mapapp.manageLink";
  var KEEP_MINUTES = 15; // as the server's KEEP_LINK_MINUTES (views/submit.py)
  var TELEGRAM_WAIT_MS = 2500; // a Telegram app that opens hides this page well before

  function remembered() {
    try {
      var kept = JSON.parse(window.sessionStorage.getItem(KEY) || "null");
      if (kept && typeof kept.link === "string" && kept.until > Date.now()) return kept.link;
      window.sessionStorage.removeItem(KEY);
    } catch (e) { /* storage off or full: nothing kept */ }
    return null;
  }

  function remember(link) {
    try {
      window.sessionStorage.setItem(KEY, JSON.stringify({ link: link, until: Date.now() + KEEP_MINUTES * 60000 }));
    } catch (e) { /* storage off: the link is shown only now */ }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("manage-link-box");
    if (!box) return;
    var forget = document.getElementById("manage-forget");
    if (forget) {
      forget.addEventListener("submit", function () {
        try { window.sessionStorage.removeItem(KEY); } catch (e) { /* nothing kept */ }
      });
    }
    if (new URLSearchParams(window.location.search).has("forgotten")) {
      try { window.sessionStorage.removeItem(KEY); } catch (e) { /* nothing kept */ }
      return;
    }
    var anchor = document.getElementById("manage-link");
    var link = anchor.getAttribute("href");
    if (link) {
      remember(link);
    } else {
      link = remembered();
      if (!link) return;
      // Shown again in this tab: the same block as right after sending.
      anchor.setAttribute("href", link);
      anchor.textContent = link;
      var telegram = document.getElementById("manage-telegram");
      telegram.setAttribute("href", telegram.dataset.base + encodeURIComponent(link));
      box.hidden = false;
      var gone = document.getElementById("manage-link-gone");
      if (gone) gone.hidden = true;
    }
    var status = document.getElementById("manage-link-status");
    var copy = document.getElementById("manage-copy");
    if (navigator.clipboard) {
      copy.hidden = false;
      copy.addEventListener("click", function () {
        navigator.clipboard.writeText(link).then(
          function () { status.textContent = copy.dataset.copied; },
          function () { status.textContent = copy.dataset.failed; }
        );
      });
    }
    // "Send to my Telegram" is tg://msg_url (no web request, no history entry): the Telegram
    // app opens and this page goes to the background. Where no app takes tg:// (a phone
    // without Telegram), nothing at all happens: after a moment the page says so, and how
    // to save the link instead; the button stays, for a second try.
    var sendTelegram = document.getElementById("manage-telegram");
    var missing = document.getElementById("manage-telegram-missing");
    if (sendTelegram && missing) {
      var waiting = null;
      var left = function () {
        if (waiting === null) return;
        window.clearTimeout(waiting);
        waiting = null;
      };
      sendTelegram.addEventListener("click", function () {
        missing.hidden = true;
        left();
        waiting = window.setTimeout(function () {
          waiting = null;
          if (!document.hidden) missing.hidden = false;
        }, TELEGRAM_WAIT_MS);
      });
      document.addEventListener("visibilitychange", function () { if (document.hidden) left(); });
      window.addEventListener("pagehide", left);
      window.addEventListener("blur", left);
    }
    var share = document.getElementById("manage-share");
    if (navigator.share) {
      share.hidden = false;
      share.addEventListener("click", function () {
        navigator.share({ title: share.dataset.title, url: link }).catch(function () {});
      });
    }
  });
})();
