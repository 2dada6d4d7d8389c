#!/usr/bin/env bash
# End to end: a FastConformer hybrid TDT-CTC (EncDecHybridRNNTCTCBPEModel)
# from examples/asr/conf/fastconformer/hybrid_transducer_ctc/
# fastconformer_hybrid_tdt_ctc_bpe_cpu_small.yaml, shrunk, on 24 synthesized
# utterances with a small SentencePiece BPE tokenizer: the class is picked from
# model.joint + model.aux_ctc, ~100 steps (6 s) make the combined loss fall 2x, val_wer
# and val_wer_ctc are logged, a .nemo is written, and `nemoc asr transcribe`
# decodes it with decoder_type=rnnt (the default) and decoder_type=ctc.
set -euo pipefail
NEMOC=$1
ROOT=${NC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
W=$(mktemp -d "${TMPDIR:-/tmp}/nemoc_e2e_hybrid.XXXXXX")
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# shellcheck source=lib/transducer.sh
. "$ROOT/tests/e2e/lib/transducer.sh"

tiny_data
tiny_overrides

"$NEMOC" asr train --config-path "$ROOT/examples/asr/conf/fastconformer/hybrid_transducer_ctc" \
    --config-name fastconformer_hybrid_tdt_ctc_bpe_cpu_small "${TINY[@]}" \
    model.encoder.subsampling_conv_channels=48 \
    trainer.max_steps=${E2E_STEPS:-100} \
    exp_manager.exp_dir="$W/exp" >"$W/train.log" 2>&1 || { cat "$W/train.log"; fail "training"; }
if [ -n "${E2E_VERBOSE:-}" ]; then cat "$W/train.log"; fi

grep -q "^model: nemo.collections.asr.models.hybrid_rnnt_ctc_bpe_models.EncDecHybridRNNTCTCBPEModel" "$W/train.log" ||
    fail "a config with model.joint, model.aux_ctc and model.tokenizer should build EncDecHybridRNNTCTCBPEModel"
METRICS=$(ls "$W"/exp/*/*/metrics.jsonl)
# mean of the first and of the last 5 logged losses (single steps are noisy)
loss_fell_2x "$METRICS"
grep -q '"val_wer"' "$METRICS" || fail "no val_wer logged"
grep -q '"val_wer_ctc"' "$METRICS" || fail "no val_wer_ctc logged"
grep -q '"val_loss"' "$METRICS" || fail "no val_loss logged"
ls "$W"/exp/*/*/checkpoints/*.nemo >/dev/null 2>&1 || fail "no .nemo written"
NEMO=$(ls "$W"/exp/*/*/checkpoints/*.nemo | head -n1)
CKPT=$(ls "$W"/exp/*/*/checkpoints/*-last.ckpt | head -n1)
N=$(wc -l <"$W/data/validation_manifest.json")
for dt in rnnt ctc; do
    "$NEMOC" asr transcribe model_path="$NEMO" dataset_manifest="$W/data/validation_manifest.json" \
        output_filename="$W/$dt.json" decoder_type=$dt >"$W/$dt.log" 2>&1 ||
        { cat "$W/$dt.log"; fail "transcribe decoder_type=$dt"; }
    [ "$(grep -c '"pred_text"' "$W/$dt.json")" -eq "$N" ] || fail "decoder_type=$dt: not one pred_text per utterance"
done
# The default is the transducer (NeMo's cur_decoder 'rnnt'); the .ckpt decodes as the .nemo.
"$NEMOC" asr transcribe model_path="$CKPT" dataset_manifest="$W/data/validation_manifest.json" \
    output_filename="$W/default.json" batch_size=1 >"$W/default.log" 2>&1 || { cat "$W/default.log"; fail "transcribe (.ckpt)"; }
cmp -s <(grep -o '"pred_text":"[^"]*"' "$W/rnnt.json") <(grep -o '"pred_text":"[^"]*"' "$W/default.json") ||
    fail "the default decoder is not the transducer (or .nemo and .ckpt differ)"
# The CTC head has the CTC decoding options (timestamps); the transducer refuses them.
"$NEMOC" asr transcribe model_path="$NEMO" dataset_manifest="$W/data/validation_manifest.json" \
    output_filename="$W/ts.json" decoder_type=ctc timestamps=true >"$W/ts.log" 2>&1 || { cat "$W/ts.log"; fail "ctc timestamps"; }
grep -q '"timestamp"' "$W/ts.json" || fail "decoder_type=ctc timestamps=true wrote no timestamps"
echo "pred_text rnnt: $(grep -o '"pred_text":"[^"]*"' "$W/rnnt.json" | head -n2 | tr '\n' ' ')"
echo "pred_text ctc:  $(grep -o '"pred_text":"[^"]*"' "$W/ctc.json" | head -n2 | tr '\n' ' ')"
# eval: both heads score (WER of the chosen decoder)
"$NEMOC" asr eval model_path="$NEMO" dataset_manifest="$W/data/validation_manifest.json" \
    output_filename="$W/ev.json" decoder_type=ctc >"$W/ev.log" 2>&1 || { cat "$W/ev.log"; fail "eval decoder_type=ctc"; }
grep -q "^wer: " "$W/ev.log" || { cat "$W/ev.log"; fail "eval printed no wer"; }
# Fine-tuning on a new vocabulary (speech_to_text_finetune.py): the shapes that follow the
# vocabulary (decoder.prediction.embed, joint.joint_net's output layer, ctc_decoder.*: 5 tensors)
# start fresh, every other tensor comes from the .nemo.
"$NEMOC" tokenizer train --manifest "$W/data/train_manifest.json" --data_root "$W/tok2" \
    --vocab_size 24 --tokenizer spe --spe_type bpe >/dev/null
TOK=$(ls -d "$W"/tok2/tokenizer_spe_bpe_v*)
tiny_overrides
"$NEMOC" asr train --config-path "$ROOT/examples/asr/conf/fastconformer/hybrid_transducer_ctc" \
    --config-name fastconformer_hybrid_tdt_ctc_bpe_cpu_small "${TINY[@]}" \
    model.encoder.subsampling_conv_channels=48 trainer.max_steps=2 \
    exp_manager.exp_dir="$W/exp2" +init_from_nemo_model="$NEMO" >"$W/ft.log" 2>&1 || { cat "$W/ft.log"; fail "fine-tuning"; }
read -r got total < <(sed -n 's/^initialised \([0-9]*\) of \([0-9]*\) tensors.*/\1 \2/p' "$W/ft.log")
[ -n "${got:-}" ] && [ "$got" -eq $((total - 5)) ] || { cat "$W/ft.log"; fail "fine-tuning initialised ${got:-?} of ${total:-?} tensors, expected all but 5"; }
set +e
out=$("$NEMOC" asr transcribe model_path="$NEMO" dataset_manifest="$W/data/validation_manifest.json" \
    output_filename="$W/bad.json" decoder_type=attention 2>&1)
rc=$?
set -e
[ $rc -ne 0 ] && grep -q "decoder_type: 'ctc' or 'rnnt', not 'attention'" <<<"$out" || fail "decoder_type=attention not refused: $out"
echo "OK"
