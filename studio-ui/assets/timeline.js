// SPDX-License-Identifier: MPL-2.0
// The project page's timeline editor: drags, keys and the playhead. The page (dioxus, on the
// server) draws the lanes from the project's JSON; this script turns each gesture into one
// PATCH of the project with If-Match, shows a refused edit's field and reason, and presses
// the page's refresh button so it redraws from the server. A refused edit puts the block back
// where the server has it. Plain script, no build step; kept apart from studio.js.
(function () {
  'use strict';

  // Shortest clip or scene a trim leaves, in seconds.
  var MIN = 0.1;
  // The newest project the server answered this script; newer than the page's until it redraws.
  var known = { version: -1, timeline: null };
  // Edits go one after another, each from the answer to the one before.
  var queue = Promise.resolve();
  // The selected block as `kind:track:index`, kept across redraws.
  var selected = null;
  var playhead = 0;
  var playing = false;

  function root() { return document.getElementById('tl'); }
  function pps() { return Number(root().dataset.pps) || 80; }
  function round(t) { return Math.round(t * 1000) / 1000; }
  function clamp(v, lo, hi) { return Math.min(Math.max(v, lo), hi); }
  function lengths() { try { return JSON.parse(root().dataset.lengths); } catch (e) { return {}; } }

  // The project as last known: the page's, or this script's newer answer.
  function current() {
    var el = root();
    var version = Number(el.dataset.version);
    if (version >= known.version) {
      var timeline = null;
      try { timeline = JSON.parse(el.dataset.timeline); } catch (e) { /* drawn below */ }
      known = { version: version, timeline: timeline };
    }
    var copy = JSON.parse(JSON.stringify(known.timeline || {}));
    copy.tracks = copy.tracks || [];
    copy.scenes = copy.scenes || [];
    return { version: known.version, timeline: copy };
  }

  // Fills in what the engine would assume (position after the clip before, out at the end of
  // the source), so moving one clip never moves the ones after it.
  function resolve(track, len) {
    var cursor = 0;
    track.clips.forEach(function (c) {
      if (c.in == null) c.in = 0;
      if (c.out == null && len[c.source] != null) c.out = len[c.source];
      if (c.position == null) c.position = cursor;
      cursor = c.position + (c.out - c.in);
    });
  }

  // Keeps clips in time order and refuses overlaps here, before the server sees them.
  function tidy(track) {
    track.clips.sort(function (a, b) { return a.position - b.position; });
    for (var i = 1; i < track.clips.length; i++) {
      var before = track.clips[i - 1];
      if (track.clips[i].position < before.position + (before.out - before.in) - 1e-3) return false;
    }
    return true;
  }

  // The message line: a refused edit's field and cause, or a note.
  function say(text, field) {
    var line = document.getElementById('tl-message');
    if (!line) return;
    line.textContent = text;
    if (field) line.dataset.field = field; else delete line.dataset.field;
  }

  // `timeline.scenes[0].end: 9 is past ..` -> [field, cause]; plain words for the field.
  function refusal(body, status) {
    var detail = (body && (body.detail || body.error)) || ('the server answered ' + status);
    var named = /^([A-Za-z0-9_.\[\]]+): (.*)$/.exec(detail);
    if (!named) return ['', detail];
    var field = named[1].replace(/^timeline\./, '');
    var words = field
      .replace(/tracks\[(\d+)\]\.clips\[(\d+)\]/, function (_, t, c) { return 'track ' + (+t + 1) + ', clip ' + (+c + 1); })
      .replace(/scenes\[(\d+)\]/, function (_, s) { return 'scene ' + (+s + 1); })
      .replace(/\./g, ' ');
    return [field, words + ': ' + named[2]];
  }

  function refresh() {
    var button = document.getElementById('tl-refresh');
    if (button) button.click();
  }

  // One request to the project (`tail` '' for PATCH, '/undo', '/redo'); `undo` puts the
  // page back when the server refuses.
  function request(method, tail, body, version, undo) {
    var headers = { 'x-reenact-ui': '1', 'if-match': '"' + version + '"' };
    if (body) headers['content-type'] = 'application/json';
    return fetch('/ui/api/projects/' + root().dataset.project + tail, {
      method: method, headers: headers, body: body ? JSON.stringify(body) : undefined,
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (json) {
        if (r.ok) {
          known = { version: json.version, timeline: json.timeline };
          say('');
        } else {
          if (undo) undo();
          var why = refusal(json, r.status);
          say('Not changed: ' + why[1], why[0]);
        }
        refresh();
      });
    }, function () {
      if (undo) undo();
      say('Not changed: the edit did not reach the server; try again');
    });
  }

  // Queues `change(timeline)` (returns the new timeline, or null for no edit) as one PATCH.
  function edit(change, undo) {
    queue = queue.then(function () {
      var now = current();
      var next = change(now.timeline);
      if (!next) { if (undo) undo(); return null; }
      return request('PATCH', '', { timeline: next }, now.version, undo);
    });
  }

  function step(which) {
    queue = queue.then(function () { return request('POST', '/' + which, null, current().version, null); });
  }

  // The change that moves (`what` 'move') or trims ('in', 'out') the block by `d` seconds.
  function changeOf(block, what, d) {
    var kind = block.dataset.kind;
    var t = Number(block.dataset.track);
    var i = Number(block.dataset.index);
    return function (tl) {
      if (kind === 'scene') {
        var s = tl.scenes[i];
        if (!s) return null;
        var was = [s.start, s.end].join();
        // A scene may be dragged past the end: the server says why it cannot be there.
        if (what === 'move') { d = Math.max(d, -s.start); s.start = round(s.start + d); s.end = round(s.end + d); }
        else if (what === 'in') s.start = round(clamp(s.start + d, 0, s.end - MIN));
        else s.end = round(Math.max(s.end + d, s.start + MIN));
        // Nothing moved (a drag against a limit): no edit, and the block goes back.
        return [s.start, s.end].join() === was ? null : tl;
      }
      var track = tl.tracks[t];
      if (!track || !track.clips[i]) return null;
      var len = lengths();
      resolve(track, len);
      var c = track.clips[i];
      var end = len[c.source] != null ? len[c.source] : Infinity;
      var was = [c.position, c.in, c.out].join();
      if (what === 'move') c.position = round(Math.max(0, c.position + d));
      else if (what === 'in') {
        d = clamp(d, Math.max(-c.in, -c.position), c.out - MIN - c.in);
        c.in = round(c.in + d);
        c.position = round(c.position + d);
      } else c.out = round(clamp(c.out + d, c.in + MIN, end));
      if ([c.position, c.in, c.out].join() === was) return null;
      if (!tidy(track)) { say('Not changed: clips on a track must not overlap'); return null; }
      return tl;
    };
  }

  function keyOf(block) { return block.dataset.kind + ':' + (block.dataset.track || '') + ':' + block.dataset.index; }
  function select(block) {
    selected = block ? keyOf(block) : null;
    mark();
  }
  function selectedBlock() {
    var el = root();
    if (!el || !selected) return null;
    var blocks = el.querySelectorAll('.tl-block');
    for (var i = 0; i < blocks.length; i++) if (keyOf(blocks[i]) === selected) return blocks[i];
    return null;
  }
  // Marks the selection and places the playhead again after the page redrew.
  function mark() {
    var el = root();
    if (!el) return;
    el.querySelectorAll('.tl-block[data-selected]').forEach(function (b) {
      if (keyOf(b) !== selected) b.removeAttribute('data-selected');
    });
    var chosen = selectedBlock();
    if (chosen && !chosen.hasAttribute('data-selected')) chosen.setAttribute('data-selected', '');
    var line = document.getElementById('tl-playhead');
    if (line && line.style.getPropertyValue('--at') !== String(playhead)) line.style.setProperty('--at', String(playhead));
    var time = document.getElementById('tl-time');
    var text = playhead.toFixed(2) + ' s';
    if (time && time.textContent !== text) time.textContent = text;
  }

  function seek(t) {
    playhead = round(Math.max(0, t));
    mark();
  }

  function timeAt(clientX) {
    var canvas = root().querySelector('.tl-canvas');
    return (clientX - canvas.getBoundingClientRect().left) / pps();
  }

  // Space / Play: the preview player (`POST .../preview`) plays the project through the
  // render's graph over WHEP from the playhead, and the playhead follows its position.
  var preview = null;
  function api(method, tail, body) {
    return fetch('/ui/api/projects/' + root().dataset.project + '/preview' + tail, {
      method: method, headers: { 'content-type': 'application/json', 'x-reenact-ui': '1' },
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (json) {
        if (!r.ok) throw json;
        return json;
      });
    });
  }
  function video() {
    var v = document.getElementById('tl-preview');
    if (!v) {
      v = document.createElement('video');
      v.id = 'tl-preview'; v.autoplay = true; v.playsInline = true; v.muted = false; v.width = 640;
      document.getElementById('tl-editor').prepend(v);
    }
    return v;
  }
  // WHEP without trickle: the offer goes out with its candidates gathered.
  function watch(url) {
    var pc = new RTCPeerConnection();
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    var stream = new MediaStream();
    pc.ontrack = function (e) {
      stream.addTrack(e.track);
      var v = video();
      if (v.srcObject !== stream) v.srcObject = stream;
      // Autoplay alone may wait for a gesture the key press no longer counts as.
      v.play().catch(function () {});
    };
    return pc.createOffer().then(function (o) { return pc.setLocalDescription(o); }).then(function () {
      return new Promise(function (done) {
        if (pc.iceGatheringState === 'complete') return done();
        pc.onicegatheringstatechange = function () { if (pc.iceGatheringState === 'complete') done(); };
        setTimeout(done, 2000);
      });
    }).then(function () {
      return fetch('/ui' + url, { method: 'POST', headers: { 'content-type': 'application/sdp', 'x-reenact-ui': '1' }, body: pc.localDescription.sdp });
    }).then(function (r) { return r.text(); }).then(function (sdp) {
      return pc.setRemoteDescription({ type: 'answer', sdp: sdp });
    }).then(function () { return pc; });
  }
  function follow() {
    if (!preview || !root()) return;
    api('GET', '/' + preview.id).then(function (p) {
      playhead = round(p.position); mark();
      playing = p.playing;
      if (preview) setTimeout(follow, 250);
    }, function () { preview = null; playing = false; });
  }
  function toggle() {
    playing = !playing;
    if (preview) {
      api('PATCH', '/' + preview.id, { playing: playing }).catch(function (b) { say(b.detail || 'preview failed'); });
      if (playing) follow();
      return;
    }
    if (!playing) return;
    var end = Number(root().dataset.end) || 0;
    if (playhead >= end) seek(0);
    api('POST', '', { at: playhead }).then(function (p) {
      preview = p;
      return watch(p.whep_url).then(function (pc) { preview.pc = pc; follow(); });
    }).catch(function (b) { playing = false; say((b && b.detail) || 'the preview did not start', b && b.error); });
  }
  // A click on the ruler moves the preview too.
  function seekPreview(t) {
    if (preview) api('PATCH', '/' + preview.id, { at: round(Math.max(0, t)) }).catch(function (b) { say(b.detail || 'seek failed'); });
  }

  // S: cuts the selected block at the playhead, or else every block under it.
  function split() {
    var t = round(playhead);
    var only = selectedBlock();
    if (only) {
      var start = Number(only.dataset.start);
      if (!(t > start && t < start + Number(only.dataset.length))) only = null;
    }
    edit(function (tl) {
      var cut = false;
      var inside = function (from, to) { return t > from + 0.01 && t < to - 0.01; };
      var chosen = function (kind, track, index) {
        return !only || (only.dataset.kind === kind && Number(only.dataset.track || 0) === track && Number(only.dataset.index) === index);
      };
      var len = lengths();
      tl.tracks.forEach(function (track, ti) {
        resolve(track, len);
        for (var i = track.clips.length - 1; i >= 0; i--) {
          var c = track.clips[i];
          if (!chosen('clip', ti, i) || !inside(c.position, c.position + c.out - c.in)) continue;
          var at = round(c.in + (t - c.position));
          track.clips.splice(i + 1, 0, { source: c.source, in: at, out: c.out, position: t });
          c.out = at;
          cut = true;
        }
      });
      for (var i = tl.scenes.length - 1; i >= 0; i--) {
        var s = tl.scenes[i];
        if (!chosen('scene', 0, i) || !inside(s.start, s.end)) continue;
        var rest = JSON.parse(JSON.stringify(s));
        rest.start = t;
        s.end = t;
        tl.scenes.splice(i + 1, 0, rest);
        cut = true;
      }
      if (!cut) { say('Nothing to split: place the playhead inside a block'); return null; }
      return tl;
    });
  }

  // Delete: removes the selected block.
  function remove(block) {
    if (!block) { say('Nothing to delete: select a block first'); return; }
    var kind = block.dataset.kind;
    var t = Number(block.dataset.track);
    var i = Number(block.dataset.index);
    selected = null;
    edit(function (tl) {
      if (kind === 'scene') { if (!tl.scenes[i]) return null; tl.scenes.splice(i, 1); return tl; }
      var track = tl.tracks[t];
      if (!track || !track.clips[i]) return null;
      // The clips after it keep their places.
      resolve(track, lengths());
      track.clips.splice(i, 1);
      return tl;
    });
  }

  function drag(e, block) {
    var edge = e.target.dataset ? e.target.dataset.edge : undefined;
    var what = edge || 'move';
    var saved = block.getAttribute('style');
    var start = Number(block.dataset.start);
    var length = Number(block.dataset.length);
    var x0 = e.clientX;
    var scale = pps();
    var moved = false;
    e.preventDefault();
    block.focus({ preventScroll: true });
    select(block);
    block.setPointerCapture(e.pointerId);
    function shown(ev) {
      var d = (ev.clientX - x0) / scale;
      if (what === 'in') { d = clamp(d, -start, length - MIN); return [start + d, length - d]; }
      if (what === 'out') return [start, Math.max(MIN, length + d)];
      return [Math.max(0, start + d), length];
    }
    // A trim shows more or less of the clip: its waveform keeps its scale and its place in
    // the source instead of stretching to the block's new length.
    var wave = block.querySelector('.tl-wave');
    var waveStyle = wave ? wave.getAttribute('style') : null;
    var waveWidth = wave ? wave.getBoundingClientRect().width : 0;
    function move(ev) {
      if (Math.abs(ev.clientX - x0) > 2) moved = true;
      if (!moved) return;
      var at = shown(ev);
      block.classList.add('dragging');
      block.style.setProperty('--start', String(at[0]));
      block.style.setProperty('--length', String(at[1]));
      if (wave && what !== 'move') {
        wave.style.width = waveWidth + 'px';
        wave.style.left = ((start - at[0]) * scale) + 'px';
      }
    }
    function done(ev, cancelled) {
      block.removeEventListener('pointermove', move);
      block.removeEventListener('pointerup', up);
      block.removeEventListener('pointercancel', cancel);
      block.classList.remove('dragging');
      var unpin = function () {
        if (!wave) return;
        if (waveStyle === null) wave.removeAttribute('style'); else wave.setAttribute('style', waveStyle);
      };
      var back = function () { block.setAttribute('style', saved); unpin(); };
      if (!moved || cancelled) { back(); return; }
      edit(changeOf(block, what, round((ev.clientX - x0) / scale)), back);
      // Kept or refused, the page then draws the waveform of the clip's new range.
      queue.then(unpin, unpin);
    }
    function up(ev) { done(ev, false); }
    function cancel(ev) { done(ev, true); }
    block.addEventListener('pointermove', move);
    block.addEventListener('pointerup', up);
    block.addEventListener('pointercancel', cancel);
  }

  function scrub(e) {
    e.preventDefault();
    var target = e.target;
    seek(timeAt(e.clientX));
    target.setPointerCapture(e.pointerId);
    function move(ev) { seek(timeAt(ev.clientX)); }
    function up() {
      seekPreview(playhead);
      target.removeEventListener('pointermove', move);
      target.removeEventListener('pointerup', up);
    }
    target.addEventListener('pointermove', move);
    target.addEventListener('pointerup', up);
  }

  document.addEventListener('pointerdown', function (e) {
    if (e.button !== 0 || !e.target.closest) return;
    var block = e.target.closest('#tl .tl-block');
    if (block) { drag(e, block); return; }
    if (e.target.closest('#tl .tl-ruler')) { scrub(e); return; }
    if (e.target.closest('#tl .tl-lane')) { select(null); seek(timeAt(e.clientX)); }
  });

  document.addEventListener('click', function (e) {
    var button = e.target.closest && e.target.closest('#tl-editor [data-tl]');
    if (!button) return;
    var act = button.dataset.tl;
    if (act === 'play') toggle();
    else if (act === 'split') split();
    else if (act === 'delete') remove(selectedBlock());
    else if (act === 'undo' || act === 'redo') step(act);
  });

  document.addEventListener('keydown', function (e) {
    if (!root()) return;
    var target = e.target;
    if (target.closest && target.closest('input, textarea, select, [contenteditable]')) return;
    // Only from the timeline, or from nowhere in particular (the page itself).
    var inEditor = target.closest && target.closest('#tl-editor');
    if (!inEditor && target !== document.body && target !== document.documentElement) return;
    var key = e.key;
    var ctrl = e.ctrlKey || e.metaKey;
    var block = target.closest && target.closest('#tl .tl-block');
    if (ctrl && !e.altKey && (key === 'z' || key === 'Z')) { e.preventDefault(); step(e.shiftKey ? 'redo' : 'undo'); return; }
    if (ctrl && !e.altKey && (key === 'y' || key === 'Y')) { e.preventDefault(); step('redo'); return; }
    if (ctrl) return;
    if (key === ' ') {
      if (target.closest('button, a')) return;
      e.preventDefault();
      toggle();
    } else if ((key === 's' || key === 'S') && !e.altKey) {
      e.preventDefault();
      split();
    } else if (key === 'Delete' || key === 'Backspace') {
      e.preventDefault();
      remove(block || selectedBlock());
    } else if (block && (key === 'ArrowLeft' || key === 'ArrowRight')) {
      e.preventDefault();
      select(block);
      var sign = key === 'ArrowLeft' ? -1 : 1;
      if (e.altKey) edit(changeOf(block, e.shiftKey ? 'in' : 'out', sign * MIN));
      else edit(changeOf(block, 'move', sign * (e.shiftKey ? 1 : MIN)));
    } else if (block && (key === 'Home' || key === 'End')) {
      e.preventDefault();
      seek(key === 'Home' ? Number(block.dataset.start) : Number(block.dataset.start) + Number(block.dataset.length));
    }
  });

  // The page redraws over the socket: keep the selection and the playhead on what it drew.
  new MutationObserver(function () { if (root()) mark(); })
    .observe(document.documentElement, { childList: true, subtree: true });
})();
