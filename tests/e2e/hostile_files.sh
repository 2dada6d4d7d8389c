#!/usr/bin/env bash
# Hostile files through the CLI (docs/reliability.md, "Hostile files"):
# a FIFO, /dev/zero, a folder or a socket where a file is read; a device, a
# FIFO, a folder, a dangling link or a read-only folder where an output is
# written; planted links at temp names; names that are paths. Every case
# must end at once (each command runs under `timeout 20`; a timeout is a
# failure) with exit code 1 (error) or 2 (usage) and a message naming the
# path or key, write nothing outside its output, and leave devices and FIFOs
# as they were.
set -euo pipefail
NEMOC=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=${NC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# The work folder sits one level down in a private folder, so the escape
# checks ("../x") look at a place no other program writes to.
W0=$(mktemp -d "${TMPDIR:-/tmp}/nemoc_e2e_hostile.XXXXXX")
W=$W0/w
mkdir "$W"
trap 'chmod -R u+w "$W0" 2>/dev/null; rm -rf "$W0"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
cd "$W"

n=0
# expect RC TEXT -- command...: exit code RC and TEXT (a literal) in the output.
expect() {
    local want=$1 text=$2
    shift 3
    local rc=0 out
    out=$(timeout 20 "$@" 2>&1 </dev/null) || rc=$?
    [ "$rc" -ne 124 ] || fail "hang (killed after 20 s): $*"
    [ "$rc" -lt 124 ] || { echo "$out" | tail -n 20; fail "crash (exit $rc): $*"; }
    [ "$rc" -eq "$want" ] || { echo "$out" | tail -n 20; fail "exit $rc, want $want: $*"; }
    grep -qF -- "$text" <<<"$out" || { echo "$out" | tail -n 20; fail "no '$text' in the output of: $*"; }
    n=$((n + 1))
}
is_chr() { for d in "$@"; do [ -c "$d" ] || fail "$d is no longer a character device"; done; }
is_fifo() { for f in "$@"; do [ -p "$f" ] || fail "$f is no longer a FIFO"; done; }
# The folder holds exactly these names (nothing written beside the output).
only() {
    local d=$1 got want=""
    shift
    got=$(cd "$d" && ls -A | sort | tr '\n' ' ')
    [ $# -eq 0 ] || want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
    [ "$got" = "$want" ] || fail "$d holds: $got; want: $*"
}

# A small model and data set (a 1-step run).
"$NEMOC" data synth out_dir=data text_set=digits num_utts=12 seed=4 validation_fraction=0.25 \
    test_fraction=0 >/dev/null 2>&1 || fail "synth"
CONF=(--config-path "$ROOT/examples/asr/conf/conformer" --config-name conformer_ctc_char_cpu_small)
TINY=(model.encoder.d_model=32 model.encoder.n_layers=1 model.encoder.n_heads=2
    model.encoder.conv_kernel_size=3 model.encoder.subsampling_conv_channels=8
    model.preprocessor.features=16 trainer.enable_progress_bar=false
    exp_manager.create_tensorboard_logger=false trainer.max_steps=1)
TRAIN=("$NEMOC" asr train "${CONF[@]}" "${TINY[@]}")
TD=model.train_ds.manifest_filepath=data/train_manifest.json
VD=model.validation_ds.manifest_filepath=data/validation_manifest.json
"${TRAIN[@]}" "$TD" "$VD" exp_manager.exp_dir=exp0 >train0.log 2>&1 || { cat train0.log; fail "training the test model"; }
cp exp0/*/*/checkpoints/*--end.ckpt model.ckpt
cp exp0/*/*/checkpoints/*.nemo model.nemo
VM=data/validation_manifest.json
TR=("$NEMOC" asr transcribe model_path=model.ckpt)

mkfifo fifo fifo.ckpt fifo.nemo fifo.yaml fifo.wav fifo.txt
mkdir -p adir dir.yaml dir.ckpt
ln -s /dev/zero zero.yaml
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' sock.json 2>/dev/null || :

# ---- class 2: non-regular files given to read ----
for m in fifo.ckpt fifo.nemo; do
    expect 1 "'$m' is a FIFO (named pipe), not a regular file" -- "${TR[@]/model.ckpt/$m}" dataset_manifest=$VM output_filename=o.json
done
expect 1 "'/dev/zero' is a character device, not a regular file" -- "${TR[@]/model.ckpt//dev/zero}" dataset_manifest=$VM output_filename=o.json
expect 1 "'dir.ckpt' is a directory, not a regular file" -- "${TR[@]/model.ckpt/dir.ckpt}" dataset_manifest=$VM output_filename=o.json
expect 1 "manifest: file 'fifo' is a FIFO (named pipe)" -- "${TR[@]}" dataset_manifest=fifo output_filename=o.json
expect 1 "manifest: file '/dev/zero' is a character device" -- "${TR[@]}" dataset_manifest=/dev/zero output_filename=o.json
expect 1 "manifest: file 'adir' is a directory" -- "${TR[@]}" dataset_manifest=adir output_filename=o.json
if [ -S sock.json ]; then
    expect 1 "manifest: file 'sock.json' is a socket" -- "${TR[@]}" dataset_manifest=sock.json output_filename=o.json
fi
expect 1 "manifest: file 'fifo' is a FIFO" -- "$NEMOC" asr eval model_path=model.ckpt dataset_manifest=fifo output_filename=o.json
# Audio named by a manifest: skipped with a warning, or an error with skip_bad_audio=false.
a=$(sed -n 's/.*"audio_filepath": "\([^"]*\)".*/\1/p' $VM | head -n 1)
{ for f in fifo.wav /dev/zero adir sock.json; do
    printf '{"audio_filepath": "%s", "duration": 1.0, "text": "a"}\n' "$f"; done
  printf '{"audio_filepath": "data/%s", "duration": 1.0, "text": "a"}\n' "$a"; } >m_audio.json
out=$(timeout 20 "${TR[@]}" dataset_manifest=m_audio.json output_filename=o.json 2>&1) || fail "transcribe with hostile audio: $out"
for why in "m_audio.json:1: audio './fifo.wav': audio file './fifo.wav' is a FIFO (named pipe)" \
    "m_audio.json:2: audio '/dev/zero': audio file '/dev/zero' is a character device" \
    "m_audio.json:3: audio './adir': audio file './adir' is a directory"; do
    grep -qF "$why" <<<"$out" || { echo "$out"; fail "no warning: $why"; }
    n=$((n + 1))
done
grep -qF "transcribed 1 of" <<<"$out" || { echo "$out"; fail "the regular file was not transcribed"; }
expect 1 "m_audio.json:1: audio './fifo.wav': audio file './fifo.wav' is a FIFO" -- \
    "${TR[@]}" dataset_manifest=m_audio.json output_filename=o.json skip_bad_audio=false
mkdir -p ad && mkfifo ad/x.wav
# every input skipped: nothing transcribed is a failure (exit 1)
expect 1 "audio file '$W/ad/x.wav' is a FIFO" -- "${TR[@]}" audio_dir=ad output_filename=o.json
expect 1 "audio_dir 'fifo'" -- "${TR[@]}" audio_dir=fifo output_filename=o.json
printf '{"audio_filepath": "data/%s", "duration": 1.0, "text_filepath": "fifo.txt"}\n' "$a" >m_text.json
expect 1 "m_text.json:1: text_filepath: file './fifo.txt' is a FIFO" -- \
    "$NEMOC" asr eval model_path=model.ckpt dataset_manifest=m_text.json output_filename=o.json
# Configs and training inputs.
expect 1 "file './fifo.yaml' is a FIFO (named pipe)" -- "$NEMOC" asr train --config-path . --config-name fifo
expect 1 "file './zero.yaml' is a character device" -- "$NEMOC" asr train --config-path . --config-name zero
expect 1 "file './dir.yaml' is a directory" -- "$NEMOC" asr train --config-path . --config-name dir
expect 1 "file 'fifo' is a FIFO" -- "${TRAIN[@]}" model.train_ds.manifest_filepath=fifo "$VD" exp_manager.exp_dir=e
expect 1 "file 'fifo' is a FIFO" -- "${TRAIN[@]}" "$TD" model.validation_ds.manifest_filepath=fifo exp_manager.exp_dir=e
expect 1 "file '/dev/zero' is a character device" -- "${TRAIN[@]}" model.train_ds.manifest_filepath=/dev/zero "$VD" exp_manager.exp_dir=e
expect 1 "'fifo.nemo' is a FIFO" -- "${TRAIN[@]}" "$TD" "$VD" exp_manager.exp_dir=e +init_from_nemo_model=fifo.nemo
expect 1 "'adir' is a directory" -- "${TRAIN[@]}" "$TD" "$VD" exp_manager.exp_dir=e +init_from_nemo_model=adir
expect 1 "'fifo.ckpt' is a FIFO" -- "${TRAIN[@]}" "$TD" "$VD" exp_manager.exp_dir=e \
    +exp_manager.resume_from_checkpoint=fifo.ckpt
expect 1 "'/dev/zero' is a character device" -- "${TRAIN[@]}" "$TD" "$VD" exp_manager.exp_dir=e \
    +exp_manager.resume_from_checkpoint=/dev/zero
# A tokenizer folder whose files are FIFOs.
mkdir -p tokf && mkfifo tokf/tokenizer.model tokf/vocab.txt
BPE=("$NEMOC" asr train --config-path "$ROOT/examples/asr/conf/conformer" --config-name conformer_ctc_bpe
    "${TINY[@]}" "$TD" "$VD" exp_manager.exp_dir=e)
expect 1 "tokf/tokenizer.model' is a FIFO" -- "${BPE[@]}" model.tokenizer.dir=tokf
expect 1 "tokf/vocab.txt' is a FIFO" -- "${BPE[@]}" model.tokenizer.dir=tokf model.tokenizer.type=wpe
expect 1 "'tokf/tokenizer.model' is a FIFO" -- "$NEMOC" tokenizer encode --model tokf/tokenizer.model
expect 1 "'/dev/zero' is a character device" -- "$NEMOC" tokenizer encode --model /dev/zero
expect 1 "tokf/vocab.txt' is a FIFO" -- "$NEMOC" tokenizer encode --dir tokf --type wpe
# Tokenizer training inputs.
TT=("$NEMOC" tokenizer train --data_root tok --vocab_size 16)
expect 1 "text corpus 'fifo.txt' is a FIFO" -- "${TT[@]}" --data_file fifo.txt --tokenizer spe
expect 1 "text corpus 'fifo.txt' is a FIFO" -- "${TT[@]}" --data_file fifo.txt --tokenizer wpe
expect 1 "text corpus '/dev/zero' is a character device" -- "${TT[@]}" --data_file /dev/zero --tokenizer wpe
expect 1 "text corpus 'adir' is a directory" -- "${TT[@]}" --data_file adir --tokenizer spe
expect 1 "manifest 'fifo' is a FIFO" -- "${TT[@]}" --manifest fifo --tokenizer wpe
expect 1 "manifest '/dev/zero' is a character device" -- "${TT[@]}" --manifest $VM,/dev/zero --tokenizer wpe
[ ! -e tok/text_corpus/document.txt ] || fail "a corpus was left by a failed tokenizer train"
# Audio features and export.
expect 1 "'fifo.wav' is a FIFO" -- "$NEMOC" audio features fifo.wav out=f.npy
expect 1 "'/dev/zero' is a character device" -- "$NEMOC" audio features /dev/zero out=f.npy
expect 1 "'adir' is a directory" -- "$NEMOC" audio features adir out=f.npy
expect 1 "'fifo.ckpt' is a FIFO" -- "$NEMOC" export model_path=fifo.ckpt out=x.safetensors
expect 1 "'fifo.txt' is a FIFO" -- "$NEMOC" data synth out_dir=s1 text_set=fifo.txt num_utts=2
is_fifo fifo fifo.ckpt fifo.nemo fifo.yaml fifo.wav fifo.txt tokf/tokenizer.model ad/x.wav
is_chr /dev/zero

# ---- class 3: outputs replace only regular files ----
for dev in /dev/full /dev/null; do
    expect 1 "cannot write '$dev': it is a character device" -- "${TR[@]}" dataset_manifest=$VM output_filename=$dev
    expect 1 "cannot write '$dev': it is a character device" -- "$NEMOC" audio features "data/$a" out=$dev
    expect 1 "cannot write '$dev': it is a character device" -- "$NEMOC" export model_path=model.ckpt out=$dev
done
expect 1 "cannot write 'fifo': it is a FIFO (named pipe)" -- "${TR[@]}" dataset_manifest=$VM output_filename=fifo
expect 1 "cannot write 'fifo': it is a FIFO" -- "$NEMOC" audio features "data/$a" out=fifo
expect 1 "cannot write 'adir': it is a directory" -- "${TR[@]}" dataset_manifest=$VM output_filename=adir
expect 1 "cannot write 'adir': it is a directory" -- "$NEMOC" export model_path=model.ckpt out=adir
# Standard output that cannot be written is an error too.
expect 1 "nemoc: cannot write standard output: No space left on device" -- \
    sh -c '"$@" >/dev/full' _ "${TR[@]}" dataset_manifest=$VM output_filename=o.json
ln -s /dev/full devlink.json
expect 1 "cannot write 'devlink.json': it is a symbolic link to a character device" -- \
    "${TR[@]}" dataset_manifest=$VM output_filename=devlink.json
ln -s nowhere/victim.json dangling.json
expect 1 "cannot write 'dangling.json': it is a symbolic link to a missing file" -- \
    "${TR[@]}" dataset_manifest=$VM output_filename=dangling.json
[ ! -e nowhere ] || fail "a dangling link was written through"
# A link to a regular file is written through; the link stays.
echo old >real.json && ln -s real.json link.json
expect 0 "-> link.json" -- "${TR[@]}" dataset_manifest=$VM output_filename=link.json
[ -L link.json ] && grep -q pred_text real.json || fail "link.json was not written through to real.json"
n=$((n + 1))
# An output folder holding FIFOs in place of the manifests: refused, FIFOs kept.
mkdir -p s2 && mkfifo s2/train_manifest.json
expect 1 "it is a FIFO" -- "$NEMOC" data synth out_dir=s2 num_utts=2 validation_fraction=0 test_fraction=0 engines=espeak
# Training logs: a FIFO or a link to a device in place of a log file.
mkdir -p lg1 lg2 lg3
mkfifo lg1/metrics.jsonl
expect 1 "metrics log '$W/lg1/metrics.jsonl' is a FIFO" -- "${TRAIN[@]}" "$TD" "$VD" \
    +exp_manager.explicit_log_dir="$W/lg1"
ln -s /dev/full lg2/nemo_log_globalrank-0_localrank-0.txt
expect 1 "is a character device" -- "${TRAIN[@]}" "$TD" "$VD" +exp_manager.explicit_log_dir="$W/lg2"
mkfifo lg3/hparams.yaml
expect 1 "cannot write '$W/lg3/hparams.yaml': it is a FIFO" -- "${TRAIN[@]}" "$TD" "$VD" \
    +exp_manager.explicit_log_dir="$W/lg3"
is_fifo fifo s2/train_manifest.json lg1/metrics.jsonl lg3/hparams.yaml
is_chr /dev/full /dev/null
# A read-only output folder (as an unprivileged user when run as root).
mkdir -p ro && chmod 555 ro
AS=()
if [ "$(id -u)" = 0 ]; then
    chmod 755 "$W0" "$W" && AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
if "${AS[@]}" true 2>/dev/null; then
    expect 1 "cannot write 'ro/o.json': cannot create its temp file" -- "${AS[@]}" "${TR[@]}" dataset_manifest=$VM output_filename=ro/o.json
    expect 1 "cannot write 'ro/f.npy'" -- "${AS[@]}" "$NEMOC" audio features "data/$a" out=ro/f.npy
    expect 1 "ro/tok" -- "${AS[@]}" "$NEMOC" tokenizer train --data_root ro/tok --vocab_size 16 \
        --data_file "$W/data/train_manifest.json" --tokenizer wpe
    expect 1 "ro/exp" -- "${AS[@]}" "${TRAIN[@]}" "$TD" "$VD" exp_manager.exp_dir=ro/exp
    only ro
fi

# ---- class 4: temp files are unpredictable and cleaned up ----
# Links planted at the old predictable names ("<out>.tmp.<pid>" for the
# next pids, "<corpus>.tmp", ".spm_train.log") are never followed.
mkdir -p pl
base=$(sh -c 'echo $$')
for p in $(seq "$base" $((base + 150))); do ln -s "$W/victim_$p" "pl/o.json.tmp.$p"; done
expect 0 "-> pl/o.json" -- "${TR[@]}" dataset_manifest=$VM output_filename=pl/o.json
ls "$W" | grep -q '^victim_' && fail "a planted temp link was followed"
[ "$(ls pl | grep -vc '^o\.json\.tmp\.[0-9]*$')" = 1 ] || fail "pl/ holds more than o.json and the planted links"
n=$((n + 1))
mkdir -p tk/text_corpus tk/tokenizer_spe_bpe_v32
ln -s "$W/victim_doc" tk/text_corpus/document.txt.tmp
ln -s "$W/victim_log" tk/tokenizer_spe_bpe_v32/.spm_train.log
expect 0 "Serialized tokenizer" -- "$NEMOC" tokenizer train --manifest data/train_manifest.json --data_root tk \
    --vocab_size 32 --tokenizer spe --spe_type bpe
[ ! -e victim_doc ] && [ ! -e victim_log ] || fail "tokenizer train followed a planted link"
only tk/tokenizer_spe_bpe_v32 .spm_train.log tokenizer.model tokenizer.vocab vocab.txt
n=$((n + 1))
# SIGINT in the middle of a transcription removes the output's temp file.
sox "data/$a" long.wav repeat 20
d=$(soxi -D long.wav)
for _ in $(seq 400); do printf '{"audio_filepath": "long.wav", "duration": %.2f, "text": "a"}\n' "${d%.*}"; done >m_long.json
mkdir -p si
"${TR[@]}" dataset_manifest=m_long.json output_filename=si/o.json >si.log 2>&1 &
pid=$!
for _ in $(seq 200); do ls si | grep -q tmp && break; sleep 0.05; done
ls si | grep -q 'o\.json\.tmp\.' || fail "no temp file while transcribing"
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 130 ] || fail "SIGINT: exit $rc, want 130"
only si
n=$((n + 1))
# No temp file or folder is left, after success or failure.
mkdir -p tmpd
TMPDIR="$W/tmpd" expect 0 "" -- "$NEMOC" data synth out_dir=s3 num_utts=3 validation_fraction=0 test_fraction=0
TMPDIR="$W/tmpd" expect 1 "it is a FIFO" -- "$NEMOC" data synth out_dir=s2 num_utts=2 validation_fraction=0 test_fraction=0
only tmpd
find . -name '*.tmp.*' ! -path './pl/*' | grep -q . && fail "temp files left: $(find . -name '*.tmp.*' ! -path './pl/*')"
n=$((n + 1))

# ---- class 9: exp_manager names are names, not paths ----
for kv in exp_manager.name=../../x exp_manager.name=a/b exp_manager.name=.. +exp_manager.version=../v \
    +exp_manager.version=a/b +exp_manager.version=.; do
    key=${kv%%=*}
    expect 1 "${key#+}: '${kv#*=}'" -- "${TRAIN[@]}" "$TD" "$VD" exp_manager.exp_dir=n/exp "$kv"
done
for f in ../../evil sub/{epoch}; do
    expect 1 "exp_manager.checkpoint_callback_params.filename: '$f' must be a name, not a path" -- \
        "${TRAIN[@]}" "$TD" "$VD" exp_manager.exp_dir=n/exp +exp_manager.checkpoint_callback_params.filename="$f"
done
NEMO_EXPM_VERSION=../v expect 1 "NEMO_EXPM_VERSION: '../v' must be a name" -- "${TRAIN[@]}" "$TD" "$VD" exp_manager.exp_dir=n/exp
[ ! -e x ] && [ ! -e ../x ] && [ ! -e evil.ckpt ] && [ ! -e n/v ] || fail "a name escaped its folder"
[ ! -e n/exp ] || only n/exp
echo "OK: $n hostile-file cases"
