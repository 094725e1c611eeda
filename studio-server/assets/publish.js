// SPDX-License-Identifier: MPL-2.0
// The publish page of `reenact live --source browser`: asks for the camera and the
// microphone, shows a mirrored self-view and publishes both to the show over WHIP
// (RFC 9725) with the run's token. A failed connection is made again without a reload;
// the publisher is ended (DELETE) when the page goes away.
//
// With `timecode`, each camera frame is drawn onto a canvas with the capture clock
// burned into its top strip (the layout of engine/src/live/timecode.rs) and the canvas
// is sent instead of the camera: the show reads that clock off the picture, so the
// viewer's latency figure runs from this canvas to the viewer's screen.
//
// With `avsync`, the canvas turns white for 100 ms at each whole second of the clock and a
// 1 kHz beep replaces the microphone at the same instants (bench/live_avsync.sh measures
// beep minus flash in a recording of the show, at its start and its end).

const RETRY_MS = 2000;
const DISCONNECT_GRACE_MS = 3000;
const GATHER_MS = 2000;
/// Cells of the strip: a white and a black reference, then 32 bits.
const CELLS = 34;

// The browser's refusals in words a presenter can act on.
function explain(err) {
  const name = err && err.name;
  if (name === 'NotAllowedError' || name === 'SecurityError') {
    return 'The browser was not allowed to use your camera or microphone. Allow both for this page ' +
      '(the camera icon in the address bar, or the browser\'s site settings), then press Start.';
  }
  if (name === 'NotFoundError') return 'No camera or microphone was found. Plug one in and press Start.';
  if (name === 'NotReadableError' || name === 'AbortError') {
    return 'Your camera or microphone could not be started: another program (a video call?) may be ' +
      'using it. Close that program and press Start.';
  }
  if (name === 'OverconstrainedError') return 'This camera cannot give the picture asked for.';
  return (err && err.message) || String(err);
}

/// Rows of the strip in a picture `height` rows tall (timecode.rs `strip_height`).
export function stripHeight(height) {
  return Math.min(Math.max(8, Math.round(height / 45)), height);
}

/// Paints `code` (32 bits) into the top strip of the canvas context `g`, `width` wide.
/// Pure white and black: the encoder's video-range conversion makes them luma 235 and 16.
export function paintStrip(g, width, height, code) {
  const rows = stripHeight(height);
  for (let i = 0; i < CELLS; i++) {
    const white = i === 0 ? true : i === 1 ? false : ((code >>> (33 - i)) & 1) === 1;
    const a = Math.floor((i * width) / CELLS);
    const b = Math.floor(((i + 1) * width) / CELLS);
    g.fillStyle = white ? '#fff' : '#000';
    g.fillRect(a, 0, b - a, rows);
  }
}

/// A canvas copy of `video`'s frames, as a 30 fps stream: with the clock strip (`strip`),
/// white for 100 ms from each whole second of the clock (`flash`).
function canvasCopy(video, { strip, flash }) {
  const canvas = document.createElement('canvas');
  const g = canvas.getContext('2d', { alpha: false });
  let last = -1;
  let stopped = false;
  const draw = () => {
    const w = video.videoWidth;
    const h = video.videoHeight;
    if (!w || !h) return;
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    const now = Date.now();
    if (flash && now % 1000 < 100) {
      g.fillStyle = '#fff';
      g.fillRect(0, 0, w, h);
    } else {
      g.drawImage(video, 0, 0, w, h);
    }
    // The clock when this frame enters the canvas: its 32 low bits (Unix ms).
    if (strip) paintStrip(g, w, h, now >>> 0);
  };
  // One drawing per camera frame where the browser tells frames apart; a timer otherwise.
  if ('requestVideoFrameCallback' in HTMLVideoElement.prototype) {
    const each = (_, meta) => {
      if (stopped) return;
      if (meta.presentedFrames !== last) { last = meta.presentedFrames; draw(); }
      video.requestVideoFrameCallback(each);
    };
    video.requestVideoFrameCallback(each);
  } else {
    const timer = setInterval(() => (stopped ? clearInterval(timer) : draw()), 1000 / 30);
  }
  const stream = canvas.captureStream(30);
  return { stream, stop: () => { stopped = true; stream.getTracks().forEach((t) => t.stop()); } };
}

/// A sound track beeping (1 kHz, 100 ms) from each whole second of the clock, scheduled a
/// little ahead on the audio context's own clock.
function beeps() {
  const ctx = new AudioContext({ sampleRate: 48000 });
  ctx.resume().catch(() => {});
  const out = ctx.createMediaStreamDestination();
  let scheduled = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    for (let second = Math.max(scheduled, Math.floor(now / 1000) + 1); second * 1000 < now + 1500; second++) {
      const at = ctx.currentTime + (second * 1000 - Date.now()) / 1000;
      const tone = ctx.createOscillator();
      const gain = ctx.createGain();
      tone.frequency.value = 1000;
      gain.gain.value = 0.8;
      tone.connect(gain).connect(out);
      tone.start(at);
      tone.stop(at + 0.1);
      scheduled = second + 1;
    }
  }, 250);
  return { stream: out.stream, stop: () => { clearInterval(timer); ctx.close().catch(() => {}); } };
}

function waitGathered(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, GATHER_MS);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') { clearTimeout(timer); resolve(); }
    });
  });
}

async function reason(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    return body.detail || body.error || `the server answered ${response.status}`;
  } catch {
    return `the server answered ${response.status}`;
  }
}

