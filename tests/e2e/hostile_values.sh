#!/usr/bin/env bash
# Hostile values through the CLI (issue 15, classes 6-8): values that parse
# but make no sense (bools like "nope", unknown enum words, zero/negative/NaN
# numbers), input that used to give a silently wrong result (a NUL inside a
# manifest string, duplicate keys, a 1e19 s duration, audio that overflows the
# features, an eval of nothing), and messages that must name the key or
# file:line and the reason. Every case checks the exit code (1 error, 2 usage),
# the message, and that nothing crashed or hung.
set -euo pipefail
NEMOC=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=${NC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
W=$(mktemp -d "${TMPDIR:-/tmp}/nemoc_e2e_hostile.XXXXXX")
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
cd "$W"

n=0
declare -A cat_n=()
cat=setup
# expect RC TEXT... -- command...: exit code RC and every TEXT (a literal) in
# the output; a crash (>= 128) or a hang (timeout: 124) fails at once.
expect() {
    local want=$1 texts=() rc=0 out
    shift
    while [ "$1" != -- ]; do texts+=("$1"); shift; done
    shift
    out=$(timeout 30 "$@" 2>&1 </dev/null) || rc=$?
    [ "$rc" -ne 124 ] && [ "$rc" -lt 128 ] || { echo "$out" | tail -n 20; fail "crash or hang (exit $rc): $*"; }
    [ "$rc" -eq "$want" ] || { echo "$out" | tail -n 20; fail "exit $rc, want $want: $*"; }
    for t in "${texts[@]}"; do
        grep -qF -- "$t" <<<"$out" || { echo "$out" | tail -n 20; fail "no '$t' in the output of: $*"; }
    done
    n=$((n + 1))
    cat_n[$cat]=$((${cat_n[$cat]:-0} + 1))
}
# decode RC TEXT IDS: `tokenizer encode --decode` of one line of ids.
decode() {
    local want=$1 text=$2 rc=0 out
    out=$(printf '%s\n' "$3" | timeout 30 "$NEMOC" tokenizer encode --dir tok/tokenizer_wpe_v40 --type wpe --decode 2>&1) ||
        rc=$?
    [ "$rc" -ne 124 ] && [ "$rc" -lt 128 ] || fail "crash or hang (exit $rc): decode '$3'"
    [ "$rc" -eq "$want" ] || { echo "$out"; fail "exit $rc, want $want: decode '$3'"; }
    grep -qF -- "$text" <<<"$out" || { echo "$out"; fail "no '$text' in the output of: decode '$3'"; }
    n=$((n + 1))
    cat_n[$cat]=$((${cat_n[$cat]:-0} + 1))
}

"$NEMOC" data synth out_dir=data text_set=digits num_utts=12 seed=4 validation_fraction=0.2 \
    test_fraction=0 >/dev/null 2>&1 || fail "synth"
YAML="$ROOT/examples/asr/conf/conformer/conformer_ctc_char_cpu_small.yaml"
TRAIN=("$NEMOC" asr train --config-path "$ROOT/examples/asr/conf/conformer"
    --config-name conformer_ctc_char_cpu_small model.encoder.d_model=32 model.encoder.n_layers=1
    model.encoder.n_heads=2 model.encoder.conv_kernel_size=3 model.encoder.subsampling_conv_channels=8
    model.preprocessor.features=16 trainer.enable_progress_bar=false exp_manager.create_tensorboard_logger=false
    model.train_ds.manifest_filepath=data/train_manifest.json
    model.validation_ds.manifest_filepath=data/validation_manifest.json trainer.max_steps=1 exp_manager.exp_dir=exp)
"${TRAIN[@]}" >train.log 2>&1 || { cat train.log; fail "training the test model"; }
cp exp/*/*/checkpoints/*--end.ckpt model.ckpt
sed -i 's|"audio/|"data/audio/|' data/validation_manifest.json
VAL=data/validation_manifest.json
TR=("$NEMOC" asr transcribe model_path=model.ckpt output_filename=out.json)
EV=("$NEMOC" asr eval model_path=model.ckpt output_filename=ev.json)
BOOLS="expected bool (true/false, yes/no, y/n, on/off in any case, or an integer: 0 is false)"

# ---- class 6: transcribe/eval options, refused where they are read (exit 2: usage) ----
cat=options
expect 2 "ctc_decoding.strategy: 'greedyy' is not one of: greedy, greedy_batch, beam (did you mean 'greedy'?)" -- \
    "${TR[@]}" dataset_manifest=$VAL ctc_decoding.strategy=greedyy
expect 2 "ctc_decoding.strategy: 'Beam' is not one of" "(did you mean 'beam'?)" -- \
    "${TR[@]}" dataset_manifest=$VAL ctc_decoding.strategy=Beam
expect 2 "ctc_decoding.strategy: 'viterbi' is not one of: greedy, greedy_batch, beam" -- \
    "${TR[@]}" dataset_manifest=$VAL ctc_decoding.strategy=viterbi
expect 2 "timestamps: $BOOLS, found string 'nope'" -- "${TR[@]}" dataset_manifest=$VAL timestamps=nope
expect 2 "skip_bad_audio: $BOOLS, found string 'nope'" -- "${TR[@]}" dataset_manifest=$VAL skip_bad_audio=nope
expect 2 "logprobs: $BOOLS, found float '1.5'" -- "${TR[@]}" dataset_manifest=$VAL logprobs=1.5
expect 2 "text_processing.do_lowercase: $BOOLS, found string 'tru'" -- \
    "${EV[@]}" dataset_manifest=$VAL text_processing.do_lowercase=tru
expect 2 "batch_size: must be in [1, 1048576], found 0" -- "${TR[@]}" dataset_manifest=$VAL batch_size=0
expect 2 "batch_size: must be in [1, 1048576], found -4" -- "${TR[@]}" dataset_manifest=$VAL batch_size=-4
expect 2 "beam_size: must be in [1, 4096], found -1" -- "${TR[@]}" dataset_manifest=$VAL beam_size=-1
expect 2 "ctc_decoding.beam.beam_size: must be in [1, 4096], found 0" -- \
    "${TR[@]}" dataset_manifest=$VAL ctc_decoding.strategy=beam ctc_decoding.beam.beam_size=0
expect 2 "num_workers: must be in [0, 256], found -3" -- "${TR[@]}" dataset_manifest=$VAL num_workers=-3
expect 2 "long_audio_s: must be a finite number <= 3.2e+07, found nan" -- "${TR[@]}" dataset_manifest=$VAL long_audio_s=nan
expect 2 "chunk_len_in_secs: must be in [0, 3600], found -1" -- \
    "${TR[@]}" dataset_manifest=$VAL chunk_len_in_secs=-1
expect 2 "total_buffer_in_secs: must be in [0, 3600], found inf" -- \
    "${TR[@]}" dataset_manifest=$VAL total_buffer_in_secs=inf
expect 2 "batch_size: expected int, found string 'many'" -- "${TR[@]}" dataset_manifest=$VAL batch_size=many
# What OmegaConf accepts for a bool is accepted (yes/Off/1/0), and greedy_batch is greedy.
expect 0 "transcribed 2 of 2" -- "${TR[@]}" dataset_manifest=$VAL timestamps=yes skip_bad_audio=Off logprobs=0 \
    ctc_decoding.strategy=greedy_batch
grep -q '"timestamp"' out.json || fail "timestamps=yes did not turn timestamps on"
expect 0 "transcribed 2 of 2" -- "${TR[@]}" dataset_manifest=$VAL timestamps=1 'skip_bad_audio="TRUE"'

# ---- class 6: training config, refused naming key and file:line (exit 1) ----
cat=training
at() { printf '%s (%s:%s)' "$1" "$YAML" "$(grep -n "^ *${1##*.}:" "$YAML" | head -n 1 | cut -d: -f1)"; }
expect 1 "$(at trainer.max_steps): must be -1 (unlimited) or >= 0, found -5" -- "${TRAIN[@]}" trainer.max_steps=-5
expect 1 "$(at trainer.max_epochs): must be -1 (unlimited) or >= 0, found -2" -- "${TRAIN[@]}" trainer.max_epochs=-2
expect 1 "$(at trainer.gradient_clip_val): must be a finite number >= 0, found nan" -- \
    "${TRAIN[@]}" trainer.gradient_clip_val=nan
expect 1 "trainer.gradient_clip_val (" "must be a finite number >= 0, found -1" -- "${TRAIN[@]}" trainer.gradient_clip_val=-1
expect 1 "trainer.val_check_interval (" "must be in [0, 1e+12], found nan" -- \
    "${TRAIN[@]}" trainer.val_check_interval=nan
expect 1 "trainer.log_every_n_steps (" "must be in [1, 1000000000000], found 0" -- "${TRAIN[@]}" trainer.log_every_n_steps=0
expect 1 "trainer.accumulate_grad_batches" "must be in [1, 100000], found 0" -- "${TRAIN[@]}" trainer.accumulate_grad_batches=0
expect 1 "trainer.gradient_clip_algorithm: 'nrom' is not one of: norm, value (did you mean 'norm'?)" -- \
    "${TRAIN[@]}" ++trainer.gradient_clip_algorithm=nrom
expect 1 "trainer.enable_progress_bar (" "$BOOLS, found string 'nope'" -- "${TRAIN[@]}" trainer.enable_progress_bar=nope
expect 1 "$(at model.optim.lr): must be a finite number >= 0, found nan" -- "${TRAIN[@]}" model.optim.lr=nan
expect 1 "model.optim.lr (" "must be a finite number >= 0, found -0.001" -- "${TRAIN[@]}" model.optim.lr=-0.001
expect 1 "model.optim.weight_decay (" "must be a finite number >= 0, found -1" -- \
    "${TRAIN[@]}" model.optim.weight_decay=-1
expect 1 "model.optim.betas (" "beta 1 must be in [0, 1), found 1.5" -- "${TRAIN[@]}" 'model.optim.betas=[0.9,1.5]'
expect 1 "model.optim.sched.warmup_steps (" "must be in [0, 1000000000000], found -5" -- "${TRAIN[@]}" model.optim.sched.warmup_steps=-5
expect 1 "model.optim.sched.min_lr (" "must be a finite number >= 0, found nan" -- \
    "${TRAIN[@]}" model.optim.sched.min_lr=nan
expect 1 "model.optim.sched.warmup_ratio (" "must be in [0, 1], found 2" -- "${TRAIN[@]}" model.optim.sched.warmup_ratio=2
expect 1 "$(at model.encoder.n_layers): must be in [0, 1024], found -1" -- "${TRAIN[@]}" model.encoder.n_layers=-1
# The dropout is refused where the config is read, not at step 0 inside silu_dropout.
expect 1 "$(at model.encoder.dropout): must be in [0, 1) (a probability), found 2" -- "${TRAIN[@]}" model.encoder.dropout=2
expect 1 "model.encoder.dropout_att (" "must be in [0, 1) (a probability), found nan" -- \
    "${TRAIN[@]}" model.encoder.dropout_att=nan
expect 1 "model.encoder.dropout_emb (" "must be in [0, 1) (a probability), found -0.1" -- \
    "${TRAIN[@]}" model.encoder.dropout_emb=-0.1
expect 1 "model.train_ds.shuffle (" "$BOOLS, found string 'nope'" -- "${TRAIN[@]}" model.train_ds.shuffle=nope
expect 1 "model.train_ds.skip_bad_audio: $BOOLS, found string 'nope'" -- "${TRAIN[@]}" +model.train_ds.skip_bad_audio=nope
expect 1 "model.train_ds.max_duration (" "must be in [0, 3.2e+07], found nan" -- \
    "${TRAIN[@]}" model.train_ds.max_duration=nan
expect 1 "model.train_ds.min_duration (" "must be in [0, 3.2e+07], found -5" -- \
    "${TRAIN[@]}" model.train_ds.min_duration=-5
expect 1 "must be in [1, 1048576], found 0" -- "${TRAIN[@]}" model.train_ds.batch_size=0
expect 1 "model.train_ds.augmentor.gain.prob: must be in [0, 1], found 2" -- \
    "${TRAIN[@]}" '+model.train_ds.augmentor={gain: {prob: 2}}'
expect 1 "model.train_ds.augmentor.speed.min_speed_rate: must be in [0.05, 20], found nan" -- \
    "${TRAIN[@]}" '+model.train_ds.augmentor={speed: {prob: 0.5, min_speed_rate: .nan, max_speed_rate: 1.1}}'
expect 1 "exp_manager.checkpoint_callback_params.mode (" "'mx' is not one of: min, max (did you mean 'max'?)" -- \
    "${TRAIN[@]}" exp_manager.checkpoint_callback_params.mode=mx
expect 1 "exp_manager.checkpoint_callback_params.save_top_k (" "must be in [-1, 1000000], found -2" -- \
    "${TRAIN[@]}" exp_manager.checkpoint_callback_params.save_top_k=-2

# ---- class 7: manifests that used to give a silently wrong result ----
cat=manifests
wav=$(sed -n 's/.*"audio_filepath": "\([^"]*\)".*/\1/p' $VAL | head -n 1)
dur=$(sed -n 's/.*"duration": \([0-9.]*\).*/\1/p' $VAL | head -n 1)
printf '{"audio_filepath": "%s", "duration": %s, "text": "si\0x"}\n' "$wav" "$dur" >m_nul.json
expect 1 "m_nul.json:1: raw control character 0x00 at column" -- "${TR[@]}" dataset_manifest=m_nul.json
printf '{"audio_filepath": "%s\\u0000.flac", "duration": %s}\n' "$wav" "$dur" >m_unul.json
expect 1 'm_unul.json:1: \u0000 (NUL) in a string at column' -- "${TR[@]}" dataset_manifest=m_unul.json
printf '{"audio_filepath": "%s", "duration": %s, "text": "a\tb"}\n' "$wav" "$dur" >m_tab.json
expect 1 "m_tab.json:1: raw control character 0x09" "Python's json refuses it too" -- "${TR[@]}" dataset_manifest=m_tab.json
# Duplicate keys: the last wins, as in Python's json.loads.
printf '{"audio_filepath": "missing.wav", "duration": 9, "text": "one", "audio_filepath": "%s", "duration": %s, "text": "two"}\n' \
    "$wav" "$dur" >m_dup.json
expect 0 "transcribed 1 of 1" -- "${TR[@]}" dataset_manifest=m_dup.json
grep -q '"text":"two"' out.json && ! grep -q missing.wav out.json || fail "duplicate keys: the last must win"
# A duration the file does not hold: skipped with a count, or an error naming the line.
printf '{"audio_filepath": "%s", "duration": 1e19, "text": "six"}\n' "$wav" >m_1e19.json
expect 1 "m_1e19.json:1: audio './$wav': segment of './$wav' runs past the end of the file: requested 1e+19 s" \
    "nothing was transcribed: all 1 utterance(s) were skipped" -- "${TR[@]}" dataset_manifest=m_1e19.json
expect 1 "m_1e19.json:1: audio './$wav': segment of" -- "${TR[@]}" dataset_manifest=m_1e19.json skip_bad_audio=false
mkdir -p mdir
expect 1 "file 'mdir' is a directory, not a regular file" -- "${TR[@]}" dataset_manifest=mdir

# ---- class 7: audio and evaluation ----
cat=audio
python3 - <<'EOF'
import struct
data = b"".join(struct.pack("<f", 3e38 if i % 2 else -3e38) for i in range(16000))
hdr = (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " +
       struct.pack("<IHHIIHH", 16, 3, 1, 16000, 64000, 4, 32) + b"data" + struct.pack("<I", len(data)))
open("huge.wav", "wb").write(hdr + data)
EOF
{ printf '{"audio_filepath": "huge.wav", "duration": 1.0, "text": "six"}\n'
  printf '{"audio_filepath": "%s", "duration": %s, "text": "six"}\n' "$wav" "$dur"; } >m_huge.json
expect 0 "skipping an utterance (1 skipped so far): m_huge.json:1: audio './huge.wav': features are not finite" \
    "the largest sample magnitude is 3e+38" "transcribed 1 of 2" -- "${TR[@]}" dataset_manifest=m_huge.json
expect 1 "m_huge.json:1: audio './huge.wav': features are not finite" -- \
    "${TR[@]}" dataset_manifest=m_huge.json skip_bad_audio=false
# The long-audio path (chunks) checks the same.
expect 1 "audio './huge.wav': './huge.wav' at 0.0 s: features are not finite" -- "${TR[@]}" dataset_manifest=m_huge.json \
    long_audio_s=0.5 chunk_len_in_secs=0.5 total_buffer_in_secs=0.5 skip_bad_audio=false
printf '{"audio_filepath": "missing.wav", "duration": 1.0, "text": "six"}\n' >m_gone.json
expect 1 "nemoc asr eval: nothing was evaluated: all 1 utterance(s) were skipped for unreadable audio" -- \
    "${EV[@]}" dataset_manifest=m_gone.json
[ ! -e ev.json ] || fail "an eval of nothing left an output file"
printf '{"audio_filepath": "%s", "duration": %s, "text": ""}\n' "$wav" "$dur" >m_notext.json
expect 1 "wer cannot be computed: the references of the 1 utterance(s) hold nothing to score against" -- \
    "${EV[@]}" dataset_manifest=m_notext.json

# ---- class 6: token ids by value ----
cat=tokenizer
"$NEMOC" tokenizer train --manifest data/train_manifest.json --data_root tok --vocab_size 40 >/dev/null 2>&1 ||
    fail "tokenizer train"
decode 1 "stdin:1: id 4294967311 is outside the vocabulary (ids 0 to" "4294967311"
decode 1 "stdin:1: id -1 is outside the vocabulary" "3 -1"
decode 1 "stdin:1: id 99999999999999999999999 is outside the vocabulary" "99999999999999999999999"
decode 1 "stdin:1: '3.5' is not a token id (an integer)" "3.5"
decode 1 "stdin:1: 'x' is not a token id (an integer)" "3 x"
decode 0 "" "3 4 5"

# ---- class 8: messages ----
cat=messages
mkdir -p cdir
expect 1 "wordpiece train: text corpus 'cdir' is a directory, not a regular file" -- \
    "$NEMOC" tokenizer train --data_file cdir --data_root tok2 --vocab_size 40
expect 1 "manifest 'mdir' is a directory, not a regular file" -- \
    "$NEMOC" tokenizer train --manifest mdir --data_root tok3 --vocab_size 40
# A message longer than the error buffer keeps its head and its reason
# around " ... ", instead of ending mid-word.
long=$(printf 'd%.0s/' $(seq 1 1100))
expect 1 "nemoc asr transcribe: manifest: cannot open 'd/d/d/" "/ ... /" "/d/m.json': No such file or directory" -- \
    "${TR[@]}" dataset_manifest="${long}m.json"

summary=""
for c in options training manifests audio tokenizer messages; do summary+=" $c=${cat_n[$c]}"; done
echo "OK: $n hostile-value cases:$summary"
