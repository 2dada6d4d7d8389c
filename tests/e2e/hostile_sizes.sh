#!/usr/bin/env bash
# Hostile sizes through the CLI: absurd sizes and counts in configs, manifests
# and arguments (int64 limits, 1e308, products that overflow), and inputs that
# expand without bound (interpolation chains that double, Hydra defaults that
# fan out). Every case must be refused before anything is allocated: exit 1
# (2 for CLI usage), a message naming the key, file:line or argument, no
# signal, no hang (timeout 30 s), and bounded memory (ulimit -v 4 GiB, where
# an attempted huge allocation fails at once instead of swapping; under ASan,
# whose shadow memory needs more address space, its own RSS limit instead).
set -euo pipefail
NEMOC=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=${NC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
W=$(mktemp -d "${TMPDIR:-/tmp}/nemoc_e2e_hostile.XXXXXX")
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
cd "$W"

if [ -n "${NC_SANITIZED:-}" ]; then
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1:hard_rss_limit_mb=4096"
    limit_mem() { :; }
else
    limit_mem() { ulimit -v 4194304; }
fi

n=0
# expect RC TEXT -- command...: exit code RC and TEXT (a literal) in the output.
expect() {
    local want=$1 text=$2
    shift 3
    local rc=0 out
    out=$( (limit_mem; exec timeout 30 "$@") 2>&1) || rc=$?
    [ "$rc" -lt 124 ] || { echo "$out" | tail -n 20; fail "crash or hang (exit $rc): $*"; }
    [ "$rc" -eq "$want" ] || { echo "$out" | tail -n 20; fail "exit $rc, want $want: $*"; }
    # "key (file.yaml:12): ..." is matched as "key: ..." (a key set by an
    # override keeps the line of the YAML it replaced)
    grep -qF -- "$text" <<<"$out" || sed -E 's/ \([^ ()]+:[0-9]+\):/:/g' <<<"$out" | grep -qF -- "$text" ||
        { echo "$out" | tail -n 20; fail "no '$text' in the output of: $*"; }
    n=$((n + 1))
}

"$NEMOC" data synth out_dir=data text_set=digits num_utts=12 seed=4 validation_fraction=0.25 \
    test_fraction=0 >/dev/null 2>&1 || fail "synth"
TINY=(model.encoder.d_model=32 model.encoder.n_layers=1 model.encoder.n_heads=2
    model.encoder.conv_kernel_size=3 model.encoder.subsampling_conv_channels=8
    model.preprocessor.features=16 trainer.enable_progress_bar=false
    exp_manager.create_tensorboard_logger=false exp_manager.exp_dir=exp)
TRAIN=("$NEMOC" asr train --config-path "$ROOT/examples/asr/conf/conformer"
    --config-name conformer_ctc_char_cpu_small "${TINY[@]}"
    model.train_ds.manifest_filepath=data/train_manifest.json
    model.validation_ds.manifest_filepath=data/validation_manifest.json trainer.max_steps=1)
I64=9223372036854775807

# ---- class 1: sizes from the config, refused by key ----
# The encoder (model.encoder.*): widths, counts and their products.
expect 1 "model.encoder.d_model: must be in [1, 65536], found 1000000000000" -- "${TRAIN[@]}" model.encoder.d_model=1000000000000
expect 1 "model.encoder.n_layers: must be in [0, 1024], found 100000000" -- "${TRAIN[@]}" model.encoder.n_layers=100000000
expect 1 "model.encoder.n_heads: must be" -- "${TRAIN[@]}" model.encoder.n_heads=$I64
expect 1 "model.encoder.ff_expansion_factor: must be" -- "${TRAIN[@]}" model.encoder.ff_expansion_factor=$I64
expect 1 "model.encoder.subsampling_conv_channels: must be" -- "${TRAIN[@]}" model.encoder.subsampling_conv_channels=$I64
expect 1 "model.encoder.feat_in: must be" -- "${TRAIN[@]}" model.encoder.feat_in=$I64
expect 1 "model.encoder.feat_out: must be" -- "${TRAIN[@]}" model.encoder.feat_out=$I64
expect 1 "model.encoder.conv_kernel_size: must be" -- "${TRAIN[@]}" model.encoder.conv_kernel_size=$I64
expect 1 "model.encoder.subsampling_factor: must be" -- "${TRAIN[@]}" \
    model.encoder.subsampling_factor=4611686018427387904
expect 1 "model.encoder.pos_emb_max_len: must be" -- "${TRAIN[@]}" model.encoder.pos_emb_max_len=$I64
expect 1 "int '99999999999999999999' is out of the 64-bit range" -- "${TRAIN[@]}" model.encoder.d_model=99999999999999999999
# Each key in range, the total not: refused by size before anything is allocated, naming the keys.
expect 1 "model.encoder (d_model=65536, n_layers=1, ff_expansion_factor=4" -- "${TRAIN[@]}" model.encoder.d_model=65536
expect 1 "GiB for its" -- "${TRAIN[@]}" model.encoder.d_model=8192 model.encoder.n_layers=64 model.encoder.n_heads=8
expect 1 "more than this machine's memory" -- "${TRAIN[@]}" model.encoder.d_model=16384 model.encoder.n_layers=1024 \
    model.encoder.ff_expansion_factor=64
# The preprocessor (model.preprocessor.*).
expect 1 "model.preprocessor: feature config: features=$I64 is out of range [1, 4096]" -- "${TRAIN[@]}" \
    model.preprocessor.features=$I64
expect 1 "feature config: n_fft=$I64 is out of range [1, 65536]" -- "${TRAIN[@]}" model.preprocessor.n_fft=$I64
expect 1 "features=4096 x (n_fft/2 + 1 = 32769) filterbank entries is more than" -- "${TRAIN[@]}" \
    model.preprocessor.n_fft=65536 model.preprocessor.features=4096 model.encoder.feat_in=16
expect 1 "feature config: window_size=1e+300 s at sample_rate 16000 is more than 65536 samples" -- "${TRAIN[@]}" \
    model.preprocessor.window_size=1e300
expect 1 "feature config: window_stride=1e+300 s" -- "${TRAIN[@]}" model.preprocessor.window_stride=1e300
expect 1 "feature config: sample_rate=$I64 is out of range" -- "${TRAIN[@]}" model.sample_rate=$I64
expect 1 "feature config: frame_splicing=$I64 is out of range [1, 64]" -- "${TRAIN[@]}" model.preprocessor.frame_splicing=$I64
expect 1 "feature config: pad_to=$I64 is out of range" -- "${TRAIN[@]}" model.preprocessor.pad_to=$I64
expect 1 "feature config: max_duration=1e+300 is out of range" -- "${TRAIN[@]}" model.preprocessor.pad_to=max \
    +model.preprocessor.max_duration=1e300
# SpecAugment (model.spec_augment.*).
expect 1 "model.spec_augment: spec_augment: freq_masks=$I64 is out of range [0, 1000]" -- "${TRAIN[@]}" \
    model.spec_augment.freq_masks=$I64
expect 1 "spec_augment: time_masks=$I64 is out of range" -- "${TRAIN[@]}" model.spec_augment.time_masks=$I64
expect 1 "spec_augment: freq_width=$I64 is out of range" -- "${TRAIN[@]}" model.spec_augment.freq_width=$I64
expect 1 "spec_augment: time_width=$I64 is out of range" -- "${TRAIN[@]}" model.spec_augment.time_width=$I64
expect 1 "spec_augment: rect_masks=$I64 is out of range" -- "${TRAIN[@]}" +model.spec_augment.rect_masks=$I64
# Datasets (model.*_ds.*): batches, buckets, workers, prefetch, durations, perturbations.
expect 1 "model.train_ds.bucketing_batch_size (" -- "${TRAIN[@]}" +model.train_ds.num_buckets=2 \
    model.train_ds.bucketing_batch_size=4611686018427387904
expect 1 "model.train_ds.bucketing_batch_size[1]: must be in [1, 1048576], found 4611686018427387904" -- "${TRAIN[@]}" \
    +model.train_ds.num_buckets=2 'model.train_ds.bucketing_batch_size=[2,4611686018427387904]'
expect 1 "model.train_ds.num_buckets: must be in [0, 10000], found 1000000000" -- "${TRAIN[@]}" +model.train_ds.num_buckets=1000000000
expect 1 "bucketing_batch_size: 10001 entries, more than the 10000 buckets allowed" -- "${TRAIN[@]}" \
    "model.train_ds.bucketing_batch_size=[$(seq -s, 1 10001)]"
expect 1 "model.train_ds.batch_size (" -- "${TRAIN[@]}" model.train_ds.batch_size=$I64
expect 1 "must be in [1, 1048576], found $I64" -- "${TRAIN[@]}" model.validation_ds.batch_size=$I64
expect 1 "model.train_ds.num_workers (" -- "${TRAIN[@]}" model.train_ds.num_workers=$I64
expect 1 "model.train_ds.prefetch: must be" -- "${TRAIN[@]}" +model.train_ds.prefetch=$I64
expect 1 "model.train_ds.prefetch_factor: must be" -- "${TRAIN[@]}" +model.train_ds.prefetch_factor=$I64
expect 1 "prefetch_factor: 1000 x num_workers 200 = 200000 batches ahead, more than 4096" -- "${TRAIN[@]}" \
    +model.train_ds.prefetch_factor=1000 model.train_ds.num_workers=200
expect 1 "must be in [0, 3.2e+07], found 1e+308" -- "${TRAIN[@]}" model.train_ds.max_duration=1e308
expect 1 "model.train_ds.min_duration (" -- "${TRAIN[@]}" model.train_ds.min_duration=1e308
expect 1 "model.train_ds.sample_rate (" -- "${TRAIN[@]}" model.train_ds.sample_rate=$I64
expect 1 "model.train_ds.augmentor.speed.min_speed_rate: must be in [0.05, 20], found 1e+300" -- "${TRAIN[@]}" \
    '+model.train_ds.augmentor={speed: {prob: 0.5, min_speed_rate: 1e300, max_speed_rate: 1.1}}'
expect 1 "model.train_ds.augmentor.speed.num_rates: must be" -- "${TRAIN[@]}" \
    "+model.train_ds.augmentor={speed: {prob: 0.5, min_speed_rate: 0.9, max_speed_rate: 1.1, num_rates: $I64}}"
expect 1 "model.train_ds.augmentor.white_noise.min_level: must be" -- "${TRAIN[@]}" \
    '+model.train_ds.augmentor={white_noise: {prob: 0.5, min_level: -9223372036854775808}}'
expect 1 "model.train_ds.augmentor.gain.max_gain_dbfs: must be in [-200, 200], found 1e+308" -- "${TRAIN[@]}" \
    '+model.train_ds.augmentor={gain: {prob: 0.5, max_gain_dbfs: 1e308}}'
# The trainer, the experiment manager and the schedule.
expect 1 "trainer.max_steps (" -- "${TRAIN[@]}" trainer.max_steps=$I64
expect 1 "trainer.max_steps: must be <= 1000000000000, found $I64" -- "${TRAIN[@]}" trainer.max_steps=$I64
expect 1 "trainer.max_epochs (" -- "${TRAIN[@]}" trainer.max_epochs=$I64
expect 1 "trainer.accumulate_grad_batches (" -- "${TRAIN[@]}" trainer.accumulate_grad_batches=$I64
expect 1 "trainer.log_every_n_steps (" -- "${TRAIN[@]}" trainer.log_every_n_steps=$I64
expect 1 "trainer.val_check_interval (" -- "${TRAIN[@]}" trainer.val_check_interval=1e300
expect 1 "trainer.check_val_every_n_epoch (" -- "${TRAIN[@]}" trainer.check_val_every_n_epoch=$I64
expect 1 "trainer.num_sanity_val_steps (" -- "${TRAIN[@]}" trainer.num_sanity_val_steps=$I64
expect 1 "trainer.limit_train_batches: must be" -- "${TRAIN[@]}" +trainer.limit_train_batches=1e300
expect 1 "trainer.limit_val_batches: must be" -- "${TRAIN[@]}" +trainer.limit_val_batches=$I64
expect 1 "trainer.max_bad_steps: must be <= " -- "${TRAIN[@]}" +trainer.max_bad_steps=$I64
expect 1 "trainer.devices (" -- "${TRAIN[@]}" trainer.devices=$I64
expect 1 "trainer.num_nodes (" -- "${TRAIN[@]}" trainer.num_nodes=$I64
expect 1 "exp_manager.checkpoint_callback_params.save_top_k (" -- "${TRAIN[@]}" \
    exp_manager.checkpoint_callback_params.save_top_k=$I64
expect 1 "exp_manager.checkpoint_callback_params.every_n_train_steps: must be" -- "${TRAIN[@]}" \
    +exp_manager.checkpoint_callback_params.every_n_train_steps=$I64
expect 1 "model.optim.sched.warmup_steps (" -- "${TRAIN[@]}" model.optim.sched.warmup_steps=$I64
expect 1 "model.optim.sched.warmup_ratio (" -- "${TRAIN[@]}" model.optim.sched.warmup_ratio=1e300

# ---- class 1: sizes from data and arguments (transcribe's keys are its
# arguments: a bad one is a usage error, exit 2) ----
good=$(head -n 1 data/validation_manifest.json | sed 's|"audio/|"data/audio/|')
audio=$(sed -n 's/.*"audio_filepath": "\([^"]*\)".*/\1/p' <<<"$good")
printf '{"audio_filepath": "%s", "duration": 1.0, "offset": 1e308, "text": "a"}\n' "$audio" >m_off.json
TR=("$NEMOC" asr transcribe model_path=model.ckpt output_filename=out.json)
# A small trained model for the inference cases.
"${TRAIN[@]}" trainer.max_steps=1 exp_manager.exp_dir=exp_ok >train_ok.log 2>&1 ||
    { tail -n 20 train_ok.log; fail "training the test model"; }
cp exp_ok/*/*/checkpoints/*--end.ckpt model.ckpt
expect 1 "m_off.json:1: audio './$audio': segment of './$audio' starts at offset 1e+308 s, beyond the end" -- \
    "${TR[@]}" dataset_manifest=m_off.json skip_bad_audio=false
# skipped with a warning; nothing else to transcribe, so the run fails (exit 1)
expect 1 "skipping an utterance (1 skipped so far): m_off.json:1" -- "${TR[@]}" dataset_manifest=m_off.json
printf '%s\n{"audio_filepath": "%s", "duration": 1e300, "text": "a"}\n' "$good" "$audio" >m_dur.json
expect 1 "m_dur.json:2: audio './$audio': segment of './$audio' runs past the end of the file" -- \
    "${TR[@]}" dataset_manifest=m_dur.json skip_bad_audio=false long_audio_s=0
# The same entry through buffered long-audio inference (it is longer than long_audio_s).
expect 1 "m_dur.json:2: audio './$audio': segment of './$audio' runs past the end of the file: requested 1e+300 s" -- \
    "${TR[@]}" dataset_manifest=m_dur.json skip_bad_audio=false
expect 2 "chunk_len_in_secs: must be in [0, 3600], found 1e+300" -- "${TR[@]}" \
    dataset_manifest=data/validation_manifest.json chunk_len_in_secs=1e300
expect 2 "total_buffer_in_secs: must be in [0, 3600], found 1e+300" -- "${TR[@]}" \
    dataset_manifest=data/validation_manifest.json total_buffer_in_secs=1e300
expect 2 "batch_size: must be in [1, 1048576], found $I64" -- "${TR[@]}" dataset_manifest=data/validation_manifest.json \
    batch_size=$I64
expect 2 "num_utts=$I64 is out of range [1, 10000000]" -- "$NEMOC" data synth out_dir=s1 text_set=digits num_utts=$I64
expect 2 "num_utts=100000000 is out of range" -- "$NEMOC" data synth out_dir=s2 text_set=digits num_utts=100000000
expect 2 "num_validation=$I64, num_test=$I64: each must be at most num_utts=12" -- "$NEMOC" data synth out_dir=s3 \
    text_set=digits num_utts=12 num_validation=$I64 num_test=$I64
expect 2 "num_workers=1000000: expected 0..256" -- "$NEMOC" data synth out_dir=s4 text_set=digits num_workers=1000000
expect 2 "--vocab_size=$I64 is out of range (at most 1000000)" -- "$NEMOC" tokenizer train --manifest data/train_manifest.json \
    --data_root tok --vocab_size $I64
expect 2 "--vocab_size needs an integer, got '99999999999999999999'" -- "$NEMOC" tokenizer train \
    --manifest data/train_manifest.json --data_root tok --vocab_size 99999999999999999999
expect 2 "--spe_sample_size=$I64 is out of range" -- "$NEMOC" tokenizer train --manifest data/train_manifest.json \
    --data_root tok --spe_sample_size $I64
expect 1 "feature config: n_fft=$I64 is out of range" -- "$NEMOC" audio features "data/$audio" n_fft=$I64 out=f.npy
expect 1 "feature config: n_window_size=$I64 is out of range" -- "$NEMOC" audio features "data/$audio" \
    window_size=null n_window_size=$I64 out=f.npy

# ---- class 5: unbounded expansion ----
# Interpolations that double at every key: 8 x 2^40 bytes if expanded.
chain=('+model.k0=xxxxxxxx')
for i in $(seq 1 40); do chain+=("+model.k$i=\${model.k$((i - 1))}\${model.k$((i - 1))}"); done
expect 1 "interpolations expand to more than 16777216 bytes" -- "${TRAIN[@]}" "${chain[@]}"
# Maps that refer twice to the next: 2^40 nodes in a resolved copy.
maps=('+model.a0={x: 1}')
for i in $(seq 1 40); do maps+=("+model.a$i={l: '\${model.a$((i - 1))}', r: '\${model.a$((i - 1))}'}"); done
expect 1 "interpolations expand to more than 16777216 bytes" -- "${TRAIN[@]}" "${maps[@]}"
# The same chain in a config file: the message names the key.
mkdir -p conf
{ cat "$ROOT/examples/asr/conf/conformer/conformer_ctc_char_cpu_small.yaml"
  echo "chain:"; echo "  k0: xxxxxxxx"
  for i in $(seq 1 40); do echo "  k$i: \${chain.k$((i - 1))}\${chain.k$((i - 1))}"; done
  echo "bomb: \${chain.k40}"; } >conf/bomb.yaml
expect 1 "chain.k20: interpolations expand to more than" -- "$NEMOC" asr train --config-path conf --config-name bomb \
    "${TINY[@]}" model.train_ds.manifest_filepath=data/train_manifest.json \
    model.validation_ds.manifest_filepath=data/validation_manifest.json trainer.max_steps=1
# Hydra defaults that fan out: f<i> lists f<i+1> ten times, 10^8 loads.
mkdir -p fan
for i in $(seq 0 7); do
    { echo "defaults:"; for _ in $(seq 1 10); do echo "  - f$((i + 1))"; done; echo "v$i: $i"; } >fan/f$i.yaml
done
echo "leaf: 1" >fan/f8.yaml
expect 1 "fan/f" -- "$NEMOC" asr train --config-path fan --config-name f0
expect 1 "defaults lists load more than 1000 config files" -- "$NEMOC" asr train --config-path fan --config-name f0
printf 'defaults:\n  - loop\nx: 1\n' >fan/loop.yaml
expect 1 "fan/loop.yaml: defaults lists nest deeper than 32 files" -- "$NEMOC" asr train --config-path fan --config-name loop

echo "OK: $n hostile-size cases"
