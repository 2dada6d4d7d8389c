#!/usr/bin/python3
"""Writes src/text/unicode_{classes,nfd,nfc,ln}.c: the Unicode property tables the text
tokenizers need, taken from Python's unicodedata (Debian python3 3.11,
Unicode 14.0.0), which is exactly what HF transformers' BertTokenizer and
NeMo's char parsers consult at run time.

Tables (all sorted by code point, looked up by binary search in unicode.c),
one file per concern: character classes and case/ASCII folding
(unicode_classes.c), canonical decomposition (unicode_nfd.c), canonical
ordering and composition (unicode_nfc.c):
  nc_uni_punct  ranges of general category P* (BERT's _is_punctuation adds
                the ASCII symbol ranges in code)
  nc_uni_mn     ranges of category Mn (non-spacing marks: dropped by BERT's
                accent stripping after NFD)
  nc_uni_ctrl   ranges of categories Cc and Cf (BERT's _is_control)
  nc_uni_zs     ranges of category Zs (BERT's _is_whitespace)
  nc_uni_lower_map  single-code-point str.lower() mappings (U+0130, the only
                multi-code-point lower(), is special-cased in code)
  nc_uni_nfd_map    full canonical decompositions (NFD of one code point, up to
                4 code points); Hangul syllables are decomposed in code.
  nc_uni_ccc    ranges of equal non-zero canonical combining class
                {first, last, ccc} (canonical ordering for NFC)
  nc_uni_compose  primary composites {first, second, composite}, sorted by
                (first, second): canonical pairs that NFC recomposes
                (composition exclusions and singletons left out)
  nc_uni_ascii_fold_map  Latin letters and forms whose compatibility decomposition
                (NFKD) minus non-spacing marks is 1-4 ASCII characters
                ("é" -> "e", "ﬁ" -> "fi", "Ａ" -> "A"), packed little-endian
                into a uint32: the char parser's transliteration to ASCII.
  nc_uni_letter, nc_uni_number  ranges of general categories L* and N*: the
                \p{L} and \p{N} of GPT-2's byte-level BPE pre-tokenisation
                regex (unicode_ln.c).

Run: /usr/bin/python3 scripts/gen_unicode_tables.py
"""
import os
import sys
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "src", "text", "unicode_%s.c")


def ranges(pred):
    out, start = [], None
    for c in range(0x110001):
        p = c < 0x110000 and pred(c)
        if p and start is None:
            start = c
        if not p and start is not None:
            out.append((start, c - 1))
            start = None
    return out


def cat(c):
    return unicodedata.category(chr(c))


def emit_rows(f, name, rows, width, per_line):
    f.write("const uint32_t %s[][%d] = {\n" % (name, width))
    for i in range(0, len(rows), per_line):
        chunk = rows[i:i + per_line]
        f.write("    " + " ".join("{" + ", ".join("0x%X" % v for v in r) + "}," for r in chunk) + "\n")
    f.write("};\n")
    f.write("const int64_t %s_n = %d;\n\n" % (name, len(rows)))


def main():
    punct = ranges(lambda c: cat(c).startswith("P"))
    mn = ranges(lambda c: cat(c) == "Mn")
    ctrl = ranges(lambda c: cat(c) in ("Cc", "Cf"))
    zs = ranges(lambda c: cat(c) == "Zs")
    letter = ranges(lambda c: cat(c).startswith("L"))
    number = ranges(lambda c: cat(c).startswith("N"))
    lower = []
    for c in range(0x110000):
        lo = chr(c).lower()
        if lo != chr(c) and len(lo) == 1:
            lower.append((c, ord(lo)))
    nfd = []
    for c in range(0x110000):
        if 0xAC00 <= c <= 0xD7A3:
            continue  # Hangul: algorithmic, see unicode.c
        d = unicodedata.normalize("NFD", chr(c))
        if d != chr(c):
            assert len(d) <= 4, hex(c)
            nfd.append(tuple([c] + [ord(x) for x in d] + [0] * (4 - len(d))))
    ccc = []
    start = None
    for c in range(0x110001):
        v = unicodedata.combining(chr(c)) if c < 0x110000 else 0
        if start is not None and v != prev:
            ccc.append((start, c - 1, prev))
            start = None
        if v and start is None:
            start, prev = c, v
    compose = []
    for c in range(0x110000):
        if 0xAC00 <= c <= 0xD7A3:
            continue
        d = unicodedata.decomposition(chr(c))
        if d and not d.startswith("<"):
            parts = d.split()
            if len(parts) == 2 and unicodedata.normalize("NFC", chr(c)) == chr(c):
                compose.append((int(parts[0], 16), int(parts[1], 16), c))
    compose.sort()
    fold = []
    fold_ranges = [(0x80, 0x24F), (0x1E00, 0x1EFF), (0x2000, 0x206F), (0xFB00, 0xFB06), (0xFF01, 0xFF5E)]
    for lo, hi in fold_ranges:
        for c in range(lo, hi + 1):
            r = "".join(x for x in unicodedata.normalize("NFKD", chr(c)) if unicodedata.category(x) != "Mn")
            if r != chr(c) and 1 <= len(r) <= 4 and all(ord(x) < 128 for x in r):
                packed = 0
                for i, x in enumerate(r):
                    packed |= ord(x) << (8 * i)
                fold.append((c, packed))
    files = {
        "classes": [("nc_uni_punct", punct, 2, 6), ("nc_uni_mn", mn, 2, 6), ("nc_uni_ctrl", ctrl, 2, 6),
                    ("nc_uni_zs", zs, 2, 6), ("nc_uni_lower_map", lower, 2, 7),
                    ("nc_uni_ascii_fold_map", fold, 2, 6)],
        "nfd": [("nc_uni_nfd_map", nfd, 5, 4)],
        "nfc": [("nc_uni_ccc", ccc, 3, 5), ("nc_uni_compose", compose, 3, 4)],
        "ln": [("nc_uni_letter", letter, 2, 6), ("nc_uni_number", number, 2, 6)],
    }
    for part, tables in files.items():
        with open(OUT % part, "w", encoding="utf-8") as f:
            f.write("/* GENERATED by scripts/gen_unicode_tables.py from Python %s unicodedata\n"
                    " * (Unicode %s). Do not edit; rerun the script. Data only: the lookups\n"
                    " * live in unicode.c. */\n" % (sys.version.split()[0], unicodedata.unidata_version))
            f.write('#include "text/unicode.h"\n\n')
            for name, rows, width, per_line in tables:
                emit_rows(f, name, rows, width, per_line)
    print("wrote %s: %d punct, %d Mn, %d ctrl, %d Zs, %d L, %d N ranges; %d lower, %d nfd, %d fold, %d ccc, "
          "%d compose" % (OUT % "*", len(punct), len(mn), len(ctrl), len(zs), len(letter), len(number), len(lower),
                          len(nfd), len(fold), len(ccc), len(compose)))


if __name__ == "__main__":
    main()
