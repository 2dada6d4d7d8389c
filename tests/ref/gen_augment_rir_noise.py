#!/usr/bin/python3
"""Reference RirAndNoisePerturbation outputs for tests/unit/test_augment_rir_noise.c,
from NeMo's OWN class (nemo/collections/asr/parts/preprocessing/perturb.py,
imported from the source checkout through nemo_src; NEMO_SRC=<checkout>).

NeMo draws from Python's `random` module; nemoc from its nc_rng (torch's
mt19937, seeded as torch.manual_seed, a double = 53 bits of two words). Here
perturb.py's module-level `random` is given an object that draws from that
same stream, with the formulas nemoc uses: uniform(a, b) = a + (b - a) u (as
Python's own), randint(a, b) = a + floor(u (b - a + 1)), sample(data, 1) =
data[floor(u n)]. So NeMo's class runs unchanged (its RIR convolution through
scipy, its noise reads through soundfile, its level arithmetic in numpy) on
exactly the draws nemoc makes for the same seed, and the C test compares the
whole perturbation, foreground pieces included.

The RIR is one made by nemoc itself (`nemoc data rirs num_rirs=1`, copied
here with its manifest), so the test also shows NeMo's ImpulsePerturbation
reading nemoc's RIR manifest as it is. The background noise is as long as
the input, so NoisePerturbation's level of the whole file and nemoc's level
of the mixed-in segment are the same number (the one documented deviation
does not enter).

Writes into tests/ref/augment_rir_noise/: x.npy (input, 0.5 s at 16 kHz),
rir_00000.wav + rir_manifest.json, fg.wav + fg.json (1.2 s of noise), bg.wav +
bg.json (0.5 s), <case>.npy NeMo's output, cases.txt "<case> seed key=value ...".

Run: NEMO_SRC=/path/to/NeMo /usr/bin/python3 tests/ref/gen_augment_rir_noise.py build/bin/nemoc
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import soundfile as sf

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "augment_rir_noise")
sys.path.insert(0, HERE)
from nemo_src import nemo_import  # noqa: E402

SR = 16000


class TorchMtRandom:
    """The draws of nc_rng_double (src/core/rng.c) in the shape of Python's random module."""

    def __init__(self, seed):
        mt = [seed & 0xFFFFFFFF]
        for i in range(1, 624):  # init_genrand, as torch.manual_seed
            mt.append((1812433253 * (mt[-1] ^ (mt[-1] >> 30)) + i) & 0xFFFFFFFF)
        import random
        self._r = random.Random()
        self._r.setstate((3, tuple(mt) + (624,), None))  # Python's MT19937 from that state
        self.log = []

    def _u(self):
        hi, lo = self._r.getrandbits(32), self._r.getrandbits(32)
        return (((hi << 32) | lo) & ((1 << 53) - 1)) / float(1 << 53)

    def random(self):
        return self._u()

    def uniform(self, a, b):
        v = a + (b - a) * self._u()
        self.log.append(("uniform", a, b, v))
        return v

    def randint(self, a, b):
        v = min(a + math.floor(self._u() * (b - a + 1)), b)
        self.log.append(("randint", a, b, v))
        return v

    def sample(self, data, k):
        assert k == 1
        i = min(math.floor(self._u() * len(data)), len(data) - 1)
        self.log.append(("sample", len(data), i))
        return [data[i]]

    def seed(self, *_):
        pass


