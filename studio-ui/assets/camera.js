// SPDX-License-Identifier: MPL-2.0
// "Use my camera" on a live show whose source is the browser: asks the
// browser for a camera and microphone, shows the presenter a mirrored
// self-view and publishes both to the show over WHIP (RFC 9725) through the
// studio's proxy, which adds the presenter's token (the script never sees it).
// A lost connection is first mended with an ICE restart on the same publisher (the
// server's /assets/ice.js: trickle ICE and restarts over PATCH), and only then made
// again from scratch, without a reload.
// Plain script, no build step; does nothing on pages without #camera-panel.
(function () {
  'use strict';

  var RETRY_MS = 2000;
  var DISCONNECT_GRACE_MS = 3000;
  var GATHER_MS = 2000;
  // After an ICE restart, how long the connection may take to come back before starting over.
  var RESTART_MS = 6000;
  var iceModule = null;
  function iceLib() { return iceModule || (iceModule = import('/assets/ice.js')); }

  // Everything about the one publisher of this page.
  var state = { stream: null, pc: null, resource: null, ice: null, mending: false, gen: 0, wanted: false,
    retry: null, grace: null };

  function $(id) { return document.getElementById(id); }
  function panel() { return $('camera-panel'); }

  function status(text) { var s = $('camera-status'); if (s) s.textContent = text; }
  function problem(text) { var e = $('camera-error'); if (e) e.textContent = text || ''; }

  // The browser's refusals in words a presenter can act on.
  function explain(err) {
    var name = err && err.name;
    if (name === 'NotAllowedError' || name === 'SecurityError') {
      return 'The browser was not allowed to use your camera or microphone. Allow both for this site ' +
        '(the camera icon in the address bar, or the browser\'s site settings), then press the button again.';
    }
    if (name === 'NotFoundError') {
      return 'No camera or microphone was found. Plug one in, or pick another one above.';
    }
    if (name === 'NotReadableError' || name === 'AbortError') {
      return 'Your camera or microphone could not be started: another program (a video call?) may be using it. ' +
        'Close that program and press the button again.';
    }
    if (name === 'OverconstrainedError') {
      return 'This camera cannot give the chosen resolution' +
        (err.constraint ? ' (' + err.constraint + ')' : '') + '. Pick a lower resolution or another camera.';
    }
    return (err && err.message) || String(err);
  }

  // Studio proxy paths: the API's `/api/...` becomes `/ui/api/...`, which carries the token.
  function proxied(path) { return path.indexOf('/api/') === 0 ? '/ui' + path : path; }

  function send(method, path, body, type, extra) {
    var headers = { 'x-reenact-ui': '1' };
    if (type) headers['Content-Type'] = type;
    Object.keys(extra || {}).forEach(function (name) { headers[name] = extra[name]; });
    // keepalive: a DELETE sent as the page goes away still reaches the server.
    return fetch(proxied(path), { method: method, headers: headers, body: body, cache: 'no-store', keepalive: method === 'DELETE' });
  }

  // The API's reason from a `{error, detail}` answer.
  function reason(response) {
    return response.text().then(function (text) {
      try { var body = JSON.parse(text); return body.detail || body.error || ('the server answered ' + response.status); }
      catch (e) { return 'the server answered ' + response.status; }
    });
  }

  function constraints() {
    var size = ($('camera-resolution').value || '1280x720').split('x');
    var camera = $('camera-device').value, mic = $('mic-device').value;
    var video = { width: { ideal: Number(size[0]) }, height: { ideal: Number(size[1]) }, frameRate: { ideal: 30 },
      resizeMode: 'crop-and-scale' };
    if (camera) video.deviceId = { exact: camera };
    var audio = { echoCancellation: true, noiseSuppression: true };
    if (mic) audio.deviceId = { exact: mic };
    return { video: video, audio: audio };
  }

  // Fills the pickers; labels are only given once the page may use a device.
  function listDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return Promise.resolve();
    return navigator.mediaDevices.enumerateDevices().then(function (devices) {
      fill($('camera-device'), devices, 'videoinput', 'Camera');
      fill($('mic-device'), devices, 'audioinput', 'Microphone');
    }).catch(function () {});
  }

  function fill(select, devices, kind, word) {
    if (!select) return;
    var inUse = state.stream && state.stream.getTracks().filter(function (t) {
      return (kind === 'videoinput') === (t.kind === 'video');
    })[0];
    var current = select.value || (inUse && inUse.getSettings && inUse.getSettings().deviceId) || '';
    var list = devices.filter(function (d) { return d.kind === kind; });
    select.textContent = '';
    list.forEach(function (d, i) {
      var option = document.createElement('option');
      option.value = d.deviceId;
      option.textContent = d.label || (word + ' ' + (i + 1));
      select.appendChild(option);
    });
    if (!list.length) {
      var none = document.createElement('option');
      none.value = '';
      none.textContent = 'None found';
      select.appendChild(none);
    }
    if (current && list.some(function (d) { return d.deviceId === current; })) select.value = current;
  }

  // Opens the chosen devices; with a publisher connected, its tracks are swapped in place.
  function openDevices() {
    if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return Promise.reject(new Error('The browser lends its camera only to secure pages: open the studio at an ' +
        'https:// address (or on this machine at http://localhost).'));
    }
    return navigator.mediaDevices.getUserMedia(constraints()).then(function (stream) {
      var old = state.stream;
      state.stream = stream;
      var self = $('self-view');
      if (self) { self.srcObject = stream; self.play().catch(function () {}); }
      if (state.pc) {
        state.pc.getSenders().forEach(function (sender) {
          var kind = sender.track ? sender.track.kind : null;
          var next = stream.getTracks().filter(function (t) { return t.kind === kind; })[0];
          if (next) sender.replaceTrack(next).catch(function () {});
        });
      }
      if (old) old.getTracks().forEach(function (t) { t.stop(); });
      return listDevices();
    });
  }

  function gathered(pc) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise(function (resolve) {
      var timer = setTimeout(resolve, GATHER_MS);
      pc.addEventListener('icegatheringstatechange', function () {
        if (pc.iceGatheringState === 'complete') { clearTimeout(timer); resolve(); }
      });
    });
  }

  // Closes this page's publisher; the show goes back to its attract picture.
  function hangUp() {
    state.gen++;
    clearTimeout(state.retry); clearTimeout(state.grace);
    if (state.pc) { state.pc.onconnectionstatechange = null; state.pc.close(); state.pc = null; }
    if (state.resource) send('DELETE', state.resource).catch(function () {});
    state.resource = null;
    state.ice = null;
    state.mending = false;
  }

  // A lost connection: an ICE restart on the same publisher first (the show keeps its
  // decoder and the viewers see no gap beyond the outage), a new publisher if that fails.
  function mend(why) {
    var my = state.gen, ice = state.ice;
    if (!ice || state.mending) { if (!ice) reconnect(why); return; }
    state.mending = true;
    status('Reconnecting to the show (' + why + ')…');
    ice.restart().then(function (ok) {
      if (my !== state.gen) return;
      state.mending = false;
      var line = $('camera-status');
      if (line) line.dataset.iceRestarts = String(ice.restarts);
      if (!ok) { reconnect(why); return; }
      // A restart while the old route still worked leaves the state at 'connected'.
      if (state.pc && state.pc.connectionState === 'connected') { status('On air with your camera.'); showRoute(state.pc); }
      clearTimeout(state.grace);
      state.grace = setTimeout(function () {
        if (my === state.gen && state.pc && state.pc.connectionState !== 'connected') reconnect(why);
      }, RESTART_MS);
    });
  }

  function reconnect(why) {
    hangUp();
    if (!state.wanted) return;
    status('Reconnecting to the show (' + why + ')…');
    state.retry = setTimeout(publish, RETRY_MS);
  }

  // Which route the media takes (host, srflx through a NAT, relay through TURN), on the
  // status line's data-route: a presenter's first question when the picture stutters.
  function showRoute(pc) {
    pc.getStats().then(function (stats) {
      stats.forEach(function (s) {
        if (s.type !== 'transport' || !s.selectedCandidatePairId) return;
        var pair = stats.get(s.selectedCandidatePairId);
        var local = pair && stats.get(pair.localCandidateId);
        if (local && $('camera-status')) $('camera-status').dataset.route = local.candidateType || '';
      });
    }).catch(function () {});
  }

  // One WHIP session: ICE servers (TURN credentials made for this presenter now), an offer
  // with every candidate, the answer.
  function publish() {
    var session = panel() && panel().dataset.session;
    if (!session || !state.stream || !state.wanted) return;
    var my = ++state.gen;
    var base = '/api/live/' + encodeURIComponent(session);
    status('Connecting to the show…');
    send('GET', base + '/ice-servers').then(function (r) {
      if (!r.ok) return reason(r).then(function (why) { throw new Error(why); });
      return r.json();
    }).then(function (ice) {
      if (my !== state.gen) return null;
      var pc = state.pc = new RTCPeerConnection({
        iceServers: ice.ice_servers || [],
        iceTransportPolicy: ice.ice_transport_policy === 'relay' ? 'relay' : 'all',
      });
      state.stream.getTracks().forEach(function (track) {
        var t = pc.addTransceiver(track, { direction: 'sendonly', streams: [state.stream] });
        // The face swap needs the face's pixels: when bandwidth or CPU runs short, drop
        // frames rather than resolution.
        if (track.kind === 'video') {
          try {
            var params = t.sender.getParameters();
            params.degradationPreference = 'maintain-resolution';
            t.sender.setParameters(params).catch(function () {});
          } catch (e) { /* older browsers: their default */ }
        }
      });
      pc.onconnectionstatechange = function () {
        if (my !== state.gen) return;
        clearTimeout(state.grace);
        var s = pc.connectionState;
        if (s === 'connected') { problem(''); status('On air with your camera.'); showRoute(pc); }
        else if (s === 'failed') mend('the connection failed');
        // 'disconnected' often recovers by itself (a Wi-Fi hiccup): wait before mending.
        else if (s === 'disconnected') state.grace = setTimeout(function () { mend('the connection was lost'); }, DISCONNECT_GRACE_MS);
      };
      return pc.createOffer().then(function (offer) { return pc.setLocalDescription(offer); })
        .then(function () { return gathered(pc); })
        .then(function () {
          if (my !== state.gen) return null;
          return send('POST', base + '/whip', pc.localDescription.sdp, 'application/sdp');
        })
        .then(function (r) {
          if (!r) return null;
          if (my !== state.gen) {
            // Superseded meanwhile: leave no publisher behind on the server.
            var stale = r.headers.get('Location');
            if (r.ok && stale) send('DELETE', stale).catch(function () {});
            return null;
          }
          if (!r.ok) return reason(r).then(function (why) { var e = new Error(why); e.status = r.status; throw e; });
          state.resource = r.headers.get('Location');
          var etag = r.headers.get('ETag');
          return Promise.all([r.text(), iceLib()]).then(function (got) {
            return pc.setRemoteDescription({ type: 'answer', sdp: got[0] }).then(function () {
              if (my !== state.gen) return;
              var resource = state.resource;
              state.ice = got[1].iceSession(pc, function (body, headers) {
                return send('PATCH', resource, body, null, headers);
              });
              state.ice.offered(etag);
            });
          });
        });
    }).catch(function (err) {
      if (my !== state.gen) return;
      // 4xx other than 409 (a previous publisher of ours not yet noticed gone) will not mend by itself.
      if (err.status && err.status !== 409 && err.status < 500) { problem(err.message); stop(); return; }
      problem(err.message || String(err));
      reconnect('trying again');
    });
  }

  function start() {
    problem('');
    status('Asking the browser for your camera and microphone…');
    $('camera-start').disabled = true;
    openDevices().then(function () {
      state.wanted = true;
      $('camera-start').hidden = true;
      $('camera-stop').hidden = false;
      publish();
    }).catch(function (err) {
      problem(explain(err));
      status('Camera off.');
    }).then(function () { $('camera-start').disabled = false; });
  }

  function stop() {
    state.wanted = false;
    hangUp();
    if (state.stream) state.stream.getTracks().forEach(function (t) { t.stop(); });
    state.stream = null;
    var self = $('self-view');
    if (self) self.srcObject = null;
    if ($('camera-start')) { $('camera-start').hidden = false; $('camera-stop').hidden = true; }
    status('Camera off.');
  }

  // Delegated: the panel is drawn by the liveview after this script ran.
  document.addEventListener('click', function (event) {
    var id = event.target && event.target.id;
    if (id === 'camera-start') start();
    else if (id === 'camera-stop') stop();
  });
  document.addEventListener('change', function (event) {
    var id = event.target && event.target.id;
    if (!/^(camera-device|mic-device|camera-resolution)$/.test(id || '') || !state.stream) return;
    problem('');
    openDevices().catch(function (err) { problem(explain(err)); });
  });
  if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
    navigator.mediaDevices.addEventListener('devicechange', listDevices);
  }
  // Fill the pickers (unlabelled until permission) once the panel shows up.
  if (location.pathname.indexOf('/studio/') === 0) {
    var watch = setInterval(function () {
      if (panel()) { clearInterval(watch); listDevices(); }
    }, 300);
  }
  // A laptop that changed networks: restart ICE at once rather than wait for a timeout.
  addEventListener('online', function () { if (state.pc && state.ice) mend('the network changed'); });
  addEventListener('pagehide', function () { if (state.resource) send('DELETE', state.resource).catch(function () {}); });
})();
