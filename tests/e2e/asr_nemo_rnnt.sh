#!/usr/bin/env bash
# End to end on NeMo-written transducer .nemo files (tests/ref/gen_nemo_rnnt.py:
# tiny EncDecRNNTModel and TDT EncDecRNNTBPEModel made and trained with NeMo's
# own modules, with NeMo's greedy transcripts as the manifests' "text"):
#   `nemoc asr transcribe` (manifest and audio_dir) gives NeMo's exact text;
#   `nemoc asr eval` reports WER 0 against it;
#   `nemoc asr train ... +init_from_nemo_model=` fine-tunes from each for a few
#   steps with every weight loaded, and the written .nemo transcribes again.
set -euo pipefail
NEMOC=$1
ROOT=${NC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
REF="$ROOT/tests/ref/nemo_rnnt"
W=$(mktemp -d "${TMPDIR:-/tmp}/nemoc_e2e_nemo_rnnt.XXXXXX")
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

for name in rnnt_char tdt_bpe; do
    NEMO="$REF/$name.nemo"
    M="$W/$name.manifest.json"
    sed "s|\"audio/|\"$REF/audio/|" "$REF/$name.manifest.json" >"$M"
    n=$(wc -l <"$M")

    "$NEMOC" asr transcribe model_path="$NEMO" dataset_manifest="$M" output_filename="$W/$name.t.json" \
        >"$W/t.log" 2>&1 || { cat "$W/t.log"; fail "$name: transcribe"; }
    # every line: pred_text == text (NeMo's greedy transcript)
    bad=$(grep -vc '"text":\("[^"]*"\),"pred_text":\1}' "$W/$name.t.json" || true)
    [ "$bad" -eq 0 ] && [ "$(wc -l <"$W/$name.t.json")" -eq "$n" ] ||
        { cat "$W/$name.t.json"; fail "$name: transcripts differ from NeMo's greedy text"; }

    "$NEMOC" asr transcribe model_path="$NEMO" audio_dir="$REF/audio" output_filename="$W/$name.d.json" \
        batch_size=1 >"$W/t.log" 2>&1 || { cat "$W/t.log"; fail "$name: transcribe audio_dir"; }
    cmp -s <(grep -o '"pred_text":"[^"]*"' "$W/$name.t.json") <(grep -o '"pred_text":"[^"]*"' "$W/$name.d.json") ||
        fail "$name: audio_dir (batch 1) and manifest transcripts differ"

    "$NEMOC" asr eval model_path="$NEMO" dataset_manifest="$M" output_filename="$W/$name.e.json" \
        >"$W/e.log" 2>&1 || { cat "$W/e.log"; fail "$name: eval"; }
    wer=$(sed -n 's/^wer: //p' "$W/e.log")
    echo "$name: $n utterances, eval WER against NeMo's text: $wer"
    [ "$wer" = "0.0000" ] || { cat "$W/e.log"; fail "$name: WER $wer, not 0"; }

    # Fine-tuning: the .nemo's own model section with data, trainer and exp_manager.
    D="$W/$name.ft"
    mkdir -p "$D/tok"
    tar -xf "$NEMO" -C "$D" ./model_config.yaml
    TOK=()
    if tar -tf "$NEMO" | grep -q '_tokenizer.model$'; then
        tar -xOf "$NEMO" "$(tar -tf "$NEMO" | grep '_tokenizer.model$')" >"$D/tok/tokenizer.model"
        TOK=(model.tokenizer.dir="$D/tok" "~model.tokenizer.model_path")
    fi
    {
        echo "name: ft_$name"
        echo "model:"
        sed 's/^/  /' "$D/model_config.yaml"
        echo "  train_ds: {manifest_filepath: '$M', sample_rate: 16000, batch_size: 2, shuffle: true, num_workers: 0}"
        echo "  validation_ds: {manifest_filepath: '$M', sample_rate: 16000, batch_size: 4, shuffle: false,"
        echo "                  num_workers: 0}"
        echo "trainer: {devices: 1, max_epochs: -1, max_steps: 4, val_check_interval: 4, log_every_n_steps: 1,"
        echo "          enable_progress_bar: false, num_sanity_val_steps: 0, gradient_clip_val: 1.0}"
        echo "exp_manager: {exp_dir: '$D/exp', name: ft_$name,"
        echo "              checkpoint_callback_params: {monitor: val_wer, mode: min, save_top_k: 1,"
        echo "                                           always_save_nemo: true}}"
    } >"$D/ft.yaml"
    "$NEMOC" asr train --config-path "$D" --config-name ft "${TOK[@]}" model.optim.lr=1e-4 \
        +init_from_nemo_model="$NEMO" >"$D/train.log" 2>&1 || { cat "$D/train.log"; fail "$name: fine-tuning"; }
    init=$(grep -o 'initialised [0-9]* of [0-9]* tensors' "$D/train.log" || true)
    echo "$name: $init"
    read -r a b <<<"$(sed 's/initialised \([0-9]*\) of \([0-9]*\).*/\1 \2/' <<<"$init")"
    [ -n "$init" ] && [ "$a" -eq "$b" ] || { cat "$D/train.log"; fail "$name: not every weight loaded from the .nemo"; }
    METRICS=$(ls "$D"/exp/*/*/metrics.jsonl)
    grep -q '"val_wer"' "$METRICS" || fail "$name: no val_wer after fine-tuning"
    FT=$(ls "$D"/exp/*/*/checkpoints/*.nemo | head -n1)
    "$NEMOC" asr transcribe model_path="$FT" dataset_manifest="$M" output_filename="$D/t.json" \
        >"$D/t.log" 2>&1 || { cat "$D/t.log"; fail "$name: transcribe the fine-tuned .nemo"; }
    echo "$name fine-tuned 4 steps: $(grep -o '"val_wer": [0-9.e+-]*' "$METRICS" | tail -n1)"
done
echo "OK"
