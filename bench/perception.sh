#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# ms per 720p frame on one CPU thread for reenactmatte (default blur mode, landscape model, mask
# every frame) and reenactreframe (9:16 around facetrack's face meta; facetrack not timed), on
# the synthetic presenter clip.
# Each runs the frames BENCH_ROUNDS times (default 3) and prints every round and the best one
# by median: on a shared machine a round can be 30 % slower than the next.
# Usage: bench/perception.sh [FRAMES]   (run scripts/setup.sh first for ONNX Runtime)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=()
[[ ${BENCH_RELEASE:-} == 1 ]] && profile=(--release)
run() { cargo run -q "${profile[@]}" -p gst-plugin-reenact --example perception_bench -- "$@"; }
run matte "${1:-200}"
# The same with the model on every second frame (`mask-interval=2`), the option for slow machines.
run matte "${1:-200}" mask-interval=2
run reframe "${1:-200}"
