#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Text translation: chrF of twenty museum sentences against references, English -> Spanish,
# German and French, and sentences a second, for each direction the studio can translate: by
# an imported model (Firefox Translations, `reenact models import model.enes.intgemm.alphas.bin
# --as translation ...`) or else Apertium (Spanish; French through Spanish; no German). A
# direction under the chrF floor fails.
# Usage: bench/translation.sh [ROUNDS]        (run scripts/setup.sh first)
#        BENCH_RELEASE=1 bench/translation.sh  (release build)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=()
[[ ${BENCH_RELEASE:-} == 1 ]] && profile=(--release)
echo "machine: $(nproc) cores, $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F)"
cargo run -q "${profile[@]}" -p reenact-engine --example translation_bench -- "${1:-3}"
