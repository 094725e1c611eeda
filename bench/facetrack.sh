#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# ms per 720p frame for reenactfacetrack on one CPU thread (synthetic presenter clip, one face,
# default settings: back-256 detector every 5 frames, face mesh every frame).
# Usage: bench/facetrack.sh [FRAMES]   (run scripts/setup.sh first for ONNX Runtime)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=()
[[ ${BENCH_RELEASE:-} == 1 ]] && profile=(--release)
cargo run -q "${profile[@]}" -p gst-plugin-reenact --example facetrack_bench -- "${1:-200}"
