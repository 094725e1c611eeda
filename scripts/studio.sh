#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Builds and starts the studio on http://127.0.0.1:8080/ (extra arguments go to `reenact serve`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --locked -p reenact-server --bin reenact
exec target/debug/reenact serve --demo "$@"
