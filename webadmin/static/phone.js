// The browser phone in the workspace: JsSIP registers the operator's own endpoint over
// Asterisk's SIP WebSocket with the password the site gives this signed-in page (kept in
// memory only), rings, answers, holds, transfers, dials; a ring pops the call's card.
(function () {
  "use strict";
  var root = document.getElementById("phone");
  if (!root || !window.JsSIP) { return; }
  var words = JSON.parse(document.getElementById("phone-words").textContent);
  var credentialsUrl = root.getAttribute("data-credentials-url");
  // The site is asked again this often: a rotated password or an ended session shows here.
  var checkEvery = parseInt(root.getAttribute("data-check-ms"), 10) || 30000;
  var $ = function (id) { return document.getElementById(id); };
  var stateText = $("phone-state"), peerText = $("phone-peer"), audio = $("phone-audio");
  var ua = null, current = null, consult = null, config = null, stopped = false;
  var micId = "", marks = {};

  function say(state, text) {
    root.setAttribute("data-state", state);
    stateText.textContent = text;
    buttons();
  }

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, key) { return values[key] || ""; });
  }

  function buttons() {
    var state = root.getAttribute("data-state");
    var inCall = state === "incall" || state === "held";
    $("phone-answer").hidden = state !== "ringing";
    $("phone-hangup").hidden = !(inCall || state === "ringing" || state === "calling");
    $("phone-mute").hidden = !inCall;
    $("phone-hold").hidden = !inCall;
    $("phone-in-call").hidden = !inCall;
    $("phone-dial-form").hidden = inCall || state === "ringing" || state === "calling";
    $("phone-attended-complete").hidden = !consult;
    $("phone-hold").textContent = state === "held" ? words.resume : words.hold;
  }

  function pressed(button, on, label) {
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.textContent = label;
  }

  function peerOf(session) {
    var identity = session.remote_identity;
    var number = identity && identity.uri ? identity.uri.user : "";
    var name = identity && identity.display_name ? identity.display_name : "";
    return name && name !== number ? name + " (" + number + ")" : number;
  }

  function media() {
    return { audio: micId ? { deviceId: { exact: micId } } : true, video: false };
  }

  function pcConfig() {
    return { iceServers: config.ice_servers || [], rtcpMuxPolicy: "require" };
  }

  // --- the site: the credentials, for this page only -----------------------------------
  function fetchCredentials(then) {
    var request = new XMLHttpRequest();
    request.open("GET", credentialsUrl);
    request.setRequestHeader("Accept", "application/json");
    request.timeout = 10000;
    request.onload = function () {
      var data = null;
      try { data = JSON.parse(request.responseText); } catch (ignored) { data = null; }
      if (request.status === 200 && data) { then(data); return; }
      if (request.status === 401 || request.status === 403) {
        stop(function () { say("signed-out", words.signed_out); });
        return;
      }
      stop(function () {
        say("unavailable", data && data.error ? data.error.message : words.unavailable);
      });
    };
    request.onerror = request.ontimeout = function () {
      // The site is unreachable: the phone keeps what it has and asks again later.
      window.setTimeout(function () { fetchCredentials(then); }, checkEvery);
    };
    request.send();
  }

  function keepChecking() {
    window.setTimeout(function () {
      if (stopped) { return; }
      fetchCredentials(function (fresh) {
        if (config && fresh.generation !== config.generation && !current) {
          // A new phone password: register again with it.
          stop(function () { stopped = false; start(fresh); });
        } else if (config && fresh.generation !== config.generation) {
          config.pending = fresh; // after this call
        }
        keepChecking();
      });
    }, checkEvery);
  }

  // --- registration ----------------------------------------------------------------------
  function start(data) {
    config = data;
    stopped = false;
    var host = new URL(data.socket).hostname;
    var socket = new window.JsSIP.WebSocketInterface(data.socket);
    ua = new window.JsSIP.UA({
      sockets: [socket],
      uri: "sip:" + data.extension + "@" + host,
      authorization_user: data.extension,
      password: data.password,
      register: true,
      register_expires: 120,
      session_timers: false,
      // After a network drop or an Asterisk restart: reconnect and register again.
      connection_recovery_min_interval: 1,
      connection_recovery_max_interval: 8,
      user_agent: "callcards-browser-phone"
    });
    data.password = null; // JsSIP keeps it; nothing else needs it
    say("registering", words.registering);
    // lost: the WebSocket went (a network drop, Asterisk stopped) and has not come back; the
    // page says so until it has, whatever JsSIP's retries and unregistration say meanwhile.
    var mine = ua, refusals = 0, lost = false;
    // Events of a phone being replaced (a new password) say nothing about this one.
    var on = function (name, handler) {
      mine.on(name, function (event) { if (ua === mine) { handler(event); } });
    };
    on("connecting", function () {
      if (!lost && !mine.isRegistered()) { say("registering", words.registering); }
    });
    on("connected", function () {
      lost = false;
      if (!mine.isRegistered()) { say("registering", words.registering); }
    });
    on("disconnected", function () {
      if (!stopped) { lost = true; say("reconnecting", words.reconnecting); }
    });
    on("registered", function () {
      refusals = 0;
      if (!current) { say("registered", fill(words.ready, { ext: data.extension })); }
    });
    on("unregistered", function () {
      if (!stopped && !lost) { say("registering", words.registering); }
    });
    on("registrationFailed", function (event) {
      var status = event.response ? event.response.status_code : 0;
      if (status === 403 && refusals < 2) {
        // Asterisk may not have let go of this browser's previous contact yet (a page
        // reloaded, a new password): ask again before saying the phone is open elsewhere.
        refusals += 1;
        window.setTimeout(function () { if (ua === mine) { mine.register(); } }, 2000);
      } else if (status === 403) {
        say("failed", words.elsewhere);
      } else if (event.cause === window.JsSIP.C.causes.AUTHENTICATION_ERROR || status === 401) {
        say("failed", words.wrong_password);
      } else {
        say("reconnecting", words.reconnecting);
      }
    });
    on("newRTCSession", function (event) {
      if (event.originator === "remote") { incoming(event.session); }
    });
    ua.start();
  }

  function stop(done) {
    stopped = true;
    if (!ua) { if (done) { done(); } return; }
    var stopping = ua;
    ua = null;
    if (current) { try { current.terminate(); } catch (ignored) { /* already ended */ } }
    var finished = false;
    var finish = function () {
      if (finished) { return; }
      finished = true;
      if (done) { done(); }
    };
    // JsSIP's stop() unregisters, then closes the WebSocket; Asterisk drops the contact with
    // it. Only then may a new phone register (its AOR takes one contact).
    stopping.on("disconnected", finish);
    stopping.stop();
    window.setTimeout(finish, 4000); // no answer from Asterisk: go on
  }

  // --- calls -------------------------------------------------------------------------------
  function track(session, outgoing) {
    current = session;
    session.on("peerconnection", function (event) { listen(event.peerconnection); });
    if (session.connection) { listen(session.connection); }
    session.on("accepted", function () {
      marks.accepted = performance.now();
      say("incall", fill(words.in_call, { peer: peerOf(session) }));
    });
    session.on("confirmed", function () {
      say("incall", fill(words.in_call, { peer: peerOf(session) }));
    });
    session.on("hold", function (event) {
      if (event.originator === "local") { say("held", words.held); }
    });
    session.on("unhold", function (event) {
      if (event.originator === "local") {
        say("incall", fill(words.in_call, { peer: peerOf(session) }));
      }
    });
    session.on("muted", function () { pressed($("phone-mute"), true, words.unmute); });
    session.on("unmuted", function () { pressed($("phone-mute"), false, words.mute); });
    var end = function (event) {
      if (session === consult) {
        consult = null;
        if (current) { say(current.isOnHold().local ? "held" : "incall", words.held); }
        return;
      }
      current = null;
      peerText.textContent = "";
      pressed($("phone-mute"), false, words.mute);
      var failed = event && event.originator && event.cause &&
        event.cause !== window.JsSIP.C.causes.BYE && event.cause !== window.JsSIP.C.causes.CANCELED;
      if (outgoing && failed) {
        say("registered", fill(words.call_failed, { reason: event.cause }));
      } else {
        say("registered", fill(words.ready, { ext: config.extension }));
      }
      if (config && config.pending) {
        var fresh = config.pending;
        stop(function () { start(fresh); });
      }
    };
    session.on("ended", end);
    session.on("failed", end);
  }

  function listen(pc) {
    pc.addEventListener("track", function (event) {
      audio.srcObject = event.streams[0] || new MediaStream([event.track]);
      audio.play().catch(function () { /* autoplay: the answer click allows it */ });
    });
  }

  function incoming(session) {
    if (current) {
      session.terminate({ status_code: 486, reason_phrase: "Busy Here" });
      return;
    }
    marks.ringing = performance.now();
    track(session, false);
    peerText.textContent = peerOf(session);
    say("ringing", fill(words.ringing, { peer: peerOf(session) }));
    // The card's screen-pop: ask the site now rather than at its next poll.
    if (window.callcardsPollNow) { window.callcardsPollNow(); }
  }

  function dial(number) {
    var target = String(number || "").replace(/[^0-9+a-z]/g, "");
    if (!ua || !target || current) { return; }
    var session = ua.call("sip:" + target + "@" + new URL(config.socket).hostname, {
      mediaConstraints: media(), pcConfig: pcConfig(),
      rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: false }
    });
    track(session, true);
    peerText.textContent = target;
    say("calling", fill(words.calling, { peer: target }));
  }

  // The transferor hangs up its own legs once Asterisk says the transfer took (NOTIFY 2xx,
  // RFC 5589); a refused one leaves the caller with the operator, still on hold.
  function follow(subscriber, legs) {
    subscriber.on("accepted", function () {
      legs.forEach(function (leg) {
        if (!leg.isEnded()) { try { leg.terminate(); } catch (ignored) { /* gone */ } }
      });
    });
    subscriber.on("failed", function () {
      if (current) { say(current.isOnHold().local ? "held" : "incall", words.transfer_failed); }
    });
  }

  function transferTarget() {
    return String($("phone-transfer-to").value || "").trim().replace(/[^0-9a-z._-]/g, "");
  }

  // --- the buttons -------------------------------------------------------------------------
  $("phone-answer").addEventListener("click", function () {
    if (!current) { return; }
    marks.answer_click = performance.now();
    current.answer({ mediaConstraints: media(), pcConfig: pcConfig() });
  });
  $("phone-hangup").addEventListener("click", function () {
    if (current) { current.terminate(); }
  });
  $("phone-mute").addEventListener("click", function () {
    if (!current) { return; }
    if (current.isMuted().audio) { current.unmute({ audio: true }); }
    else { current.mute({ audio: true }); }
  });
  $("phone-hold").addEventListener("click", function () {
    if (!current) { return; }
    if (current.isOnHold().local) { current.unhold(); } else { current.hold(); }
  });
  $("phone-dtmf").addEventListener("click", function (event) {
    var digit = event.target.getAttribute("data-digit");
    // RFC 4733 events in the media, as the endpoint's dtmf_mode expects.
    if (digit && current) { current.sendDTMF(digit, { transportType: "RFC2833" }); }
  });
  $("phone-blind-transfer").addEventListener("click", function () {
    var target = transferTarget();
    if (!current || !target) { return; }
    var transferred = current;
    follow(current.refer("sip:" + target + "@" + new URL(config.socket).hostname), [transferred]);
    say("transferring", fill(words.transferring, { peer: target }));
  });
  $("phone-attended-start").addEventListener("click", function () {
    var target = transferTarget();
    if (!current || !target || consult) { return; }
    if (!current.isOnHold().local) { current.hold(); }
    consult = ua.call("sip:" + target + "@" + new URL(config.socket).hostname, {
      mediaConstraints: media(), pcConfig: pcConfig()
    });
    var first = current;
    track(consult, true);
    current = first; // the caller stays the call; the consultation is `consult`
    say("held", fill(words.consulting, { peer: target }));
  });
  $("phone-attended-complete").addEventListener("click", function () {
    if (!current || !consult) { return; }
    // REFER with Replaces: Asterisk joins the caller to the colleague we are talking to.
    follow(current.refer(consult.remote_identity.uri, { replaces: consult }), [current, consult]);
    say("transferring", words.transferring_attended);
  });
  $("phone-dial-form").addEventListener("submit", function (event) {
    event.preventDefault();
    dial($("phone-number").value);
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-phone-dial]") : null;
    if (button) { event.preventDefault(); dial(button.getAttribute("data-phone-dial")); }
  });
  $("phone-mic").addEventListener("change", function () { micId = this.value; });
  $("phone-speaker").addEventListener("change", function () {
    if (audio.setSinkId) { audio.setSinkId(this.value).catch(function () { /* keep default */ }); }
  });

  function listDevices() {
    navigator.mediaDevices.enumerateDevices().then(function (devices) {
      var mic = $("phone-mic"), speaker = $("phone-speaker");
      devices.forEach(function (device) {
        var option = document.createElement("option");
        option.value = device.deviceId;
        option.textContent = device.label || device.deviceId.slice(0, 8);
        if (device.kind === "audioinput") { mic.appendChild(option); }
        if (device.kind === "audiooutput") { speaker.appendChild(option); }
      });
    });
  }

  // A page the operator leaves (or a sign-out) ends its registration at once.
  window.addEventListener("pagehide", function () { stop(); });

  window.callcardsPhone = {
    stop: stop,
    marks: marks,
    connection: function () { return current ? current.connection : null; },
    state: function () { return root.getAttribute("data-state"); }
  };

  say("starting", words.starting);
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    say("mic-failed", fill(words.mic_failed, { reason: "getUserMedia" }));
    return;
  }
  navigator.mediaDevices.getUserMedia({ audio: true, video: false }).then(function (stream) {
    stream.getTracks().forEach(function (one) { one.stop(); });
    listDevices();
    fetchCredentials(function (data) { start(data); keepChecking(); });
  }, function (error) {
    // Without a microphone a call would ring here and could not be taken: stay off.
    say("mic-failed", fill(words.mic_failed, { reason: error.name }));
  });
}());
