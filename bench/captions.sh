#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# reenactcaptions (Silero VAD + whisper tiny.en) on the GRID take with word timings, repeated:
# real-time factor (offline push) and word-to-screen latency (live push, partial results),
# against the targets RTF <= 0.3 and p95 <= 1.0 s.
# Usage: bench/captions.sh [TAKES] [PROPERTIES]   (run scripts/setup.sh first)
#        BENCH_RELEASE=1 bench/captions.sh ...    (release build)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=()
[[ ${BENCH_RELEASE:-} == 1 ]] && profile=(--release)
echo "machine: $(nproc) cores, $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F)"
cargo run -q "${profile[@]}" -p gst-plugin-reenact --example captions_bench -- "${1:-8}" "${2:-}"
