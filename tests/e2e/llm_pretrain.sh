#!/usr/bin/env bash
# End-to-end: `nemoc llm pretrain` (megatron_gpt_pretraining.py) on Megatron
# data made by `nemoc llm preprocess`, then `nemoc llm generate` and
# `nemoc llm baseline`. A tiny GPT (tests/data/llm/tiny_gpt.yaml) trains for
# 60 steps on 4,000 KJV clauses: the validation loss must fall well below the
# uniform level (ln 1024 = 6.93, where it starts); the .nemo
# it writes reloads and samples the same ids twice with one seed (and from the
# .ckpt); a run resumed from its step-30 checkpoint logs the same losses as
# the straight run (exact resume). Llama-style keys (rmsnorm, fast-swiglu,
# rope, GQA, untied) train too. Bad input: unsupported keys and values,
# batch sizes that do not divide, data from another tokenizer, prompts
# longer than the context or outside the vocabulary: each a named error.
# Usage: llm_pretrain.sh /path/to/nemoc   (ctest passes it)
set -euo pipefail
NEMOC="${1:?usage: llm_pretrain.sh /path/to/nemoc}"
SRC="${NC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
SPM="$SRC/tests/ref/spm/bpe_v1024.model"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/nemoc-e2e-gpt.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export OMP_NUM_THREADS=2

awk '{ printf "{\"text\": \"%s\"}\n", $0 }' "$SRC/tests/data/text/sentences.txt" >"$TMP/in.jsonl"
"$NEMOC" llm preprocess --input "$TMP/in.jsonl" --output-prefix "$TMP/kjv" --tokenizer-library sentencepiece \
  --tokenizer-model "$SPM" --append-eod >/dev/null 2>&1 || fail "preprocess"
CONF=(--config-path "$SRC/tests/data/llm" --config-name tiny_gpt model.tokenizer.model="$SPM"
      "model.data.data_prefix=[$TMP/kjv_text_document]")

# ---- pretraining
"$NEMOC" llm pretrain "${CONF[@]}" exp_manager.exp_dir="$TMP/exp" trainer.log_every_n_steps=1 \
  +exp_manager.checkpoint_callback_params.every_n_train_steps=30 \
  exp_manager.checkpoint_callback_params.save_top_k=-1 >"$TMP/train.log" 2>&1 ||
  { cat "$TMP/train.log"; fail "pretrain"; }
last_val=$(grep -o "val_loss [0-9.]*" "$TMP/train.log" | tail -n 1 | cut -d' ' -f2)
first_loss=$(grep -o "step 1/60 loss [0-9.]*" "$TMP/train.log" | cut -d' ' -f4)
echo "tiny GPT: first training loss $first_loss, final val_loss $last_val"
awk -v v="$last_val" 'BEGIN { exit !(v < 6.1) }' || fail "val_loss $last_val is not below 6.1 after 60 steps"
grep -q "val_ppl" "$TMP/train.log" || fail "no validation perplexity logged"
grep -q "tok/s" "$TMP/train.log" || fail "no tokens/s in the progress line"
grep -q "runs as adamw" "$TMP/train.log" || fail "fused_adam should be reported as adamw"
"$NEMOC" llm baseline "${CONF[@]}" >"$TMP/base.txt" 2>/dev/null || fail "baseline"
uni=$(sed -n 's/unigram perplexity: //p' "$TMP/base.txt")
awk -v u="$uni" 'BEGIN { exit !(u > 100 && u < 1024) }' || fail "unigram perplexity $uni not in (100, 1024)"
NEMO=$(ls "$TMP"/exp/megatron_gpt/*/checkpoints/megatron_gpt.nemo)
LAST=$(ls "$TMP"/exp/megatron_gpt/*/checkpoints/*-last.ckpt | head -n 1)

# ---- generation: deterministic, the same from .nemo and .ckpt
G=(prompt_ids="5 17 42 9" print_ids=true top_k=20 seed=11 tokens_to_generate=12 end_strings=[])
"$NEMOC" llm generate model="$NEMO" "${G[@]}" >"$TMP/g1.txt" 2>"$TMP/g1.err" || { cat "$TMP/g1.err"; fail "generate"; }
"$NEMOC" llm generate model="$NEMO" "${G[@]}" >"$TMP/g2.txt" 2>/dev/null || fail "generate again"
"$NEMOC" llm generate model="$LAST" "${G[@]}" >"$TMP/g3.txt" 2>/dev/null || fail "generate from .ckpt"
cmp -s "$TMP/g1.txt" "$TMP/g2.txt" || fail "seeded sampling differs between two runs"
[ "$(wc -w <"$TMP/g1.txt")" -ge 3 ] || fail "the continuation has fewer than 3 ids"
cmp -s "$TMP/g1.txt" "$TMP/g3.txt" || fail "the .nemo and the last .ckpt generate differently"
grep -q "generated .* tok/s" "$TMP/g1.err" || fail "no speed line"
"$NEMOC" llm generate model="$NEMO" "${G[@]}" precision=bf16 >"$TMP/g4.txt" 2>/dev/null || fail "generate in bf16"
[ "$(wc -w <"$TMP/g4.txt")" -ge 1 ] || fail "bf16 generation gave no ids"
"$NEMOC" llm generate model="$NEMO" 'prompts=["and the lord said","in the beginning"]' top_k=5 seed=3 \
  tokens_to_generate=8 >"$TMP/batch.txt" 2>/dev/null || fail "batched text prompts"
[ "$(grep -c . "$TMP/batch.txt")" -ge 2 ] && grep -q "^and the lord said" "$TMP/batch.txt" || fail "batched output"

# ---- exact resume from the step-30 checkpoint
CK30=$(ls "$TMP"/exp/megatron_gpt/*/checkpoints/*step=30*.ckpt | grep -v last | head -n 1)
[ -n "$CK30" ] || { ls "$TMP"/exp/megatron_gpt/*/checkpoints/; fail "no step-30 checkpoint"; }
"$NEMOC" llm pretrain "${CONF[@]}" exp_manager.exp_dir="$TMP/exp2" trainer.log_every_n_steps=1 \
  +exp_manager.resume_from_checkpoint="$CK30" >"$TMP/resume.log" 2>&1 || { cat "$TMP/resume.log"; fail "resume"; }
