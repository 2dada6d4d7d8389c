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
# shellcheck source=lib/transducer.sh
. "$ROOT/tests/e2e/lib/transducer.sh"

tiny_data
tiny_overrides

"$NEMOC" asr train --config-path "$ROOT/examples/asr/conf/conformer/multiblank" \
    --config-name conformer_multiblank_transducer_bpe_cpu_small "${TINY[@]}" \
    model.encoder.conv_kernel_size=7 \
    trainer.max_steps=${E2E_STEPS:-120} \
    exp_manager.exp_dir="$W/exp" >"$W/train.log" 2>&1 || { cat "$W/train.log"; fail "training"; }
if [ -n "${E2E_VERBOSE:-}" ]; then cat "$W/train.log"; fi

METRICS=$(ls "$W"/exp/*/*/metrics.jsonl)
loss_fell_2x "$METRICS"
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
