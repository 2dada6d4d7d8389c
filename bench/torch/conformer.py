#!/usr/bin/python3
"""PyTorch twin of bench/bench_conformer.c: the same model (NeMo's modules,
bench/torch/nemo_modules.py), the same initial weights and batch (the
directory bench_conformer --save wrote), the same step: zero_grad, forward
in training mode (dropout 0.1), CTC loss (NeMo mean_batch), backward, AdamW
(torch defaults, lr 1e-3). --prec bf16 runs the forward and the loss under
torch.autocast("cpu", dtype=torch.bfloat16), as Lightning's bf16-mixed does.
--mode infer: transcription of the saved audio batch: NeMo's log-mel
preprocessor (the torch re-implementation in tests/ref/gen_features.py),
eval, no_grad, greedy CTC decoding; the real-time factor is its time / audio.

--head rnnt: the transducer of bench_conformer --head rnnt (nm.RNNTModel),
torchaudio.functional.rnnt_loss (mean over the batch = NeMo's mean_batch).

  conformer.py --dir DIR [--arch conformer|fastconformer] [--prec 32|bf16] [--head ctc|rnnt]
               [--mode train|infer] [--layers 16] [--d 176] [--heads 4]
               [--vocab 256] [--steps 4] [--warmup 1] [--threads 2]
"""
import argparse
import contextlib
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nemo_modules as nm  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "ref"))
import gen_features  # noqa: E402

ASR = dict(window_size=0.025, features=80, n_fft=512, pad_to=0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--arch", default="conformer")
    ap.add_argument("--prec", default="32")
    ap.add_argument("--mode", default="train")
    ap.add_argument("--layers", type=int, default=16)
    ap.add_argument("--d", type=int, default=176)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=256)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--head", default="ctc")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    fast = a.arch == "fastconformer"
    kw = dict(feat_in=80, n_layers=a.layers, d=a.d, heads=a.heads, k=9 if fast else 31,
              subsampling="dw_striding" if fast else "striding", factor=8 if fast else 4,
              conv_channels=256 if fast else a.d)
    rnnt = a.head == "rnnt"
    model = nm.RNNTModel(a.vocab, **kw) if rnnt else nm.CTCModel(a.vocab, **kw)
    sd = nm.load_safetensors(os.path.join(a.dir, "weights.safetensors"))
    model.load_state_dict(sd, strict=True)
    feats = torch.from_numpy(np.load(os.path.join(a.dir, "feats.npy")))
    lens = torch.from_numpy(np.load(os.path.join(a.dir, "lengths.npy")))
    tg = torch.from_numpy(np.load(os.path.join(a.dir, "targets.npy")))
    tl = torch.from_numpy(np.load(os.path.join(a.dir, "target_lengths.npy")))
    train = a.mode == "train"
    if not train:
        audio = torch.from_numpy(np.load(os.path.join(a.dir, "audio.npy")))
        alen = torch.from_numpy(np.load(os.path.join(a.dir, "audio_lengths.npy")))
    model.train(train)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3) if train else None
    amp = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if a.prec == "bf16" else contextlib.nullcontext
    B = feats.shape[0]
    times, cpus, loss_v = [], [], 0.0
    for it in range(a.warmup + a.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        if train:
            opt.zero_grad(set_to_none=False)
            with amp():
                if rnnt:
                    logits, el = model(feats, lens, tg)
                    loss = torchaudio.functional.rnnt_loss(logits.float(), tg.int(), el.int(), tl.int(),
                                                           blank=a.vocab, reduction="mean")
                else:
                    lp, el = model(feats, lens)
                    loss = F.ctc_loss(lp.float().transpose(0, 1), tg, el.long(), tl, blank=a.vocab,
                                      reduction="none", zero_infinity=True).sum() / B
            loss.backward()
            opt.step()
            loss_v = loss.item()
        else:
            with torch.no_grad():
                f, fl = gen_features.featurize(audio, alen, ASR, None)[:2]
            with torch.no_grad(), amp():
                lp, el = model(f, fl)
                best = lp.argmax(-1)
                for b in range(B):  # greedy: collapse repeats, drop blanks
                    ids = torch.unique_consecutive(best[b, :el[b]])
                    ids = ids[ids != a.vocab].tolist()
        dt = time.perf_counter() - t0
        if it >= a.warmup:
            times.append(dt)
            cpus.append(time.process_time() - c0)
        if os.environ.get("NC_BENCH_VERBOSE"):
            print(f"step {it} {dt:.3f} s loss {loss_v:.4f}", file=sys.stderr)
    med = float(np.median(times))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    audio_s = float(lens.sum()) / 100.0
    head = "_rnnt" if rnnt else ""
    print(f"result side=torch case={a.arch}{head}_{a.mode} prec={a.prec} median_s={med:.4f} "
          f"cpu_s={float(np.median(cpus)):.3f} "
          f"rss_mb={rss:.0f} rtf={med / audio_s:.5f} loss={loss_v:.4f}")


if __name__ == "__main__":
    main()
