#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# The Piper voice's model (the dub's speech, the studio's one ONNX session with as many intra-op
# threads as cores up to 4) run RUNS times, its idle threads spinning (ONNX Runtime's default) or
# sleeping (the studio's): alone, two at once, and beside a 2-thread x264 encode of 720p.
# Usage: bench/onnx_threads.sh [RUNS]   (run scripts/setup.sh first; reads ../shared/models
#        when it is there, else the installed models)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
cargo build -q -p reenact-models --example onnx_threads --locked
bin=target/debug/examples/onnx_threads
[[ -d ../shared/models ]] && export REENACT_MODELS="$PWD/../shared/models"
cores=$(nproc)
threads=$(( cores < 4 ? cores : 4 ))
echo "machine: $cores cores, $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F)"
echo "piper_en_US_joe_medium, 123 phoneme ids, $runs runs, $threads threads"
printf '%-8s %10s %16s %16s\n' idle "alone (s)" "two at once" "beside x264"
for mode in spin sleep; do
  alone=$("$bin" "$runs" "$threads" "$mode")
  start=$(date +%s.%N)
  "$bin" "$runs" "$threads" "$mode" > /dev/null & "$bin" "$runs" "$threads" "$mode" > /dev/null & wait
  pair=$(echo "$(date +%s.%N) - $start" | bc)
  gst-launch-1.0 -q videotestsrc num-buffers=100000 ! video/x-raw,width=1280,height=720 \
    ! x264enc speed-preset=fast threads=2 ! fakesink & encoder=$!
  sleep 1
  beside=$("$bin" "$runs" "$threads" "$mode")
  kill "$encoder"; wait "$encoder" 2> /dev/null || true
  printf '%-8s %10.2f %9.2f (%.1fx) %9.2f (%.1fx)\n' "$mode" "$alone" "$pair" \
    "$(echo "$pair / $alone" | bc -l)" "$beside" "$(echo "$beside / $alone" | bc -l)"
done
