#!/usr/bin/env bash
# End-to-end: `nemoc llm import-hf` / `nemoc llm export-hf` on the tiny HF
# folders of tests/ref/hf_convert (gen_hf_convert.py): GPT-2 (fp16, tied,
# vocab.json + merges.txt) and Llama (bf16, GQA, two shards, tokenizer.model).
# HF -> .nemo -> HF -> .nemo gives byte-identical model_weights.ckpt and the
# tokenizer files back; a detour through fp32 with the vocabulary padded to
# 128 comes back to the same bf16 weights. Bad input exits 1 with a message
# naming the file, tensor or key and leaves no output: no config.json, an
# unsupported model_type, a config/tensor shape mismatch, a truncated
# safetensors file, a .nemo whose activation HF cannot express; usage errors
# exit 2. Where `nemoc llm generate` exists, the imported models continue a
# prompt with the greedy ids of the HF forward. (Tensor-by-tensor checks against NeMo's own conversion code are in
# tests/unit/test_llm_convert.c.)
# Usage: llm_hf_convert.sh /path/to/nemoc   (ctest passes it; CWD is the build dir)
set -euo pipefail

NEMOC="${1:?usage: llm_hf_convert.sh /path/to/nemoc}"
SRC="${NC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
REF="$SRC/tests/ref/hf_convert"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/nemoc-e2e-hf.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
weights() { tar -xOf "$1" ./model_weights.ckpt; }

# GPT-2 round trip
"$NEMOC" llm import-hf "$REF/gpt2" out="$TMP/g.nemo" >"$TMP/log" 2>&1 || { cat "$TMP/log"; fail "import gpt2"; }
grep -q "gpt2 model, 28 tensors, vocabulary 257 (embedding rows 257), tokenizer megatron" "$TMP/log" ||
  { cat "$TMP/log"; fail "import summary"; }
tar -xOf "$TMP/g.nemo" ./model_config.yaml | grep -q "^  type: GPT2BPETokenizer" || fail "tokenizer section"
"$NEMOC" llm export-hf model="$TMP/g.nemo" out="$TMP/g_hf" >"$TMP/log" 2>&1 || { cat "$TMP/log"; fail "export gpt2"; }
for f in vocab.json merges.txt; do cmp -s "$REF/gpt2/$f" "$TMP/g_hf/$f" || fail "gpt2 $f not restored"; done
grep -q '"activation_function":	"gelu_new"' "$TMP/g_hf/config.json" || fail "gelu_new in config.json"
"$NEMOC" llm import-hf "$TMP/g_hf" out="$TMP/g2.nemo" >/dev/null 2>&1 || fail "re-import gpt2"
cmp -s <(weights "$TMP/g.nemo") <(weights "$TMP/g2.nemo") || fail "gpt2 weights changed in the round trip"

# Llama: bf16 import; fp32 + padding 128 -> bf16 export -> import = the same weights
"$NEMOC" llm import-hf "$REF/llama" out="$TMP/l.nemo" >/dev/null 2>&1 || fail "import llama"
"$NEMOC" llm import-hf "$REF/llama" out="$TMP/l32.nemo" dtype=fp32 make_vocab_size_divisible_by=128 >"$TMP/log" 2>&1 ||
  { cat "$TMP/log"; fail "import llama fp32"; }
grep -q "vocabulary 250 (embedding rows 256), tokenizer sentencepiece" "$TMP/log" || { cat "$TMP/log"; fail "padding"; }
tar -xOf "$TMP/l32.nemo" ./model_config.yaml | grep -q "^precision: 32" || fail "precision 32"
"$NEMOC" llm export-hf model="$TMP/l32.nemo" out="$TMP/l_hf" dtype=bf16 >"$TMP/log" 2>&1 || { cat "$TMP/log"; fail "export llama"; }
grep -q "llama model, 21 tensors, vocabulary 250 (embedding rows 256)" "$TMP/log" || { cat "$TMP/log"; fail "export summary"; }
cmp -s "$REF/llama/tokenizer.model" "$TMP/l_hf/tokenizer.model" || fail "tokenizer.model not restored"
"$NEMOC" llm import-hf "$TMP/l_hf" out="$TMP/l2.nemo" >/dev/null 2>&1 || fail "re-import llama"
cmp -s <(weights "$TMP/l.nemo") <(weights "$TMP/l2.nemo") || fail "llama weights changed through fp32 and padding"

