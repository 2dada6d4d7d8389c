#!/usr/bin/python3
"""PyTorch side of bench/bench_features.c: NeMo's FilterbankFeatures.forward
(the float32 torch re-implementation in tests/ref/gen_features.py) on the
batch bench_features wrote, timed on --threads threads; optionally reports
the max |diff| against nemoc's features.

  features.py --audio audio.npy [--compare feats.npy] [--repeat 5] [--threads 1]
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "ref"))
import gen_features  # noqa: E402

ASR = dict(window_size=0.025, features=80, n_fft=512, pad_to=0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--audio", required=True)
    ap.add_argument("--compare")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    x = torch.from_numpy(np.load(a.audio))
    lens = torch.full((x.shape[0],), x.shape[1], dtype=torch.long)
    best = float("inf")
    feats = None
    with torch.no_grad():
        for r in range(a.repeat + 1):
            t0 = time.perf_counter()
            feats = gen_features.featurize(x, lens, ASR, None)[0]
            dt = time.perf_counter() - t0
            if r > 0:
                best = min(best, dt)
    audio_s = x.shape[0] * x.shape[1] / 16000.0
    print(f"torch: {best:.4f} s per batch, {audio_s / best:.0f} s of audio per second")
    if a.compare:
        ours = np.load(a.compare)
        d = np.abs(ours.astype(np.float64) - feats.numpy().astype(np.float64))
        print(f"max |nemoc - torch| over the batch: {d.max():.3g}")


if __name__ == "__main__":
    main()
