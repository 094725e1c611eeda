#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Audio/video offset of a browser-source show over a long run (issue 20: no drift over 10 minutes).
# A headless Chromium publisher opens the show's publish page with ?avsync=1: its canvas turns
# white for 100 ms from each whole second of its clock and a 1 kHz beep replaces the microphone
# at the same instants. `reenact live --source browser --output record:show.mp4` records the
# show; afterwards ffmpeg decodes the recording as a player would, and each flash (a frame of
# mean luma above 200, first of a run) is paired with the nearest beep onset (a burst above
# 0.3 after 0.5 s of quiet): the rule of engine/tests/common/mod.rs `ffmpeg_av_offsets`.
# Reported: the median beep-minus-flash over the first and the last MEASURE_S seconds, and the
# change between them (the drift). The absolute offset includes the publishing browser's own
# (canvas against audio context); the drift is the server's.
# Usage: bench/live_avsync.sh [MINUTES]   (PROFILE=dev: the test build, as bench/live_latency.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
measure=${MEASURE_S:-60}
shared=$(cd .. && pwd)/shared
export REENACT_MODELS=${REENACT_MODELS:-$shared/models}
presenter=$shared/media/synthetic/presenter_astronaut_1280x720_25fps.mp4
case ${PROFILE:-release} in
  release) cargo build -q --release -p reenact-server; reenact=target/release/reenact ;;
  dev) reenact=target/debug/reenact; [[ -x $reenact ]] || { echo "no $reenact: cargo build --workspace" >&2; exit 2; } ;;
  *) echo "live_avsync: PROFILE must be release or dev" >&2; exit 2 ;;
esac
work=$(mktemp -d)
browser=
# Chromium runs in a process group of its own (setsid), killed whole with its helpers.
cleanup() {
  if [[ -n $browser ]]; then
    kill -- "-$browser" 2>/dev/null || true
    sleep 0.5
    kill -KILL -- "-$browser" 2>/dev/null || true
  fi
  kill $(jobs -p) 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ffmpeg -loglevel error -y -i "$presenter" -t 10 -an -vf "scale=1280:720,fps=30" -pix_fmt yuv420p "$work/camera.y4m" \
  -t 10 -vn -ar 48000 -ac 1 -c:a pcm_s16le "$work/microphone.wav"

port=8290
seconds=$((minutes * 60 + 20))
"$reenact" live --source browser --elements none --listen "127.0.0.1:$port" --duration "$seconds" \
  --output "record:$work/show.mp4" </dev/null >"$work/live.log" 2>&1 &
live=$!
for _ in $(seq 120); do grep -q "Publish from:" "$work/live.log" && break; sleep 0.5; done
publish=$(grep -o "http://[^ ]*/live/[0-9a-f]*/publish#token=[0-9a-f]*" "$work/live.log" | head -1)
[[ -n $publish ]] || { echo "reenact live did not start:" >&2; cat "$work/live.log" >&2; exit 1; }
setsid chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --autoplay-policy=no-user-gesture-required --disable-features=WebRtcHideLocalIpsWithMdns \
  --disable-background-timer-throttling --disable-renderer-backgrounding \
  --use-fake-device-for-media-stream --use-fake-ui-for-media-stream \
  --use-file-for-fake-video-capture="$work/camera.y4m" --use-file-for-fake-audio-capture="$work/microphone.wav" \
  --user-data-dir="$work/profile" "${publish%%#*}?avsync=1#${publish#*#}" >/dev/null 2>&1 &
browser=$!
# The recording is in place once the show ends, whatever came after it (signing).
wait "$live" || echo "reenact live ended with an error: $(grep -m1 '^error' "$work/live.log")" >&2
[[ -s $work/show.mp4 ]] || { echo "no recording:" >&2; tail -20 "$work/live.log" >&2; exit 1; }
[[ -n ${KEEP_RECORDING:-} ]] && cp "$work/show.mp4" "$KEEP_RECORDING"
kill -- "-$browser" 2>/dev/null || true
sleep 0.5
kill -KILL -- "-$browser" 2>/dev/null || true
browser=

ffmpeg -nostdin -hide_banner -i "$work/show.mp4" -map 0:v:0 -vf scale=32:32,format=gray,showinfo -f null - \
  2>"$work/video.log"
ffmpeg -nostdin -v error -i "$work/show.mp4" -map 0:a:0 -ac 1 -af aresample=48000:async=1:first_pts=0 \
  -f f32le "$work/audio.f32"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F)"
python3 - "$work/video.log" "$work/audio.f32" "$measure" <<'EOF'
import re, statistics, sys
from array import array
log, audio, measure = sys.argv[1], sys.argv[2], float(sys.argv[3])
frames = [(float(t), float(m)) for t, m in re.findall(r"pts_time:([0-9.]+).*?mean:\[([0-9.]+)", open(log).read())]
flashes, lit = [], False
for t, mean in frames:
    if mean > 200 and not lit:
        flashes.append(t)
    lit = mean > 200
samples = array("f")
samples.frombytes(open(audio, "rb").read())
rate, quiet, beeps, last_loud = 48000, int(0.5 * 48000), [], -10**9
for i, v in enumerate(samples):
    if abs(v) > 0.3:
        if i - last_loud > quiet:
            beeps.append(i / rate)
        last_loud = i
length = frames[-1][0] if frames else 0.0
def offsets(lo, hi):
    out = []
    for f in (f for f in flashes if lo <= f < hi):
        near = min(beeps, key=lambda b: abs(b - f), default=None)
        if near is not None and abs(near - f) < 0.5:
            out.append((near - f) * 1000)
    return out
start, end = offsets(5, 5 + measure), offsets(length - measure, length)
print(f"recording {length:.0f} s: {len(flashes)} flashes, {len(beeps)} beeps")
for name, values in (("start", start), ("end", end)):
    if values:
        print(f"{name:<6} beep - flash: median {statistics.median(values):+.1f} ms, "
              f"min {min(values):+.1f}, max {max(values):+.1f} over {len(values)} pairs")
    else:
        print(f"{name:<6} no flash/beep pairs")
if start and end:
    print(f"drift  {statistics.median(end) - statistics.median(start):+.1f} ms")
EOF