def signal():
    rng = np.random.default_rng(23)
    t = np.arange(SR // 2) / SR
    x = 0.4 * np.sin(2 * np.pi * 300 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    x += 0.1 * np.sin(2 * np.pi * 2300 * t) + 0.02 * rng.standard_normal(len(t))
    return x.astype(np.float32)


def noise(n, seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(n)
    # pinkish: one-pole low-pass of white noise, steady level
    y = np.zeros(n)
    for i in range(1, n):
        y[i] = 0.9 * y[i - 1] + w[i]
    return (0.05 * y / np.sqrt(np.mean(y ** 2))).astype(np.float32)


def write_manifest(path, entries):
    with open(path, "w") as f:
        for name, dur in entries:
            f.write(json.dumps({"audio_filepath": name, "duration": dur}) + "\n")


def main():
    nemoc = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "build", "bin", "nemoc")
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([nemoc, "data", "rirs", f"out_dir={tmp}", "num_rirs=1", "seed=7", "rt60=[0.2,0.25]",
                        "room_length=[3,4]", "room_width=[3,4]", "room_height=[2.5,3]"], check=True)
        shutil.copy(os.path.join(tmp, "rir_00000.wav"), OUT)
        shutil.copy(os.path.join(tmp, "rir_manifest.json"), OUT)
    perturb = nemo_import("nemo.collections.asr.parts.preprocessing.perturb")
    segment = nemo_import("nemo.collections.asr.parts.preprocessing.segment")
    x = signal()
    np.save(os.path.join(OUT, "x.npy"), x)
    sf.write(os.path.join(OUT, "fg.wav"), noise(int(1.2 * SR), 5), SR, subtype="FLOAT")
    sf.write(os.path.join(OUT, "bg.wav"), noise(len(x), 9), SR, subtype="FLOAT")
    write_manifest(os.path.join(OUT, "fg.json"), [("fg.wav", 1.2)])
    write_manifest(os.path.join(OUT, "bg.json"), [("bg.wav", len(x) / SR)])
    rir_man = os.path.join(OUT, "rir_manifest.json")
    fg_man, bg_man = os.path.join(OUT, "fg.json"), os.path.join(OUT, "bg.json")
    cases = [
        # everything, foreground noise through the RIR too
        ("all", 3, dict(rir_prob=1.0, noise_prob=1.0, bg_noise_prob=1.0, apply_noise_rir=True, min_snr=[5],
                        max_snr=[15], max_additions=4, max_duration=0.3, bg_min_snr=[8], bg_max_snr=[20])),
        ("all_seed11", 11, dict(rir_prob=1.0, noise_prob=1.0, bg_noise_prob=1.0, apply_noise_rir=False,
                                min_snr=[0], max_snr=[10], max_additions=5, max_duration=2.0, bg_min_snr=[10],
                                bg_max_snr=[30])),
        # probabilities drawn: with seed 5 some parts run and some do not (cases.txt records which)
        ("half", 5, dict(rir_prob=0.5, noise_prob=0.5, bg_noise_prob=0.5, apply_noise_rir=False, min_snr=[10],
                         max_snr=[20], max_additions=2, max_duration=0.5, bg_min_snr=[5], bg_max_snr=[5])),
    ]
    lines = []
    for name, seed, kw in cases:
        rnd = TorchMtRandom(seed)
        perturb.random = rnd
        p = perturb.RirAndNoisePerturbation(
            rir_manifest_path=rir_man, rir_prob=kw["rir_prob"], noise_manifest_paths=[fg_man],
            noise_prob=kw["noise_prob"], min_snr_db=kw["min_snr"], max_snr_db=kw["max_snr"],
            noise_tar_filepaths=[None], apply_noise_rir=kw["apply_noise_rir"], max_additions=kw["max_additions"],
            max_duration=kw["max_duration"], bg_noise_manifest_paths=[bg_man], bg_noise_prob=kw["bg_noise_prob"],
            bg_min_snr_db=kw["bg_min_snr"], bg_max_snr_db=kw["bg_max_snr"], bg_noise_tar_filepaths=[None])
        seg = segment.AudioSegment(x.copy(), SR)
        p.perturb(seg)
        y = np.asarray(seg._samples, dtype=np.float32)
        np.save(os.path.join(OUT, name + ".npy"), y)
        flat = {k: (v[0] if isinstance(v, list) else v) for k, v in kw.items()}
        lines.append(f"{name} {seed} " + " ".join(f"{k}={str(v).lower()}" for k, v in flat.items()))
        print(name, y.shape, float(np.abs(y - x).max()), rnd.log)
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
