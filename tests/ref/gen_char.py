#!/usr/bin/python3
"""Writes the char-tokenizer fixtures in tests/ref/char/ (run with
/usr/bin/python3; needs Debian's python3-inflect and python3-text-unidecode,
the two packages NeMo's cleaners import).

The reference restates NeMo's ENCharParser normalisation
(nemo/collections/common/parts/preprocessing/cleaners.py clean_text and
NumberCleaner, parsers.py CharParser._tokenize) with the same regular
expressions, on top of the real inflect.number_to_words and
text_unidecode.unidecode. Inputs stay inside what the C port covers: ASCII
plus Latin letters and punctuation (the C code has no transliteration for
Greek, Cyrillic, CJK, ...; see src/text/en_clean.c).

Outputs, one line per input line of inputs.txt:
  en.norm / en.ids          clean_text and ids with labels_en (28 labels)
  en2.norm / en2.ids        the same with labels_en2 (adds '-' and '.')
  base.norm / base.ids      CharParser 'base': strip() + lower()
"""
import os
import re

import inflect
from text_unidecode import unidecode

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "ref", "char")
ENGINE = inflect.engine()

LABELS_EN = [" "] + [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["'"]
LABELS_EN2 = LABELS_EN + ["-", ".", "<unk>"]
LABELS_BASE = LABELS_EN + ["é", "ß", "i̇", "ü", "<noise>"]

NUM = re.compile(r'([$]?)(^|\s)(\S*[0-9]\S*)(?=(\s|$)((\S*)(\s|$))?)')
TIME = re.compile(r'([0-9]{1,2}):([0-9]{2})(am|pm)?')
ORD = re.compile(r'([0-9]+)(st|nd|rd|th)')
THREE = re.compile(r'([0-9]{3})([.,][0-9]{1,2})?([!.?])?$')
DEC = re.compile(r'([.,][0-9]{1,2})$')
ABBREV = [("ms", "miss"), ("mrs", "misess"), ("mr", "mister"), ("messrs", "messeurs"), ("dr", "doctor"),
          ("drs", "doctors"), ("st", "saint"), ("co", "company"), ("jr", "junior"), ("sr", "senior"),
          ("rev", "reverend"), ("hon", "honorable"), ("sgt", "sergeant"), ("capt", "captain"), ("maj", "major"),
          ("col", "colonel"), ("lt", "lieutenant"), ("gen", "general"), ("prof", "professor"), ("lb", "pounds"),
          ("rep", "representative"), ("st", "street"), ("ave", "avenue"), ("etc", "et cetera"), ("jan", "january"),
          ("feb", "february"), ("mar", "march"), ("apr", "april"), ("jun", "june"), ("jul", "july"),
          ("aug", "august"), ("sep", "september"), ("oct", "october"), ("nov", "november"), ("dec", "december")]
SPOKEN = {"+": "plus", "&": "and", "%": "percent"}
PUNCT = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'  # string.punctuation


class Numbers:
    """State across the matches of one clean_numbers call."""

    def __init__(self):
        self.curr, self.currency = [], None

    def final(self, whole, dec):
        if self.currency:
            s = ENGINE.number_to_words(whole) + " dollars"  # whole is a str: never == 1
            if dec:
                s += " and " + ENGINE.number_to_words(dec) + (" cent" if whole == dec else " cents")
            self.curr, self.currency = [], None
            return s
        self.curr, self.currency = [], None
        if dec:
            return ENGINE.number_to_words(whole + "." + dec)
        return re.sub(r'[0-9,]+', lambda m: " " + ENGINE.number_to_words(m.group(0)) + " ", whole)

    def __call__(self, m):
        ws, num = m.group(2), m.group(3)
        t = TIME.match(num)
        if t:
            s = ws + ENGINE.number_to_words(t.group(1))
            if int(t.group(2)) != 0:
                s += " " + ENGINE.number_to_words(t.group(2))
            if t.group(3):
                s += " " + t.group(3)
            return s
        o = ORD.match(num)
        if o:
            return ws + ENGINE.number_to_words(o.group(0))
        if self.currency is None:
            self.currency = m.group(1) or re.match(r'\$', num)
        if THREE.match(m.group(6)):
            self.curr.append(num)
            return " "
        whole = "".join(self.curr) + num
        dec = None
        d = DEC.search(whole)
        if d:
            dec = d.group(1)[1:]
            whole = whole[: -len(dec) - 1]
        whole = re.sub(r'\.', '', whole)
        return ws + self.final(whole, dec)


def en_clean(text, labels):
    table_chars = PUNCT
    for c in SPOKEN:
        table_chars = table_chars.replace(c, "")
    for l in labels:
        table_chars = table_chars.replace(l, "")
    table = str.maketrans(table_chars, " " * len(table_chars))
    s = unidecode(text).lower()
    s = re.sub(r'\s+', " ", s)
    s = NUM.sub(Numbers(), s)
    for k, v in ABBREV:
        s = re.sub(r'\b%s\.' % k, v, s)
    for k, v in SPOKEN.items():
        s = re.sub('\\' + k, " %s " % v, s)
    s = s.translate(table)
    return re.sub(r'\s+', " ", s).strip()


def tokenize(text, labels):
    lmap = {l: i for i, l in enumerate(labels)}
    special = {l for l in labels if len(l) > 1}
    out = []
    for i, w in enumerate(text.split(" ")):
        if i:
            out.append(lmap.get(" ", -1))
        if w in special:
            out.append(lmap[w])
            continue
        out.extend(lmap.get(c, -1) for c in w)
    return [t for t in out if t != -1]


def inputs():
    lines = [
        "Hello World", "  It's   a  test.  ", "tabs\tand\nnewlines", "",
        "It's 10:30pm; the 3rd of May, 1611 - 42 people paid $4.50 each!",
        "Meet at 7:05 or 10:00am, not 12:00pm.", "The 21st, 22nd, 23rd and 100th guests; 1st place.",
        "$5 and $ 5 and $1,000,000 and $0.99 and $12.5", "Pi is 3.14159, e is 2.71828; half is 0.5 or .5",
        "1 000 000 people and 10 000 cats, 123 456.78 units", "Years 1611, 1999, 2000, 2001, 2024 and 1066.",
        "Call 555-0199 before 2024-01-31.", "It's 50% off: a+b & c, R&D.", "12ab34cd v1.2 3. +5 -5 x2",
        "Dr. Smith met Mr. and Mrs. Jones at St. Paul's on Jan. 5th, etc.",
        "Capt. Hook, Sgt. Pepper, Prof. X and Gen. Lee; Ave. Q, Co. Ltd.",
        "items. drs. dr.who mr.x st.", "The year 20000 and 123456789 and 1000000000000.",
        "0 00 007 0.0 10.05 1.234 99.9", "100 200 300", "4th-5th grade", "#1 @2 *3 (4) [5] {6}",
        "Crème brûlée à la française, s'il vous plaît.", "Straße Größe weiß ÄÖÜ äöü Ça va? Señor Muñoz.",
        "café naïve résumé coöperate façade jalapeño über Ångström Œuvre Æsir",
        "“Quoted” ‘single’ — dash – en … ellipsis «guillemets»", "ﬁne ﬂower ＦＵＬＬ－ＷＩＤＴＨ",
        "Don't stop; won't stop! \"Can't\" stop?", "a_b c-d e.f g/h i\\j k|l m~n o`p",
        "3:45 12:30am 9:07pm 1:00", "$3.50 $3.5 $.50", "Over 9,000 and 1,2,3 and 10,5",
        "½ ¼ ¾ ß æ ø ł þ ð đ ħ ı ĸ ŋ œ £ € ¢ ¥ § ¶ © ® ™ ° × ÷ · ¡ ¿ • ′ ″ ‐ ‑ ‒ „ ‚ ‛ ‟ \u200b \u00ad x",
        "Þorn Ðað Łódź Øre Æon Œil ĦĦ ŊŊ naïve\u00a0space en\u2002space",
    ]
    verses = []
    import subprocess
    out = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], capture_output=True, text=True).stdout.splitlines()
    for i, v in enumerate(out):
        if i % 311 == 5:
            verses.append(v)
    return lines + verses


