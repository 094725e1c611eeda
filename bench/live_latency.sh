#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Glass-to-glass latency of the live preview: `reenact live` burns the capture clock into each
# frame, headless Chromium plays the WebRTC preview and reads the clock back off the screen
# (studio-server/assets/whep.js), and the server collects what the page measured.
# For each chain: p50/p95 latency, fps delivered to the page, frames dropped (graph + browser),
# and for the browser source what the show received from the publisher (fps, size, gaps).
# Usage: bench/live_latency.sh [SECONDS] [CHAIN ...]   (run scripts/setup.sh first)
#   passthrough   test pattern, 1280x720 at 30 fps, every element off
#   matte         the presenter clip (1280x720, 25 fps, looped) with background matte + face tracking
#   lipsync       the presenter clip with lip-sync (and the face tracking it needs)
#   full          the presenter clip with the Kennedy character: face tracking, face swap, voice and
#                 matte, the chain the targets below are set for
#   all           the presenter clip with every element (full, and lip-sync and captions)
#   full30        the full chain on the 30 fps test pattern (no face: the swap idles, the rest works)
#   browser       the presenter's browser over WHIP, every element off
#   browser-full  the presenter's browser with the full chain
#   browser-all   the presenter's browser with every element
#        PROFILE=dev bench/live_latency.sh ...   (the dev build the workspace's tests made,
#                                                 target/debug/reenact, instead of a release build)
#        REENACT_BIN=/path/to/reenact bench/live_latency.sh ...   (that binary instead of a build:
#                                 an older one, for a before/after on the same machine and hour)
#        JITTER_MS=20 bench/live_latency.sh 30 browser   (the publisher's jitter buffer depth,
#                                 `--publisher-jitter-ms`; the server's default, 60, when unset)
#        PUBLISHER_CLOCK=0 bench/live_latency.sh 30 browser   (the publisher burns no clock: the
#                                 show stamps the decoded picture, i.e. the figure starts at the
#                                 show's input; the difference is the publisher-to-show leg)
#
# Browser source: a headless Chromium publisher opens the show's publish page
# (studio-server/assets/publish.html) with ?timecode=1 and fake devices playing the presenter
# clip made 1280x720 at 30 fps (a .y4m) and its sound (a .wav). The page draws each camera
# frame onto a canvas, burns the clock there (Date.now() as the frame enters the canvas) and
# publishes the canvas; the show reads that clock off the decoded picture and burns it again at
# the end of the chain, so the figure runs from the publisher's canvas to the viewer's screen,
# through WebRTC in, the chain, the encoder and WebRTC out. It leaves out the fake camera's own
# capture delay, which a real camera adds (typically one or two frames).
# Targets (2 cores, 720p, server and both browsers on one machine): passthrough p95 <= 100 ms and
# full chain p95 <= 200 ms at >= 25 fps for the server's own sources; for the browser source
# (issue 20) passthrough p95 <= 150 ms, full chain p95 <= 250 ms at >= 25 fps.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
chains=("$@")
[[ ${#chains[@]} -eq 0 ]] && chains=(passthrough matte full)
warmup=8
shared=$(cd .. && pwd)/shared
export REENACT_MODELS=${REENACT_MODELS:-$shared/models}
presenter=$shared/media/synthetic/presenter_astronaut_1280x720_25fps.mp4
# The full chain of the targets: face tracking (which the swap turns on), swap, voice, matte.
full=faceswap,voice,matte

if [[ -n ${REENACT_BIN:-} ]]; then
  reenact=$REENACT_BIN
  [[ -x $reenact ]] || { echo "REENACT_BIN: no program at $reenact" >&2; exit 2; }
else
  case ${PROFILE:-release} in
    release) cargo build -q --release -p reenact-server; reenact=target/release/reenact ;;
    dev) reenact=target/debug/reenact; [[ -x $reenact ]] || { echo "no $reenact: cargo build --workspace" >&2; exit 2; } ;;
    *) echo "live_latency: PROFILE must be release or dev" >&2; exit 2 ;;
  esac
fi
work=$(mktemp -d)
# Each Chromium runs in a process group of its own (setsid), killed whole: its renderer and GPU
# processes go with it, and no other Chromium on the machine is touched.
browsers=()
cleanup() {
  for group in "${browsers[@]}"; do kill -- "-$group" 2>/dev/null || true; done
  kill $(jobs -p) 2>/dev/null || true
  sleep 0.5
  for group in "${browsers[@]}"; do kill -KILL -- "-$group" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
chromium_flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --autoplay-policy=no-user-gesture-required --disable-features=WebRtcHideLocalIpsWithMdns
  --disable-background-timer-throttling --disable-renderer-backgrounding)
# chromium PROFILE URL [FLAG...]: a headless Chromium in its own process group; sets $browser.
chromium_open() {
  local profile=$1 url=$2
  shift 2
  setsid chromium "${chromium_flags[@]}" --user-data-dir="$work/$profile" "$@" "$url" >/dev/null 2>&1 &
  browser=$!
  browsers+=("$browser")
}
chromium_close() {
  kill -- "-$1" 2>/dev/null || true
  sleep 0.5
  kill -KILL -- "-$1" 2>/dev/null || true
}

character=$work/kennedy.character.json
if [[ " ${chains[*]} " =~ (full|all) ]]; then
  # The NASA portrait and the 1961 inaugural address are public-domain works (../shared/media/LICENSES.md).
  "$reenact" character create --name Kennedy --rights-basis public-domain --portrait "$shared/media/astronaut.png" \
    --voice-sample "$shared/media/jfk.wav" --out "$character" >/dev/null 2>"$work/character.log" ||
    { cat "$work/character.log" >&2; exit 1; }
fi

