#!/usr/bin/python3
"""Reference waveform perturbations for tests/unit/test_augment_wave.c, from
NeMo's OWN perturb.py (nemo/collections/asr/parts/preprocessing/perturb.py,
imported from the source checkout through nemo_src; NEMO_SRC=<checkout>).

The random draws are fixed by the configs themselves: ShiftPerturbation with
min_shift_ms == max_shift_ms (random.uniform(a, a) == a), ImpulsePerturbation
with a one-entry RIR manifest (random.sample of one). NeMo's classes then run
unchanged: ShiftPerturbation.perturb and ImpulsePerturbation.perturb (which
reads the RIR with AudioSegment.from_file through the real soundfile and
convolves with the real scipy.signal.fftconvolve).

Writes into tests/ref/augment_wave/:
  x.npy (4000,) f32 the input (0.25 s at 16 kHz),
  rir.wav (16 kHz, float) and rir_manifest.json (NeMo manifest, relative path),
  rir8k.wav (the same RIR at 8 kHz, for the resampling test),
  <case>.npy NeMo's output, cases.txt "<case> <kind> key=value ...".

Run: NEMO_SRC=/path/to/NeMo /usr/bin/python3 tests/ref/gen_augment_wave.py
"""
import json
import os
import sys

import numpy as np
import soundfile as sf

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "augment_wave")
sys.path.insert(0, HERE)
from nemo_src import nemo_import  # noqa: E402

SR = 16000


def signal():
    rng = np.random.default_rng(17)
    t = np.arange(4000) / SR
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1900 * t) + 0.05 * rng.standard_normal(4000)
    x *= np.hanning(4000) ** 0.25
    return x.astype(np.float32)


def rir(sr, n):
    # A simulated room impulse response: a 2.5 ms direct-path delay, then an exponentially decaying tail.
    rng = np.random.default_rng(5)
    h = np.zeros(n)
    d = int(0.0025 * sr)
    h[d] = 0.9
    tail = rng.standard_normal(n - d - 1) * np.exp(-np.arange(n - d - 1) / (0.015 * sr)) * 0.3
    h[d + 1:] = tail
    return h.astype(np.float32)


def main():
    os.makedirs(OUT, exist_ok=True)
    perturb = nemo_import("nemo.collections.asr.parts.preprocessing.perturb")
    segment = nemo_import("nemo.collections.asr.parts.preprocessing.segment")
    x = signal()
    np.save(os.path.join(OUT, "x.npy"), x)
    h = rir(SR, 1600)
    sf.write(os.path.join(OUT, "rir.wav"), h, SR, subtype="FLOAT")
    sf.write(os.path.join(OUT, "rir8k.wav"), rir(8000, 800), 8000, subtype="FLOAT")
    man = os.path.join(OUT, "rir_manifest.json")
    with open(man, "w") as f:
        f.write(json.dumps({"audio_filepath": "rir.wav", "duration": 0.1, "text": ""}) + "\n")
    cases = [
        ("shift_pos", "shift", dict(min_shift_ms=12.5, max_shift_ms=12.5)),
        ("shift_neg", "shift", dict(min_shift_ms=-7.3, max_shift_ms=-7.3)),
        ("impulse_plain", "impulse", dict(normalize_impulse=False, shift_impulse=False)),
        ("impulse_norm_shift", "impulse", dict(normalize_impulse=True, shift_impulse=True)),
    ]
    lines = []
    for name, kind, kw in cases:
        seg = segment.AudioSegment(x.copy(), SR)
        if kind == "shift":
            p = perturb.ShiftPerturbation(**kw)
        else:
            # NeMo's manifest loader resolves the relative path against the manifest's folder
            p = perturb.ImpulsePerturbation(manifest_path=man, **kw)
        p.perturb(seg)
        y = np.asarray(seg._samples, dtype=np.float32)
        np.save(os.path.join(OUT, name + ".npy"), y)
        lines.append(f"{name} {kind} " + " ".join(f"{k}={str(v).lower()}" for k, v in kw.items()))
        print(name, y.shape, float(np.abs(y - x[: len(y)]).max()))
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