/// Starts publishing; returns `{ start, stop, running }`.
export function startPublisher({ session, token, timecode, avsync, selfView, onStatus, onProblem }) {
  const base = `/api/live/${encodeURIComponent(session)}`;
  const state = { camera: null, canvas: null, beeps: null, pc: null, resource: null, gen: 0, wanted: false, retry: null, grace: null };

  const send = (method, path, body, type) => {
    const headers = { Authorization: `Bearer ${token}` };
    if (type) headers['Content-Type'] = type;
    // keepalive: a DELETE sent as the page goes away still reaches the server.
    return fetch(path, { method, headers, body, cache: 'no-store', keepalive: method === 'DELETE' });
  };

  const hangUp = () => {
    state.gen++;
    clearTimeout(state.retry);
    clearTimeout(state.grace);
    if (state.pc) { state.pc.onconnectionstatechange = null; state.pc.close(); state.pc = null; }
    if (state.resource) send('DELETE', state.resource).catch(() => {});
    state.resource = null;
  };

  const reconnect = (why) => {
    hangUp();
    if (!state.wanted) return;
    onStatus(`Reconnecting to the show (${why})…`);
    state.retry = setTimeout(publish, RETRY_MS);
  };

  // The tracks sent: the camera's or the canvas's picture, the microphone or the beeps.
  const outgoing = () => {
    const video = (state.canvas ? state.canvas.stream : state.camera).getVideoTracks();
    const audio = (state.beeps ? state.beeps.stream : state.camera).getAudioTracks();
    return new MediaStream([...video, ...audio]);
  };

  async function publish() {
    if (!state.camera || !state.wanted) return;
    const my = ++state.gen;
    onStatus('Connecting to the show…');
    try {
      const ice = await send('GET', `${base}/ice-servers`);
      if (!ice.ok) throw Object.assign(new Error(await reason(ice)), { status: ice.status });
      const servers = await ice.json();
      if (my !== state.gen) return;
      const pc = (state.pc = new RTCPeerConnection({
        iceServers: servers.ice_servers || [],
        iceTransportPolicy: servers.ice_transport_policy === 'relay' ? 'relay' : 'all',
      }));
      const stream = outgoing();
      for (const track of stream.getTracks()) {
        const t = pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
        // The face swap needs the face's pixels: drop frames rather than resolution.
        if (track.kind === 'video') {
          const params = t.sender.getParameters();
          params.degradationPreference = 'maintain-resolution';
          t.sender.setParameters(params).catch(() => {});
        }
      }
      pc.onconnectionstatechange = () => {
        if (my !== state.gen) return;
        clearTimeout(state.grace);
        const s = pc.connectionState;
        if (s === 'connected') { onProblem(''); onStatus('On air.'); }
        else if (s === 'failed') reconnect('the connection failed');
        // 'disconnected' often mends by itself (a Wi-Fi hiccup): wait before starting over.
        else if (s === 'disconnected') state.grace = setTimeout(() => reconnect('the connection was lost'), DISCONNECT_GRACE_MS);
      };
      await pc.setLocalDescription(await pc.createOffer());
      await waitGathered(pc);
      if (my !== state.gen) return;
      const r = await send('POST', `${base}/whip`, pc.localDescription.sdp, 'application/sdp');
      if (my !== state.gen) {
        // Superseded meanwhile: leave no publisher behind on the server.
        const stale = r.headers.get('Location');
        if (r.ok && stale) send('DELETE', stale).catch(() => {});
        return;
      }
      if (!r.ok) throw Object.assign(new Error(await reason(r)), { status: r.status });
      state.resource = r.headers.get('Location');
      await pc.setRemoteDescription({ type: 'answer', sdp: await r.text() });
    } catch (err) {
      if (my !== state.gen) return;
      // A 4xx other than 409 (our previous publisher not yet noticed gone) will not mend by itself.
      if (err.status && err.status !== 409 && err.status < 500) {
        onProblem(err.message);
        stop();
        return;
      }
      onProblem(err.message || String(err));
      reconnect('trying again');
    }
  }

  async function start() {
    onProblem('');
    if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
      onProblem('The browser lends its camera only to secure pages: open this page at an https:// address ' +
        '(or on this machine at http://localhost or http://127.0.0.1).');
      onStatus('Camera off.');
      return;
    }
    onStatus('Asking the browser for your camera and microphone…');
    try {
      state.camera = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } },
        audio: { echoCancellation: true, noiseSuppression: true },
      });
    } catch (err) {
      onProblem(explain(err));
      onStatus('Camera off.');
      return;
    }
    selfView.srcObject = state.camera;
    selfView.play().catch(() => {});
    if (timecode || avsync) {
      // The canvas needs the camera's size: wait for the first frame's dimensions.
      if (!selfView.videoWidth) await new Promise((resolve) => selfView.addEventListener('loadedmetadata', resolve, { once: true }));
      state.canvas = canvasCopy(selfView, { strip: timecode, flash: avsync });
    }
    if (avsync) state.beeps = beeps();
    state.wanted = true;
    publish();
  }

  function stop() {
    state.wanted = false;
    hangUp();
    if (state.canvas) state.canvas.stop();
    if (state.beeps) state.beeps.stop();
    if (state.camera) state.camera.getTracks().forEach((t) => t.stop());
    state.camera = null;
    state.canvas = null;
    state.beeps = null;
    selfView.srcObject = null;
    onStatus('Camera off.');
  }

  addEventListener('pagehide', () => { if (state.resource) send('DELETE', state.resource).catch(() => {}); });
  if (session) start();
  else onProblem('no session id in the URL (expected /live/{session}/publish)');
  return { start, stop, running: () => state.wanted };
}
