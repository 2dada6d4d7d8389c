#!/usr/bin/env bash
# Regenerates the SentencePiece fixtures in tests/ref/spm/ with Debian's
# sentencepiece tools (spm_train / spm_encode / spm_decode, 0.1.97):
#
#   test_corpus.txt   the encode test input: KJV verses as printed (mixed
#                     case, punctuation, verse numbers), upper-cased and
#                     whitespace-mangled variants, and hand-written lines with
#                     digits, accents, CJK, Hangul, emoji, full-width forms,
#                     ligatures, control characters and malformed UTF-8.
#   <name>.model      small models trained here (flags in the table below)
#   <name>.ids        spm_encode --output_format=id of every corpus line
#   <name>.decoded    spm_decode --input_format=id of those ids
#
# tests/unit/test_spm.c must reproduce every .ids line exactly and decode
# every id line to exactly the .decoded line. Models with the nmt_nfkc(_cf)
# charsmap weigh ~240 KB each, so most models use the identity rule and only
# three carry a charsmap (the normaliser does not depend on the model type).
# The models differ between runs of spm_train (the corpus is shuffled), but
# each run's .model/.ids/.decoded triple is self-consistent.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/tests/ref/spm"
sentences="$root/tests/data/text/sentences.txt"
for t in spm_train spm_encode spm_decode bible; do
    command -v "$t" >/dev/null || { echo "gen_spm: '$t' missing (apt-get install sentencepiece bible-kjv)" >&2; exit 1; }
done
[ -s "$sentences" ] || "$root/scripts/make_text_corpus.sh"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- the test corpus ------------------------------------------------------
verses="$work/verses.txt"
bible -f "Gen1:1-Rev22:21" 2>/dev/null >"$verses"
{
    # 120 verses as printed, with their references ("Ge1:1 In the ...").
    awk 'NR % 173 == 0 && ++n <= 120' "$verses"
    # 60 verses without references, upper-cased or with mangled spacing.
    awk 'NR % 509 == 7 && ++n <= 60 { sub(/^[^ ]+ /, ""); print }' "$verses" |
        awk '{ if (NR % 3 == 0) print toupper($0);
               else if (NR % 3 == 1) { gsub(/ /, "   "); print "  " $0 "  " }
               else { gsub(/, /, ",\t"); print "\t" $0 } }'
    cat <<'LINES'
Hello World
hello world
HELLO WORLD
  leading and trailing spaces  
