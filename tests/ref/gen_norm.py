#!/usr/bin/python3
"""Fixtures for tests/unit/test_norm_ref.c: torch 1.13 forward and backward of
layer_norm, batch_norm (train with the running-statistics update, and eval)
and group_norm.

Run with /usr/bin/python3 (Debian python3-torch 1.13):
    /usr/bin/python3 tests/ref/gen_norm.py

For each case NAME it writes tests/ref/norm/NAME.<tensor>.npy:
    x, weight, bias (when used), running_mean/running_var (batch_norm: the
    values before the call), g (upstream gradient), y (output), dx, dweight,
    dbias (gradients of sum(y * g)), and for batch_norm running_mean_after,
    running_var_after, num_batches_tracked_after (int64; 3 before the call).
The case list (kind, shape, options) is mirrored in test_norm_ref.c.
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "norm")


def save(name, key, t):
    a = t.detach().numpy() if isinstance(t, torch.Tensor) else t
    np.save(os.path.join(OUT, "%s.%s.npy" % (name, key)), a)


def leaf(t):
    return t.clone().requires_grad_(True)


def run_case(seed, name, kind, shape, affine, **kw):
    gen = torch.Generator().manual_seed(seed)
    x = leaf(torch.randn(shape, generator=gen) * 2.0 + 0.5)
    c = shape[-1] if kind == "layer_norm" else shape[1]
    w = leaf(torch.randn(c, generator=gen) * 0.5 + 1.0) if affine else None
    b = leaf(torch.randn(c, generator=gen) * 0.3) if affine else None
    g = torch.randn(shape, generator=gen)
    save(name, "x", x)
    if affine:
        save(name, "weight", w)
        save(name, "bias", b)
    if kind == "layer_norm":
        y = F.layer_norm(x, (c,), w, b, eps=kw["eps"])
    elif kind == "group_norm":
        y = F.group_norm(x, kw["groups"], w, b, eps=kw["eps"])
    else:
        rm = torch.randn(c, generator=gen) * 0.2
        rv = torch.rand(c, generator=gen) + 0.5
        save(name, "running_mean", rm)
        save(name, "running_var", rv)
        bn = torch.nn.BatchNorm1d(c, eps=kw["eps"], momentum=kw["momentum"], affine=affine) \
            if len(shape) <= 3 else \
            torch.nn.BatchNorm2d(c, eps=kw["eps"], momentum=kw["momentum"], affine=affine)
        with torch.no_grad():
            bn.running_mean.copy_(rm)
            bn.running_var.copy_(rv)
            bn.num_batches_tracked.fill_(3)
        if affine:
            bn.weight = torch.nn.Parameter(w.detach().clone())
            bn.bias = torch.nn.Parameter(b.detach().clone())
        bn.train(kw["train"])
        y = bn(x)
        save(name, "running_mean_after", bn.running_mean)
        save(name, "running_var_after", bn.running_var)
        save(name, "num_batches_tracked_after", bn.num_batches_tracked.reshape(1))
    (y * g).sum().backward()
    save(name, "g", g)
    save(name, "y", y)
    save(name, "dx", x.grad)
    if affine:
        if kind == "batch_norm":
            save(name, "dweight", bn.weight.grad)
            save(name, "dbias", bn.bias.grad)
        else:
            save(name, "dweight", w.grad)
            save(name, "dbias", b.grad)


CASES = [
    ("ln_affine", "layer_norm", (4, 6, 32), True, dict(eps=1e-5)),
    ("ln_plain", "layer_norm", (5, 17), False, dict(eps=1e-5)),
    ("ln_wide", "layer_norm", (3, 500), True, dict(eps=1e-6)),
    ("bn_train_nct", "batch_norm", (8, 6, 20), True, dict(eps=1e-5, momentum=0.1, train=True)),
    ("bn_train_nc", "batch_norm", (16, 10), True, dict(eps=1e-5, momentum=0.3, train=True)),
    ("bn_train_plain", "batch_norm", (4, 5, 9), False, dict(eps=1e-3, momentum=0.1, train=True)),
    ("bn_train_nchw", "batch_norm", (3, 4, 5, 6), True, dict(eps=1e-5, momentum=0.1, train=True)),
    ("bn_eval_nct", "batch_norm", (4, 6, 10), True, dict(eps=1e-5, momentum=0.1, train=False)),
    ("bn_eval_nc", "batch_norm", (7, 3), True, dict(eps=1e-5, momentum=0.1, train=False)),
    ("gn_nct", "group_norm", (3, 8, 12), True, dict(groups=4, eps=1e-5)),
    ("gn_nchw", "group_norm", (2, 6, 3, 5), True, dict(groups=3, eps=1e-5)),
    ("gn_plain", "group_norm", (4, 6, 7), False, dict(groups=2, eps=1e-5)),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    for i, (name, kind, shape, affine, kw) in enumerate(CASES):
        run_case(100 + i, name, kind, shape, affine, **kw)
    print("wrote %d cases to %s" % (len(CASES), OUT))


if __name__ == "__main__":
    main()
