#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Offline render throughput with 1, 2 and 3 `reenact worker` processes behind one
# `reenact serve --workers 0` and PostgreSQL, against the same renders run one after another
# by `reenact render` (no queue, no HTTP, no storage): jobs per minute, and the per-job
# overhead of queueing and storage (target < 2% of render time).
# Usage: bench/scale_out.sh [JOBS] [CLIP]   (run scripts/setup.sh first)
#        STORAGE=s3 bench/scale_out.sh ...     (the studio stores in S3: moto on loopback)
#        PROFILE=dev bench/scale_out.sh ...    (reuse the test build instead of a release build)
#        WORKERS="2" bench/scale_out.sh 100 grid.mp4   (only these worker counts; e.g. the
#                                               issue's 100 queued renders drained by 2 workers)
# Every run also checks that no job was lost or run twice: all succeeded on their first
# attempt, each with its own render, and (local storage) exactly one stored file per job.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${1:-6}
clip=${2:-$(cd .. && pwd)/shared/media/synthetic/presenter_astronaut_1280x720_25fps.mp4}
preset=master
case ${PROFILE:-release} in
  release) cargo build -q --release -p reenact-server; bin=target/release/reenact ;;
  dev) cargo build -q -p reenact-server; bin=target/debug/reenact ;;
  *) echo "scale_out: PROFILE must be release or dev" >&2; exit 2 ;;
esac
export REENACT_BIN=$PWD/$bin BENCH_JOBS=$jobs BENCH_CLIP=$clip BENCH_PRESET=$preset
export BENCH_STORAGE=${STORAGE:-local} BENCH_WORKERS=${WORKERS:-1 2 3}
case $BENCH_STORAGE in
  local) wrap=() ;;
  s3) wrap=(scripts/with-s3.sh) ;;
  *) echo "scale_out: STORAGE must be local or s3, not $BENCH_STORAGE" >&2; exit 2 ;;
esac
exec "${wrap[@]}" scripts/with-postgres.sh bash -c '
set -euo pipefail
work=$(mktemp -d)
trap "kill \$(jobs -p) 2>/dev/null || true; rm -rf $work" EXIT
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
now() { date +%s.%N; }

echo "machine: $(nproc) cores, $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F)"
echo "$BENCH_JOBS renders of $(basename "$BENCH_CLIP") to $BENCH_PRESET, $BENCH_STORAGE storage"

start=$(now)
for i in $(seq "$BENCH_JOBS"); do
  "$REENACT_BIN" render "$BENCH_CLIP" --preset "$BENCH_PRESET" --out "$work/cli-$i" >/dev/null 2>&1
done
cli=$(python3 -c "print($(now) - $start)")
printf "%-22s %8.1f s %8.2f jobs/min\n" "reenact render x$BENCH_JOBS" "$cli" "$(python3 -c "print($BENCH_JOBS * 60 / $cli)")"

