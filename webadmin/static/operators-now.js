// "Operators now", live: each operator's state from the live stream, ticking since when.
(function () {
  "use strict";
  var box = document.getElementById("operators-live");
  if (!box || !window.callcardsLive) { return; }
  var live = window.callcardsLive;
  var words = JSON.parse(box.getAttribute("data-words"));
  var states = {}; // user id -> OperatorNow

  function format(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }

  function draw() {
    Object.keys(states).forEach(function (userId) {
      var operator = states[userId];
      var cell = document.querySelector('#operators-now tr[data-user-id="' + userId + '"] [data-cell="state"]');
      if (!cell) { return; }
      var text = operator.state === "paused"
        ? format(words.paused, { reason: words.reasons[operator.reason] || operator.reason || "" })
        : (words[operator.state] || operator.state);
      text += " · " + format(words.since, { time: live.duration((Date.now() - Date.parse(operator.since)) / 1000) });
      cell.textContent = text;
      cell.className = "status-" + operator.state;
      cell.setAttribute("data-state", operator.state);
    });
  }

  live.follow({
    eventsUrl: box.getAttribute("data-events-url"),
    floorUrl: box.getAttribute("data-floor-url"),
    onSnapshot: function (floor) {
      (floor.operators || []).forEach(function (operator) {
        if (operator.user_id) { states[operator.user_id] = operator; }
      });
      draw();
    },
    onEvent: function (kind, message) {
      if (kind === "operator" && message.data && message.data.user_id) {
        states[message.data.user_id] = message.data;
        draw();
      }
    },
  });
  window.setInterval(draw, 1000);
}());