grep -o "step [0-9]*/60 loss [0-9.]*" "$TMP/train.log" | awk '$2+0 > 30' >"$TMP/a.txt"
grep -o "step [0-9]*/60 loss [0-9.]*" "$TMP/resume.log" >"$TMP/b.txt"
[ "$(wc -l <"$TMP/b.txt")" -eq 30 ] || fail "the resumed run logged $(wc -l <"$TMP/b.txt") steps, not 30"
cmp -s "$TMP/a.txt" "$TMP/b.txt" || { diff "$TMP/a.txt" "$TMP/b.txt" | head; fail "resumed losses differ"; }
echo "resume from step 30: steps 31-60 identical"

# ---- Llama-style: rmsnorm, fast-swiglu, rope, GQA, no bias, untied, bf16-mixed
"$NEMOC" llm pretrain "${CONF[@]}" exp_manager.exp_dir="$TMP/exp3" model.normalization=rmsnorm \
  model.activation=fast-swiglu model.position_embedding_type=rope model.num_query_groups=2 model.bias=false \
  model.share_embeddings_and_output_weights=false trainer.precision=bf16-mixed \
  >"$TMP/llama.log" 2>&1 || { cat "$TMP/llama.log"; fail "llama-style pretrain"; }
lv=$(grep -o "val_loss [0-9.]*" "$TMP/llama.log" | tail -n 1 | cut -d' ' -f2)
awk -v v="$lv" 'BEGIN { exit !(v < 6.2) }' || fail "llama-style val_loss $lv is not below 6.2"
echo "llama-style GPT: val_loss $lv after 60 bf16 steps"

# ---- activation checkpointing recomputes the same numbers (dropout 0.1 included)
CK=(trainer.max_steps=20 trainer.log_every_n_steps=1 trainer.val_check_interval=20)
for g in none "full +model.activations_checkpoint_method=uniform +model.activations_checkpoint_num_layers=1" \
         "full +model.activations_checkpoint_method=block +model.activations_checkpoint_num_layers=1" selective; do
  read -r -a extra <<<"$g"
  gran=${extra[0]}; extra=("${extra[@]:1}")
  [ "$gran" = none ] && set_gran=() || set_gran=(+model.activations_checkpoint_granularity="$gran")
  "$NEMOC" llm pretrain "${CONF[@]}" "${CK[@]}" "${set_gran[@]}" "${extra[@]}" exp_manager.exp_dir="$TMP/ck" \
    >"$TMP/ck.log" 2>&1 || { cat "$TMP/ck.log"; fail "checkpointing $g"; }
  grep -o "step [0-9]*/20 loss [0-9.]*\|val_loss [0-9.]*" "$TMP/ck.log" >"$TMP/ck_$gran.txt"
  [ "$gran" = none ] && cp "$TMP/ck_none.txt" "$TMP/ck_ref.txt"
  cmp -s "$TMP/ck_ref.txt" "$TMP/ck_$gran.txt" || fail "activation checkpointing ($g) changed the losses"
