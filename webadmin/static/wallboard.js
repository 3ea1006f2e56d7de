// The wallboard: callers waiting and operators' states from the live stream, today's figures
// from /live/figures (at each caller who left, and every 30 s), thresholds raise an alert.
(function () {
  "use strict";
  var root = document.getElementById("wallboard");
  if (!root || !window.callcardsLive) { return; }
  var live = window.callcardsLive;
  var words = JSON.parse(document.getElementById("board-words").textContent);
  var rows = {};
  var titles = {};     // queue name -> the title people know it by
  Array.prototype.forEach.call(root.querySelectorAll("#board-queues tr[data-queue]"), function (row) {
    rows[row.getAttribute("data-queue")] = row;
    titles[row.getAttribute("data-queue")] = row.getAttribute("data-title");
  });
  function titled(queue) { return titles[queue] || queue; }
  var callers = {};    // queue -> linkedid -> caller
  var operators = {};  // interface -> operator
  var wrapups = {};    // user id -> ends_at
  var figures = null;
  var alerting = "";

  function now() { return Date.now(); }
  function since(iso) { return (now() - Date.parse(iso)) / 1000; }
  function format(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }
  function cell(row, name) { return row.querySelector('[data-cell="' + name + '"]'); }
  function put(row, name, text, level) {
    var target = cell(row, name);
    if (!target) { return; }
    target.textContent = text;
    target.className = level || "";
  }
  function percent(value) { return value === null || value === undefined ? "—" : value.toFixed(1) + "%"; }

  function snapshot(floor) {
    callers = {};
    Object.keys(floor.callers || {}).forEach(function (queue) {
      callers[queue] = {};
      floor.callers[queue].forEach(function (caller) { callers[queue][caller.linkedid] = caller; });
    });
    operators = {};
    (floor.operators || []).forEach(function (operator) { operators[operator.interface] = operator; });
    wrapups = {};
    (floor.wrapups || []).forEach(function (wrapup) { wrapups[wrapup.user_id] = wrapup.ends_at; });
    ami(floor.ami_connected);
    draw();
  }

  function ami(connected) {
    var banner = document.getElementById("board-connection");
    banner.hidden = !!connected;
    banner.textContent = connected ? "" : words.ami_down;
  }

  var figuresTimer = null;
  function refreshFigures(delay) {
    window.clearTimeout(figuresTimer);
    figuresTimer = window.setTimeout(function () {
      var request = new XMLHttpRequest();
      request.open("GET", root.getAttribute("data-figures-url"));
      request.setRequestHeader("Accept", "application/json");
      request.onload = function () {
        if (request.status === 200) { figures = JSON.parse(request.responseText); draw(); }
      };
      request.send();
      refreshFigures(30000);
    }, delay);
  }

  function event(kind, message) {
    var data = message.data || {};
    if (kind === "caller_joined") {
      (callers[message.queue] = callers[message.queue] || {})[data.linkedid] = data;
    } else if (kind === "caller_left") {
      if (callers[message.queue]) { delete callers[message.queue][data.linkedid]; }
      refreshFigures(500 + Math.random() * 1500);
    } else if (kind === "operator") {
      operators[data.interface] = data;
    } else if (kind === "wrapup") {
      if (data.ends_at && !data.ended_by) { wrapups[message.user_id] = data.ends_at; }
      else { delete wrapups[message.user_id]; }
    } else if (kind === "ami") {
      ami(data.connected);
    }
    draw();
  }

  function inQueue(operator, queue) { return queue === "" || operator.queues.indexOf(queue) >= 0; }

  function draw() {
    var alerts = [];
    Object.keys(rows).forEach(function (queue) {
      var row = rows[queue];
      var waiting = [];
      Object.keys(callers).forEach(function (name) {
        if (queue === "" ? rows[name] : name === queue) {
          Object.keys(callers[name]).forEach(function (id) { waiting.push(callers[name][id]); });
        }
      });
      var longest = 0;
      waiting.forEach(function (caller) { longest = Math.max(longest, since(caller.joined_at)); });
      var maxWait = parseInt(row.getAttribute("data-max-wait"), 10);
      var waitLevel = "";
      if (queue !== "" && waiting.length && maxWait && longest > maxWait) {
        waitLevel = "alert";
        alerts.push(format(words.alert_wait, { queue: row.getAttribute("data-title"), limit: live.duration(maxWait) }));
      }
      put(row, "waiting", String(waiting.length), waiting.length ? "busy" : "");
      put(row, "longest", waiting.length ? live.duration(longest) : "—", waitLevel);
      var counts = { ready: 0, ringing: 0, talking: 0, hold: 0, wrapup: 0, paused: 0 };
      Object.keys(operators).forEach(function (key) {
        var operator = operators[key];
        if (inQueue(operator, queue) && counts.hasOwnProperty(operator.state)) { counts[operator.state] += 1; }
      });
      Object.keys(counts).forEach(function (state) { put(row, state, String(counts[state])); });
      var found = figures && (queue === "" ? figures.total : figures.queues[queue]);
      found = found || { offered: 0, answered: 0, abandoned: 0, answer_rate: null, service_level: null, asa: null };
      if (figures) {
        put(row, "offered", String(found.offered));
        put(row, "answered", String(found.answered));
        put(row, "abandoned", String(found.abandoned), found.abandoned ? "warn" : "");
        put(row, "answer_rate", percent(found.answer_rate));
        var target = parseInt(row.getAttribute("data-target"), 10);
        var levelClass = "";
        if (queue !== "" && found.service_level !== null && target) {
          levelClass = found.service_level < target ? "alert" : "good";
          if (found.service_level < target) {
            alerts.push(format(words.alert_level, { queue: row.getAttribute("data-title"), target: target }));
          }
        }
        put(row, "service_level", percent(found.service_level), levelClass);
        put(row, "asa", found.asa === null ? "—" : live.duration(found.asa));
      }
    });
    drawOperators();
    alert(alerts);
    var clock = document.getElementById("board-clock");
    if (clock) { clock.textContent = new Date(now()).toLocaleTimeString(); }
  }

  function alert(alerts) {
    var box = document.getElementById("board-alert");
    var text = alerts.join(" · ");
    box.hidden = !text;
    box.textContent = text;
    if (text && text !== alerting && document.getElementById("board-sound").checked) { beep(); }
    alerting = text;
  }

  function beep() {
    try {
      var Context = window.AudioContext || window.webkitAudioContext;
      var context = new Context();
      var tone = context.createOscillator();
      tone.frequency.value = 880;
      tone.connect(context.destination);
      tone.start();
      tone.stop(context.currentTime + 0.4);
    } catch (ignored) { /* no sound on this browser */ }
  }

  var actions = document.getElementById("board-actions");
  var canAct = root.getAttribute("data-can-act") === "1" && !document.body.classList.contains("tv");

  function drawOperators() {
    var body = document.querySelector("#board-operators tbody");
    var keys = Object.keys(operators).sort(function (a, b) {
      return (operators[a].name || a).localeCompare(operators[b].name || b);
    });
    var seen = {};
    keys.forEach(function (key) {
      var operator = operators[key];
      seen[key] = true;
      var row = body.querySelector('tr[data-interface="' + CSS.escape(key) + '"]');
      if (!row) {
        row = document.createElement("tr");
        row.setAttribute("data-interface", key);
        ["name", "state", "for", "queues"].forEach(function (name) {
          var td = document.createElement("td");
          td.setAttribute("data-cell", name);
          row.appendChild(td);
        });
        if (canAct && operator.user_id) {
          var td = document.createElement("td");
          td.appendChild(actions.content.cloneNode(true));
          Array.prototype.forEach.call(td.querySelectorAll("form"), function (form) {
            form.action = root.getAttribute("data-act-url")
              .replace("/0/", "/" + operator.user_id + "/").replace("ACT", form.getAttribute("data-act"));
          });
          row.appendChild(td);
        }
        body.appendChild(row);
      }
      row.setAttribute("data-user-id", operator.user_id || "");
      row.setAttribute("data-state", operator.state);
      var state = words.states[operator.state] || operator.state;
      if (operator.state === "paused" && operator.reason) {
        state += ": " + (words.reasons[operator.reason] || operator.reason);
      }
      var ends = wrapups[operator.user_id] || operator.wrapup_ends_at;
      if (operator.state === "wrapup" && ends) {
        state += " (" + live.duration(-since(ends)) + ")";
      }
      put(row, "name", operator.name);
      put(row, "state", state, "state-" + operator.state);
      put(row, "for", live.duration(since(operator.since)));
      put(row, "queues", operator.queues.map(titled).join(", "));
    });
    Array.prototype.forEach.call(body.querySelectorAll("tr[data-interface]"), function (row) {
      if (!seen[row.getAttribute("data-interface")]) { row.remove(); }
    });
  }

  live.follow({
    eventsUrl: root.getAttribute("data-events-url"),
    floorUrl: root.getAttribute("data-floor-url"),
    onSnapshot: snapshot,
    onEvent: event,
    onState: function (state) {
      var banner = document.getElementById("board-connection");
      if (state === "lost" || state === "polling") { banner.hidden = false; banner.textContent = words.stream_down; }
      else if (banner.textContent === words.stream_down) { banner.hidden = true; banner.textContent = ""; }
    },
  });
  refreshFigures(0);
  window.setInterval(draw, 1000);
}());
