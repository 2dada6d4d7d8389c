#!/usr/bin/python3
"""Fixtures for tests/unit/test_rng.c: what torch 1.13's CPU generator draws.

Run with /usr/bin/python3 (Debian python3-torch 1.13):
    /usr/bin/python3 tests/ref/gen_rng.py

Writes tests/ref/rng/NNN.npy, one array per step, and tests/ref/rng/cases.txt,
one line per step:

    NNN <seed|-> <op> <n> <a> <b>

A seed reseeds with torch.manual_seed(seed); "-" continues from the previous
step's generator state, so sequences check that the state (the mt19937 words
and the cached second Box-Muller sample of small randn calls) carries over.
Ops:
    rand       torch.rand(n)
    randn      torch.randn(n)
    uniform    torch.empty(n).uniform_(a, b)
    normal     torch.empty(n).normal_(a, b)         (mean a, std b)
    bernoulli  torch.empty(n).bernoulli_(a)
    randint    torch.randint(a, b, (n,))             (int64)
    randperm   torch.randperm(n)                     (int64)
    linear     nn.Linear(a, b): weight (b, a) flattened, then bias (b)
    dropout    F.dropout(x, p=a, training=True), x = arange(n) * 0.125 - 1
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rng")


def run(op, n, a, b):
    if op == "rand":
        return torch.rand(n)
    if op == "randn":
        return torch.randn(n)
    if op == "uniform":
        return torch.empty(n).uniform_(a, b)
    if op == "normal":
        return torch.empty(n).normal_(a, b)
    if op == "bernoulli":
        return torch.empty(n).bernoulli_(a)
    if op == "randint":
        return torch.randint(int(a), int(b), (n,))
    if op == "randperm":
        return torch.randperm(n)
    if op == "linear":
        lin = torch.nn.Linear(int(a), int(b))
        return torch.cat([lin.weight.detach().flatten(), lin.bias.detach()])
    if op == "dropout":
        x = torch.arange(n, dtype=torch.float32) * 0.125 - 1.0
        return F.dropout(x, p=a, training=True)
    raise ValueError(op)


# (seed or None to continue, op, n, a, b)
STEPS = []


def single(seed, op, n, a=0.0, b=0.0):
    STEPS.append((seed, op, n, a, b))


def seq(seed, *steps):
    for i, s in enumerate(steps):
        op, n = s[0], s[1]
        a = s[2] if len(s) > 2 else 0.0
        b = s[3] if len(s) > 3 else 0.0
        STEPS.append((seed if i == 0 else None, op, n, a, b))


for seed in (0, 1234, 2**32 + 7):
    for n in (1, 5, 16, 17, 100):
        single(seed, "rand", n)
for seed in (0, 42):
    for n in (1, 2, 7, 15, 16, 17, 31, 32, 40, 1000):
        single(seed, "randn", n)
single(77, "randn", 4099)
single(3, "normal", 9, 2.5, 0.5)
single(3, "normal", 50, -1.0, 3.0)
single(5, "uniform", 33, -0.3, 0.7)
single(5, "uniform", 10, 2.0, 5.5)
single(6, "uniform", 64, -0.125, 0.125)
for p in (0.1, 0.5, 0.9):
    single(7, "bernoulli", 200, p)
single(8, "randint", 50, 0, 10)
single(8, "randint", 20, -5, 1000003)
single(9, "randint", 10, 0, 2**33 + 5)  # range >= 2**32 draws random64()
for n in (1, 2, 10, 100):
    single(10, "randperm", n)
single(11, "linear", 0, 8, 5)
single(11, "linear", 0, 3, 1)
single(12, "dropout", 300, 0.1)
single(12, "dropout", 64, 0.5)
single(12, "dropout", 8, 1.0)
# Mixed sequences from one seed.
seq(20, ("randn", 3), ("randn", 3), ("rand", 4), ("randn", 1), ("randn", 20), ("randn", 5))
seq(21, ("randn", 1), ("rand", 3), ("randn", 1), ("bernoulli", 10, 0.3), ("randn", 2),
    ("randint", 7, 0, 5), ("randperm", 6), ("randn", 17))
seq(22, ("linear", 0, 4, 3), ("dropout", 40, 0.2), ("randn", 33), ("uniform", 5, -1.0, 1.0),
    ("dropout", 17, 0.5), ("rand", 700))
seq(23, ("rand", 700), ("randn", 15), ("normal", 3, 1.0, 2.0), ("randn", 16))


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    lines = []
    for i, (seed, op, n, a, b) in enumerate(STEPS):
        if seed is not None:
            torch.manual_seed(seed)
        v = run(op, n, a, b).numpy()
        v = v.astype(np.int64 if v.dtype == np.int64 else np.float32)
        name = "%03d" % i
        np.save(os.path.join(OUT, name + ".npy"), v)
        lines.append("%s %s %s %d %r %r" % (name, "-" if seed is None else seed, op, n, a, b))
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %d cases to %s" % (len(STEPS), OUT))


if __name__ == "__main__":
    main()
