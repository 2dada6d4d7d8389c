#!/usr/bin/env bash
# End to end: a Conformer-Transducer (EncDecRNNTBPEModel) from
# examples/asr/conf/conformer/conformer_transducer_bpe_cpu_small.yaml, shrunk,
# on 24 synthesized utterances with a small SentencePiece BPE tokenizer:
# ~40 steps make the training loss fall by at least 2x, and checkpoints and
# the .nemo file are written; `nemoc asr transcribe` decodes greedily from both,
# beam search is not worse than greedy, and word timestamps are consistent.
set -euo pipefail
NEMOC=$1
ROOT=${NC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
W=$(mktemp -d "${TMPDIR:-/tmp}/nemoc_e2e_rnnt.XXXXXX")
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# shellcheck source=lib/transducer.sh
. "$ROOT/tests/e2e/lib/transducer.sh"

tiny_data
tiny_overrides

"$NEMOC" asr train --config-path "$ROOT/examples/asr/conf/conformer" \
    --config-name conformer_transducer_bpe_cpu_small "${TINY[@]}" \
    model.encoder.conv_kernel_size=7 \
    trainer.max_steps=${E2E_STEPS:-40} \
    exp_manager.exp_dir="$W/exp" >"$W/train.log" 2>&1 || { cat "$W/train.log"; fail "training"; }
if [ -n "${E2E_VERBOSE:-}" ]; then cat "$W/train.log"; fi

grep -q "^model: nemo.collections.asr.models.rnnt_bpe_models.EncDecRNNTBPEModel" "$W/train.log" ||
    fail "a config with model.joint and model.tokenizer should build EncDecRNNTBPEModel"
METRICS=$(ls "$W"/exp/*/*/metrics.jsonl)
# mean of the first and of the last 5 logged losses (single steps are noisy)
loss_fell_2x "$METRICS"
grep -q '"val_wer"' "$METRICS" || fail "no val_wer logged"
ls "$W"/exp/*/*/checkpoints/*-last.ckpt >/dev/null 2>&1 || fail "no last checkpoint"
ls "$W"/exp/*/*/checkpoints/*.nemo >/dev/null 2>&1 || fail "no .nemo written"
# Transcription through the CTC models' driver with greedy transducer decoding:
# the .nemo and the last checkpoint agree, and every utterance gets a line.
NEMO=$(ls "$W"/exp/*/*/checkpoints/*.nemo | head -n1)
CKPT=$(ls "$W"/exp/*/*/checkpoints/*-last.ckpt | head -n1)
"$NEMOC" asr transcribe model_path="$NEMO" dataset_manifest="$W/data/validation_manifest.json" \
    output_filename="$W/t1.json" >"$W/t1.log" 2>&1 || { cat "$W/t1.log"; fail "transcribe (.nemo)"; }
"$NEMOC" asr transcribe model_path="$CKPT" dataset_manifest="$W/data/validation_manifest.json" \
    output_filename="$W/t2.json" batch_size=1 >"$W/t2.log" 2>&1 || { cat "$W/t2.log"; fail "transcribe (.ckpt)"; }
[ "$(grep -c '"pred_text"' "$W/t1.json")" -eq "$(wc -l <"$W/data/validation_manifest.json")" ] ||
    fail "not one pred_text per utterance"
cmp -s <(grep -o '"pred_text":"[^"]*"' "$W/t1.json") <(grep -o '"pred_text":"[^"]*"' "$W/t2.json") ||
    fail ".nemo (batch 32) and .ckpt (batch 1) transcripts differ"

# Beam search (transcribe_speech.py's rnnt_decoding): its WER on all the
# utterances is not worse than greedy's by more than 0.05.
cat "$W/data/train_manifest.json" "$W/data/validation_manifest.json" >"$W/data/all.json"
"$NEMOC" asr eval model_path="$NEMO" dataset_manifest="$W/data/all.json" output_filename="$W/eg.json" \
    >"$W/eg.log" 2>&1 || { cat "$W/eg.log"; fail "eval (greedy)"; }
"$NEMOC" asr eval model_path="$NEMO" dataset_manifest="$W/data/all.json" output_filename="$W/eb.json" \
    rnnt_decoding.strategy=beam rnnt_decoding.beam.beam_size=4 >"$W/eb.log" 2>&1 ||
    { cat "$W/eb.log"; fail "eval (beam)"; }
wg=$(sed -n 's/^wer: //p' "$W/eg.log")
wb=$(sed -n 's/^wer: //p' "$W/eb.log")
echo "WER greedy $wg, beam (4) $wb"
awk -v g="$wg" -v b="$wb" 'BEGIN { exit !(g != "" && b != "" && b <= g + 0.05) }' ||
    fail "beam WER $wb worse than greedy $wg by more than 0.05"
# beam_size= is the same as rnnt_decoding.strategy=beam with that width
"$NEMOC" asr transcribe model_path="$CKPT" dataset_manifest="$W/data/all.json" output_filename="$W/tb.json" \
    beam_size=4 batch_size=5 >"$W/tb.log" 2>&1 || { cat "$W/tb.log"; fail "transcribe (beam_size=4)"; }
cmp -s <(grep -o '"pred_text":"[^"]*"' "$W/tb.json") <(grep -o '"pred_text":"[^"]*"' "$W/eb.json") ||
    fail "transcribe beam_size=4 and eval rnnt_decoding.strategy=beam disagree"

# Word timestamps (NeMo's RNN-T offsets: a token spans [frame, frame + 1)):
# per utterance the words are in order, each at least one frame long, and
# their text is pred_text; the same with beam search.
n_words=0
for dec in greedy_batch beam; do
    "$NEMOC" asr transcribe model_path="$NEMO" dataset_manifest="$W/data/all.json" output_filename="$W/ts.json" \
        timestamps=true rnnt_decoding.strategy=$dec >"$W/ts.log" 2>&1 || { cat "$W/ts.log"; fail "timestamps ($dec)"; }
    [ "$(grep -c '"timestamp":{"word":\[' "$W/ts.json")" -eq "$(wc -l <"$W/data/all.json")" ] || fail "no timestamp.word on every line ($dec)"
    while IFS= read -r line; do
        pred=$(grep -o '"pred_text":"[^"]*"' <<<"$line" | sed 's/"pred_text":"//; s/"$//') || :
        words=$(grep -o '"word":"[^"]*"' <<<"$line" | sed 's/"word":"//; s/"$//' | paste -sd' ' -) || :
        [ "$pred" = "$words" ] || fail "$dec: words '$words' are not pred_text '$pred'"
        { grep -o '"start_offset":[0-9]*,"end_offset":[0-9]*' <<<"$line" || :; } | tr -dc '0-9,\n' |
            awk -F, '{ if ($2 <= $1 || (NR > 1 && ($1 < ps || $1 < pe - 1))) bad = 1; ps = $1; pe = $2; n++ }
                     END { exit bad }' || fail "$dec: word offsets not in order: $line"
    done <"$W/ts.json"
    n=$(grep -o '"start_offset"' "$W/ts.json" | wc -l) || :
    echo "timestamps ($dec): $n words"
    n_words=$((n_words + n))
done
[ "$n_words" -gt 0 ] || fail "no word to check the timestamps of"
set +e
out=$("$NEMOC" asr transcribe model_path="$NEMO" dataset_manifest="$W/data/validation_manifest.json" \
    output_filename="$W/t3.json" logprobs=true 2>&1)
rc=$?
set -e
[ $rc -ne 0 ] && grep -q "logprobs=true: not for transducer models" <<<"$out" || fail "logprobs= not refused: $out"
echo "OK"
