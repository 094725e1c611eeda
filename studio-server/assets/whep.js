// SPDX-License-Identifier: MPL-2.0
// WHEP viewer for Reenact Studio live sessions (plain ES module, no build step).
// Negotiates a receive-only WebRTC session, decodes the capture timecode the
// server burns into each frame's top strip, and reports playback stats back.

import { iceSession } from './ice.js';

const CELLS = 34;            // cell 0 white, cell 1 black, cells 2..33 = 32 timecode bits
const TWO32 = 4294967296;    // 2^32 as a Number: bitwise ops would truncate to int32
const RETRY_MS = 2000;
const DISCONNECT_GRACE_MS = 3000;
const ICE_GATHER_TIMEOUT_MS = 2000;
const RESTART_MS = 6000;     // after an ICE restart, time to reconnect before starting over
const WINDOW = 300;          // latency samples kept for p50/p95

/** Nearest-rank percentile (p in 0..1); null when there are no samples. */
export function percentile(values, p) {
  if (!values.length) return null;
  return [...values].sort((a, b) => a - b)[Math.max(0, Math.ceil(p * values.length) - 1)];
}

/** Reads `capture_ms mod 2^32` from the video's top strip via `ctx`; null if the frame has none. */
export function readTimecode(video, ctx) {
  const w = video.videoWidth, h = video.videoHeight;
  if (!w || !h) return null;
  const H = Math.max(8, Math.round(h / 45));
  if (ctx.canvas.width !== w || ctx.canvas.height !== H) { ctx.canvas.width = w; ctx.canvas.height = H; }
  ctx.drawImage(video, 0, 0, w, H, 0, 0, w, H); // only the strip, 1:1
  const px = ctx.getImageData(0, 0, w, H).data;
  // Sample the middle 50% of each cell in both axes: edges bleed under compression.
  const y0 = Math.floor(H / 4), y1 = Math.max(y0 + 1, Math.ceil((H * 3) / 4));
  const luma = new Array(CELLS);
  for (let i = 0; i < CELLS; i++) {
    const left = Math.floor((i * w) / CELLS), cw = Math.floor(((i + 1) * w) / CELLS) - left;
    const x0 = left + Math.floor(cw / 4), x1 = Math.max(x0 + 1, left + Math.ceil((cw * 3) / 4));
    let sum = 0;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) {
      const p = (y * w + x) * 4;
      sum += 0.299 * px[p] + 0.587 * px[p + 1] + 0.114 * px[p + 2];
    }
    luma[i] = sum / ((y1 - y0) * (x1 - x0));
  }
  const white = luma[0], black = luma[1];
  if (white - black < 60) return null; // no reference pair, so no timecode on this frame
  const mid = (white + black) / 2;
  let code = 0;
  for (let i = 2; i < CELLS; i++) code = code * 2 + (luma[i] > mid ? 1 : 0); // MSB first
  return code;
}

/** Glass-to-capture latency in ms, or null when implausible (wrong clock, stale code). */
export function latencyMs(code, nowEpochMs) {
  const lat = ((nowEpochMs % TWO32) - code + TWO32) % TWO32;
  return lat < 10000 ? Math.round(lat * 10) / 10 : null;
}

/** Resolves once ICE gathering is complete, or after `timeoutMs` (we send what we have). */
function iceGathered(pc, timeoutMs = ICE_GATHER_TIMEOUT_MS) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); pc.removeEventListener('icegatheringstatechange', check); resolve(); };
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/** Ask the browser to render as soon as possible instead of buffering for smoothness. */
function lowLatency(pc) {
  for (const r of pc.getReceivers()) {
    try { if ('playoutDelayHint' in r) r.playoutDelayHint = 0; } catch {}
    try { if ('jitterBufferTarget' in r) r.jitterBufferTarget = 0; } catch {}
  }
}

/**
 * Starts watching `session` in `video`, reconnecting forever until `stop()`.
 * `onStats(stats)` runs every second with the reported fields plus p50, p95 and detail.
 * `token` (a `reenact live` server's API token) goes with every request as a Bearer token.
 */
