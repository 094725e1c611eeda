#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# The character elements on one CPU thread: reenactfaceswap and reenactlipsync in ms per 720p
# frame, reenactvoice's added latency and real-time factor. Each example prints its peer run
# (plain copy / videoconvert / audioconvert of the same data) beside it.
# Usage: bench/character.sh [FRAMES] [faceswap|lipsync|voice ...]   (run scripts/setup.sh first)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=()
[[ ${BENCH_RELEASE:-} == 1 ]] && profile=(--release)
frames=${1:-200}
shift || true
elements=("$@")
[[ ${#elements[@]} -eq 0 ]] && elements=(faceswap lipsync voice)
for element in "${elements[@]}"; do
  echo "== ${element}"
  args=("$frames")
  [[ $element == voice ]] && args=()   # voice_bench times the whole JFK sample
  cargo run -q "${profile[@]}" -p gst-plugin-reenact --example "${element}_bench" -- "${args[@]}"
done
