#!/usr/bin/env bash
# A 2-hour recording in a manifest with ordinary utterances: `nemoc asr
# transcribe` does the short ones in batches and the long one in buffered
# chunks read from the file one at a time (never decoded whole), with word
# timestamps on the file's own time line. Memory stays far below what the
# decoded file alone would take (2 h x 16 kHz x 4 bytes = 460 MB).
# ctest-labels: slow
set -euo pipefail
NEMOC=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=${NC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
W=$(mktemp -d "${TMPDIR:-/tmp}/nemoc_e2e_long.XXXXXX")
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
cd "$W"

"$NEMOC" data synth out_dir=data text_set=digits num_utts=12 seed=8 validation_fraction=0.25 \
    test_fraction=0 >/dev/null 2>&1 || fail "synth"
"$NEMOC" asr train --config-path "$ROOT/examples/asr/conf/conformer" --config-name conformer_ctc_char_cpu_small \
    model.train_ds.manifest_filepath=data/train_manifest.json \
    model.validation_ds.manifest_filepath=data/validation_manifest.json \
    model.encoder.d_model=32 model.encoder.n_layers=1 model.encoder.n_heads=2 model.encoder.conv_kernel_size=3 \
    model.encoder.subsampling_conv_channels=8 model.preprocessor.features=16 trainer.max_steps=1 \
    trainer.enable_progress_bar=false exp_manager.create_tensorboard_logger=false exp_manager.exp_dir=exp \
    >train.log 2>&1 || { cat train.log; fail "training"; }
CKPT=$(ls exp/*/*/checkpoints/*--end.ckpt)

# Speech at the start, then silence: a 2-hour FLAC of a few hundred KB.
src=$(sed -n 's/.*"audio_filepath": "\([^"]*\)".*/\1/p' data/validation_manifest.json | head -n 1)
sox "data/$src" long.flac pad 0 7198
dur=$(soxi -D long.flac)
awk -v d="$dur" 'BEGIN { exit !(d > 7199 && d < 7201) }' || fail "long.flac lasts $dur s"
{ sed 's|"audio/|"data/audio/|' data/validation_manifest.json
  printf '{"audio_filepath": "long.flac", "duration": %s, "text": "long"}\n' "$dur"; } >m.json
n=$(wc -l <m.json)
cmd=("$NEMOC" asr transcribe model_path="$CKPT" dataset_manifest=m.json output_filename=out.json timestamps=true
    chunk_len_in_secs=10 total_buffer_in_secs=12)
if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "%M" -o rss.txt "${cmd[@]}" >log.txt 2>&1 || { cat log.txt; fail "transcribe"; }
    rss=$(tail -n 1 rss.txt)
    echo "peak RSS $((rss / 1024)) MB"
    [ "$rss" -lt 460000 ] || fail "peak RSS $rss KB: the file was not streamed"
else
    "${cmd[@]}" >log.txt 2>&1 || { cat log.txt; fail "transcribe"; }
fi
grep -q "transcribed $n of $n utterances" log.txt || { cat log.txt; fail "not every utterance transcribed"; }
grep -q "1 utterance(s) longer than 60 s transcribed in chunks of 10 s" log.txt || fail "the long file was not chunked"
grep -q '"audio_filepath":"long.flac".*"pred_text":' out.json || fail "no transcript for the long file"
grep -o '"audio_filepath":"long.flac".*' out.json | grep -q '"timestamp":{"word":\[' || fail "no word timestamps"
echo "OK: 2-hour file transcribed in chunks"
