#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Authenticated API load on loopback with wrk: project listing and job status,
# against SQLite and against PostgreSQL. Prints requests/s and latency
# percentiles. Target: p99 < 20 ms at 2,000 requests/s on 2 cores.
#   bench/server_load.sh [SECONDS]
#   RATE=2000 bench/server_load.sh [SECONDS]   (paced: each connection waits between requests
#                                              so the total is about RATE requests/s)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
command -v wrk >/dev/null || { echo "server_load: wrk missing (apt-get install wrk)" >&2; exit 1; }
cargo build -q -p reenact-server --bin reenact
port=18181
connections=16
pace=
if [[ -n ${RATE:-} ]]; then
  # wrk calls delay() (ms) before each request of a connection, so each connection sends
  # one request per delay + response time: 16 ms plus about 1 ms, for as many connections
  # as the rate needs.
  connections=$(((RATE * 17 + 999) / 1000))
  pace=$(mktemp --suffix=.lua)
  trap 'rm -f "$pace"' EXIT
  echo "function delay() return 16 end" >"$pace"
fi

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
    echo "== $label GET /api/$route ($connections connections, 2 threads, ${seconds}s${pace:+, paced to ${RATE}/s})"
    wrk -t2 -c"$connections" -d"${seconds}s" --latency ${pace:+-s "$pace"} -H "authorization: Bearer $token" "$base/$route" \
      | grep -E "Requests/sec|^\s+(50|90|99)%|Non-2xx"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data"
}

echo "machine: $(uname -m), $(nproc) cores; reenact dev build"
run_backend sqlite
if [[ ${1:-} != --sqlite-only ]]; then
  scripts/with-postgres.sh bash -c "$(declare -f run_backend); port=$port; seconds=$seconds; connections=$connections; pace=$pace; RATE=${RATE:-}; run_backend postgres \"\$TEST_DATABASE_URL\""
fi
