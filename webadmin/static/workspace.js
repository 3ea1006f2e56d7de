// Screen-pop: ask every second which call is on the operator's phone and show its card.
(function () {
  "use strict";
  var root = document.getElementById("workspace");
  if (!root) { return; }
  var url = root.getAttribute("data-current-url");
  var every = parseInt(root.getAttribute("data-poll-ms"), 10) || 1000;
  var slot = document.getElementById("popped-slot");
  var banner = document.getElementById("new-call-banner");
  var waiting = null; // HTML of a new call held back while the operator types in another card

  function shownId() {
    var card = document.getElementById("popped-card");
    return card ? card.getAttribute("data-call-id") : null;
  }

  function dirty() {
    var form = document.getElementById("card-form");
    return !!form && form.getAttribute("data-dirty") === "1";
  }

  function show(html) {
    slot.innerHTML = html;
    banner.hidden = true;
    waiting = null;
    var form = document.getElementById("card-form");
    if (form) {
      form.addEventListener("input", function () { form.setAttribute("data-dirty", "1"); });
      form.addEventListener("change", function () { form.setAttribute("data-dirty", "1"); });
    }
    if (window.callcardsFollowCategory) { window.callcardsFollowCategory(slot); }
  }

  function poll() {
    var have = shownId();
    var request = new XMLHttpRequest();
    request.open("GET", url + (have ? "?have=" + encodeURIComponent(have) : ""));
    request.setRequestHeader("Accept", "application/json");
    request.timeout = 5000;
    request.onload = function () {
      var data = null;
      try { data = JSON.parse(request.responseText); } catch (ignored) { data = null; }
      if (request.status === 200 && data) {
        if (data.call_id && data.html && String(data.call_id) !== have) {
          if (have && dirty()) { waiting = data.html; banner.hidden = false; }
          else { show(data.html); }
        }
        if (data.call_id) {
          var card = document.getElementById("popped-card");
          if (card && String(data.call_id) === have) { card.className = "popped popped-" + data.status; }
        }
      } else if (request.status === 401 || request.status === 403) {
        // The session ended: end the phone's registration, then show the sign-in page.
        var reload = function () { window.location.reload(); };
        if (window.callcardsPhone) { window.callcardsPhone.stop(reload); } else { reload(); }
        return;
      }
      later(every);
    };
    request.onerror = request.ontimeout = function () { later(every * 3); };
    request.send();
  }

  var timer = null;
  function later(ms) {
    window.clearTimeout(timer);
    timer = window.setTimeout(poll, ms);
  }

  // The browser phone rings: pop the card now, not at the next poll.
  window.callcardsPollNow = function () { later(0); };

  document.getElementById("show-new-call").addEventListener("click", function () {
    if (waiting) { show(waiting); }
  });
  show(slot.innerHTML);
  later(every);
}());
