/* The moderators' queue: "select all on this page" and how many are selected (the form works without it). */
(function () {
  "use strict";
  // A refused action (a rejection without a reason) answers with the whole page: open it at
  // the error, not at its top, two screens above on a phone (the summary links to the field).
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
  var form = document.getElementById("bulk");
  if (!form) return;
  var boxes = Array.prototype.slice.call(form.querySelectorAll("input[name=ids]"));
  var all = form.querySelector(".bulk-all");
  var count = form.querySelector(".bulk-count");
  var selectLabel = all ? all.textContent : "";
  function update() {
    var n = boxes.filter(function (box) { return box.checked; }).length;
    if (count) count.textContent = "(" + n + ")";
    if (all) all.textContent = n === boxes.length ? all.getAttribute("data-none") : selectLabel;
  }
  boxes.forEach(function (box) { box.addEventListener("change", update); });
  if (all) {
    all.hidden = false;
    all.addEventListener("click", function () {
      var every = boxes.every(function (box) { return box.checked; });
      boxes.forEach(function (box) { box.checked = !every; });
      update();
    });
  }
  update();
})();