export async function startViewer({ session, video, onStats = () => {}, report = true, codec = '', token = '', ui = false }) {
  // `ui`: the studio's own pages go through its `/ui/api` proxy, which adds the signed-in
  // owner's credentials (the page never holds a token); the header marks a same-origin call.
  const prefix = ui ? '/ui' : '';
  const api = (path) => (ui && path.startsWith('/api/') ? prefix + path : path);
  const endpoint = api(`/api/live/${encodeURIComponent(session)}/whep`);
  const auth = ui ? { 'x-reenact-ui': '1' } : token ? { Authorization: `Bearer ${token}` } : {};
  let pc = null, viewerUrl = null, gen = 0, retryTimer = null, discTimer = null, ice = null, mending = false;
  let iceRestarts = 0;
  let detail = '', stopped = false;
  let frames = 0, lastPresented = -1, timecodeFrames = 0;
  let fpsMark = { t: performance.now(), frames: 0 };
  const pending = [], recent = [];

  // Closes the current connection and releases its server-side viewer. Bumping
  // `gen` makes every callback and await of the old connection a no-op.
  function teardown() {
    gen++;
    clearTimeout(retryTimer); clearTimeout(discTimer); retryTimer = discTimer = null;
    if (pc) { pc.ontrack = pc.onconnectionstatechange = null; pc.close(); pc = null; }
    if (viewerUrl) fetch(viewerUrl, { method: 'DELETE', keepalive: true, headers: auth }).catch(() => {});
    viewerUrl = null;
    ice = null;
    mending = false;
  }

  // A lost connection: an ICE restart on the same viewer first (the server keeps its
  // seat and tracks), a new viewer if that fails or does not reconnect in time.
  async function mend(reason) {
    const my = gen, session = ice;
    if (!session) { retry(reason); return; }
    if (mending) return;
    mending = true;
    detail = `${reason}: restarting ICE`;
    const ok = await session.restart();
    if (my !== gen) return;
    mending = false;
    iceRestarts = session.restarts;
    if (!ok) { retry(reason); return; }
    clearTimeout(discTimer);
    discTimer = setTimeout(() => { if (my === gen && pc?.connectionState !== 'connected') retry(reason); }, RESTART_MS);
  }

  function retry(reason) {
    teardown();
    detail = reason;
    if (!stopped) retryTimer = setTimeout(connect, RETRY_MS);
  }

  // The owner's STUN/TURN servers (TURN credentials minted for this call) and whether the
  // operator allows relayed routes only. Anyone else watches over direct routes.
  async function iceConfig() {
    try {
      const res = await fetch(api(`/api/live/${encodeURIComponent(session)}/ice-servers`), { headers: auth, cache: 'no-store' });
      if (!res.ok) return { iceServers: [] };
      const ice = await res.json();
      return { iceServers: ice.ice_servers || [], iceTransportPolicy: ice.ice_transport_policy || 'all' };
    } catch {
      return { iceServers: [] };
    }
  }

  async function connect() {
    teardown();
    if (stopped) return;
    const my = gen;
    const config = token || ui ? await iceConfig() : { iceServers: [] };
    if (my !== gen || stopped) return;
    const conn = (pc = new RTCPeerConnection(config));
    const videoT = conn.addTransceiver('video', { direction: 'recvonly' });
    // `codec` (e.g. 'vp8') offers only that codec: how a test or a weak device picks one.
    if (codec && 'setCodecPreferences' in videoT) {
      const wanted = RTCRtpReceiver.getCapabilities('video').codecs
        .filter((c) => c.mimeType.toLowerCase() === `video/${codec.toLowerCase()}`);
      if (wanted.length) videoT.setCodecPreferences(wanted);
    }
    conn.addTransceiver('audio', { direction: 'recvonly' });
    // One stream with every received track: the server's msids may differ per track.
    const tracks = [];
    conn.ontrack = (ev) => {
      if (!tracks.includes(ev.track)) tracks.push(ev.track);
      video.srcObject = new MediaStream(tracks);
      video.play().catch(() => {}); // autoplay normally covers this; harmless otherwise
      lowLatency(conn);
    };
    conn.onconnectionstatechange = () => {
      if (my !== gen) return;
      const s = conn.connectionState;
      clearTimeout(discTimer); discTimer = null;
      if (s === 'failed') mend('connection failed');
      // 'disconnected' often recovers by itself; only mend after a grace period.
      else if (s === 'disconnected') discTimer = setTimeout(() => my === gen && mend('connection lost'), DISCONNECT_GRACE_MS);
      else if (s === 'connected') detail = '';
    };
    try {
      await conn.setLocalDescription(await conn.createOffer());
      await iceGathered(conn); // non-trickle: the offer must carry all candidates
      if (my !== gen) return;
      const res = await fetch(endpoint, {
        method: 'POST', headers: { 'Content-Type': 'application/sdp', ...auth }, body: conn.localDescription.sdp,
      });
      const body = await res.text();
      const loc = res.headers.get('Location');
      if (my !== gen) { // superseded meanwhile: don't leave an orphan viewer on the server
        if (res.ok && loc) fetch(api(loc), { method: 'DELETE', headers: auth }).catch(() => {});
        return;
      }
      if (!res.ok) {
        let err = null; try { err = JSON.parse(body); } catch {}
        throw new Error(err?.detail || err?.error || `HTTP ${res.status}`);
      }
      viewerUrl = loc && api(loc);
      await conn.setRemoteDescription({ type: 'answer', sdp: body });
      if (my !== gen) return;
      const resource = viewerUrl;
      ice = iceSession(conn, (text, headers) => fetch(resource, { method: 'PATCH', headers: { ...headers, ...auth }, body: text }));
      ice.offered(res.headers.get('ETag'));
      lowLatency(conn);
      if (my === gen) detail = '';
    } catch (err) {
      if (my === gen) retry(err?.message || String(err)); // server may be restarting
    }
  }

  // Per-frame work: count frames and decode the timecode. Nothing may escape,
  // or the callback chain would end and the stats would freeze.
  const ctx = document.createElement('canvas').getContext('2d', { willReadFrequently: true });
  function onFrame(_now, meta) {
    if (stopped) return;
    try {
      // presentedFrames also counts frames whose callback we missed; it restarts with a new source.
      const presented = meta?.presentedFrames;
      frames += lastPresented >= 0 && presented > lastPresented ? presented - lastPresented : 1;
      lastPresented = presented ?? -1;
      const code = readTimecode(video, ctx);
      if (code !== null) {
        timecodeFrames++;
        // expectedDisplayTime is when this frame reaches the glass, the moment we want to measure.
        const glass = meta?.expectedDisplayTime ? performance.timeOrigin + meta.expectedDisplayTime : Date.now();
        const lat = latencyMs(code, glass);
        if (lat !== null) { pending.push(lat); recent.push(lat); if (recent.length > WINDOW) recent.shift(); }
      }
    } catch {}
    video.requestVideoFrameCallback(onFrame);
  }
  if ('requestVideoFrameCallback' in video) video.requestVideoFrameCallback(onFrame);
  else console.warn('requestVideoFrameCallback unsupported: no frame or latency stats');

  async function tick() {
    const conn = pc;
    let codec = '', dropped = 0, audioLevel = 0, route = '';
    if (conn) {
      try {
        const stats = await conn.getStats();
        stats.forEach((s) => {
          if (s.type === 'inbound-rtp' && s.kind === 'audio') audioLevel = s.audioLevel ?? 0;
          // The route in use: host, srflx (through a NAT) or relay (through TURN).
          if (s.type === 'transport' && s.selectedCandidatePairId) {
            route = stats.get(stats.get(s.selectedCandidatePairId)?.localCandidateId)?.candidateType ?? '';
          }
          if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
          dropped = s.framesDropped ?? 0;
          codec = stats.get(s.codecId)?.mimeType ?? '';
        });
      } catch {}
    }
    const now = performance.now();
    const fps = ((frames - fpsMark.frames) * 1000) / Math.max(1, now - fpsMark.t);
    fpsMark = { t: now, frames };
    const audio = video.srcObject?.getAudioTracks?.() ?? [];
    const body = {
      frames, width: video.videoWidth, height: video.videoHeight, fps: Math.round(fps * 10) / 10,
      timecode_frames: timecodeFrames, latency_ms: pending.splice(0),
      audio_tracks: audio.filter((t) => t.readyState === 'live').length,
      video_codec: codec, frames_dropped: dropped, state: conn ? conn.connectionState : 'reconnecting',
      audio_level: Math.round(audioLevel * 1000) / 1000, route, ice_restarts: iceRestarts,
    };
    if (report && viewerUrl) {
      fetch(`${viewerUrl}/stats`, {
        method: 'POST', headers: { 'Content-Type': 'application/json', ...auth }, body: JSON.stringify(body),
      }).catch(() => {}); // stats are best-effort; never disturb playback
    }
    try { onStats({ ...body, p50: percentile(recent, 0.5), p95: percentile(recent, 0.95), detail }); } catch {}
  }
  const statsTimer = setInterval(() => { tick().catch(() => {}); }, 1000);

  // Release the viewer when the page goes away; reconnect if it comes back from bfcache.
  addEventListener('pagehide', teardown);
  // A device that changed networks: restart ICE at once rather than wait for a timeout.
  addEventListener('online', () => { if (pc && ice) mend('network changed'); });
  addEventListener('pageshow', (ev) => { if (ev.persisted && !stopped) connect(); });

  await connect();
  return { stop() { stopped = true; clearInterval(statsTimer); teardown(); } };
}