def main():
    os.makedirs(OUT, exist_ok=True)
    ins = inputs()
    with open(os.path.join(OUT, "inputs.txt"), "w", encoding="utf-8") as f:
        f.write("".join(l.replace("\n", " ").replace("\t", " ") + "\n" for l in ins))
    ins = [l.replace("\n", " ").replace("\t", " ") for l in ins]
    for name, labels in (("en", LABELS_EN), ("en2", LABELS_EN2)):
        norms = [en_clean(l, labels) for l in ins]
        with open(os.path.join(OUT, name + ".norm"), "w", encoding="utf-8") as f:
            f.write("".join(n + "\n" for n in norms))
        with open(os.path.join(OUT, name + ".ids"), "w", encoding="utf-8") as f:
            f.write("".join(" ".join(map(str, tokenize(n, labels))) + "\n" for n in norms))
    norms = [l.strip().lower() for l in ins]
    with open(os.path.join(OUT, "base.norm"), "w", encoding="utf-8") as f:
        f.write("".join(n + "\n" for n in norms))
    with open(os.path.join(OUT, "base.ids"), "w", encoding="utf-8") as f:
        f.write("".join(" ".join(map(str, tokenize(n, LABELS_BASE))) + "\n" for n in norms))
    print("gen_char: %d lines" % len(ins))


if __name__ == "__main__":
    main()