multiple     internal      spaces
tabs	between	words
It's 10:30pm; the 3rd of May, 1611 — 42 people paid $4.50 (or €3.99) each!
Call 555-0199 or e-mail info@example.com before 2024-01-31.
π ≈ 3.14159, e ≈ 2.71828, 1/3 ≈ 0.333, 100% sure, 50°C.
café naïve résumé coöperate façade jalapeño über Ångström
Crème brûlée à la française, s'il vous plaît.
Straße Größe weiß ÄÖÜ äöü
Ça va? Où est la bibliothèque? Señor Muñoz.
日本語のテキストです。東京は晴れ。
中文文本测试，你好世界！
한국어 텍스트 테스트입니다
Привет, мир! Это тест.
Γειά σου Κόσμε! αβγδε ΑΒΓΔΕ
مرحبا بالعالم
שלום עולם
नमस्ते दुनिया
emoji 😀 😂 👍🏽 ❤️ 🇺🇸 👨‍👩‍👧 done
ＦＵＬＬ－ＷＩＤＴＨ　ｔｅｘｔ　１２３
ﬁne ﬂower ﬀ ﬃ ligatures
① ② ③ Ⅻ ½ ¼ ² ³ ™ ℃ ㎏
ｶﾀｶﾅ half-width katakana
non breaking space here
zero​width​space and soft­hyphen
combining: é (e + U+0301) vs é
<sep> hello [laugh] world <sep>
hello<sep>world[laugh]ing
😀😀😀 hello 😀
"Quoted" 'single' “curly” ‘quotes’ «guillemets»
a-b_c/d\e|f~g`h^i*j+k=l{m}n[o]p<q>r@s#t$u%v&w
!!!???...,,,;;;:::
...
a
I
THE END.
The quick brown fox jumps over the lazy dog.
THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG 0123456789
Mixed CaSe WoRdS aNd NuMbErS 12ab34cd
supercalifragilisticexpialidocious antidisestablishmentarianism
pneumonoultramicroscopicsilicovolcanoconiosis
LINES
    printf '\n'                                   # empty line
    printf '   \n'                                # spaces only
    printf '\t \t\n'                              # tabs and spaces only
    printf 'bad utf8 \xff\xfe here\n'             # invalid bytes
    printf 'truncated \xe6\x97 seq\n'             # truncated 3-byte sequence
    printf 'overlong \xc0\xaf slash\n'            # overlong encoding
    printf 'surrogate \xed\xa0\x80 half\n'        # encoded surrogate
    printf 'control \x01\x02\x1b[0m chars\n'      # C0 controls
    printf 'carriage\rreturn inside\n'            # CR inside a line
    printf 'del \x7f and nbsp\xc2\xa0\xc2\xa0end\n'
    printf 'replacement char \xef\xbf\xbd kept\n'
    # A long line (about 3 KB).
    awk 'NR >= 100 && NR < 130 { sub(/^[^ ]+ /, ""); printf "%s ", $0 } END { printf "\n" }' "$verses"
} >"$out/test_corpus.txt"

# --- training text for the models trained on "mixed" data ------------------
mixed="$work/mixed.txt"
{
    awk 'NR % 4 == 1 { sub(/^[^ ]+ /, ""); print }' "$verses"
    awk 'NR % 40 == 3' "$verses"                     # with references (digits)
    cat "$sentences"
    cat <<'LINES'
café naïve résumé façade jalapeño über Ångström crème brûlée
Straße Größe weiß Ça va où est la bibliothèque Señor Muñoz
東京は晴れ 日本語 中文 你好世界
Привет мир это тест
Γειά σου Κόσμε
LINES
} >"$mixed"

# --- models -----------------------------------------------------------------
# NeMo's create_spt_model flags (scripts/tokenizers/process_asr_text_tokenizer.py
# defaults): no <s>/</s>, soft vocab limit, whitespace kept, nmt_nfkc_cf when
# lower-casing.
nemo="--shuffle_input_sentence=true --hard_vocab_limit=false --bos_id=-1 --eos_id=-1 --remove_extra_whitespaces=false"
id="--normalization_rule_name=identity"
models=(
    "bpe_v128_cf|$sentences|--model_type=bpe --vocab_size=128 $nemo --normalization_rule_name=nmt_nfkc_cf"
    "unigram_v256_cf|$sentences|--model_type=unigram --vocab_size=256 $nemo --normalization_rule_name=nmt_nfkc_cf"
    "bpe_v1024|$mixed|--model_type=bpe --vocab_size=1024 $id"
    "unigram_v1024_nfkc|$mixed|--model_type=unigram --vocab_size=1024"
    "bpe_v512_bytefb|$mixed|--model_type=bpe --vocab_size=512 --byte_fallback=true $id"
    "unigram_v512_bytefb|$mixed|--model_type=unigram --vocab_size=512 --byte_fallback=true $id --remove_extra_whitespaces=false"
    "bpe_v256_uds|$mixed|--model_type=bpe --vocab_size=256 $id --user_defined_symbols=<sep>,[laugh],hello,ing,😀"
    "unigram_v256_uds|$mixed|--model_type=unigram --vocab_size=256 $id --user_defined_symbols=<sep>,[laugh],hello,ing,😀"
    "unigram_v512_cov|$mixed|--model_type=unigram --vocab_size=512 $id --character_coverage=0.98"
    "bpe_v256_cov|$mixed|--model_type=bpe --vocab_size=256 $id --character_coverage=0.99"
    "bpe_v256_suffix|$mixed|--model_type=bpe --vocab_size=256 $id --treat_whitespace_as_suffix=true"
    "unigram_v256_nodummy|$mixed|--model_type=unigram --vocab_size=256 $id --add_dummy_prefix=false --split_digits=true --remove_extra_whitespaces=false"
    "char_cf|$mixed|--model_type=char --vocab_size=200 --hard_vocab_limit=false $id"
    "word_v1024|$mixed|--model_type=word --vocab_size=1024 --hard_vocab_limit=false $id"
)
rm -f "$out"/*.model "$out"/*.ids "$out"/*.decoded
for m in "${models[@]}"; do
    IFS='|' read -r name input flags <<<"$m"
    # shellcheck disable=SC2086
    spm_train --input="$input" --model_prefix="$work/$name" --num_threads=2 $flags \
        >"$work/$name.log" 2>&1 || { cat "$work/$name.log" >&2; exit 1; }
    cp "$work/$name.model" "$out/$name.model"
    spm_encode --model="$out/$name.model" --output_format=id <"$out/test_corpus.txt" >"$out/$name.ids"
    spm_decode --model="$out/$name.model" --input_format=id <"$out/$name.ids" >"$out/$name.decoded"
    echo "gen_spm: $name ($(wc -c <"$out/$name.model") bytes)"
done
echo "gen_spm: $(wc -l <"$out/test_corpus.txt") corpus lines, $(du -sh "$out" | cut -f1) in $out"
