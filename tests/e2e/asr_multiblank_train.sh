#!/usr/bin/env bash
# End to end: a multi-blank Conformer-Transducer (EncDecRNNTBPEModel with
# loss_name multiblank_rnnt) from
# examples/asr/conf/conformer/multiblank/conformer_multiblank_transducer_bpe_cpu_small.yaml,
# shrunk, on 24 synthesized utterances: 120 steps (~10 s) make the training loss fall
# by at least 2x, the .nemo keeps the multi-blank config (3 extra joint
# outputs), and `nemoc asr transcribe` decodes it with batched multi-blank
# greedy decoding (the config's greedy_batch), the same text from the .nemo in
# one batch as from the last checkpoint one utterance at a time.
set -euo pipefail
NEMOC=$1
ROOT=${NC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
W=$(mktemp -d "${TMPDIR:-/tmp}/nemoc_e2e_mb.XXXXXX")
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$NEMOC" data synth out_dir="$W/data" text_set=digits letters=false num_utts=24 seed=7 \
    num_validation=4 num_test=0 >/dev/null
"$NEMOC" tokenizer train --manifest "$W/data/train_manifest.json" --data_root "$W/tok" \
    --vocab_size 32 --tokenizer spe --spe_type bpe >/dev/null
TOK=$(ls -d "$W"/tok/tokenizer_spe_bpe_v*)

"$NEMOC" asr train --config-path "$ROOT/examples/asr/conf/conformer/multiblank" \
    --config-name conformer_multiblank_transducer_bpe_cpu_small model.tokenizer.dir="$TOK" \
    model.train_ds.manifest_filepath="$W/data/train_manifest.json" \
    model.validation_ds.manifest_filepath="$W/data/validation_manifest.json" \
    model.train_ds.num_workers=0 model.validation_ds.num_workers=0 \
    model.encoder.d_model=48 model.encoder.n_layers=2 model.encoder.conv_kernel_size=7 \
    model.model_defaults.pred_hidden=48 model.model_defaults.joint_hidden=48 \
    model.encoder.dropout=0.0 model.encoder.dropout_pre_encoder=0.0 model.encoder.dropout_att=0.0 \
    model.decoder.prednet.dropout=0.0 model.joint.jointnet.dropout=0.0 \
    model.spec_augment.freq_masks=0 model.spec_augment.time_masks=0 \
    model.train_ds.batch_size=4 model.optim.lr=3e-3 model.optim.sched.warmup_steps=5 \
    trainer.max_epochs=-1 trainer.max_steps=${E2E_STEPS:-120} trainer.val_check_interval=20 \
    trainer.log_every_n_steps=1 trainer.enable_progress_bar=false \
    exp_manager.exp_dir="$W/exp" >"$W/train.log" 2>&1 || { cat "$W/train.log"; fail "training"; }
if [ -n "${E2E_VERBOSE:-}" ]; then cat "$W/train.log"; fi

METRICS=$(ls "$W"/exp/*/*/metrics.jsonl)
losses=$(sed -n 's/.*"train_loss": \([0-9.e+-]*\).*/\1/p' "$METRICS")
first=$(awk 'NR <= 5 {s += $1; n++} END {print s / n}' <<<"$losses")
last=$(tail -n5 <<<"$losses" | awk '{s += $1; n++} END {print s / n}')
echo "multi-blank train loss (mean of 5 steps) $first -> $last"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a / 2) }' || fail "loss did not fall 2x: $first -> $last"
grep -q '"val_wer"' "$METRICS" || fail "no val_wer logged"
NEMO=$(ls "$W"/exp/*/*/checkpoints/*.nemo | head -n1)
# the .nemo's config keeps the loss and the joint's extra outputs
mkdir "$W/x" && tar -xf "$NEMO" -C "$W/x"
CFG=$(find "$W/x" -name model_config.yaml | head -n1)
grep -q "multiblank_rnnt" "$CFG" || fail ".nemo config lost loss_name multiblank_rnnt"
grep -q "num_extra_outputs: 3" "$CFG" || fail ".nemo config lost joint.num_extra_outputs"
"$NEMOC" asr transcribe model_path="$NEMO" dataset_manifest="$W/data/validation_manifest.json" \
    output_filename="$W/t1.json" >"$W/t1.log" 2>&1 || { cat "$W/t1.log"; fail "transcribe (.nemo)"; }
CKPT=$(ls "$W"/exp/*/*/checkpoints/*-last.ckpt | head -n1)
"$NEMOC" asr transcribe model_path="$CKPT" dataset_manifest="$W/data/validation_manifest.json" \
    output_filename="$W/t2.json" batch_size=1 >"$W/t2.log" 2>&1 || { cat "$W/t2.log"; fail "transcribe (.ckpt)"; }
[ "$(grep -c '"pred_text"' "$W/t1.json")" -eq "$(wc -l <"$W/data/validation_manifest.json")" ] ||
    fail "not one pred_text per utterance"
cmp -s <(grep -o '"pred_text":"[^"]*"' "$W/t1.json") <(grep -o '"pred_text":"[^"]*"' "$W/t2.json") ||
    fail ".nemo (batch 32) and .ckpt (batch 1) transcripts differ"
grep -o '"pred_text":"[^"]*"' "$W/t1.json" | head -n2
echo "OK"