# The browser publisher's fake camera and microphone: the presenter clip at the show's
# 1280x720 and 30 fps (raw .y4m, as Chromium wants) and its sound, 10 s each, looped by Chromium.
if [[ " ${chains[*]} " == *browser* ]]; then
  ffmpeg -loglevel error -y -i "$presenter" -t 10 -an -vf "scale=1280:720,fps=30" -pix_fmt yuv420p \
    "$work/camera.y4m" -t 10 -vn -ar 48000 -ac 1 -c:a pcm_s16le "$work/microphone.wav"
fi

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F)"
printf '%-12s %8s %8s %8s %10s %10s %8s %8s %10s %5s\n' chain p50_ms p95_ms samples fps_page fps_graph dropped \
  fps_pub size_pub gaps
port=8190
for chain in "${chains[@]}"; do
  port=$((port + 1))
  case $chain in
    passthrough) args=(--source test --elements none) ;;
    matte) args=(--source "file:$presenter" --elements matte,facetrack --timecode true) ;;
    lipsync) args=(--source "file:$presenter" --elements lipsync --timecode true) ;;
    full) args=(--source "file:$presenter" --character "$character" --elements "$full" --timecode true) ;;
    all) args=(--source "file:$presenter" --character "$character" --elements all --timecode true) ;;
    full30) args=(--source test --character "$character" --elements "$full") ;;
    browser) args=(--source browser --elements none --timecode true ${JITTER_MS:+--publisher-jitter-ms "$JITTER_MS"}) ;;
    browser-full | browser-all)
      elements=$full
      [[ $chain == browser-all ]] && elements=all
      args=(--source browser --character "$character" --elements "$elements" --timecode true
        ${JITTER_MS:+--publisher-jitter-ms "$JITTER_MS"}) ;;
    *) echo "unknown chain $chain" >&2; exit 2 ;;
  esac
  log=$work/$chain.log
  "$reenact" live "${args[@]}" --listen "127.0.0.1:$port" --duration $((seconds + warmup + 20)) \
    </dev/null >"$log" 2>&1 &
  live=$!
  for _ in $(seq 120); do grep -q "Live preview:" "$log" && break; sleep 0.5; done
  url=$(grep -o "http://[^ ]*/live/[0-9a-f]*#token=[0-9a-f]*" "$log" | head -1 || true)
  [[ -n $url ]] || { echo "reenact live did not start:" >&2; cat "$log" >&2; exit 1; }
  token=${url##*#token=}
  api=${url%%#*}
  api=${api/\/live\//\/api\/live\/}
  publisher=
  if [[ $chain == browser* ]]; then
    publish=$(grep -o "http://[^ ]*/live/[0-9a-f]*/publish#token=[0-9a-f]*" "$log" | head -1 || true)
    chromium_open "publisher-$chain" "${publish%%#*}?timecode=${PUBLISHER_CLOCK:-1}#${publish#*#}" \
      --use-fake-device-for-media-stream --use-fake-ui-for-media-stream \
      --use-file-for-fake-video-capture="$work/camera.y4m" --use-file-for-fake-audio-capture="$work/microphone.wav"
    publisher=$browser
    for _ in $(seq 60); do
      curl -sf -H "Authorization: Bearer $token" "$api" | grep -q '"on_air":true' && break
      sleep 0.5
    done
    curl -sf -H "Authorization: Bearer $token" "$api" | grep -q '"on_air":true' ||
      { echo "$chain: the publisher never went on air" >&2; exit 1; }
  fi
  chromium_open "viewer-$chain" "$url"
  viewer=$browser
  sleep "$warmup"
  curl -sf -H "Authorization: Bearer $token" "$api" >"$work/before.json"
  sleep "$seconds"
  curl -sf -H "Authorization: Bearer $token" "$api?skip_s=$warmup" >"$work/after.json"
  chromium_close "$viewer"
  if [[ -n $publisher ]]; then chromium_close "$publisher"; fi
  kill "$live" 2>/dev/null || true
  wait "$live" 2>/dev/null || true
  python3 - "$chain" "$seconds" "$work/before.json" "$work/after.json" <<'EOF'
import json, sys
chain, seconds, before, after = sys.argv[1], float(sys.argv[2]), *[json.load(open(f)) for f in sys.argv[3:5]]
def viewer(s):
    return s["viewers"][0] if s["viewers"] else {"report": None, "latency_samples": 0}
vb, va = viewer(before), viewer(after)
rb, ra = vb.get("report") or {}, va.get("report") or {}
fps_page = (ra.get("frames", 0) - rb.get("frames", 0)) / seconds
pb, pa = before["pipeline"], after["pipeline"]
fps_graph = (pa["frames_encoded"] - pb["frames_encoded"]) / seconds
dropped = max(0, pa["frames_dropped"] - pb["frames_dropped"]) + max(0, ra.get("frames_dropped", 0) - rb.get("frames_dropped", 0))
qb, qa = pb.get("publisher"), pa.get("publisher")
if qa:
    publisher = f"{(qa['frames'] - qb['frames']) / seconds:8.1f} {str(qa['width']) + 'x' + str(qa['height']):>10} {qa['gaps']:5d}"
else:
    publisher = f"{'-':>8} {'-':>10} {'-':>5}"
print(f"{chain:<12} {va.get('latency_p50_ms', 0):8.1f} {va.get('latency_p95_ms', 0):8.1f} "
      f"{va['latency_samples']:8d} {fps_page:10.1f} {fps_graph:10.1f} {dropped:8d} {publisher}")
stages = ", ".join(f"{s['name']} {s['mean_ms']:.1f}/{s['p95_ms']:.1f}" for s in pa["stages"] if s["samples"])
print(f"{'':<12} stages mean/p95 ms: {stages}; graph latency {pa['pipeline_latency_ms']:.0f} ms")
EOF
done
