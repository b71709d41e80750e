/* The embed code page: the Copy button puts the snippet on the clipboard.
 *
 * Without JavaScript (or a clipboard) the button stays hidden and the snippet is
 * selected and copied by hand.
 */
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("copy-snippet");
    var snippet = document.getElementById("embed-snippet");
    var status = document.getElementById("copy-status");
    if (!button || !snippet || !status || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(snippet.value).then(
        function () { status.textContent = button.dataset.copied; },
        function () {
          snippet.focus();
          snippet.select();
          status.textContent = button.dataset.failed;
        }
      );
    });
  });
})();
