#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Authenticated API load on loopback with wrk: project listing and job status,
# against SQLite and against PostgreSQL. Prints requests/s and latency
# percentiles. Target: p99 < 20 ms at 2,000 requests/s on 2 cores.
#   bench/server_load.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
command -v wrk >/dev/null || { echo "server_load: wrk missing (apt-get install wrk)" >&2; exit 1; }
cargo build -q -p reenact-server --bin reenact
port=18181

run_backend() {
  local label=$1 url=${2:-}
  local data; data=$(mktemp -d)
  local args=(serve --listen "127.0.0.1:$port" --data "$data" --workers 0)
  [[ -n $url ]] && args+=(--database-url "$url")
  RUST_LOG=warn target/debug/reenact "${args[@]}" >"$data/server.log" 2>&1 &
  local pid=$!
  for _ in $(seq 50); do curl -sf "127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
  local base="http://127.0.0.1:$port/api"
  curl -sf -XPOST "$base/auth/register" -H 'content-type: application/json' \
    -d '{"email":"load@bench.local","password":"load-test-password"}' >/dev/null
  local token; token=$(curl -sf -XPOST "$base/auth/login" -H 'content-type: application/json' \
    -d '{"email":"load@bench.local","password":"load-test-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  for i in 1 2 3 4 5; do
    curl -sf -XPOST "$base/projects" -H "authorization: Bearer $token" -H 'content-type: application/json' \
      -d "{\"name\":\"Project $i\"}" >/dev/null
  done
  local project; project=$(curl -sf "$base/projects" -H "authorization: Bearer $token" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
  local job; job=$(curl -sf -XPOST "$base/jobs" -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"type\":\"clip_edit\",\"project_id\":\"$project\",\"params\":{\"clip_id\":\"$project\",\"in\":0,\"out\":1}}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  for route in "projects" "jobs/$job"; do
    echo "== $label GET /api/$route (16 connections, 2 threads, ${seconds}s)"
    wrk -t2 -c16 -d"${seconds}s" --latency -H "authorization: Bearer $token" "$base/$route" \
      | grep -E "Requests/sec|^\s+(50|90|99)%|Non-2xx"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data"
}

echo "machine: $(uname -m), $(nproc) cores; reenact dev build"
run_backend sqlite
if [[ ${1:-} != --sqlite-only ]]; then
  scripts/with-postgres.sh bash -c "$(declare -f run_backend); port=$port; seconds=$seconds; run_backend postgres \"\$TEST_DATABASE_URL\""
fi
