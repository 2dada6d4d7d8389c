#!/usr/bin/env bash
# End to end: a Conformer-TDT (EncDecRNNTBPEModel with loss_name tdt) from
# examples/asr/conf/conformer/tdt/conformer_tdt_bpe_cpu_small.yaml, shrunk,
# with NeMo's fused joint + loss (joint.fuse_loss_wer, fused_batch_size 2 of a
# batch of 4, so every step runs two sub-batches) on 24 synthesized
# utterances: 80 steps make the training loss fall by at least 2x; the same
# first step without fusing gives the same loss (dropout off); bad
# fused_batch_size values are refused by key; the demo's hybrid TDT-CTC
# config trains.
set -euo pipefail
NEMOC=$1
ROOT=${NC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
W=$(mktemp -d "${TMPDIR:-/tmp}/nemoc_e2e_tdt.XXXXXX")
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$NEMOC" data synth out_dir="$W/data" text_set=digits letters=false num_utts=24 seed=7 \
    num_validation=4 num_test=0 >/dev/null
"$NEMOC" tokenizer train --manifest "$W/data/train_manifest.json" --data_root "$W/tok" \
    --vocab_size 32 --tokenizer spe --spe_type bpe >/dev/null
TOK=$(ls -d "$W"/tok/tokenizer_spe_bpe_v*)

CONF_PATH="$ROOT/examples/asr/conf/conformer/tdt" CONF_NAME=conformer_tdt_bpe_cpu_small
train() { # OUT_DIR STEPS extra overrides...
    local out=$1 steps=$2
    shift 2
    "$NEMOC" asr train --config-path "$CONF_PATH" \
        --config-name "$CONF_NAME" model.tokenizer.dir="$TOK" \
        model.train_ds.manifest_filepath="$W/data/train_manifest.json" \
        model.validation_ds.manifest_filepath="$W/data/validation_manifest.json" \
        model.train_ds.num_workers=0 model.validation_ds.num_workers=0 model.train_ds.shuffle=false \
        model.encoder.d_model=48 model.encoder.n_layers=2 model.encoder.conv_kernel_size=7 \
        model.model_defaults.pred_hidden=48 model.model_defaults.joint_hidden=48 \
        model.encoder.dropout=0.0 model.encoder.dropout_pre_encoder=0.0 model.encoder.dropout_att=0.0 \
        model.decoder.prednet.dropout=0.0 model.joint.jointnet.dropout=0.0 \
        model.spec_augment.freq_masks=0 model.spec_augment.time_masks=0 model.loss.tdt_kwargs.omega=0.0 \
        model.train_ds.batch_size=4 model.joint.fused_batch_size=2 model.optim.lr=3e-3 \
        model.optim.sched.warmup_steps=5 trainer.max_epochs=-1 trainer.max_steps="$steps" \
        trainer.val_check_interval=20 trainer.log_every_n_steps=1 trainer.enable_progress_bar=false \
        exp_manager.exp_dir="$out" "$@"
}

train "$W/exp" "${E2E_STEPS:-80}" >"$W/train.log" 2>&1 || { cat "$W/train.log"; fail "training"; }
METRICS=$(ls "$W"/exp/*/*/metrics.jsonl)
losses=$(sed -n 's/.*"train_loss": \([0-9.e+-]*\).*/\1/p' "$METRICS")
first=$(awk 'NR <= 5 {s += $1; n++} END {print s / n}' <<<"$losses")
last=$(tail -n5 <<<"$losses" | awk '{s += $1; n++} END {print s / n}')
echo "train loss (mean of 5 steps) $first -> $last"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a / 2) }' || fail "loss did not fall 2x: $first -> $last"
grep -q '"val_wer"' "$METRICS" || fail "no val_wer logged"

# The fused and the whole-batch joint give the same first-step loss.
train "$W/exp1" 1 >"$W/f1.log" 2>&1 || { cat "$W/f1.log"; fail "fused 1 step"; }
train "$W/exp2" 1 model.joint.fuse_loss_wer=false >"$W/u1.log" 2>&1 || { cat "$W/u1.log"; fail "unfused 1 step"; }
l1=$(sed -n 's/.*"train_loss": \([0-9.e+-]*\).*/\1/p' "$(ls "$W"/exp1/*/*/metrics.jsonl)" | head -n1)
l2=$(sed -n 's/.*"train_loss": \([0-9.e+-]*\).*/\1/p' "$(ls "$W"/exp2/*/*/metrics.jsonl)" | head -n1)
echo "first-step loss fused $l1, unfused $l2"
awk -v a="$l1" -v b="$l2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d <= 1e-4 * b) }' ||
    fail "fused and unfused first-step losses differ: $l1 vs $l2"

NEMO=$(ls "$W"/exp/*/*/checkpoints/*.nemo | head -n1)
"$NEMOC" asr transcribe model_path="$NEMO" dataset_manifest="$W/data/validation_manifest.json" \
    output_filename="$W/t1.json" >"$W/t1.log" 2>&1 || { cat "$W/t1.log"; fail "transcribe (.nemo)"; }
[ "$(grep -c '"pred_text"' "$W/t1.json")" -eq "$(wc -l <"$W/data/validation_manifest.json")" ] ||
    fail "not one pred_text per utterance"

for bad in "model.joint.fused_batch_size=0" "model.joint.fused_batch_size=null"; do
    set +e
    out=$(train "$W/exp3" 1 "$bad" 2>&1)
    rc=$?
    set -e
    [ $rc -ne 0 ] && grep -q "model.joint.fused_batch_size" <<<"$out" || fail "$bad not refused by key: $out"
done

# The demo's hybrid TDT-CTC config (make demo-tdt) builds and trains a step.
CONF_PATH="$ROOT/examples/asr/conf/conformer/hybrid_transducer_ctc" CONF_NAME=conformer_hybrid_tdt_ctc_bpe_cpu_small
train "$W/exp4" 2 >"$W/h.log" 2>&1 || { cat "$W/h.log"; fail "hybrid TDT-CTC config"; }
grep -q "^model: nemo.collections.asr.models.hybrid_rnnt_ctc_bpe_models.EncDecHybridRNNTCTCBPEModel" "$W/h.log" ||
    fail "conformer_hybrid_tdt_ctc_bpe_cpu_small should build EncDecHybridRNNTCTCBPEModel"
echo "OK"
