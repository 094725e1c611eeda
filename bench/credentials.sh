#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Signing cost of Content Credentials per render: the 60 s 1080p30 clip to the three 1080p
# presets (as bench/offline_render.sh), with `reenact render` reporting the engine's own
# time and the signing time (hashing every output and thumbnail, signing, rewriting the
# file) separately. Prints both and signing as a percentage of the render, then the time
# `reenact verify` takes for each output.
#
#   bench/credentials.sh                 # 60 s clip
#   BENCH_SECONDS=20 bench/credentials.sh
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${BENCH_SECONDS:-60}
work=bench/out/credentials
rm -rf "$work" && mkdir -p "$work/out" "$work/data"

src_clip=../shared/media/synthetic/avsync_testsrc2_1920x1080_30fps_20s.mp4
clip="$work/source-${seconds}s.mp4"
loops=$(( (seconds + 19) / 20 - 1 ))
ffmpeg -nostdin -v error -stream_loop "$loops" -i "$src_clip" -t "$seconds" \
  -c:v libx264 -preset veryfast -crf 16 -g 60 -c:a aac -b:a 192k "$clip"
cargo build -q -p reenact-server --bin reenact; bin=target/debug/reenact

export REENACT_DATA=$work/data
"$bin" render "$clip" -p landscape-1080p,vertical-1080p,square-1080p --out "$work/out" 2>"$work/render.log" >/dev/null
render_s=$(sed -n 's/^rendered .* in \([0-9.]*\) s$/\1/p' "$work/render.log")
sign_s=$(sed -n 's/^signed Content Credentials on [0-9]* file(s) in \([0-9.]*\) s$/\1/p' "$work/render.log")
files=$(sed -n 's/^signed Content Credentials on \([0-9]*\) file(s).*/\1/p' "$work/render.log")
awk -v r="$render_s" -v s="$sign_s" -v n="$files" -v secs="$seconds" 'BEGIN {
  printf "render of %d s to 3 presets: %.2f s; signing %d files: %.2f s (%.2f %% of the render)\n", secs, r, n, s, 100 * s / r }'
for f in "$work"/out/*.mp4; do
  TIMEFORMAT="verify $(basename "$f"): %R s"
  time "$bin" verify "$f" >/dev/null
done
