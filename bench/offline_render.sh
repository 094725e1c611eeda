#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# One 1080p30 clip to the three 1080p delivery presets: `reenact render`
# against one ffmpeg command doing the same work (one decode, split=3, the
# same crops, x264 preset/CRF and AAC bitrates). Prints the wall-time ratio
# and, per preset, each output's SSIM against the source (cropped and scaled
# the same way) and against the other tool's output.
#
# Each round runs both tools, in alternating order; the ratios printed are the
# medians over the rounds, of wall time and of CPU time (user + system). On a
# shared machine one round can be 7 % off either way; the CPU ratio varies less.
#
#   bench/offline_render.sh            # 60 s clip, 3 rounds
#   BENCH_SECONDS=20 BENCH_ROUNDS=1 bench/offline_render.sh
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${BENCH_SECONDS:-60}
rounds=${BENCH_ROUNDS:-3}
profile=${BENCH_PROFILE:-dev}
work=bench/out/offline
rm -rf "$work" && mkdir -p "$work/reenact" "$work/ffmpeg"

src_clip=../shared/media/synthetic/avsync_testsrc2_1920x1080_30fps_20s.mp4
clip="$work/source-${seconds}s.mp4"
loops=$(( (seconds + 19) / 20 - 1 ))
# Re-encoded rather than copied: copied loops join with overlapping timestamps, which each
# tool's frame-rate step resolves differently (a frame shift that showed up as SSIM).
ffmpeg -nostdin -v error -stream_loop "$loops" -i "$src_clip" -t "$seconds" \
  -c:v libx264 -preset veryfast -crf 16 -g 60 -c:a aac -b:a 192k "$clip"

if [[ $profile == release ]]; then
  cargo build -q --release -p reenact-server --bin reenact; bin=target/release/reenact
else
  cargo build -q -p reenact-server --bin reenact; bin=target/debug/reenact
fi

# Same work as the presets landscape-1080p, vertical-1080p, square-1080p:
# 30 fps, centre crops 1920x1080 (none), 608x1080 at x=656, 1080x1080 at x=420.
ffmpeg_cmd=(ffmpeg -nostdin -v error -y -i "$clip" -filter_complex
  "[0:v]split=3[a][b][c];[a]fps=30,scale=1920:1080,format=yuv420p[o1];[b]fps=30,crop=608:1080:656:0,scale=1080:1920,format=yuv420p[o2];[c]fps=30,crop=1080:1080:420:0,scale=1080:1080,format=yuv420p[o3];[0:a]asplit=3[a1][a2][a3]"
  -map "[o1]" -map "[a1]" -c:v libx264 -preset fast -crf 20 -g 60 -c:a aac -b:a 160k -ar 48000 -ac 2 "$work/ffmpeg/landscape-1080p.mp4"
  -map "[o2]" -map "[a2]" -c:v libx264 -preset fast -crf 21 -g 60 -c:a aac -b:a 128k -ar 48000 -ac 2 "$work/ffmpeg/vertical-1080p.mp4"
  -map "[o3]" -map "[a3]" -c:v libx264 -preset fast -crf 21 -g 60 -c:a aac -b:a 128k -ar 48000 -ac 2 "$work/ffmpeg/square-1080p.mp4")

# Runs a command with its output discarded (errors to stderr.log); prints "wall cpu" seconds.
timed() {
  local TIMEFORMAT='%R %U %S' t
  t=$( { time "$@" >/dev/null 2>>"$work/stderr.log"; } 2>&1 ) || { echo "failed: $*" >&2; tail -5 "$work/stderr.log" >&2; exit 1; }
  awk '{ printf "%.2f %.2f\n", $1, $2 + $3 }' <<<"$t"
}
reenact_run() { rm -rf "$work/reenact" && mkdir -p "$work/reenact"
  timed "$bin" render "$clip" -p landscape-1080p,vertical-1080p,square-1080p --out "$work/reenact" -q; }
ffmpeg_run() { timed "${ffmpeg_cmd[@]}"; }

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
wall_ratios=() cpu_ratios=()
for round in $(seq 1 "$rounds"); do
  if (( round % 2 )); then re=$(reenact_run); ff=$(ffmpeg_run); else ff=$(ffmpeg_run); re=$(reenact_run); fi
  read -r re_wall re_cpu <<<"$re"
  read -r ff_wall ff_cpu <<<"$ff"
  wall_ratios+=("$(echo "$re_wall / $ff_wall" | bc -l)")
  cpu_ratios+=("$(echo "$re_cpu / $ff_cpu" | bc -l)")
  printf 'round %d: reenact %.1f s (cpu %.1f s)   ffmpeg %.1f s (cpu %.1f s)   wall ratio %.3f   cpu ratio %.3f\n' \
    "$round" "$re_wall" "$re_cpu" "$ff_wall" "$ff_cpu" "${wall_ratios[-1]}" "${cpu_ratios[-1]}"
done
wall_ratio=$(printf '%s\n' "${wall_ratios[@]}" | median)
cpu_ratio=$(printf '%s\n' "${cpu_ratios[@]}" | median)

ssim() { ffmpeg -v info -i "$1" -i "$2" -lavfi "$3" -f null - 2>&1 | sed -n 's/.*SSIM.* All:\([0-9.]*\).*/\1/p' | tail -1; }
declare -A ref=(
  [landscape-1080p]="fps=30,scale=1920:1080"
  [vertical-1080p]="fps=30,crop=608:1080:656:0,scale=1080:1920"
  [square-1080p]="fps=30,crop=1080:1080:420:0,scale=1080:1080"
)

printf 'machine: %s, %s cores; clip: %s s 1080p30; reenact build: %s; rounds: %s\n' "$(uname -m)" "$(nproc)" "$seconds" "$profile" "$rounds"
printf 'median ratio reenact/ffmpeg: wall %.3f, cpu %.3f\n' "$wall_ratio" "$cpu_ratio"
printf '%-16s %12s %12s %10s %10s %12s\n' preset reenact_kB ffmpeg_kB ssim_re ssim_ff ssim_re_vs_ff
for p in landscape-1080p vertical-1080p square-1080p; do
  re=$(ls "$work"/reenact/*-"$p".mp4)
  ff="$work/ffmpeg/$p.mp4"
  s_re=$(ssim "$re" "$clip" "[1:v]${ref[$p]}[r];[0:v][r]ssim")
  s_ff=$(ssim "$ff" "$clip" "[1:v]${ref[$p]}[r];[0:v][r]ssim")
  s_x=$(ssim "$re" "$ff" "[0:v][1:v]ssim")
  printf '%-16s %12d %12d %10s %10s %12s\n' "$p" $(( $(stat -c %s "$re") / 1024 )) $(( $(stat -c %s "$ff") / 1024 )) "$s_re" "$s_ff" "$s_x"
done
