#!/usr/bin/python3
"""Writes the WordPiece fixtures in tests/ref/wpe/ (run with /usr/bin/python3).

HF transformers is not installed here, so this holds a small independent
reference of BertTokenizer (transformers/models/bert/tokenization_bert.py)
built on Python's unicodedata: special tokens split out first, then
BasicTokenizer (_clean_text, _tokenize_chinese_chars, whitespace split,
lower() + NFD accent stripping, _run_split_on_punc) and WordpieceTokenizer
(greedy longest-match-first, "##" continuations, [UNK] for a word with an
unmatched rest or more than 100 characters), including the NFC pass that
transformers >= 4.32 applies before the whitespace split.

Outputs:
  vocab.txt               a small vocabulary: specials, characters, ## letters,
                          frequent corpus words and suffixes, a few cased,
                          accented and CJK entries
  inputs.txt              test lines: tests/ref/spm/test_corpus.txt plus
                          special-token and long-word lines
  lower.ids, cased.ids    expected ids per line (do_lower_case True / False)
  lower.decoded, cased.decoded
                          NeMo's ids_to_text of those ids: specials dropped,
                          " ".join(tokens).replace(" ##", "").strip()
"""
import collections
import os
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "ref", "wpe")
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def is_ws(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def is_control(ch):
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf")


def is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text, lower):
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or is_control(ch):
            continue
        if is_ws(ch):
            out.append(" ")
        elif is_cjk(cp):
            out.append(" " + ch + " ")
        else:
            out.append(ch)
    words = []
    for tok in unicodedata.normalize("NFC", "".join(out)).strip().split():
        if lower:
            tok = tok.lower()
            tok = "".join(c for c in unicodedata.normalize("NFD", tok) if unicodedata.category(c) != "Mn")
        cur = ""
        for ch in tok:
            if is_punct(ch):
                if cur:
                    words.append(cur)
                words.append(ch)
                cur = ""
            else:
                cur += ch
        if cur:
            words.append(cur)
    return " ".join(words).strip().split()


def wordpiece(word, vocab):
    if len(word) > 100:
        return ["[UNK]"]
    pieces, start = [], 0
    while start < len(word):
        end, cur = len(word), None
        while start < end:
            sub = word[start:end]
            if start > 0:
                sub = "##" + sub
            if sub in vocab:
                cur = sub
                break
            end -= 1
        if cur is None:
            return ["[UNK]"]
        pieces.append(cur)
        start = end
    return pieces


def tokenize(text, vocab, lower):
    toks, i, chunk = [], 0, 0
    while i < len(text):
        hit = next((s for s in SPECIALS if s in vocab and text.startswith(s, i)), None)
        if hit is None:
            i += 1
            continue
        for w in basic_tokenize(text[chunk:i], lower):
            toks.extend(wordpiece(w, vocab))
        toks.append(hit)
        i += len(hit)
        chunk = i
    for w in basic_tokenize(text[chunk:], lower):
        toks.extend(wordpiece(w, vocab))
    return toks


def build_vocab():
    with open(os.path.join(ROOT, "tests", "data", "text", "sentences.txt"), encoding="utf-8") as f:
        counts = collections.Counter(w for line in f for w in line.split())
    vocab = list(SPECIALS)
    chars = [chr(c) for c in range(33, 127)]
    vocab += chars
    vocab += ["##" + c for c in "abcdefghijklmnopqrstuvwxyz0123456789'"]
    vocab += ["é", "è", "ü", "ö", "ñ", "ç", "ß", "##é", "##è", "##ü", "##ö", "##ñ", "##ç", "##ß", "café", "naïve",
              "日", "本", "中", "文", "你", "好", "東", "京", "##の", "ー", "€", "—", "“", "”", "’", "…", "😀"]
    vocab += ["Hello", "World", "The", "THE", "And", "God", "LORD", "##ELLO", "##ORLD", "##HE", "Mixed", "Ca",
              "##Se", "In"]
    vocab += ["##ing", "##ed", "##eth", "##est", "##s", "##ly", "##ness", "##er", "##th", "##ia", "##ation"]
    vocab += ["hello", "world", "quick", "brown", "fox", "jumps", "lazy", "dog", "people", "paid", "sure"]
    seen = set(vocab)
    for w, _ in counts.most_common():
        if len(vocab) >= 700:
            break
        if w not in seen:
            vocab.append(w)
            seen.add(w)
    vocab.append("hello")  # a repeated entry: the later line wins in load_vocab's dict
    return vocab


def main():
    os.makedirs(OUT, exist_ok=True)
    vocab_list = build_vocab()
    vocab = {}
    for i, t in enumerate(vocab_list):
        vocab[t] = i
    with open(os.path.join(OUT, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in vocab_list))
    with open(os.path.join(ROOT, "tests", "ref", "spm", "test_corpus.txt"), "rb") as f:
        lines = f.read().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    lines += [
        "[CLS] hello world [SEP]".encode(),
        "[CLS]hello[SEP][PAD][MASK]".encode(),
        "[mask] [Unk] [UNK] unknownword".encode(),
        ("a" * 100).encode(),
        ("a" * 101).encode(),
        ("x" * 150 + " hello").encode(),
        "cafe\u0301 Cafe\u0301 CAFE\u0301 e\u0301\u0323 \u212b \u1100\u1161\u11a8 \uf900".encode(),
        "Hello, World! THE END.".encode(),
        "hellothere helloing HELLO".encode(),
    ]
    with open(os.path.join(OUT, "inputs.txt"), "wb") as f:
        f.write(b"".join(l + b"\n" for l in lines))
    inv = {i: t for i, t in enumerate(vocab_list)}
    for name, lower in (("lower", True), ("cased", False)):
        ids_out, dec_out = [], []
        for raw in lines:
            text = raw.decode("utf-8", errors="replace")
            toks = tokenize(text, vocab, lower)
            ids = [vocab.get(t, vocab["[UNK]"]) for t in toks]
            ids_out.append(" ".join(str(i) for i in ids))
            kept = [inv[i] for i in ids if inv[i] not in SPECIALS]
            dec_out.append(" ".join(kept).replace(" ##", "").strip())
        with open(os.path.join(OUT, name + ".ids"), "w", encoding="utf-8") as f:
            f.write("".join(l + "\n" for l in ids_out))
        with open(os.path.join(OUT, name + ".decoded"), "w", encoding="utf-8") as f:
            f.write("".join(l + "\n" for l in dec_out))
    print("gen_wpe: %d vocab entries, %d lines" % (len(vocab_list), len(lines)))


if __name__ == "__main__":
    main()
