#!/usr/bin/python3
"""Writes tests/ref/unicode/ (run with /usr/bin/python3, whose unicodedata
generated src/text/unicode_{classes,nfd,nfc}.c):

  properties.txt  one FNV-1a-64 digest over every code point (surrogates
                  excluded) of: the code point, str.lower(), NFD, the
                  category flags P* / Mn / Cc|Cf / Zs and the canonical
                  combining class -- the C test recomputes it from its tables
  nfc.txt         "<input>\\t<NFC>" as space-separated hex code points:
                  every code point that decomposes, composes or combines,
                  alone, plus seeded random sequences of letters, combining
                  marks (in every order), Hangul jamo/syllables and
                  singletons
"""
import os
import random
import unicodedata

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                   "tests", "ref", "unicode")
FNV_OFFSET, FNV_PRIME = 0xCBF29CE484222325, 0x100000001B3


def fnv(h, v):
    for k in range(4):
        h ^= (v >> (8 * k)) & 0xFF
        h = (h * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    os.makedirs(OUT, exist_ok=True)
    h = FNV_OFFSET
    interesting = []
    for c in range(0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        ch = chr(c)
        cat = unicodedata.category(ch)
        h = fnv(h, c)
        low = ch.lower()
        h = fnv(h, len(low))
        for x in low:
            h = fnv(h, ord(x))
        nfd = unicodedata.normalize("NFD", ch)
        h = fnv(h, len(nfd))
        for x in nfd:
            h = fnv(h, ord(x))
        flags = (cat.startswith("P")) | (cat == "Mn") << 1 | (cat in ("Cc", "Cf")) << 2 | (cat == "Zs") << 3
        h = fnv(h, flags)
        h = fnv(h, unicodedata.combining(ch))
        if nfd != ch or unicodedata.combining(ch) or unicodedata.normalize("NFC", ch) != ch:
            if not (0xAC00 <= c <= 0xD7A3) or c % 50 == 0:  # Hangul syllables: a sample
                interesting.append(c)
    with open(os.path.join(OUT, "properties.txt"), "w") as f:
        f.write("%016x\n" % h)
    rng = random.Random(1234)
    marks = [c for c in interesting if unicodedata.combining(chr(c))]
    bases = [ord(x) for x in "aeiouAEIOUcnsyzACNSYZ"] + [0x3B1, 0x3B7, 0x3C9, 0x391, 0x415, 0x438, 0x928, 0x915]
    jamo = list(range(0x1100, 0x1113)) + list(range(0x1161, 0x1176)) + list(range(0x11A8, 0x11C3))
    cases = [[c] for c in interesting]
    for _ in range(3000):
        seq = []
        for _ in range(rng.randint(1, 8)):
            r = rng.random()
            if r < 0.35:
                seq.append(rng.choice(bases))
            elif r < 0.7:
                seq.append(rng.choice(marks[:60] if rng.random() < 0.7 else marks))
            elif r < 0.85:
                seq.append(rng.choice(jamo))
            else:
                seq.append(rng.choice(interesting))
        cases.append(seq)
    with open(os.path.join(OUT, "nfc.txt"), "w") as f:
        for seq in cases:
            s = "".join(chr(c) for c in seq)
            nfc = unicodedata.normalize("NFC", s)
            f.write(" ".join("%x" % c for c in seq) + "\t" + " ".join("%x" % ord(x) for x in nfc) + "\n")
    print("gen_unicode: digest %016x, %d NFC cases" % (h, len(cases)))


if __name__ == "__main__":
    main()
