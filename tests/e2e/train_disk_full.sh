#!/usr/bin/env bash
# Disk full while writing a checkpoint, on a real small tmpfs (in a private
# mount namespace; skipped where mounting is not allowed): the run stops with
# exit code 1 and a message naming the checkpoint and "No space left on
# device", the previous -last checkpoint is intact (it loads and transcribes),
# no temp file is left, and once there is space the run resumes and finishes.
set -euo pipefail
NEMOC=$1
ROOT=${NC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}

if [ "${NC_IN_MOUNT_NS:-}" != 1 ]; then
    for how in "unshare -m" "unshare -rm"; do
        if $how true 2>/dev/null && $how sh -c 'd=$(mktemp -d); mount -t tmpfs -o size=64k tmpfs "$d" && umount "$d"; r=$?; rmdir "$d"; exit $r' 2>/dev/null; then
            NC_IN_MOUNT_NS=1 exec $how bash "$0" "$@"
        fi
    done
    echo "SKIP: cannot mount a tmpfs here (needs root or unprivileged user namespaces)"
    exit 0
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/nemoc_e2e_disk.XXXXXX")
trap 'umount "$W/exp" 2>/dev/null; rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

"$NEMOC" data synth out_dir="$W/data" text_set=digits num_utts=40 seed=2 \
    validation_fraction=0.1 test_fraction=0 >/dev/null 2>&1 || fail "synth"
args=(--config-path "$ROOT/examples/asr/conf/conformer" --config-name conformer_ctc_char_cpu_small
    model.train_ds.manifest_filepath="$W/data/train_manifest.json"
    model.validation_ds.manifest_filepath="$W/data/validation_manifest.json"
    model.encoder.d_model=32 model.encoder.n_layers=1 model.encoder.n_heads=2
    model.encoder.conv_kernel_size=3 model.encoder.subsampling_conv_channels=8
    model.preprocessor.features=16 model.train_ds.batch_size=2
    trainer.max_epochs=-1 trainer.val_check_interval=100 trainer.log_every_n_steps=1
    trainer.enable_progress_bar=false +exp_manager.checkpoint_callback_params.every_n_train_steps=3
    exp_manager.checkpoint_callback_params.always_save_nemo=false
    exp_manager.create_tensorboard_logger=false exp_manager.exp_dir="$W/exp"
    exp_manager.resume_if_exists=true exp_manager.resume_ignore_no_checkpoint=true)

# The size of one checkpoint, from a 3-step run on the ordinary disk.
mkdir -p "$W/exp"
"$NEMOC" asr train "${args[@]}" trainer.max_steps=3 >"$W/probe.log" 2>&1 || { cat "$W/probe.log"; fail "probe run"; }
size=$(stat -c %s "$W"/exp/*/checkpoints/*-last.ckpt)
rm -rf "$W/exp"/*

# Room for one checkpoint and the logs, not for the temp file of the second
# (36 utterances in batches of 2: no validation before step 18).
mkdir -p "$W/exp"
mount -t tmpfs -o size=$((size * 3 / 2 + 65536)) tmpfs "$W/exp"
rc=0
"$NEMOC" asr train "${args[@]}" trainer.max_steps=12 >"$W/full.log" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || { cat "$W/full.log"; fail "exit code $rc on a full disk, want 1"; }
grep -q "checkpoint of step 6 not saved (earlier checkpoints are intact)" "$W/full.log" ||
    { cat "$W/full.log"; fail "no message naming the checkpoint that failed"; }
grep -q "No space left on device" "$W/full.log" || fail "the message does not say the disk is full"
ls "$W"/exp/*/checkpoints/ | grep -q '\.tmp\.' && fail "a temp file was left on the full disk"
last=$(ls "$W"/exp/*/checkpoints/*-last.ckpt)
[ "$(echo "$last" | wc -l)" -eq 1 ] || fail "want exactly one -last checkpoint, found: $last"
"$NEMOC" asr transcribe model_path="$last" dataset_manifest="$W/data/validation_manifest.json" \
    output_filename="$W/pred.json" >"$W/tr.log" 2>&1 || { cat "$W/tr.log"; fail "the previous checkpoint does not load"; }
echo "disk full at step 6: exit 1, '$(grep -o 'No space left on device' "$W/full.log" | head -n1)', step-3 checkpoint intact"

# Space again: resume from step 3 and finish.
mount -o remount,size=64m "$W/exp"
"$NEMOC" asr train "${args[@]}" trainer.max_steps=12 >"$W/resume.log" 2>&1 || { cat "$W/resume.log"; fail "resume"; }
grep -q "done: 12 steps" "$W/resume.log" || fail "the resumed run did not finish"
find "$W/exp" -name nemo_log_globalrank-0_localrank-0.txt -exec grep -h "resumed from" {} + | grep -q "at step 3 " ||
    fail "did not resume from the step-3 checkpoint"
echo "OK"
