#!/usr/bin/env bash
# Models through the model interface, end to end:
#  - a BPE model trained by `nemoc asr train` writes a .nemo that carries
#    every tokenizer file NeMo registers (tokenizer.model, tokenizer.vocab,
#    vocab.txt) with the config pointing at members that exist, so it
#    restores on another path with the tokenizer folder gone;
#  - `nemoc asr transcribe ... logprobs=true` saves each utterance's
#    log-probs (T, V+1) as .npy beside the output manifest;
#  - audio_dir= transcription writes nothing but its output (no temp
#    manifest);
#  - a model file of a class nemoc does not have is a named error, exit 1.
set -euo pipefail
NEMOC=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=${NC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
W=$(mktemp -d "${TMPDIR:-/tmp}/nemoc_e2e_model_io.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
cd "$W"

"$NEMOC" data synth out_dir=data text_set=digits num_utts=12 seed=3 validation_fraction=0.25 \
    test_fraction=0 >/dev/null 2>&1 || fail "synth"
"$NEMOC" tokenizer train --manifest data/train_manifest.json --data_root tok --vocab_size 24 \
    --tokenizer spe --spe_type bpe >tok.log 2>&1 || { cat tok.log; fail "tokenizer"; }
TOK=$(ls -d tok/tokenizer_spe_bpe_v24)
"$NEMOC" asr train --config-path "$ROOT/examples/asr/conf/conformer" --config-name conformer_ctc_bpe \
    model.tokenizer.dir="$W/$TOK" \
    model.train_ds.manifest_filepath=data/train_manifest.json \
    model.validation_ds.manifest_filepath=data/validation_manifest.json \
    model.encoder.d_model=32 model.encoder.n_layers=1 model.encoder.n_heads=2 model.encoder.conv_kernel_size=3 \
    model.encoder.subsampling_conv_channels=8 model.preprocessor.features=16 trainer.max_steps=1 trainer.devices=-1 trainer.accelerator=cpu trainer.precision=32 model.train_ds.batch_size=4 model.validation_ds.batch_size=4 trainer.max_epochs=1 \
    trainer.enable_progress_bar=false exp_manager.create_tensorboard_logger=false exp_manager.exp_dir=exp \
    >train.log 2>&1 || { cat train.log; fail "training"; }
NEMO=$(ls exp/*/*/checkpoints/*.nemo)
CKPT=$(ls exp/*/*/checkpoints/*--end.ckpt)

# Every tokenizer file is a member, and the config names those members.
mkdir unpacked && tar xf "$NEMO" -C unpacked
for key in model_path spe_tokenizer_vocab vocab_path; do
    ref=$(sed -n "s/^  $key: nemo:\(.*\)$/\1/p" unpacked/model_config.yaml)
    [ -n "$ref" ] || { cat unpacked/model_config.yaml; fail "tokenizer.$key does not name a nemo: member"; }
    [ -s "unpacked/$ref" ] || fail "tokenizer.$key names '$ref', which is not in the archive"
done
cmp -s "$TOK/vocab.txt" "unpacked/$(sed -n 's/^  vocab_path: nemo:\(.*\)$/\1/p' unpacked/model_config.yaml)" ||
    fail "vocab.txt differs from the tokenizer's"

# Restore elsewhere with the tokenizer folder gone; audio_dir transcription
# with log-probs.
mkdir -p elsewhere/wavs && cp "$NEMO" elsewhere/model.nemo && cp "$CKPT" elsewhere/model.ckpt
cp data/wavs/*.wav elsewhere/wavs/ 2>/dev/null || cp $(sed -n 's/.*"audio_filepath": "\([^"]*\)".*/data\/\1/p' \
    data/validation_manifest.json) elsewhere/wavs/
rm -rf tok
n=$(ls elsewhere/wavs/*.wav | wc -l)
before=$(ls "${TMPDIR:-/tmp}" | wc -l)
(cd elsewhere && "$NEMOC" asr transcribe model_path=model.nemo audio_dir=wavs logprobs=true batch_size=3 \
    >../tr.log 2>&1) || { cat tr.log; fail "transcribing with the moved .nemo"; }
grep -q "transcribed $n of $n utterances -> wavs/transcriptions.json" tr.log || { cat tr.log; fail "summary"; }
[ "$(wc -l <elsewhere/wavs/transcriptions.json)" -eq "$n" ] || fail "not one line per file"
grep -q '"pred_text"' elsewhere/wavs/transcriptions.json || fail "no pred_text"
for k in $(seq 0 $((n - 1))); do
    f="elsewhere/wavs/transcriptions_logprobs/$k.npy"
    [ -s "$f" ] || fail "$f missing"
    # (T, V+1) float32: the vocabulary of 24 plus the blank.
    hdr=$(head -c 128 "$f" | tr -d '\0')
    grep -q "'descr': '<f4', 'fortran_order': False, 'shape': ([0-9]*, *25)" <<<"$hdr" || fail "$f is not (T, 25) float32"
done
ls "${TMPDIR:-/tmp}" | grep -q "nemoc_audio_dir" && fail "a temp manifest was left in ${TMPDIR:-/tmp}"
# The training checkpoint carries the tokenizer files too: same transcripts.
(cd elsewhere && "$NEMOC" asr transcribe model_path=model.ckpt audio_dir=wavs output_filename=ckpt.json \
    >../tr2.log 2>&1) || { cat tr2.log; fail "transcribing with the moved .ckpt"; }
cmp -s <(sed 's/.*"pred_text"/"pred_text"/' elsewhere/ckpt.json) \
    <(sed 's/.*"pred_text"/"pred_text"/' elsewhere/wavs/transcriptions.json) || fail ".ckpt and .nemo transcripts differ"

# A class nemoc does not have: a named error, exit 1, no crash.
sed -i 's/^target: .*/target: nemo.collections.asr.models.aed_multitask_models.EncDecMultiTaskModel/' unpacked/model_config.yaml
grep -q '^target: nemo.collections.asr.models.aed_multitask_models.EncDecMultiTaskModel' unpacked/model_config.yaml ||
    echo "target: nemo.collections.asr.models.aed_multitask_models.EncDecMultiTaskModel" >>unpacked/model_config.yaml
(cd unpacked && tar cf ../rnnt.nemo ./*)
set +e
out=$("$NEMOC" asr transcribe model_path=rnnt.nemo audio_dir=elsewhere/wavs 2>&1)
rc=$?
set -e
[ $rc -eq 1 ] || { echo "$out"; fail "unsupported class: exit $rc, expected 1"; }
grep -q "model target 'nemo.collections.asr.models.aed_multitask_models.EncDecMultiTaskModel' is not known to nemoc" \
    <<<"$out" || { echo "$out"; fail "no named error for the unsupported class"; }
echo "OK: .nemo and .ckpt artifacts, restore elsewhere, logprobs, unsupported class"
