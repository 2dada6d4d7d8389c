#!/usr/bin/python3
"""Writes the LLM tokenizer fixtures in tests/ref/llm_tok/ from the reference
encoders of the npm packages (scripts/install-deps.sh puts them in
.npm_deps/node_modules): gpt-3-encoder for GPT-2 byte-level BPE and
llama-tokenizer-js for LLaMA, run by node (tests/ref/llm_tokenizers_ref.cjs).

  cases.jsonl       {"text", "gpt2", "llama"}: real English (KJV verses as
                    printed from tests/ref/spm/test_corpus.txt, corpus
                    sentences from data/text/sentences.txt) and hand-written
                    hard cases: accents, combining marks, CJK, other scripts,
                    emoji and ZWJ sequences, whitespace runs, tabs, newlines,
                    CR, contractions, digit and punctuation runs, control
                    characters, long runs and chunks (over 256 bytes),
                    "<|endoftext|>" inside text. "gpt2" is split at
                    "<|endoftext|>" first (50256), as NeMo's GPT2BPETokenizer
                    (HF GPT2Tokenizer) does; gpt-3-encoder encodes the rest.
  tiny_gpt2/        GPT-2 cut to its 256 byte entries and first 500 merges
                    (ids unchanged: GPT-2's merge k makes id 256 + k) and
                    "<|endoftext|>" = 756: vocab.json + merges.txt, and the same model as an HF
                    tokenizer.json (BPE, ByteLevel, "<|endoftext|>" = 756 as
                    an added special token), written as HF's Tokenizer.save
                    writes GPT-2's.
  tiny_ids.jsonl    {"ids", "nfc"} per case: gpt-3-encoder's own Encoder.js
                    run over the cut files, split at "<|endoftext|>" (756)
                    first; "nfc" of each piece NFC-normalised first (Python's
                    unicodedata), as tokenizer.json with normalizer NFC
                    (GPT-NeoX) encodes it.

Lines that are not valid UTF-8, or hold characters that are unassigned in
Python's Unicode 14 tables (node's ICU is newer), U+0085 or U+FEFF (where
JavaScript's \\s differs from the Unicode White_Space that GPT-2's Python
regex and HF tokenizers use), are left out.

Run: /usr/bin/python3 tests/ref/gen_llm_tokenizers.py
"""
import json
import os
import shutil
import subprocess
import tempfile
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "ref", "llm_tok")
MODS = os.path.join(ROOT, ".npm_deps", "node_modules")
N_TINY = 500
EOT = "<|endoftext|>"

HARD = [
    "Hello, world! It's a test; we're sure you'll see what I'd've done.",
    "I'M SHOUTING: DON'T, CAN'T, WON'T. 'S 'RE",
    "'s 're 've 'm 'll 'd 't 'x '",
    "rock'n'roll ''s '''s O'Neil's don’t",
    "  leading spaces", "trailing spaces   ", "a  b   c    d     e", " ", "  ", "   x",
    "tab\tseparated\t\tvalues\t", "line1\nline2\n\nline4\n", "\r\n windows\r\nline \r\n", "\t \n \t\n", "\n", "\x0b\x0cvt ff",
    "1234567890 3.14159 1,000,000 2024-06-01 007 12345678901234567890",
    "½ ² ³ ٣ ४ Ⅻ ① numbers in other scripts",
    "!!!???...,,,;;;::: --- ___ *** ### @@@ $$$ %%% ^^^ &&& ((( ))) [[[ ]]] {{{ }}} ~~~ ```",
    "a-b_c/d\\e|f~g`h^i*j+k=l{m}n[o]p<q>r@s#t$u%v&w",
    "Café naïve façade jalapeño résumé Über straße ÆØÅ æøå",
    "e\u0301 combining, a\u0308\u0304 double, n\u0303 tilde, \u0301 lone mark",
    # NFC changes these (tokenizer.json with normalizer NFC): jamo, singletons, reordering, expansion
    "\u1100\u1161\u11a8 jamo, A\u030a vs \u212b vs \u00c5, Tie\u0302\u0301ng Vie\u0323\u0302t, q\u0307\u0323, \u0344 \u0f73 \u2126",
    "日本語のテキスト、中文文本。한국어 텍스트",
    "Ελληνικά Русский עברית العربية हिन्दी ไทย ქართული",
    "😀😃 👍🏽 👨\u200d👩\u200d👧\u200d👦 🇫🇷 ❤️ 🦙 end",
    "abc日本def 123漢字456 x²+y²=z²",
    "naïve’s “quotes” — dashes – and … ellipsis «guillemets» ‹›",
    "non\u00a0breaking\u2003em\u3000ideographic\u2028ls\u2029ps space",
    "zero\u200bwidth\u200cjoiners\u200d and soft\u00adhyphen",
    "\x01\x02 ctrl \x7f del \x1b[0m esc \x1c\x1d\x1e\x1f",
    "ﬁﬂ ligatures Ａｂｃ full-width ＡＢＣ１２３",
    "a" * 200, " " * 40 + "x", "=" * 100, "ab" * 60, "\n" * 5 + "x",
    EOT, "Hello" + EOT + "World", " " + EOT + " end", EOT + EOT, "<|endoftext|", "<|",
    "mixedCaseWordsAndCamelCaseIdentifiers snake_case_words kebab-case-words",
    # chunks over 256 bytes (nemoc merges those through a heap)
    "x" * 300 + "yz", "pneumonoultramicroscopicsilicovolcanoconiosis" * 8, " " + "ab" * 200,
    "31415926535897932384626433832795028841971693993751" * 6, "!?.,;:-" * 50 + " end",
    "".join("etaoinshrdlucmfwypvbgkjqxz"[(i * 7919 + i * i * 31) % 26] for i in range(700)),
    "https://example.com/path?query=1&x=y#frag user@example.org",
    "def f(x):\n    return x ** 2  # comment\n\tprint(f(3))",
    "The year 1969: Apollo 11's crew (Armstrong, Aldrin & Collins) landed.",
]


