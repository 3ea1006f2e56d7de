// The live stream every live page follows (Server-Sent Events), with a slow poll as fallback.
// callcardsLive.follow({eventsUrl, floorUrl, onSnapshot, onEvent, onState, pollMs}):
// onSnapshot(floor) at the start and at each resync, onEvent(kind, event) for each event,
// onState("live" | "polling" | "lost") when the connection changes.
(function () {
  "use strict";
  var KINDS = ["caller_joined", "caller_left", "operator", "ringing", "wrapup", "ami"];

  function follow(options) {
    var source = null;
    var pollTimer = null;
    var retryTimer = null;
    var pollMs = options.pollMs || 10000;
    var state = null;

    function say(next) {
      if (state !== next) { state = next; if (options.onState) { options.onState(next); } }
    }

    function poll() {
      if (!options.floorUrl) { return; }
      var request = new XMLHttpRequest();
      request.open("GET", options.floorUrl);
      request.setRequestHeader("Accept", "application/json");
      request.timeout = 5000;
      request.onload = function () {
        if (request.status === 401 || request.status === 403) { window.location.reload(); return; }
        if (request.status === 200) {
          try { options.onSnapshot(JSON.parse(request.responseText)); } catch (ignored) { /* next poll */ }
        }
      };
      request.send();
    }

    function fallBack() {
      // The stream cannot connect (refused, too many, the site restarting): poll slowly and
      // try the stream again later.
      if (source) { source.close(); source = null; }
      say("polling");
      if (!pollTimer) { poll(); pollTimer = window.setInterval(poll, pollMs); }
      window.clearTimeout(retryTimer);
      retryTimer = window.setTimeout(connect, 30000);
    }

    function connect() {
      if (!window.EventSource) { fallBack(); return; }
      source = new EventSource(options.eventsUrl);
      source.addEventListener("open", function () {
        say("live");
        if (pollTimer) { window.clearInterval(pollTimer); pollTimer = null; }
      });
      source.addEventListener("error", function () {
        // CONNECTING: the browser reconnects by itself with Last-Event-ID; CLOSED: it gave up.
        if (source && source.readyState === EventSource.CLOSED) { fallBack(); } else { say("lost"); }
      });
      source.addEventListener("snapshot", function (message) {
        options.onSnapshot(JSON.parse(message.data));
      });
      source.addEventListener("signed_out", function () {
        source.close();
        window.location.reload();
      });
      KINDS.forEach(function (kind) {
        source.addEventListener(kind, function (message) {
          options.onEvent(kind, JSON.parse(message.data));
        });
      });
    }

    connect();
    return { close: function () { if (source) { source.close(); } } };
  }

  // "3:07" or "1:02:03" for a number of seconds.
  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var mm = (h && m < 10 ? "0" : "") + m;
    return (h ? h + ":" : "") + mm + ":" + (s < 10 ? "0" : "") + s;
  }

  window.callcardsLive = { follow: follow, duration: duration };
}());
