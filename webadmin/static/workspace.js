// Screen-pop: the live stream says when the operator's phone rings (or their state changes),
// then the card is asked for; without the stream (or without Asterisk's events) it is asked
// every poll-ms as before. The operator's own state ticks in #live-state.
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
        if (!data.call_id && ringTries > 0) {
          // The phone rings before the FastAGI server marked the card
          // (its writer commits in batches): ask again shortly, a few times.
          ringTries -= 1;
          later(RING_RETRY_MS);
          return;
        }
        ringTries = 0;
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
      if (!streamed()) { later(every); }
    };
    request.onerror = request.ontimeout = function () { later(every * 3); };
    request.send();
  }

  var timer = null;
  // After a ring (a RINGING event, or the browser phone's own): how many more times an empty
  // answer is asked again, and how soon (5 s in all: a busy server's writer may lag).
  var RING_TRIES = 25, RING_RETRY_MS = 200;
  var ringTries = 0;
  function later(ms) {
    window.clearTimeout(timer);
    timer = window.setTimeout(poll, ms);
  }

  // The browser phone rings: pop the card now, not at the next poll.
  window.callcardsPollNow = function () { ringTries = RING_TRIES; later(0); };

  document.getElementById("show-new-call").addEventListener("click", function () {
    if (waiting) { show(waiting); }
  });
  show(slot.innerHTML);

  // -- the live stream ----------------------------------------------------------------
  var stream = null;       // "live" while the stream is connected
  var amiConnected = false;
  var me = root.getAttribute("data-user-id");
  var mine = null;         // this operator's OperatorNow
  var wrapupEnds = null;   // ISO moment the wrap-up runs out
  var stateBox = document.getElementById("live-state");
  var stateWords = stateBox ? JSON.parse(stateBox.getAttribute("data-words")) : {};

  // Events replace the poll only while the stream is up and Asterisk's events reach us.
  function streamed() { return stream === "live" && amiConnected; }

  function format(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }

  function drawState() {
    if (!stateBox) { return; }
    var pauseNote = document.getElementById("break-after-wrapup");
    if (!mine) { stateBox.hidden = true; if (pauseNote) { pauseNote.hidden = true; } return; }
    var duration = window.callcardsLive.duration;
    var text = "";
    var ends = wrapupEnds || mine.wrapup_ends_at;
    if (mine.state === "wrapup") {
      var left = ends ? (Date.parse(ends) - Date.now()) / 1000 : -1;
      text = left > 0 ? format(stateWords.wrapup, { time: duration(left) }) : stateWords.wrapup_over;
    } else if (mine.state === "paused") {
      var reason = mine.reason ? (stateWords.reasons[mine.reason] || mine.reason) : "";
      text = format(stateWords.paused, { reason: reason });
    } else {
      text = stateWords[mine.state] || mine.state;
    }
    if (mine.state !== "wrapup") {
      text += " · " + format(stateWords.since, { time: duration((Date.now() - Date.parse(mine.since)) / 1000) });
    }
    stateBox.textContent = text;
    stateBox.setAttribute("data-state", mine.state);
    stateBox.hidden = false;
    if (pauseNote) { pauseNote.hidden = mine.state !== "wrapup"; }
  }

  function snapshot(floor) {
    amiConnected = !!floor.ami_connected;
    mine = null;
    (floor.operators || []).forEach(function (operator) {
      if (String(operator.user_id) === me) { mine = operator; }
    });
    wrapupEnds = null;
    (floor.wrapups || []).forEach(function (wrapup) {
      if (String(wrapup.user_id) === me) { wrapupEnds = wrapup.ends_at; }
    });
    drawState();
    if (streamed()) { window.clearTimeout(timer); } else { later(every); }
  }

  function event(kind, message) {
    var data = message.data || {};
    if (kind === "ami") {
      amiConnected = !!data.connected;
      if (!streamed()) { later(every); }
      return;
    }
    if (String(message.user_id) !== me) { return; }
    if (kind === "operator") { mine = data; }
    if (kind === "wrapup") { wrapupEnds = data.ended_by ? null : data.ends_at || null; }
    drawState();
    // The phone rings, is answered or hung up: the card follows at once.
    if (kind === "ringing") { ringTries = RING_TRIES; }
    if (kind === "ringing" || kind === "operator") { later(0); }
  }

  if (window.callcardsLive && root.getAttribute("data-events-url")) {
    window.callcardsLive.follow({
      eventsUrl: root.getAttribute("data-events-url"),
      floorUrl: null,  // the card poll below is this page's fallback
      onSnapshot: snapshot,
      onEvent: event,
      onState: function (state) {
        stream = state;
        if (state !== "live") { later(every); }
      },
    });
    window.setInterval(drawState, 1000);
  } else {
    later(every);
  }
}());