def usable(s):
    return all(unicodedata.category(c) != "Cn" and c not in "\x85\ufeff" and not 0xD800 <= ord(c) < 0xE000 for c in s)


def corpus():
    texts = []
    with open(os.path.join(ROOT, "tests", "ref", "spm", "test_corpus.txt"), "rb") as f:
        for i, raw in enumerate(f.read().split(b"\n")[:-1]):
            try:
                s = raw.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if usable(s) and (i % 2 == 0 or i >= 180):  # half the verses, every hand-written line
                texts.append(s)
    with open(os.path.join(ROOT, "data", "text", "sentences.txt"), encoding="utf-8") as f:
        texts += [l.rstrip("\n") for i, l in enumerate(f) if i % 30 == 0]
    texts += [t for t in HARD if usable(t)]
    return texts


def write_tiny(work):
    """GPT-2 cut to N_TINY merges: the files gpt-3-encoder reads, ours, HF's."""
    enc = json.load(open(os.path.join(MODS, "gpt-3-encoder", "encoder.json"), encoding="utf-8"))
    bpe = open(os.path.join(MODS, "gpt-3-encoder", "vocab.bpe"), encoding="utf-8").read().split("\n")
    merges = bpe[1:1 + N_TINY]
    for k, m in enumerate(merges):
        a, b = m.split(" ")
        assert enc[a + b] == 256 + k, (m, enc[a + b])
    vocab = {p: i for p, i in enc.items() if i < 256 + N_TINY}
    assert len(vocab) == 256 + N_TINY
    vocab[EOT] = 256 + N_TINY  # last, as 50256 is in GPT-2's encoder.json
    os.makedirs(os.path.join(OUT, "tiny_gpt2"), exist_ok=True)
    for d in (work, os.path.join(OUT, "tiny_gpt2")):
        with open(os.path.join(d, "encoder.json" if d == work else "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(vocab, f, ensure_ascii=False)
        with open(os.path.join(d, "vocab.bpe" if d == work else "merges.txt"), "w", encoding="utf-8") as f:
            f.write(bpe[0] + "\n" + "\n".join(merges) + "\n")
    eot_id = 256 + N_TINY
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": eot_id, "content": EOT, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": True, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
                  "merges": merges},
    }
    with open(os.path.join(OUT, "tiny_gpt2", "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
    return eot_id


def main():
    if not os.path.isdir(MODS):
        raise SystemExit("gen_llm_tokenizers: %s missing (run scripts/install-deps.sh)" % MODS)
    os.makedirs(OUT, exist_ok=True)
    texts = corpus()
    work = tempfile.mkdtemp()
    try:
        eot_id = write_tiny(work)
        # the HF path splits at the added token first: encode the pieces too
        pieces = sorted({p for t in texts if EOT in t for p in t.split(EOT)})
        pieces += sorted({unicodedata.normalize("NFC", p) for t in texts for p in t.split(EOT)})
        inp = os.path.join(work, "texts.json")
        json.dump(texts + pieces, open(inp, "w", encoding="utf-8"), ensure_ascii=False)
        outp = os.path.join(work, "out.json")
        subprocess.run(["node", os.path.join(ROOT, "tests", "ref", "llm_tokenizers_ref.cjs"), MODS, work, inp, outp],
                       check=True)
        ref = json.load(open(outp, encoding="utf-8"))
    finally:
        shutil.rmtree(work)
    n = len(texts)
    full = {p: ref["gpt2"][n + i] for i, p in enumerate(pieces)}
    cut = {p: ref["tiny"][n + i] for i, p in enumerate(pieces)}

    def nfc_ids(t):
        out = []
        for k, p in enumerate(t.split(EOT)):
            if k:
                out.append(eot_id)
            out += cut[unicodedata.normalize("NFC", p)]
        return out

    def split_eot(t, ids, piece_ids, eot):
        if EOT not in t:
            return ids
        out = []
        for k, p in enumerate(t.split(EOT)):
            if k:
                out.append(eot)
            out += piece_ids[p]
        return out

    for i, t in enumerate(texts):
        assert ref["gpt2_decoded"][i] == t, ("gpt-3-encoder does not round-trip", t)
        assert ref["llama_decoded"][i] == t, ("llama-tokenizer-js does not round-trip", t)
    with open(os.path.join(OUT, "cases.jsonl"), "w", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            g = split_eot(t, ref["gpt2"][i], full, 50256)
            f.write(json.dumps({"text": t, "gpt2": g, "llama": ref["llama"][i]}, ensure_ascii=False,
                               separators=(",", ":")) + "\n")
    with open(os.path.join(OUT, "tiny_ids.jsonl"), "w", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"ids": split_eot(t, ref["tiny"][i], cut, eot_id), "nfc": nfc_ids(t)},
                               separators=(",", ":")) + "\n")
    sizes = {p: os.path.getsize(os.path.join(OUT, p)) for p in ("cases.jsonl", "tiny_ids.jsonl", "tiny_gpt2/tokenizer.json")}
    print("gen_llm_tokenizers: %d cases; %s" % (n, sizes))


if __name__ == "__main__":
    main()