done
echo "activation checkpointing (full uniform/block, selective): identical losses"

# ---- data parallel: 2 ranks x micro batch 4 = one process accumulating 2
# micro batches (MegatronPretrainingSampler order): the same validation losses
if command -v mpirun >/dev/null; then
  DP=(model.hidden_dropout=0.0 trainer.max_steps=30 trainer.val_check_interval=15)
  "$NEMOC" llm pretrain "${CONF[@]}" "${DP[@]}" exp_manager.exp_dir="$TMP/dp1" >"$TMP/dp1.log" 2>&1 ||
    { cat "$TMP/dp1.log"; fail "single-process run"; }
  # OpenMPI's own allocations are reported as leaks under ASan (as in comm_mpi.sh)
  MPIRUN=(mpirun --oversubscribe -x ASAN_OPTIONS -x OMP_NUM_THREADS)
  [ "$(id -u)" -eq 0 ] && MPIRUN+=(--allow-run-as-root)
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" OMP_NUM_THREADS=1 \
    "${MPIRUN[@]}" -np 2 "$NEMOC" llm pretrain "${CONF[@]}" "${DP[@]}" \
    trainer.devices=2 exp_manager.exp_dir="$TMP/dp2" >"$TMP/dp2.log" 2>&1 || { cat "$TMP/dp2.log"; fail "mpirun -np 2"; }
  grep -o "val_loss [0-9.]*" "$TMP/dp1.log" >"$TMP/v1.txt"
  grep -o "val_loss [0-9.]*" "$TMP/dp2.log" >"$TMP/v2.txt"
  [ "$(wc -l <"$TMP/v1.txt")" -eq 2 ] && cmp -s "$TMP/v1.txt" "$TMP/v2.txt" ||
    { paste "$TMP/v1.txt" "$TMP/v2.txt"; fail "2 ranks and 1 process validate differently"; }
  echo "data parallel: 2 ranks give the single process's validation losses ($(tr '\n' ' ' <"$TMP/v2.txt"))"
fi

# ---- bad input: named errors, exit 1
expect_err() { # what, pattern, command...
  local what=$1 pat=$2; shift 2
  if "$@" >"$TMP/err.log" 2>&1; then fail "$what: accepted"; fi
  grep -q -- "$pat" "$TMP/err.log" || { cat "$TMP/err.log"; fail "$what: no '$pat' in the message"; }
}
P=("$NEMOC" llm pretrain "${CONF[@]}" exp_manager.exp_dir="$TMP/bad")
expect_err "unknown activation" "model.activation" "${P[@]}" model.activation=gelu2
expect_err "unknown normalization" "model.normalization" "${P[@]}" model.normalization=batchnorm
expect_err "ALiBi" "model.position_embedding_type" "${P[@]}" model.position_embedding_type=alibi
expect_err "tensor parallel" "model.tensor_model_parallel_size" "${P[@]}" model.tensor_model_parallel_size=2
expect_err "global batch" "model.global_batch_size" "${P[@]}" model.global_batch_size=6
expect_err "accumulate" "trainer.accumulate_grad_batches" "${P[@]}" trainer.accumulate_grad_batches=2
expect_err "heads/groups" "model.num_query_groups" "${P[@]}" model.num_query_groups=3
expect_err "missing data" "nope_text_document" "${P[@]}" "model.data.data_prefix=[$TMP/nope_text_document]"
expect_err "other tokenizer" "outside the model's vocabulary" "${P[@]}" ~model.tokenizer +model.override_vocab_size=100
expect_err "checkpointing method" "activations_checkpoint_method" "${P[@]}" +model.activations_checkpoint_granularity=full
expect_err "checkpointing granularity" "activations_checkpoint_granularity" "${P[@]}" +model.activations_checkpoint_granularity=most
expect_err "long prompt" "exceeds the model's context" "$NEMOC" llm generate model="$NEMO" \
  prompt_ids="$(seq -s ' ' 1 70)" print_ids=true
expect_err "id outside the vocabulary" "outside the vocabulary" "$NEMOC" llm generate model="$NEMO" prompt_ids="5 4000"
expect_err "not a language model" "needs a language model\|is a " "$NEMOC" llm generate \
  model="$SRC/tests/ref/nemo_models/conformer_ctc_char.nemo" prompt_ids="1 2"
echo "llm_pretrain: all checks passed"
