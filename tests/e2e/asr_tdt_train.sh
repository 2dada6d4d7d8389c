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
# shellcheck source=lib/transducer.sh
. "$ROOT/tests/e2e/lib/transducer.sh"

tiny_data
tiny_overrides

CONF_PATH="$ROOT/examples/asr/conf/conformer/tdt" CONF_NAME=conformer_tdt_bpe_cpu_small
train() { # OUT_DIR STEPS extra overrides...
    local out=$1 steps=$2
    shift 2
    "$NEMOC" asr train --config-path "$CONF_PATH" --config-name "$CONF_NAME" "${TINY[@]}" \
        model.train_ds.shuffle=false model.encoder.conv_kernel_size=7 model.loss.tdt_kwargs.omega=0.0 \
        model.joint.fused_batch_size=2 trainer.max_steps="$steps" \
        exp_manager.exp_dir="$out" "$@"
}

train "$W/exp" "${E2E_STEPS:-80}" >"$W/train.log" 2>&1 || { cat "$W/train.log"; fail "training"; }
METRICS=$(ls "$W"/exp/*/*/metrics.jsonl)
loss_fell_2x "$METRICS"
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
# TDT word timestamps (token frame to frame + predicted duration, NeMo's
# _compute_offsets_tdt): one word entry per predicted word, offsets ordered;
# segment timestamps from them.
"$NEMOC" asr transcribe model_path="$NEMO" dataset_manifest="$W/data/validation_manifest.json" \
    output_filename="$W/t2.json" timestamps=true >"$W/t2.log" 2>&1 || { cat "$W/t2.log"; fail "transcribe timestamps=true"; }
while IFS= read -r line; do
    text=$(sed 's/.*"pred_text":"\([^"]*\)".*/\1/' <<<"$line")
    words=$(grep -o '"word":"[^"]*"' <<<"$line" | sed 's/"word":"\(.*\)"/\1/' | tr '\n' ' ' | sed 's/ $//')
    [ "$words" = "$text" ] || fail "timestamp words '$words' are not pred_text '$text'"
    # no '.', '?', '!' in this vocabulary: one segment, the whole text (NeMo's get_segment_offsets)
    segs=$(grep -o '"segment":"[^"]*"' <<<"$line" | sed 's/"segment":"\(.*\)"/\1/')
    [ "$segs" = "$text" ] || fail "segments '$segs' are not the one segment '$text'"
    sed 's/"segment":\[.*//' <<<"$line" | grep -o '"start_offset":[0-9]*,"end_offset":[0-9]*' | tr -c '0-9\n' ' ' |
        awk '{ if ($1 > $2 || $1 < prev) exit 1; prev = $1 }' || fail "TDT word offsets out of order: $line"
done <"$W/t2.json"
n_words=$(grep -o '"word":"' "$W/t2.json" | wc -l)
echo "TDT word timestamps: $n_words words"
[ "$n_words" -gt 0 ] || fail "no word timestamps at all (the check above saw nothing)"

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
