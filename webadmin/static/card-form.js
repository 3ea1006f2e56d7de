// The subcategory list follows the chosen category (the server checks the pair again).
(function () {
  "use strict";

  function follow(form) {
    var category = form.querySelector("select[data-subcategory]");
    if (!category) { return; }
    var sub = form.querySelector("#" + category.getAttribute("data-subcategory"));
    if (!sub) { return; }
    function apply() {
      var chosen = category.value;
      Array.prototype.forEach.call(sub.options, function (option) {
        var parent = option.getAttribute("data-category");
        var fits = !parent || parent === chosen;
        option.hidden = !fits;
        option.disabled = !fits;
        if (!fits && option.selected) { sub.value = ""; }
      });
    }
    category.addEventListener("change", apply);
    apply();
  }

  window.callcardsFollowCategory = function (root) {
    Array.prototype.forEach.call((root || document).querySelectorAll("form.card-form"), follow);
  };
  window.callcardsFollowCategory(document);
}());