port=8300
for workers in $BENCH_WORKERS; do
  port=$((port + 1))
  db="bench_$workers"
  psql "$TEST_DATABASE_URL" -qc "CREATE DATABASE $db" >/dev/null
  url="${TEST_DATABASE_URL%/*}/$db"
  data=$work/data-$workers
  if [[ $BENCH_STORAGE == s3 ]]; then
    curl -sf -X PUT "$TEST_S3_ENDPOINT/bench-$workers" >/dev/null
    export REENACT_STORAGE=s3://bench-$workers/studio AWS_ENDPOINT=$TEST_S3_ENDPOINT AWS_ALLOW_HTTP=true \
      AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
  fi
  DATABASE_URL=$url REENACT_DATA=$data RUST_LOG=warn REENACT_MAX_ACTIVE_JOBS=$((BENCH_JOBS + 10)) \
    "$REENACT_BIN" serve --listen 127.0.0.1:$port --workers 0 >/dev/null 2>&1 &
  server=$!
  api=http://127.0.0.1:$port/api
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
  login="{\"email\": \"bench@example.com\", \"password\": \"bench-password\"}"
  curl -sf -H "Content-Type: application/json" -d "$login" "$api/auth/register" >/dev/null
  token=$(curl -sf -H "Content-Type: application/json" -d "$login" "$api/auth/login" | json "d[\"access_token\"]")
  auth="Authorization: Bearer $token"
  project=$(curl -sf -H "$auth" -H "Content-Type: application/json" -d "{\"name\": \"bench\"}" "$api/projects" | json "d[\"id\"]")
  clip_id=$(curl -sf -H "$auth" -F "file=@$BENCH_CLIP" "$api/projects/$project/clips" | json "d[\"id\"]")
  curl -sf -X PATCH -H "$auth" -H "Content-Type: application/json" \
    -d "{\"timeline\": {\"tracks\": [{\"clips\": [{\"source\": \"$clip_id\"}]}]}}" "$api/projects/$project" >/dev/null
  for i in $(seq "$BENCH_JOBS"); do
    curl -sf -H "$auth" -H "Content-Type: application/json" -d "{\"presets\": [\"$BENCH_PRESET\"]}" \
      "$api/projects/$project/renders" >/dev/null
  done
  start=$(now)
  pids=()
  for w in $(seq "$workers"); do
    DATABASE_URL=$url REENACT_DATA=$data RUST_LOG=warn "$REENACT_BIN" worker --name "w$w" >/dev/null 2>&1 &
    pids+=($!)
  done
  until curl -sf -H "$auth" "$api/jobs?state=succeeded" | json "len(d) == $BENCH_JOBS" | grep -q True; do sleep 0.2; done
  took=$(python3 -c "print($(now) - $start)")
  # From the jobs themselves: time in the handler beyond the engine render (fetch, store,
  # database), and for one worker the gaps between the end of a job and the start of the next.
  inside=$(curl -sf -H "$auth" "$api/jobs?state=succeeded" | python3 -c "
import json, sys
r = [j[\"result\"] for j in json.load(sys.stdin)]
render = sum(x[\"render_s\"] for x in r)
busy = sum((x[\"finished_at_ms\"] - x[\"started_at_ms\"]) / 1000 for x in r)
span = (max(x[\"finished_at_ms\"] for x in r) - min(x[\"started_at_ms\"] for x in r)) / 1000
gaps = max(span - busy, 0.0)
print(f\"in-job {100 * (busy - render) / render:.2f}%, queue gaps {100 * gaps / render:.2f}% of render time\")
")
  stored=-1
  [[ $BENCH_STORAGE == local ]] && stored=$(find "$data" -path "*/renders/*" -name "*.mp4" | wc -l)
  integrity=$(curl -sf -H "$auth" "$api/jobs" | python3 -c "
import json, sys
jobs = [j for j in json.load(sys.stdin) if j[\"type\"] == \"render\"]
done = [j for j in jobs if j[\"state\"] == \"succeeded\"]
renders = {j[\"result\"][\"render_id\"] for j in done}
again = [j[\"id\"] for j in jobs if j[\"attempts\"] != 1]
by = {}
for j in done:
    by[j[\"worker\"]] = by.get(j[\"worker\"], 0) + 1
lost = $BENCH_JOBS - len(done)
files = \"\" if $stored < 0 else f\", {$stored} stored render files\"
ok = lost == 0 and not again and len(renders) == len(done) and $stored in (-1, len(done))
status = \"OK\" if ok else \"FAILED\"
print(f\"{status}: {len(done)}/$BENCH_JOBS succeeded, {len(again)} run twice, {len(renders)} distinct renders{files}; per worker {dict(sorted(by.items()))}\")
")
  echo "  $integrity"
  kill "${pids[@]}" "$server"; wait "${pids[@]}" "$server" 2>/dev/null || true
  overhead=$(python3 -c "print(round(100 * ($took - $cli) / $cli, 1))")
  if [[ $workers -eq 1 ]]; then
    note="overhead vs reenact render: ${overhead}%; $inside"
  elif [[ -n ${one:-} ]]; then
    note="speed-up vs 1 worker: $(python3 -c "print(round($one / $took, 2))")x"
  else
    note="speed-up vs reenact render: $(python3 -c "print(round($cli / $took, 2))")x"
  fi
  [[ $workers -eq 1 ]] && one=$took
  printf "%-22s %8.1f s %8.2f jobs/min   %s\n" "$workers worker(s)" "$took" \
    "$(python3 -c "print($BENCH_JOBS * 60 / $took)")" "$note"
  [[ $integrity == OK* ]] || exit 1
done
'
