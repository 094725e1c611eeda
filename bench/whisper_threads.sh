#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# reenactcaptions with whisper base on 18 s of Spanish speech (espeak-ng), at 1 thread and at
# as many threads as cores: alone, two transcriptions at once, and beside a 2-thread x264
# encode of 720p. whisper.cpp's threads spin while they wait for each other, so more of them
# than free cores is many times slower; the element's default (half the CPUs) comes from this.
# Usage: bench/whisper_threads.sh   (run scripts/setup.sh and `reenact models install
#        whisper_base_q8_0` first; reads the shared VAD model when ../shared is there)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p gst-plugin-reenact --locked
export GST_PLUGIN_PATH="$PWD/target/debug"
[[ -d ../shared/models ]] && export REENACT_MODELS="$PWD/../shared/models"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
speech="$dir/es.wav"
espeak-ng -v es -s 150 -g 12 -w "$speech" "Bienvenidos al museo de la ciudad. Esta sala muestra la \
historia del puerto. El barco llegó hace muchos años. Los pescadores vivían cerca del mar. Gracias por \
su visita y buen día."

transcribe() {
  gst-launch-1.0 -q filesrc location="$speech" ! decodebin ! audioconvert ! audioresample \
    ! reenactcaptions language=es threads="$1" ! fakesink sync=false > /dev/null
}
seconds() { local start=$1; echo "$(date +%s.%N) - $start" | bc; }

cores=$(nproc)
echo "machine: $cores cores, $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F)"
printf '%-8s %10s %12s %14s\n' threads "alone (s)" "two at once" "beside x264"
for threads in 1 "$cores"; do
  start=$(date +%s.%N); transcribe "$threads"; alone=$(seconds "$start")
  start=$(date +%s.%N); transcribe "$threads" & transcribe "$threads" & wait; pair=$(seconds "$start")
  gst-launch-1.0 -q videotestsrc num-buffers=100000 ! video/x-raw,width=1280,height=720 \
    ! x264enc speed-preset=fast threads=2 ! fakesink & encoder=$!
  sleep 1
  start=$(date +%s.%N); transcribe "$threads"; beside=$(seconds "$start")
  kill "$encoder"; wait "$encoder" 2> /dev/null || true
  printf '%-8s %10.2f %7.2f (%.1fx) %8.2f (%.1fx)\n' "$threads" "$alone" "$pair" \
    "$(echo "$pair / $alone" | bc -l)" "$beside" "$(echo "$beside / $alone" | bc -l)"
done
