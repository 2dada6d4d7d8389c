#!/usr/bin/env bash
# `make demo-llm` (issue 18): pretrain a small Llama-style GPT on real English
# and generate from it, about 10 CPU-minutes on 2 cores.
#   1. corpus: the King James Version, one document per chapter (scripts/make_llm_corpus.sh);
#   2. a 4,096-piece byte-level BPE (GPT-2 style) trained on the training chapters only;
#   3. `nemoc llm preprocess` into Megatron's indexed dataset (.bin/.idx);
#   4. unigram and bigram perplexity of the validation chapters (`nemoc llm baseline`);
#   5. `nemoc llm pretrain` with examples/nlp/language_modeling/conf/megatron_gpt_cpu_demo.yaml
#      (600 steps of 16 x 256 tokens, bf16-mixed), validation perplexity every 100 steps;
#   6. `nemoc llm generate`: a continuation of a prompt from the trained .nemo.
set -euo pipefail
NEMOC=${1:-build/bin/nemoc}
OUT=${DEMO_OUT:-demo_llm_out}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CONF=(--config-path "$ROOT/examples/nlp/language_modeling/conf" --config-name megatron_gpt_cpu_demo)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
mkdir -p "$OUT"

echo "== 1/6 corpus: the King James Version, one document per chapter"
[ -s "$OUT/kjv.jsonl" ] || "$ROOT/scripts/make_llm_corpus.sh" "$OUT/kjv.jsonl"

# splits_string 96,2,2 over 1,189 chapters: the first 1,141 train, then 24
# validation and 24 test chapters (get_train_valid_test_split_, in order).
echo "== 2/6 a 4,096-piece byte-level BPE on the 1,141 training chapters"
head -n 1141 "$OUT/kjv.jsonl" >"$OUT/train_docs.jsonl"
rm -rf "$OUT/tok"
"$NEMOC" tokenizer train --manifest "$OUT/train_docs.jsonl" --data_root "$OUT/tok" --vocab_size 4096 \
    --tokenizer gpt2bpe --no_lower_case >/dev/null
TOK="$OUT/tok/tokenizer_gpt2bpe_v4096"

echo "== 3/6 Megatron indexed dataset"
"$NEMOC" llm preprocess --input "$OUT/kjv.jsonl" --output-prefix "$OUT/kjv" --tokenizer-library megatron \
    --tokenizer-type GPT2BPETokenizer --vocab-file "$TOK/vocab.json" --merge-file "$TOK/merges.txt" \
    --append-eod --workers 2 | tail -n 1
ARGS=(model.tokenizer.vocab_file="$TOK/vocab.json" model.tokenizer.merge_file="$TOK/merges.txt"
      "model.data.data_prefix=[$OUT/kjv_text_document]" model.data.splits_string=96,2,2)

echo "== 4/6 baselines on the validation chapters"
"$NEMOC" llm baseline "${CONF[@]}" "${ARGS[@]}" 2>/dev/null | tee "$OUT/baseline.txt"

echo "== 5/6 pretraining a 4M-parameter Llama-style GPT (600 steps, bf16-mixed)"
rm -rf "$OUT/exp"
TIMEFORMAT="training CPU time: %U s user + %S s system, %R s wall"
time {
    "$NEMOC" llm pretrain "${CONF[@]}" "${ARGS[@]}" exp_manager.exp_dir="$OUT/exp" 2>&1 |
        tee "$OUT/train.log" | grep -E "^(model|training|validation|finished|done)|step [0-9]*00/"
}
NEMO=$(ls "$OUT"/exp/megatron_gpt/*/checkpoints/megatron_gpt.nemo | head -n 1)

echo
echo "== 6/6 a continuation from $NEMO"
"$NEMOC" llm generate model="$NEMO" prompt="And God said unto Noah," tokens_to_generate=60 \
    temperature=0.8 top_k=40 top_p=1.0 repetition_penalty=1.0 seed=7 | tee "$OUT/generated.txt"

echo
echo "== validation perplexity (same tokens as the baselines)"
grep -o "validation at step [0-9]*.*val_ppl [0-9.]*" "$OUT/train.log" | sed 's/ (epoch [0-9]*)//'
grep perplexity "$OUT/baseline.txt"
