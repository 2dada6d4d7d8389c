#!/usr/bin/env bash
# A rank that dies mid-run: `mpirun -np 2 nemoc asr train`, then SIGKILL of
# rank 1 once training is under way. The job must end within 60 s (OpenMPI
# stops the surviving rank; nemoc's collectives also have a watchdog) with a
# message naming the dead rank.
# ctest-labels: slow
set -euo pipefail
NEMOC=$1
ROOT=${NC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
if ! command -v mpirun >/dev/null; then echo "SKIPPED: mpirun is not installed"; exit 0; fi
W=$(mktemp -d "${TMPDIR:-/tmp}/nemoc_e2e_kill.XXXXXX")
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1

"$NEMOC" data synth out_dir="$W/data" text_set=digits letters=false num_utts=64 seed=3 \
    num_validation=0 num_test=0 >/dev/null
mpirun -np 2 "$NEMOC" asr train --config-path "$ROOT/examples/asr/conf/conformer" \
    --config-name conformer_ctc_char_cpu_small \
    model.train_ds.manifest_filepath="$W/data/train_manifest.json" ~model.validation_ds \
    model.train_ds.batch_size=4 model.encoder.d_model=32 model.encoder.n_layers=1 trainer.devices=2 \
    trainer.max_epochs=-1 trainer.max_steps=100000 trainer.log_every_n_steps=1 \
    trainer.enable_progress_bar=false exp_manager.exp_dir="$W/exp" >"$W/log" 2>&1 &
MPI=$!
# Wait until training runs (a step in metrics.jsonl: mpirun hands ranks a pty,
# so rank 0's console output is a progress bar), then kill rank 1.
started() { grep -qs train_loss "$W"/exp/*/*/metrics.jsonl; }
for _ in $(seq 1 120); do
  started && break
  sleep 0.5
done
started || { kill $MPI 2>/dev/null; cat "$W/log"; fail "training never started"; }
victim=""
for pid in $(pgrep -P $MPI); do
  if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then victim=$pid; fi
done
[ -n "$victim" ] || { kill $MPI; fail "rank 1 not found among mpirun's children"; }
t0=$(date +%s)
kill -9 "$victim"
rc=0
timeout 60 tail --pid=$MPI -f /dev/null || rc=$?
t1=$(date +%s)
[ $rc -eq 0 ] || { kill -9 $MPI 2>/dev/null; fail "the job did not end within 60 s of the kill"; }
wait $MPI && fail "mpirun reported success after a rank was killed" || true
echo "job ended $((t1 - t0)) s after rank 1 was killed"
grep -Ei "rank 1|\[\[[0-9]+,1\],1\]" "$W/log" || { cat "$W/log"; fail "no message names rank 1"; }
echo OK
