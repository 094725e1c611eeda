#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Preview player: start (POST .../preview to the first video frame received over WHEP by a
# webrtc-rs client, the connection included) and seek (PATCH {at} to the first keyframe
# after it), 10 runs each, p95 printed. See bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_INCREMENTAL=0
cargo test --workspace --locked --test preview -- --ignored --nocapture bench_preview_start_and_seek 2>&1 \
  | grep -E '^(start s|seek s|preview start p95)'
