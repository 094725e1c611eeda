#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# ms per frame of `reenactscale` against `videoconvertscale method=catrom` (one thread) on
# the scales the presets do: the 9:16 crop of 1080p upscaled to 1080x1920, and 1080p
# downscaled to 720p and to a 360p preview. One frame is repeated by `imagefreeze`; a run
# without a scaler is taken off both. Rounds alternate the two scalers; medians are printed.
#
#   bench/scale.sh [FRAMES] [ROUNDS]      (BENCH_PROFILE=release for a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${1:-600}
rounds=${2:-3}
target=${CARGO_TARGET_DIR:-$PWD/target}
if [[ ${BENCH_PROFILE:-dev} == release ]]; then
  cargo build -q --release -p gst-plugin-reenact; export GST_PLUGIN_PATH=$target/release
else
  cargo build -q -p gst-plugin-reenact; export GST_PLUGIN_PATH=$target/debug
fi

# Seconds to push `frames` frames of SRC (WxH) through SCALER to DST (WxH).
run() {
  local src=$1 dst=$2 scaler=$3 TIMEFORMAT=%R t
  t=$( { time gst-launch-1.0 -q videotestsrc num-buffers=1 pattern=smpte \
    ! "video/x-raw,format=I420,width=${src%x*},height=${src#*x},framerate=30/1" \
    ! imagefreeze num-buffers="$frames" ! $scaler \
    ! "video/x-raw,width=${dst%x*},height=${dst#*x}" ! fakesink >/dev/null; } 2>&1 )
  echo "$t"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

ours="reenactscale"
peer="videoconvertscale method=catrom chroma-resampler=cubic dither=none n-threads=1"
printf '%-24s %10s %10s %8s\n' scale "ours ms" "peer ms" ratio
for case in 608x1080:1080x1920 1920x1080:1280x720 1920x1080:640x360; do
  src=${case%:*} dst=${case#*:}
  o=() p=()
  for round in $(seq 1 "$rounds"); do
    base=$(run "$src" "$src" identity)
    if (( round % 2 )); then a=$(run "$src" "$dst" "$ours"); b=$(run "$src" "$dst" "$peer")
    else b=$(run "$src" "$dst" "$peer"); a=$(run "$src" "$dst" "$ours"); fi
    o+=("$(awk -v t="$a" -v b="$base" -v n="$frames" 'BEGIN { print (t - b) * 1000 / n }')")
    p+=("$(awk -v t="$b" -v b="$base" -v n="$frames" 'BEGIN { print (t - b) * 1000 / n }')")
  done
  om=$(printf '%s\n' "${o[@]}" | median) pm=$(printf '%s\n' "${p[@]}" | median)
  awk -v c="$src->$dst" -v o="$om" -v p="$pm" 'BEGIN { printf "%-24s %10.3f %10.3f %8.3f\n", c, o, p, o / p }'
done
