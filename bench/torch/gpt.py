#!/usr/bin/python3
"""PyTorch twin of bench/bench_gpt.c: a GPT-2-small-shaped decoder (token +
learned position embeddings, pre-LN causal transformer layers with separate
q/k/v/out projections and an exact-GELU MLP, final LayerNorm, head tied to the
token embedding), mean next-token cross-entropy, backward, AdamW (lr 1e-4).
Weights and batch from the directory bench_gpt --save wrote; parameter names
are nemoc's (nn.h's encoder stack: h.layers.{i}.norm1, self_attn.linear_q, ...).
Dropout 0.1 on the embeddings and residual branches, 0 on attention
probabilities, as on the nemoc side. --prec bf16: torch.autocast("cpu", bfloat16).

  gpt.py --dir DIR [--prec 32|bf16] [--layers 12] [--d 768] [--heads 12]
         [--steps 3] [--warmup 1] [--threads 2]
"""
import argparse
import contextlib
import math
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nemo_modules as nm  # noqa: E402


class Attn(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h, self.dk = h, d // h
        self.linear_q = nn.Linear(d, d)
        self.linear_k = nn.Linear(d, d)
        self.linear_v = nn.Linear(d, d)
        self.linear_out = nn.Linear(d, d)

    def forward(self, x, causal):
        b, t, d = x.shape
        q = self.linear_q(x).view(b, t, self.h, self.dk).transpose(1, 2)
        k = self.linear_k(x).view(b, t, self.h, self.dk).transpose(1, 2)
        v = self.linear_v(x).view(b, t, self.h, self.dk).transpose(1, 2)
        s = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.dk)
        s = s.masked_fill(causal, float("-inf"))
        a = torch.softmax(s, dim=-1)
        return self.linear_out(torch.matmul(a, v).transpose(1, 2).reshape(b, t, d))


class Layer(nn.Module):
    def __init__(self, d, h, p):
        super().__init__()
        self.norm1 = nm.LayerNorm(d)
        self.self_attn = Attn(d, h)
        self.norm2 = nm.LayerNorm(d)
        self.linear1 = nn.Linear(d, 4 * d)
        self.linear2 = nn.Linear(4 * d, d)
        self.drop = nn.Dropout(p)

    def forward(self, x, causal):
        x = x + self.drop(self.self_attn(self.norm1(x), causal))
        return x + self.drop(self.linear2(F.gelu(self.linear1(self.norm2(x)))))


class Stack(nn.Module):
    def __init__(self, n, d, h, p):
        super().__init__()
        self.layers = nn.ModuleList([Layer(d, h, p) for _ in range(n)])
        self.norm_out = nm.LayerNorm(d)


class GPT(nn.Module):
    def __init__(self, vocab, seq, n, d, h, p=0.1):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(seq, d)
        self.h = Stack(n, d, h, p)
        self.drop = nn.Dropout(p)

    def forward(self, idx):
        t = idx.shape[1]
        x = self.drop(self.wte(idx) + self.wpe(torch.arange(t)))
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
        for layer in self.h.layers:
            x = layer(x, causal)
        return F.linear(self.h.norm_out(x), self.wte.weight)  # tied head


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--prec", default="32")
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--d", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    sd = nm.load_safetensors(os.path.join(a.dir, "weights.safetensors"))
    x = torch.from_numpy(np.load(os.path.join(a.dir, "x.npy")))
    y = torch.from_numpy(np.load(os.path.join(a.dir, "y.npy")))
    V, T = sd["wte.weight"].shape[0], x.shape[1]
    model = GPT(V, T, a.layers, a.d, a.heads)
    model.load_state_dict(sd, strict=True)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    amp = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if a.prec == "bf16" else contextlib.nullcontext
    times, cpus, loss_v = [], [], 0.0
    for it in range(a.warmup + a.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=False)
        with amp():
            logits = model(x)
            loss = F.cross_entropy(logits.float().view(-1, V), y.view(-1))
        loss.backward()
        opt.step()
        loss_v = loss.item()
        dt = time.perf_counter() - t0
        if it >= a.warmup:
            times.append(dt)
            cpus.append(time.process_time() - c0)
        if os.environ.get("NC_BENCH_VERBOSE"):
            print(f"step {it} {dt:.3f} s loss {loss_v:.4f}", file=sys.stderr)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"result side=torch case=gpt_train prec={a.prec} median_s={float(np.median(times)):.4f} "
          f"cpu_s={float(np.median(cpus)):.3f} rss_mb={rss:.0f} loss={loss_v:.4f}")


if __name__ == "__main__":
    main()
