#!/usr/bin/env bash
# bf16-mixed against fp32 on the demo task: the same synthetic digits data
# (nemoc data synth, as `make demo`), the demo's Conformer-CTC config, the
# same seed, LC_STEPS optimizer steps (default 200) in each precision; prints
# both train_loss curves (logged every 10 steps) side by side and checks
# that they agree within bf16 tolerance: every logged loss within REL
# (default 5%) of the fp32 one, relative to the larger of the two, after
# the first 10% of steps.
#
#   bench/loss_curve.sh [NEMOC] (default build/bin/nemoc)
#   env: LC_STEPS=200 UTTS=1200 REL=0.05 OUT=bench_out/loss_curve
set -euo pipefail
NEMOC=${1:-build/bin/nemoc}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STEPS=${LC_STEPS:-200} # not STEPS: run.sh uses that for its timed steps
UTTS=${UTTS:-1200}
REL=${REL:-0.05}
OUT=${OUT:-bench_out/loss_curve}
mkdir -p "$OUT"
if [ ! -f "$OUT/data/train_manifest.json" ]; then
    "$NEMOC" data synth out_dir="$OUT/data" text_set=digits num_utts="$UTTS" seed=7 | tail -n 1
fi
for p in 32 bf16-mixed; do
    rm -rf "$OUT/exp_$p"
    start=$(date +%s)
    "$NEMOC" asr train --config-path "$ROOT/examples/asr/conf/conformer" \
        --config-name conformer_ctc_char_cpu_small \
        model.train_ds.manifest_filepath="$OUT/data/train_manifest.json" \
        model.validation_ds.manifest_filepath="$OUT/data/validation_manifest.json" \
        trainer.precision="$p" trainer.max_epochs=-1 trainer.max_steps="$STEPS" \
        trainer.val_check_interval=1000000 trainer.log_every_n_steps=10 \
        trainer.enable_progress_bar=false exp_manager.exp_dir="$OUT/exp_$p" > "$OUT/train_$p.log" 2>&1
    echo "precision $p: $STEPS steps in $(( $(date +%s) - start )) s"
done
curve() { grep train_loss "$(ls "$OUT"/exp_"$1"/*/*/metrics.jsonl)" |
          sed 's/.*"step": \([0-9]*\).*"train_loss": \([0-9.e+-]*\).*/\1 \2/'; }
join <(curve 32) <(curve bf16-mixed) > "$OUT/curves.txt"
awk -v rel="$REL" -v steps="$STEPS" '
    { d = $2 - $3; if (d < 0) d = -d; m = $2 > $3 ? $2 : $3; r = m > 0 ? d / m : 0
      printf "step %5d  fp32 %9.4f  bf16 %9.4f  rel diff %.4f\n", $1, $2, $3, r
      if ($1 > steps / 10 && r > worst) worst = r }
    END { printf "worst relative difference after step %d: %.4f (bound %.2f)\n", steps / 10, worst, rel
          exit !(worst <= rel) }' "$OUT/curves.txt"
