// SPDX-License-Identifier: MPL-2.0
// Trickle ICE and ICE restarts for the studio's WHIP publisher and WHEP viewers (RFC 9725
// §4.3, fragments as RFC 8840 writes them). The offer still goes out with the candidates
// found in its first moments; any found later are PATCHed to the resource, and a lost
// connection is first mended with an ICE restart on the same resource (same tracks, same
// decoder on the server) before the page starts over with a new one.
// Plain ES module, no build step; imported by whep.js and by the studio's camera.js.

const FRAGMENT_TYPE = 'application/trickle-ice-sdpfrag';
const GATHER_MS = 2000;

/** The value of the first `a=NAME:` line of `sdp`. */
function attribute(sdp, name) {
  const line = sdp.split(/\r?\n/).find((l) => l.startsWith(`a=${name}:`));
  return line ? line.slice(name.length + 3) : null;
}

/**
 * The fragment of `sdp`'s ICE session: its credentials, and for each media section its
 * `m=` and `a=mid` lines with the candidates `keep` accepts (all by default).
 */
export function iceFragment(sdp, keep = () => true) {
  const ufrag = attribute(sdp, 'ice-ufrag'), pwd = attribute(sdp, 'ice-pwd');
  const out = [`a=ice-ufrag:${ufrag}`, `a=ice-pwd:${pwd}`];
  let any = false;
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=') || line.startsWith('a=mid:')) out.push(line);
    else if (line.startsWith('a=candidate:') && keep(line.slice(2))) { out.push(line); any = true; }
  }
  return { text: `${out.join('\r\n')}\r\n`, any };
}

/**
 * `sdp` (the answer in use) with the ICE credentials and candidates of an answer
 * `fragment` in place of its own: what the page applies after a restart.
 */
export function withFragment(sdp, fragment) {
  const lines = fragment.split(/\r?\n/);
  const ufrag = attribute(fragment, 'ice-ufrag'), pwd = attribute(fragment, 'ice-pwd');
  // Candidates by media section (mid), in the fragment's order.
  const byMid = new Map();
  let mid = null;
  for (const line of lines) {
    if (line.startsWith('m=')) mid = null;
    else if (line.startsWith('a=mid:')) mid = line.slice(6);
    else if (line.startsWith('a=candidate:') || line === 'a=end-of-candidates') {
      if (!byMid.has(mid)) byMid.set(mid, []);
      byMid.get(mid).push(line);
    }
  }
  const shared = byMid.get(null) || [];
  const out = [];
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('a=candidate:') || line === 'a=end-of-candidates') continue;
    if (line.startsWith('a=ice-ufrag:') && ufrag) out.push(`a=ice-ufrag:${ufrag}`);
    else if (line.startsWith('a=ice-pwd:') && pwd) out.push(`a=ice-pwd:${pwd}`);
    else out.push(line);
    if (line.startsWith('a=mid:')) out.push(...(byMid.get(line.slice(6)) || shared));
  }
  return out.join('\r\n');
}

/** Resolves once gathering is complete, or after `ms` (what there is then is sent). */
export function gathered(pc, ms = GATHER_MS) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    const done = () => { clearTimeout(timer); pc.removeEventListener('icegatheringstatechange', check); resolve(); };
    const timer = setTimeout(done, ms);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/**
 * The ICE side of one WHIP/WHEP resource. `patch(body, headers)` sends a PATCH with that
 * body to the resource and resolves to the `Response`. Call `offered()` once the answer is
 * applied: from then on, new local candidates are trickled.
 */
export function iceSession(pc, patch) {
  let etag = null, sent = new Set(), live = false, queue = Promise.resolve(), restarts = 0;
  const remember = (sdp) => {
    for (const l of sdp.split(/\r?\n/)) if (l.startsWith('a=candidate:')) sent.add(l.slice(2));
  };
  const send = (text) => {
    const headers = { 'Content-Type': FRAGMENT_TYPE };
    if (etag) headers['If-Match'] = etag;
    return patch(text, headers);
  };
  // Candidates found after the offer went out, sent in order, a batch per event.
  pc.addEventListener('icecandidate', () => {
    if (!live) return;
    queue = queue.then(() => {
      const { text, any } = iceFragment(pc.localDescription.sdp, (c) => !sent.has(c));
      if (!any) return null;
      remember(pc.localDescription.sdp);
      return send(text).catch(() => null);
    });
  });
  return {
    /** The offer (with its candidates so far) was answered; `tag` is the response's ETag. */
    offered(tag) { etag = tag; remember(pc.localDescription.sdp); live = true; },
    get restarts() { return restarts; },
    /**
     * Restarts ICE on the same resource: new credentials out, the server's new ones and
     * candidates in. Resolves true when the server took the restart, false otherwise.
     */
    async restart() {
      live = false;
      try {
        await pc.setLocalDescription(await pc.createOffer({ iceRestart: true }));
        await gathered(pc);
        sent = new Set();
        const res = await send(iceFragment(pc.localDescription.sdp).text);
        if (res.status !== 200) return false;
        const answer = await res.text();
        etag = res.headers.get('ETag') || etag;
        await pc.setRemoteDescription({ type: 'answer', sdp: withFragment(pc.remoteDescription.sdp, answer) });
        remember(pc.localDescription.sdp);
        live = true;
        restarts += 1;
        return true;
      } catch {
        return false;
      }
    },
  };
}
