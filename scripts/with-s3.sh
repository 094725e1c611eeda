#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Runs a command with a throwaway S3-compatible server (moto in server mode, installed by
# scripts/setup.sh) on a free loopback port; TEST_S3_ENDPOINT points at it. Tests make
# their own buckets. The server goes when the command ends, whatever its result.
#   scripts/with-s3.sh cargo test -p reenact-server --test storage_faults
set -euo pipefail

moto="${XDG_DATA_HOME:-$HOME/.local/share}/reenact/tools/moto"
[[ -f $moto/bin/moto_server ]] || { echo "with-s3: moto not installed (run scripts/setup.sh)" >&2; exit 1; }

dir=$(mktemp -d /tmp/reenact-s3.XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PYTHONPATH=$moto python3 "$moto/bin/moto_server" -H 127.0.0.1 -p "$port" >"$dir/server.log" 2>&1 &
pid=$!

stop() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap stop EXIT

for _ in $(seq 1 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$port/" && break
  kill -0 "$pid" 2>/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  sleep 0.2
done
curl -sf -o /dev/null "http://127.0.0.1:$port/" || { echo "with-s3: moto did not start" >&2; cat "$dir/server.log" >&2; exit 1; }

export TEST_S3_ENDPOINT="http://127.0.0.1:$port"
echo "with-s3: S3 (moto) on $TEST_S3_ENDPOINT"
"$@"
