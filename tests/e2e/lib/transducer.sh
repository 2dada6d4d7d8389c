# Shared by the transducer e2e scripts (asr_rnnt_train.sh, asr_tdt_train.sh,
# asr_multiblank_train.sh, asr_hybrid_train.sh): the tiny data set, the
# overrides that shrink a CPU config to a seconds-long run, and the
# loss-fell check. Sourced, not run (ctest globs tests/e2e/*.sh only).
# Needs NEMOC, W (a scratch folder) and fail() from the caller.

# 24 synthesized digit utterances (4 for validation) and a 32-piece
# SentencePiece BPE tokenizer trained on them; sets TOK.
tiny_data() {
    "$NEMOC" data synth out_dir="$W/data" text_set=digits letters=false num_utts=24 seed=7 \
        num_validation=4 num_test=0 >/dev/null
    "$NEMOC" tokenizer train --manifest "$W/data/train_manifest.json" --data_root "$W/tok" \
        --vocab_size 32 --tokenizer spe --spe_type bpe >/dev/null
    TOK=$(ls -d "$W"/tok/tokenizer_spe_bpe_v*)
}

# A 48-wide, 2-layer model without dropout or SpecAugment, batches of 4,
# validation every 20 steps, every step logged; the caller adds the encoder
# overrides its architecture needs and trainer.max_steps.
tiny_overrides() {
    TINY=(model.tokenizer.dir="$TOK"
          model.train_ds.manifest_filepath="$W/data/train_manifest.json"
          model.validation_ds.manifest_filepath="$W/data/validation_manifest.json"
          model.train_ds.num_workers=0 model.validation_ds.num_workers=0
          model.encoder.d_model=48 model.encoder.n_layers=2
          model.model_defaults.pred_hidden=48 model.model_defaults.joint_hidden=48
          model.encoder.dropout=0.0 model.encoder.dropout_pre_encoder=0.0 model.encoder.dropout_att=0.0
          model.decoder.prednet.dropout=0.0 model.joint.jointnet.dropout=0.0
          model.spec_augment.freq_masks=0 model.spec_augment.time_masks=0
          model.train_ds.batch_size=4 model.optim.lr=3e-3 model.optim.sched.warmup_steps=5
          trainer.max_epochs=-1 trainer.val_check_interval=20
          trainer.log_every_n_steps=1 trainer.enable_progress_bar=false)
}

# The mean of the first and of the last 5 logged train losses of METRICS
# (single steps are noisy) must fall at least 2x.
loss_fell_2x() {
    local losses first last
    losses=$(sed -n 's/.*"train_loss": \([0-9.e+-]*\).*/\1/p' "$1")
    first=$(awk 'NR <= 5 {s += $1; n++} END {print s / n}' <<<"$losses")
    last=$(tail -n5 <<<"$losses" | awk '{s += $1; n++} END {print s / n}')
    echo "train loss (mean of 5 steps) $first -> $last"
    awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a / 2) }' || fail "loss did not fall 2x: $first -> $last"
}
