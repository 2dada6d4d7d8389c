#!/usr/bin/env bash
# Faults during training: a run killed with SIGKILL at several moments, or
# stopped with SIGINT / SIGTERM, resumes with exp_manager.resume_if_exists and
# produces exactly the loss values of an uninterrupted run (fp32, fixed seed
# and thread count), step by step, including the steps it repeats after the
# kill. SIGINT/SIGTERM exit with code 130 after writing a -last checkpoint of
# the step reached.
set -euo pipefail
NEMOC=$1
ROOT=${NC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
W=$(mktemp -d "${TMPDIR:-/tmp}/nemoc_e2e_kill.XXXXXX")
bg=
trap '[ -n "$bg" ] && kill -9 $bg 2>/dev/null; rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# Idle OpenMP threads sleep instead of spinning: the suite runs tests in
# parallel on few cores (the results do not depend on it).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

"$NEMOC" data synth out_dir="$W/data" text_set=digits num_utts=100 seed=5 \
    validation_fraction=0.1 test_fraction=0 >/dev/null 2>&1 || fail "synth"

# 90 training utterances in batches of 8: 12 batches per epoch, so 40 steps
# cross three epoch boundaries; validation every 10 batches, a -last
# checkpoint every 3 steps. Dropout, SpecAugment and dither are on.
STEPS=40
args=(--config-path "$ROOT/examples/asr/conf/conformer" --config-name conformer_ctc_char_cpu_small
    model.train_ds.manifest_filepath="$W/data/train_manifest.json"
    model.validation_ds.manifest_filepath="$W/data/validation_manifest.json"
    model.encoder.d_model=32 model.encoder.n_layers=1 model.encoder.n_heads=2
    model.encoder.conv_kernel_size=3 model.encoder.subsampling_conv_channels=8
    model.preprocessor.features=16 model.train_ds.batch_size=8
    trainer.max_epochs=-1 trainer.max_steps=$STEPS trainer.val_check_interval=10
    trainer.log_every_n_steps=1 trainer.enable_progress_bar=false
    +exp_manager.checkpoint_callback_params.every_n_train_steps=3
    exp_manager.create_tensorboard_logger=false
    exp_manager.resume_if_exists=true exp_manager.resume_ignore_no_checkpoint=true)

# "step loss" for every train_loss line of every metrics.jsonl under $1, in
# step order, duplicates kept (steps repeated after a resume must match too).
losses() {
    find "$1" -name metrics.jsonl -exec cat {} + | grep '"train_loss"' |
        sed 's/^{"step": \([0-9]*\), "train_loss": \([^,]*\),.*/\1 \2/' | sort -n -s -k1,1
}
last_step() {
    local m
    m=$(find "$1" -name metrics.jsonl -newer "$W/started" 2>/dev/null | head -n1)
    [ -n "$m" ] && grep '"train_loss"' "$m" | tail -n1 | sed 's/^{"step": \([0-9]*\),.*/\1/'
}

"$NEMOC" asr train "${args[@]}" exp_manager.exp_dir="$W/ref" >"$W/ref.log" 2>&1 ||
    { cat "$W/ref.log"; fail "reference run"; }
losses "$W/ref" >"$W/ref.loss"
[ "$(wc -l <"$W/ref.loss")" -eq $STEPS ] || fail "reference run logged $(wc -l <"$W/ref.loss") losses, want $STEPS"

# Starts a run in the background and sends signal $2 once it has logged step
# $3 or later (plus a random delay of up to 30 ms, so the moment within the
# step varies: forward, backward, optimizer, validation, checkpoint write).
run_and_signal() {
    local dir=$1 sig=$2 at=$3
    touch "$W/started"
    sleep 0.01
    "$NEMOC" asr train "${args[@]}" exp_manager.exp_dir="$dir" >>"$dir.log" 2>&1 &
    bg=$!
    local s=
    for _ in $(seq 1 6000); do
        s=$(last_step "$dir" || true)
        if [ -n "$s" ] && [ "$s" -ge "$at" ]; then break; fi
        kill -0 $bg 2>/dev/null || break
        sleep 0.01
    done
    sleep "0.0$((RANDOM % 3))$((RANDOM % 10))"
    kill -s "$sig" $bg 2>/dev/null || true
    local rc=0
    wait $bg || rc=$?
    bg=
    echo "$rc"
}

check_same() {
    local dir=$1 what=$2
    losses "$dir" | sort -n -u -s -k1,1 >"$W/u.loss"
    if ! cmp -s "$W/u.loss" "$W/ref.loss"; then
        diff "$W/ref.loss" "$W/u.loss" | head -n 10 >&2
        fail "$what: losses differ from the uninterrupted run"
    fi
    # A repeated step must have repeated its loss exactly.
    local dups
    dups=$(losses "$dir" | uniq | awk '{print $1}' | uniq -d | head -n 3)
    [ -z "$dups" ] || fail "$what: step(s) $dups logged different losses before and after the resume"
}

resumed_at() { find "$1" -name nemo_log_globalrank-0_localrank-0.txt -exec grep -h "resumed from" {} + 2>/dev/null |
    sed 's/.* at step \([0-9]*\).*/\1/' | tr '\n' ' '; }

# SIGKILL at several points: before the first checkpoint, around validation,
# mid-epoch, at epoch boundaries; the 4th case is killed twice.
n=0
for at in 1 5 10 12 25; do
    d="$W/kill$at"
    rc=$(run_and_signal "$d" KILL "$at")
    [ "$rc" -eq 137 ] || { cat "$d.log"; fail "kill at $at: the run was not killed (rc $rc)"; }
    ls "$d"/*/checkpoints/*.ckpt >/dev/null 2>&1 || [ "$at" -le 3 ] || fail "kill at $at: no checkpoint on disk"
    if [ "$at" -eq 12 ]; then
        rc=$(run_and_signal "$d" KILL 20)
        [ "$rc" -eq 137 ] || fail "second kill: rc $rc"
    fi
    "$NEMOC" asr train "${args[@]}" exp_manager.exp_dir="$d" >>"$d.log" 2>&1 || { cat "$d.log"; fail "resume after kill at $at"; }
    ls "$d"/*/checkpoints/ | grep -q '\.tmp\.' && fail "kill at $at: temp files left after the resume"
    check_same "$d" "kill at step >= $at"
    echo "kill -9 after step $at: resumed at step(s) $(resumed_at "$d")-> identical losses"
    n=$((n + 1))
done

# SIGINT and SIGTERM: exit 130 with a checkpoint of the step reached, then resume.
for sig in INT TERM; do
    d="$W/sig$sig"
    rc=$(run_and_signal "$d" $sig 15)
    [ "$rc" -eq 130 ] || { cat "$d.log"; fail "SIG$sig: exit code $rc, want 130"; }
    grep -q "training interrupted at step" "$d.log" || fail "SIG$sig: no interruption message"
    stopped=$(sed -n 's/.*training interrupted at step \([0-9]*\).*/\1/p' "$d.log")
    "$NEMOC" asr train "${args[@]}" exp_manager.exp_dir="$d" >>"$d.log" 2>&1 || { cat "$d.log"; fail "resume after SIG$sig"; }
    [ "$(resumed_at "$d")" = "$stopped " ] || fail "SIG$sig: stopped at $stopped but resumed at $(resumed_at "$d")"
    check_same "$d" "SIG$sig"
    echo "SIG$sig at step $stopped: exit 130, resumed at the same step -> identical losses"
done
# Two SIGTERMs in a row: the second ends the process at once (143, or 130
# if the first had already finished the job); the resume is still exact.
d="$W/twice"
touch "$W/started"
"$NEMOC" asr train "${args[@]}" exp_manager.exp_dir="$d" >>"$d.log" 2>&1 &
bg=$!
for _ in $(seq 1 6000); do
    s=$(last_step "$d" || true)
    if [ -n "$s" ] && [ "$s" -ge 8 ]; then break; fi
    sleep 0.01
done
kill -TERM $bg 2>/dev/null || true
sleep 0.005 # two signals sent together would merge into one
kill -TERM $bg 2>/dev/null || true
rc=0
wait $bg || rc=$?
bg=
[ "$rc" -eq 143 ] || [ "$rc" -eq 130 ] || { cat "$d.log"; fail "two SIGTERMs: exit code $rc"; }
"$NEMOC" asr train "${args[@]}" exp_manager.exp_dir="$d" >>"$d.log" 2>&1 || { cat "$d.log"; fail "resume after two SIGTERMs"; }
check_same "$d" "two SIGTERMs"
echo "two SIGTERMs: exit $rc, resumed at step(s) $(resumed_at "$d")-> identical losses"
echo "OK ($n kill points, 2 signals, a double SIGTERM)"
