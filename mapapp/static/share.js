/* "Copy link" buttons: shown only where a script can copy (the address field works anyway).
 * "Share…" buttons open the system's share sheet (Viber, Signal, WhatsApp, ...): shown only
 * where the browser has one; "Copy link" and the address field stay beside them. */
(function () {
  "use strict";
  document.querySelectorAll("button[data-share]").forEach(function (button) {
    if (!navigator.share) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.share({
        title: button.getAttribute("data-share-title") || document.title,
        text: button.getAttribute("data-share-text") || "",
        url: button.getAttribute("data-share")
      }).catch(function () {});  // closed without sharing: nothing to say
    });
  });
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    if (!navigator.clipboard) return;
    button.hidden = false;
    var status = button.parentNode.querySelector(".copy-status");
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
        if (status) status.textContent = button.getAttribute("data-copied");
      });
    });
  });
})();
