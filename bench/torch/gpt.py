#!/usr/bin/python3
"""PyTorch twin of bench/bench_gpt.c: Megatron-core's GPTModel
(bench/torch/gpt_model.py, --arch gpt2 or llama) on the weights and the batch
bench_gpt --save wrote, mean next-token cross-entropy over the padded
vocabulary, backward, AdamW (lr 1e-4). Dropout as the arch (gpt2 0.1 on the
embeddings and both residual branches, llama 0; --dropout overrides).
--prec bf16: torch.autocast("cpu", bfloat16). The result line carries the
first step's loss (loss0) for the check against nemoc with --dropout 0.

  gpt.py --dir DIR [--arch gpt2|llama] [--prec 32|bf16] [--steps 3]
         [--warmup 1] [--threads 2] [--dropout P] [--nemoc-loss0 X]
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt_model  # noqa: E402
import nemo_modules as nm  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--arch", default="gpt2", choices=sorted(gpt_model.ARCHS))
    ap.add_argument("--prec", default="32", choices=["32", "bf16"])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dropout", type=float, default=None)
    ap.add_argument("--nemoc-loss0", type=float, default=None, help="print the difference to this first-step loss")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    sd = nm.load_safetensors(os.path.join(a.dir, "weights.safetensors"))
    x = torch.from_numpy(np.load(os.path.join(a.dir, "x.npy")))
    y = torch.from_numpy(np.load(os.path.join(a.dir, "y.npy")))
    model = gpt_model.build(a.arch, sd, dropout=a.dropout)
    model.train()
    Vp = model.model.embedding.word_embeddings.weight.shape[0]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    amp = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if a.prec == "bf16" else contextlib.nullcontext
    times, cpus, loss_v, loss0 = [], [], 0.0, None
    for it in range(a.warmup + a.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=False)
        with amp():
            logits = model(x)
            loss = F.cross_entropy(logits.float().view(-1, Vp), y.view(-1))
        loss.backward()
        opt.step()
        loss_v = loss.item()
        loss0 = loss_v if loss0 is None else loss0
        dt = time.perf_counter() - t0
        if it >= a.warmup:
            times.append(dt)
            cpus.append(time.process_time() - c0)
        if os.environ.get("NC_BENCH_VERBOSE"):
            print(f"step {it} {dt:.3f} s loss {loss_v:.6f}", file=sys.stderr)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    med = float(np.median(times)) if times else 0.0
    print(f"result side=torch case={a.arch}_train prec={a.prec} median_s={med:.4f} "
          f"cpu_s={float(np.median(cpus)) if cpus else 0.0:.3f} tok_s={x.numel() / med if med else 0:.0f} "
          f"rss_mb={rss:.0f} loss0={loss0:.6f} loss={loss_v:.6f}")
    if a.nemoc_loss0 is not None:
        # fp32: the same math in another summation order; bf16: both round
        # the matmul inputs, in different places (autocast vs nemoc's casts)
        d, tol = abs(loss0 - a.nemoc_loss0), 1e-3 if a.prec == "32" else 5e-3
        print(f"check {a.arch} prec={a.prec} first-step loss: nemoc {a.nemoc_loss0:.6f} torch {loss0:.6f} "
              f"|diff| {d:.2e} ({'ok' if d <= tol else 'MISMATCH'} at {tol:g})")


if __name__ == "__main__":
    main()
