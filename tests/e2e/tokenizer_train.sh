#!/usr/bin/env bash
# End-to-end: `nemoc tokenizer train` builds NeMo tokenizer folders from a
# small manifest, and the C tokenizers load them and agree with
# sentencepiece's own spm_encode. Usage: tokenizer_train.sh path/to/nemoc
set -euo pipefail
nemoc=${1:?usage: tokenizer_train.sh path/to/nemoc}
src=${NC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
work=$(mktemp -d "${NC_BINARY_DIR:-/tmp}/tokenizer_train.XXXXXX" 2>/dev/null || mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
for t in spm_train spm_encode; do
    command -v "$t" >/dev/null || fail "$t missing: install Debian's sentencepiece (scripts/install-deps.sh)"
done

# Two manifests from the sentence corpus (text is [a-z' ] only: JSON-safe).
head -n 1200 "$src/tests/data/text/sentences.txt" |
    awk '{ printf "{\"audio_filepath\": \"a/%d.wav\", \"duration\": 1.5, \"text\": \"%s\"}\n", NR, $0 }' >"$work/train1.json"
sed -n 1201,2000p "$src/tests/data/text/sentences.txt" |
    awk '{ printf "{\"audio_filepath\": \"b/%d.wav\", \"duration\": 2.0, \"text\": \"%s\"}\n", NR, $0 }' >"$work/train2.json"
sed -n 3001,3050p "$src/tests/data/text/sentences.txt" >"$work/held_out.txt"

# --- SentencePiece BPE from manifests ----------------------------------------
out=$("$nemoc" tokenizer train --manifest "$work/train1.json,$work/train2.json" --data_root "$work/root" \
    --vocab_size 128 --tokenizer spe --spe_type bpe)
echo "$out"
dir="$work/root/tokenizer_spe_bpe_v128"
grep -q "Serialized tokenizer at location : $dir" <<<"$out" || fail "location line missing"
for f in tokenizer.model tokenizer.vocab vocab.txt; do [ -s "$dir/$f" ] || fail "$dir/$f missing"; done
[ "$(wc -l <"$work/root/text_corpus/document.txt")" -eq 2000 ] || fail "document.txt should hold 2000 lines"
# NeMo flags: no <s> </s>; vocab.txt = pieces minus <unk>, "▁x" -> "x", "x" -> "##x"
[ "$(wc -l <"$dir/tokenizer.vocab")" -eq 128 ] || fail "tokenizer.vocab should list 128 pieces"
[ "$(wc -l <"$dir/vocab.txt")" -eq 127 ] || fail "vocab.txt should list 127 tokens"
grep -q '^##' "$dir/vocab.txt" || fail "vocab.txt has no ## continuation tokens"
! grep -q '<unk>' "$dir/vocab.txt" || fail "vocab.txt must not list <unk>"
# The C encoder loads the model and reproduces spm_encode exactly.
"$nemoc" tokenizer encode --dir "$dir" --type bpe <"$work/held_out.txt" >"$work/c.ids"
spm_encode --model="$dir/tokenizer.model" --output_format=id <"$work/held_out.txt" >"$work/spm.ids"
cmp "$work/c.ids" "$work/spm.ids" || fail "C ids differ from spm_encode on the BPE model"
"$nemoc" tokenizer encode --dir "$dir" --decode <"$work/c.ids" >"$work/c.txt"
cmp "$work/c.txt" "$work/held_out.txt" || fail "decode(encode(x)) != x on lower-case text"

# --- SentencePiece unigram from a data file, with NeMo's extra options -------
"$nemoc" tokenizer train --data_file "$src/tests/data/text/sentences.txt" --data_root "$work/root" \
    --vocab_size 384 --tokenizer spe --spe_type unigram --spe_byte_fallback --spe_max_sentencepiece_length 8 \
    --spe_user_defined_symbols "<noise>" "[laugh]" --spe_pad --no_lower_case >/dev/null
dir="$work/root/tokenizer_spe_unigram_v384_max_8_pad"
[ -s "$dir/tokenizer.model" ] || fail "$dir/tokenizer.model missing"
grep -q '^<0x41>' "$dir/tokenizer.vocab" || fail "byte pieces missing with --spe_byte_fallback"
grep -q '^<noise>' "$dir/tokenizer.vocab" || fail "user-defined symbol missing"
! grep -qx '<noise>' "$dir/vocab.txt" || fail "user-defined symbols are left out of vocab.txt"
printf 'hello <noise> World [laugh] caf\xc3\xa9 \xe6\x97\xa5\n' >>"$work/held_out.txt"
"$nemoc" tokenizer encode --model "$dir/tokenizer.model" <"$work/held_out.txt" >"$work/c.ids"
spm_encode --model="$dir/tokenizer.model" --output_format=id <"$work/held_out.txt" >"$work/spm.ids"
cmp "$work/c.ids" "$work/spm.ids" || fail "C ids differ from spm_encode on the unigram model"

# --- WordPiece -----------------------------------------------------------------
"$nemoc" tokenizer train --manifest "$work/train1.json" --data_root "$work/root" --vocab_size 300 >/dev/null
dir="$work/root/tokenizer_wpe_v300"
[ -s "$dir/vocab.txt" ] || fail "$dir/vocab.txt missing"
[ "$(head -n 5 "$dir/vocab.txt" | tr '\n' ' ')" = "[PAD] [UNK] [CLS] [SEP] [MASK] " ] || fail "special tokens"
[ "$(wc -l <"$dir/vocab.txt")" -eq 300 ] || fail "vocab.txt should hold 300 tokens"
[ -z "$(sort "$dir/vocab.txt" | uniq -d)" ] || fail "duplicate WordPiece tokens"
"$nemoc" tokenizer encode --dir "$dir" --type wpe <"$work/held_out.txt" >"$work/wpe.ids"
head -n 50 "$work/wpe.ids" | grep -qw 1 && fail "[UNK] (id 1) in lower-case English text"
head -n 50 "$work/wpe.ids" | "$nemoc" tokenizer encode --dir "$dir" --type wpe --decode >"$work/wpe.txt"
cmp "$work/wpe.txt" <(head -n 50 "$work/held_out.txt") || fail "WordPiece decode(encode(x)) != x"

# --- errors --------------------------------------------------------------------
set +e
"$nemoc" tokenizer train --data_root "$work/x" >/dev/null 2>&1; [ $? -eq 2 ] || fail "missing input should exit 2"
"$nemoc" tokenizer train --data_file a --manifest b --data_root x >/dev/null 2>&1; [ $? -eq 2 ] || fail "both inputs should exit 2"
"$nemoc" tokenizer train --data_file a --data_root x --spe_type xyz >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad spe_type should exit 2"
msg=$(PATH=/nonexistent "$nemoc" tokenizer train --data_file "$work/held_out.txt" --data_root "$work/np" --tokenizer spe 2>&1)
rc=$?
set -e
[ $rc -ne 0 ] && grep -q "spm_train not found" <<<"$msg" || fail "missing spm_train must be reported (rc $rc: $msg)"
"$nemoc" tokenizer train --help | grep -q -- "--spe_byte_fallback" || fail "--help lists the options"
echo "tokenizer_train: all checks passed"