# The imported checkpoints run in nemoc's MegatronGPTModel: greedy ids equal
# those of the HF models' forward (gen_hf_convert.py greedy(); fp32 weights)
if "$NEMOC" llm generate --help >/dev/null 2>&1; then
  for m in gpt2 llama; do
    want=$(tr -d ' \n' <"$REF/expected_generate.json" | grep -o "\"$m\":{\"greedy\":\[[0-9,]*\]" | grep -o '\[.*\]' |
      tr -d '[]' | tr ',' ' ')
    [ -n "$want" ] || fail "$m: no expected ids"
    "$NEMOC" llm import-hf "$REF/$m" out="$TMP/${m}32.nemo" dtype=fp32 >/dev/null 2>&1 || fail "import $m fp32"
    got=$("$NEMOC" llm generate model="$TMP/${m}32.nemo" prompt_ids="5 17 42 9" greedy=true tokens_to_generate=10 \
      repetition_penalty=1.0 print_ids=true stream=false 2>/dev/null | head -n 1) || fail "generate $m"
    [ "$got" = "$want" ] || fail "$m: nemoc generates '$got', the HF forward '$want'"
  done
else
  echo "llm_hf_convert: no 'nemoc llm generate' in this build: generation check skipped"
fi

# bad input: exit 1, a named error, no output
bad() { # name expected-message args...
  local name=$1 msg=$2
  shift 2
  local rc=0
  "$NEMOC" llm "$@" >"$TMP/$name.log" 2>&1 || rc=$?
  [ "$rc" = 1 ] || { cat "$TMP/$name.log"; fail "$name: exit $rc, wanted 1"; }
  grep -qF -- "$msg" "$TMP/$name.log" || { cat "$TMP/$name.log"; fail "$name: message lacks '$msg'"; }
}
mkdir "$TMP/h"
cp "$REF/gpt2/model.safetensors" "$TMP/h/"
bad no_config "h/config.json" import-hf "$TMP/h" out="$TMP/bad.nemo"
sed 's/"gpt2"/"falcon"/' "$REF/gpt2/config.json" >"$TMP/h/config.json"
bad model_type "model_type 'falcon' is not supported" import-hf "$TMP/h" out="$TMP/bad.nemo"
sed 's/"n_head": 4/"n_head": 4, "n_positions": 32/; s/"n_positions": 64,//' "$REF/gpt2/config.json" >"$TMP/h/config.json"
bad shape "tensor 'transformer.wpe.weight' has shape (64, 64) but config.json (n_positions, n_embd) needs (32, 64)" \
  import-hf "$TMP/h" out="$TMP/bad.nemo"
cp "$REF/gpt2/config.json" "$TMP/h/"
head -c 100000 "$REF/gpt2/model.safetensors" >"$TMP/h/model.safetensors"
bad truncated "model.safetensors" import-hf "$TMP/h" out="$TMP/bad.nemo"
[ ! -e "$TMP/bad.nemo" ] || fail "a failed import left $TMP/bad.nemo"
mkdir "$TMP/x"
tar -xf "$TMP/l.nemo" -C "$TMP/x"
sed -i 's/^activation: fast-swiglu/activation: squared-relu/' "$TMP/x/model_config.yaml"
tar -cf "$TMP/relu.nemo" -C "$TMP/x" .
bad activation "activation: 'squared-relu' has no Hugging Face gpt2/llama equivalent" \
  export-hf model="$TMP/relu.nemo" out="$TMP/relu_hf"
[ ! -e "$TMP/relu_hf/model.safetensors" ] || fail "a failed export wrote weights"
bad missing_nemo "nothing.nemo" export-hf model="$TMP/nothing.nemo" out="$TMP/n_hf"

# usage errors: exit 2
for args in "import-hf $REF/gpt2" "import-hf $REF/gpt2 out=$TMP/u.nemo dtype=fp8" "export-hf model=$TMP/l.nemo" \
  "import-hf $REF/gpt2 out=$TMP/u.nemo make_vocab_size_divisible_by=0" "export-hf model=$TMP/l.nemo out=$TMP/u bogus=1"; do
  rc=0
  # shellcheck disable=SC2086
  "$NEMOC" llm $args >/dev/null 2>&1 || rc=$?
  [ "$rc" = 2 ] || fail "'$args': exit $rc, wanted 2"
done
"$NEMOC" llm import-hf --help | grep -q "make_vocab_size_divisible_by" || fail "import-hf --help"
"$NEMOC" llm export-hf --help | grep -q "vocab_size" || fail "export-hf --help"
echo "llm_hf_convert: ok"
