#!/usr/bin/env bash
# Installs the Debian packages nemoc needs, only those that are missing.
# Idempotent and silent when everything is present. Package names only; the
# machine's configured apt sources are used.
set -euo pipefail

# Build and runtime libraries.
pkgs=(build-essential cmake pkg-config clang
      libopenblas-dev libdnnl-dev libsndfile1-dev libsoxr-dev libfftw3-dev
      libyaml-dev libcjson-dev libopenmpi-dev openmpi-bin libmicrohttpd-dev
      libarchive-dev zlib1g-dev)
# Data synthesis for the demo and end-to-end tests.
pkgs+=(espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
       sentencepiece fortunes-min sox)
# Optional extras, e.g. NC_DEPS_EXTRA="python3-torch python3-numpy" for fixtures and
# bench, or "bible-kjv bible-kjv-text" to regenerate data/text/sentences.txt.
if [ -n "${NC_DEPS_EXTRA:-}" ]; then
  read -r -a extra <<<"$NC_DEPS_EXTRA"
  pkgs+=("${extra[@]}")
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
