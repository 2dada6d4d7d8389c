#!/usr/bin/env bash
# Bad input through the CLI: malformed manifests, unreadable or unusual audio,
# broken configs and overrides, damaged or mismatched checkpoints, diverging
# numerics. Every case must end with a message a person can act on (it names
# the file and line, the key, or the tensor) and a plain exit code: 1 for an
# error, 0 where the policy is to skip with a counted warning; never a crash
# (exit code >= 128) or a hang.
set -euo pipefail
NEMOC=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=${NC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
W=$(mktemp -d "${TMPDIR:-/tmp}/nemoc_e2e_bad.XXXXXX")
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
cd "$W"

n=0
# expect RC TEXT -- command...: exit code RC and TEXT (a literal) in the output.
expect() {
    local want=$1 text=$2
    shift 3
    local rc=0 out
    out=$(timeout 120 "$@" 2>&1) || rc=$?
    [ "$rc" -lt 124 ] || { echo "$out" | tail -n 20; fail "crash or hang (exit $rc): $*"; }
    [ "$rc" -eq "$want" ] || { echo "$out" | tail -n 20; fail "exit $rc, want $want: $*"; }
    grep -qF -- "$text" <<<"$out" || { echo "$out" | tail -n 20; fail "no '$text' in the output of: $*"; }
    n=$((n + 1))
}

"$NEMOC" data synth out_dir=data text_set=digits num_utts=24 seed=4 validation_fraction=0.2 \
    test_fraction=0 >/dev/null 2>&1 || fail "synth"
TINY=(model.encoder.d_model=32 model.encoder.n_layers=1 model.encoder.n_heads=2
    model.encoder.conv_kernel_size=3 model.encoder.subsampling_conv_channels=8
    model.preprocessor.features=16 trainer.enable_progress_bar=false
    exp_manager.create_tensorboard_logger=false)
TRAIN=(asr train --config-path "$ROOT/examples/asr/conf/conformer"
    --config-name conformer_ctc_char_cpu_small "${TINY[@]}")
DATA=(model.train_ds.manifest_filepath=data/train_manifest.json
    model.validation_ds.manifest_filepath=data/validation_manifest.json)
"$NEMOC" "${TRAIN[@]}" "${DATA[@]}" trainer.max_steps=2 exp_manager.exp_dir=exp0 >train0.log 2>&1 ||
    { cat train0.log; fail "training the test model"; }
cp exp0/*/*/checkpoints/*--end.ckpt model.ckpt
TR=("$NEMOC" asr transcribe model_path=model.ckpt output_filename=out.json)

# ---- manifests: errors name file:line ----
good=$(head -n 1 data/validation_manifest.json | sed 's|"audio/|"data/audio/|')
mline() { printf '%s\n%s\n' "$good" "$2" >"$1"; }
mline m_json.json '{"audio_filepath": "x.wav", "duration": 1.0,'
expect 1 "m_json.json:2: malformed JSON at column" -- "${TR[@]}" dataset_manifest=m_json.json
mline m_nodur.json '{"audio_filepath": "x.wav", "text": "a"}'
expect 1 'm_nodur.json:2: missing "duration"' -- "${TR[@]}" dataset_manifest=m_nodur.json
mline m_noaudio.json '{"duration": 1.0, "text": "a"}'
expect 1 'm_noaudio.json:2: missing "audio_filepath"' -- "${TR[@]}" dataset_manifest=m_noaudio.json
mline m_neg.json '{"audio_filepath": "x.wav", "duration": -2.5}'
expect 1 'm_neg.json:2: "duration" must be finite and >= 0, found -2.5' -- "${TR[@]}" dataset_manifest=m_neg.json
mline m_nan.json '{"audio_filepath": "x.wav", "duration": NaN}'
expect 1 "m_nan.json:2: malformed JSON at column 41" -- "${TR[@]}" dataset_manifest=m_nan.json
expect 1 "NaN and Infinity are not JSON" -- "${TR[@]}" dataset_manifest=m_nan.json
mline m_inf.json '{"audio_filepath": "x.wav", "duration": 1e999}'
expect 1 'm_inf.json:2: "duration" must be finite' -- "${TR[@]}" dataset_manifest=m_inf.json
mline m_str.json '{"audio_filepath": "x.wav", "duration": "1.5"}'
expect 1 'm_str.json:2: "duration" must be a number' -- "${TR[@]}" dataset_manifest=m_str.json
mline m_utf8.json "$(printf '{"audio_filepath": "x.wav", "duration": 1.0, "text": "caf\xe9"}')"
expect 1 "m_utf8.json:2: invalid UTF-8 at column" -- "${TR[@]}" dataset_manifest=m_utf8.json
: >m_empty.json
expect 1 "manifest 'm_empty.json' has no entries" -- "${TR[@]}" dataset_manifest=m_empty.json
expect 1 "cannot open 'm_missing.json'" -- "${TR[@]}" dataset_manifest=m_missing.json
# A 1 GB line (a sparse file: no disk, and the reader must not hold it in memory).
printf '%s\n{"audio_filepath": "' "$good" >m_huge.json
truncate -s +1G m_huge.json
printf '"}\n' >>m_huge.json
expect 1 "m_huge.json:2: line is longer than the limit of 16777216 bytes" -- "${TR[@]}" dataset_manifest=m_huge.json
rm -f m_huge.json
# The same reader behind training.
expect 1 'm_nodur.json:2: missing "duration"' -- "$NEMOC" "${TRAIN[@]}" model.train_ds.manifest_filepath=m_nodur.json \
    model.validation_ds.manifest_filepath=data/validation_manifest.json exp_manager.exp_dir=exp1

# ---- audio: skipped with a counted warning (default) or an error ----
src=$(sed -n 's/.*"audio_filepath": "\([^"]*\)".*/\1/p' data/validation_manifest.json | head -n 1)
mkdir -p a
cp "data/$src" a/ok.wav
: >a/empty.wav
head -c 30 a/ok.wav >a/trunc_header.wav
head -c 3000 a/ok.wav >a/trunc_data.wav
echo "not audio at all" >a/text.wav
{ printf 'RIFF\x44\x19\x00\x00WAVEfmt \x10\x00\x00\x00\x03\x00\x01\x00\x80\x3e\x00\x00\x00\xfa\x00\x00\x04\x00\x20\x00data\x00\x19\x00\x00'
  for _ in $(seq 1 1600); do printf '\x00\x00\xc0\x7f'; done; } >a/nan.wav
sox a/ok.wav -r 8000 a/sr8k.wav
sox a/ok.wav -b 8 -e unsigned-integer a/pcm8.wav
sox a/ok.wav -b 24 a/pcm24.wav
sox a/ok.wav -c 2 a/stereo.wav
sox a/ok.wav -b 32 -e floating-point a/float.wav
sox a/ok.wav -r 44100 -c 2 -b 24 a/cd.flac
dur=$(sed -n 's/.*"duration": \([0-9.]*\).*/\1/p' data/validation_manifest.json | head -n 1)
bad=(missing empty trunc_header trunc_data text nan)
fine=(ok sr8k pcm8 pcm24 stereo float)
{ for f in "${bad[@]}" "${fine[@]}"; do
    d=$dur; [ "$f" = nan ] && d=0.1
    printf '{"audio_filepath": "a/%s.wav", "duration": %s, "text": "x"}\n' "$f" "$d"
  done
  printf '{"audio_filepath": "a/cd.flac", "duration": %s, "text": "x"}\n' "$dur"; } >m_audio.json
out=$("${TR[@]}" dataset_manifest=m_audio.json 2>&1) || { echo "$out"; fail "transcribe with bad audio"; }
k=0
for why in "m_audio.json:1: audio './a/missing.wav': audio file './a/missing.wav' does not exist" \
    "m_audio.json:2: audio './a/empty.wav': audio file './a/empty.wav' is empty (0 bytes)" \
    "m_audio.json:3: audio './a/trunc_header.wav': cannot decode audio file" \
    "m_audio.json:4: audio './a/trunc_data.wav': segment of './a/trunc_data.wav' runs past the end of the file" \
    "m_audio.json:5: audio './a/text.wav': cannot decode audio file './a/text.wav'" \
    "m_audio.json:6: audio './a/nan.wav': sample 0 is not finite"; do
    k=$((k + 1))
    grep -qF "skipping an utterance ($k skipped so far): $why" <<<"$out" || { echo "$out"; fail "no warning: $why"; }
    n=$((n + 1))
done
grep -qF "6 utterance(s) skipped for unreadable audio" <<<"$out" || fail "no skip summary"
grep -qF "transcribed 7 of 13 utterances" <<<"$out" || { echo "$out"; fail "the readable files were not all transcribed"; }
for f in "${fine[@]}"; do
    grep -q "\"audio_filepath\":\"a/$f.wav\".*\"pred_text\"" out.json || fail "$f.wav not transcribed"
done
grep -q '"audio_filepath":"a/cd.flac".*"pred_text"' out.json || fail "cd.flac not transcribed"
n=$((n + 6)) # 8 kHz, 8-bit, 24-bit, stereo, float, 44.1 kHz stereo FLAC decode and transcribe
# Policy "fail": the first bad file stops the run, named by manifest line.
expect 1 "m_audio.json:1: audio './a/missing.wav': audio file './a/missing.wav' does not exist" -- \
    "${TR[@]}" dataset_manifest=m_audio.json skip_bad_audio=false
expect 1 "audio './a/" -- "$NEMOC" "${TRAIN[@]}" model.train_ds.manifest_filepath=m_audio.json \
    model.validation_ds.manifest_filepath=data/validation_manifest.json \
    +model.train_ds.skip_bad_audio=false trainer.max_steps=2 exp_manager.exp_dir=exp2
expect 0 "training utterance(s) skipped for unreadable audio" -- "$NEMOC" "${TRAIN[@]}" \
    model.train_ds.manifest_filepath=m_audio.json model.validation_ds.manifest_filepath=data/validation_manifest.json \
    model.train_ds.batch_size=2 trainer.max_steps=4 exp_manager.exp_dir=exp3

# ---- configs ----
expect 1 "trainer.max_stesp: no such key (did you mean 'max_steps'?)" -- \
    "$NEMOC" "${TRAIN[@]}" "${DATA[@]}" trainer.max_stesp=3
expect 1 "unknown key 'max_stesp' (did you mean 'max_steps'?)" -- \
    "$NEMOC" "${TRAIN[@]}" "${DATA[@]}" +trainer.max_stesp=3
expect 1 "trainer.max_steps (" -- "$NEMOC" "${TRAIN[@]}" "${DATA[@]}" trainer.max_steps=abc
expect 1 "expected int, found string 'abc'" -- "$NEMOC" "${TRAIN[@]}" "${DATA[@]}" trainer.max_steps=abc
expect 1 "model.encoder.n_layers (" -- "$NEMOC" "${TRAIN[@]}" "${DATA[@]}" model.encoder.n_layers=[1,2]
expect 1 "expected int, found list" -- "$NEMOC" "${TRAIN[@]}" "${DATA[@]}" model.encoder.n_layers=[1,2]
expect 1 "model.train_ds.manifest_filepath (" -- "$NEMOC" "${TRAIN[@]}"
expect 1 "missing mandatory value (???); set it in the config or with model.train_ds.manifest_filepath=..." -- \
    "$NEMOC" "${TRAIN[@]}"
expect 1 "override 'trainer.max_steps': expected key=value" -- "$NEMOC" "${TRAIN[@]}" "${DATA[@]}" trainer.max_steps
expect 1 "override '=3': missing key before '='" -- "$NEMOC" "${TRAIN[@]}" "${DATA[@]}" =3
expect 1 "override 'trainer.max_steps=[1'" -- "$NEMOC" "${TRAIN[@]}" "${DATA[@]}" 'trainer.max_steps=[1'
expect 1 "interpolation cycle: model.a -> model.b -> model.a" -- "$NEMOC" "${TRAIN[@]}" "${DATA[@]}" \
    '+model.a=${model.b}' '+model.b=${model.a}'
expect 1 "model target 'nemo.collections.asr.models.EncDecMultiTaskModel' is not known to nemoc (known: nemo.collections.asr.models.ctc_models.EncDecCTCModel" -- \
    "$NEMOC" "${TRAIN[@]}" "${DATA[@]}" +model.target=nemo.collections.asr.models.EncDecMultiTaskModel
# A hybrid class on a config without its aux CTC section (nor a joint): named.
expect 1 "model.aux_ctc: a hybrid model needs this section" -- \
    "$NEMOC" "${TRAIN[@]}" "${DATA[@]}" +model.target=nemo.collections.asr.models.EncDecHybridRNNTCTCModel
expect 1 "trainer.max_bad_steps: must be >= 1" -- "$NEMOC" "${TRAIN[@]}" "${DATA[@]}" +trainer.max_bad_steps=0
expect 1 "config 'no_such_config' not found" -- "$NEMOC" asr train --config-path "$ROOT/examples/asr/conf/conformer" --config-name no_such_config

# ---- checkpoints: refused by name, nothing loaded ----
size=$(stat -c %s model.ckpt)
head -c $((size / 2)) model.ckpt >c_trunc.ckpt
expect 1 "c_trunc.ckpt: the header describes" -- "${TR[@]}" model_path=c_trunc.ckpt dataset_manifest=data/validation_manifest.json
head -c 100 model.ckpt >c_trunc_hdr.ckpt
expect 1 "c_trunc_hdr.ckpt: header length" -- "${TR[@]}" model_path=c_trunc_hdr.ckpt dataset_manifest=data/validation_manifest.json
cp model.ckpt c_hdr.ckpt
printf '\xff\xff\xff' | dd of=c_hdr.ckpt bs=1 seek=40 conv=notrunc 2>/dev/null
expect 1 "c_hdr.ckpt: header is not valid UTF-8" -- "${TR[@]}" model_path=c_hdr.ckpt dataset_manifest=data/validation_manifest.json
cp model.ckpt c_flip.ckpt
printf '\x5a' | dd of=c_flip.ckpt bs=1 seek=$((size - 1000)) conv=notrunc 2>/dev/null
expect 1 "is corrupt (checksum mismatch)" -- "${TR[@]}" model_path=c_flip.ckpt dataset_manifest=data/validation_manifest.json
echo "hello" >c_text.ckpt
expect 1 "c_text.ckpt: 6 bytes is too small for a safetensors file" -- "${TR[@]}" model_path=c_text.ckpt dataset_manifest=data/validation_manifest.json
head -c 4096 /dev/urandom >c_rand.ckpt
expect 1 "c_rand.ckpt: header length" -- "${TR[@]}" model_path=c_rand.ckpt dataset_manifest=data/validation_manifest.json
expect 1 "cannot open 'c_missing.ckpt'" -- "${TR[@]}" model_path=c_missing.ckpt dataset_manifest=data/validation_manifest.json
head -c 3000 model.ckpt >c_trunc.nemo
expect 1 "c_trunc.nemo" -- "${TR[@]}" model_path=c_trunc.nemo dataset_manifest=data/validation_manifest.json
# Another architecture (d_model 48): refused by tensor name with both shapes.
expect 1 "tensor 'encoder.pre_encode.out.weight' has shape (32, 32), the model expects (48, 32)" -- "$NEMOC" "${TRAIN[@]}" "${DATA[@]}" \
    model.encoder.d_model=48 +exp_manager.resume_from_checkpoint="$W/model.ckpt" exp_manager.exp_dir=exp4
# Another vocabulary: the decoder's tensor, by name.
expect 1 "decoder.decoder_layers.0.weight' has shape" -- "$NEMOC" "${TRAIN[@]}" "${DATA[@]}" \
    "model.labels=[' ','a','b']" +exp_manager.resume_from_checkpoint="$W/model.ckpt" exp_manager.exp_dir=exp5

# ---- numerics: a diverging run skips non-finite steps, counted, then stops ----
expect 1 "stopping: 3 consecutive steps had a non-finite loss or gradient" -- "$NEMOC" "${TRAIN[@]}" "${DATA[@]}" \
    model.train_ds.batch_size=2 model.optim.lr=1e30 trainer.gradient_clip_val=0 +trainer.max_bad_steps=3 \
    trainer.max_steps=20 exp_manager.exp_dir=exp6
grep -q "skipped: non-finite loss (3 skipped so far)" exp6/*/*/nemo_log_globalrank-0_localrank-0.txt ||
    fail "the skipped steps are not counted in the log"
n=$((n + 1))
echo "OK: $n bad-input cases"
