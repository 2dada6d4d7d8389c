#!/usr/bin/python3
"""Reference fixtures for src/optim: optimizers and LR schedulers.

Run with /usr/bin/python3 (Debian python3-torch 1.13 + numpy):
    /usr/bin/python3 tests/ref/gen_optim.py
Writes tests/ref/optim/*.npy, read by tests/unit/test_optim.c and
tests/unit/test_sched.c; the case tables there must match CASES / SCHED
below.

Optimizers: torch.optim.SGD / Adam / AdamW run for STEPS steps on four small
float32 tensors with fixed pseudo-random gradients (grads.npy) and a learning
rate set before every step (lr_k = lr * (0.5 + 0.05 k), as a scheduler
would). Novograd is re-implemented below from NeMo's
nemo/core/optim/novograd.py (NeMo is not installed here). The parameters after
every step are stored per case as (STEPS, N), tensors concatenated in order.

Clipping: torch.nn.utils.clip_grad_norm_ on three gradient sets (one with a
frozen tensor left out): total norms (clip_norms.npy) and gradients after.

Schedulers: NeMo's nemo/core/optim/lr_scheduler.py formulas are re-implemented
below as functions of last_epoch and driven through torch's _LRScheduler, so
the recorded value for training step k is exactly what the optimizer sees
(construction makes last_epoch 0, or last_epoch + 1 when resuming). Values are
float64, stored bit-exactly as int64 (the C .npy reader takes no float64).
"""
import math
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optim")
STEPS = 20
SHAPES = [(4, 3), (5,), (2, 3, 2), (1,)]
GRAD_SCALE = [1.0, 0.1, 3.0, 0.5]
FROZEN_TENSOR, UNFREEZE_AT = 1, 10


# ---------------------------------------------------------------- optimizers

class Novograd(torch.optim.Optimizer):
    """NeMo's Novograd: per-tensor second moment of the squared gradient norm."""

    def __init__(self, params, lr=1e-3, betas=(0.95, 0.98), eps=1e-8, weight_decay=0.0,
                 grad_averaging=False, amsgrad=False, luc=False, luc_trust=1e-3, luc_eps=1e-8):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      grad_averaging=grad_averaging, amsgrad=amsgrad))
        self.luc, self.luc_trust, self.luc_eps = luc, luc_trust, luc_eps

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["step"] = 0
                    st["exp_avg"] = torch.zeros_like(p)
                    st["exp_avg_sq"] = torch.zeros([])
                    if group["amsgrad"]:
                        st["max_exp_avg_sq"] = torch.zeros([])
                st["step"] += 1
                g = p.grad.clone()
                n2 = g.norm().pow(2)
                v = st["exp_avg_sq"]
                if v == 0:
                    v.copy_(n2)
                else:
                    v.mul_(b2).add_(n2, alpha=1.0 - b2)
                if group["amsgrad"]:
                    torch.max(st["max_exp_avg_sq"], v, out=st["max_exp_avg_sq"])
                    denom = st["max_exp_avg_sq"].sqrt().add_(group["eps"])
                else:
                    denom = v.sqrt().add_(group["eps"])
                g.div_(denom)
                if group["weight_decay"] != 0:
                    g.add_(p, alpha=group["weight_decay"])
                if group["grad_averaging"]:
                    g.mul_(1.0 - b1)
                m = st["exp_avg"]
                m.mul_(b1).add_(g)
                if self.luc:
                    factor = self.luc_trust * torch.norm(p) / (torch.norm(m) + self.luc_eps)
                    factor = min(factor, group["lr"])
                    p.add_(m, alpha=-factor)
                else:
                    p.add_(m, alpha=-group["lr"])


# name, class, constructor kwargs, whether FROZEN_TENSOR is frozen before UNFREEZE_AT
CASES = [
    ("sgd", torch.optim.SGD, dict(lr=0.1), False),
    ("sgd_momentum", torch.optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=1e-2), False),
    ("sgd_nesterov", torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2), False),
    ("adam", torch.optim.Adam, dict(lr=1e-2), False),
    ("adam_wd_amsgrad", torch.optim.Adam,
     dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=True), False),
    ("adamw", torch.optim.AdamW, dict(lr=1e-2, betas=(0.9, 0.98), weight_decay=0.05), False),
    ("adamw_amsgrad", torch.optim.AdamW, dict(lr=2e-2, weight_decay=1e-2, amsgrad=True), False),
    ("novograd", Novograd, dict(lr=1e-2, betas=(0.95, 0.98), weight_decay=1e-3), False),
    ("novograd_ga_amsgrad", Novograd,
     dict(lr=1e-2, betas=(0.9, 0.5), weight_decay=1e-3, grad_averaging=True, amsgrad=True), False),
    ("novograd_luc", Novograd, dict(lr=1e-2, luc=True, luc_trust=1e-2), False),
    ("sgd_frozen", torch.optim.SGD, dict(lr=0.05, momentum=0.9, weight_decay=1e-2), True),
    ("adam_frozen", torch.optim.Adam, dict(lr=1e-2, weight_decay=1e-2), True),
    ("novograd_frozen", Novograd, dict(lr=1e-2, weight_decay=1e-3), True),
]


def make_data():
    gen = torch.Generator().manual_seed(1234)
    params0 = [torch.randn(s, generator=gen) for s in SHAPES]
    grads = []
    for k in range(STEPS):
        gk = [torch.randn(s, generator=gen) * sc for s, sc in zip(SHAPES, GRAD_SCALE)]
        if k < 2:
            gk[3].zero_()  # a zero gradient: Novograd's "exp_avg_sq == 0" branch
        grads.append(gk)
    return params0, grads


def flat(ts):
    return torch.cat([t.reshape(-1) for t in ts]).numpy().astype(np.float32)


def run_case(cls, kwargs, frozen, params0, grads):
    ps = [p.clone().requires_grad_(True) for p in params0]
    opt = cls(ps, **kwargs)
    base_lr = kwargs["lr"]
    out = []
    for k in range(STEPS):
        for i, p in enumerate(ps):
            off = frozen and i == FROZEN_TENSOR and k < UNFREEZE_AT
            p.requires_grad_(not off)
            p.grad = None if off else grads[k][i].clone()
        for g in opt.param_groups:
            g["lr"] = base_lr * (0.5 + 0.05 * k)
        opt.step()
        out.append(flat([p.detach() for p in ps]))
    return np.stack(out)


# (grads step, max_norm, tensor left out as frozen or -1), torch.nn.utils.clip_grad_norm_
CLIP = [(0, 1.0, -1), (1, 100.0, -1), (2, 0.5, FROZEN_TENSOR)]


def run_clip(grads):
    norms, out = [], []
    for k, max_norm, frozen in CLIP:
        ps = [torch.zeros_like(g, requires_grad=(i != frozen)) for i, g in enumerate(grads[k])]
        for i, p in enumerate(ps):
            p.grad = None if i == frozen else grads[k][i].clone()
        norms.append(float(torch.nn.utils.clip_grad_norm_(ps, max_norm)))
        out.append(flat([grads[k][i] if i == frozen else p.grad for i, p in enumerate(ps)]))
    return np.array(norms, dtype=np.float32), np.stack(out)


# ---------------------------------------------------------------- schedulers

def sched_fn(name, lr, max_steps=None, warmup_steps=None, warmup_ratio=None, hold_steps=None,
             hold_ratio=None, constant_steps=None, constant_ratio=None, min_lr=None, d_model=None,
             decay_rate=0.5, power=1.0, cycle=False):
    """lr as a function of last_epoch, from NeMo's lr_scheduler.py."""
    if min_lr is None:
        min_lr = 1e-5 if name == "SquareAnnealing" else 0.0

    def steps_of(steps, ratio, default):
        if steps is not None:
            return steps
        if ratio is not None:
            return int(ratio * max_steps)
        return default

    W = steps_of(warmup_steps, warmup_ratio, 0)
    H = steps_of(hold_steps, hold_ratio, None)
    H = 0 if H is None else H + W  # WarmupHoldPolicy.hold_steps
    C = steps_of(constant_steps, constant_ratio, 0)
    M = max_steps
    D = None if M is None else M - (C + W)  # WarmupAnnealHoldPolicy.decay_steps

    def warm(s):
        return lr * ((s + 1) / (W + 1))

    def poly(s, decay, pw):
        if cycle:
            decay *= 1.0 if s == 0 else math.ceil(s / decay)
        else:
            s = min(s, decay)
        return (lr - min_lr) * math.pow(1.0 - s / decay, pw) + min_lr

    def megatron_cos(s):
        if W > 0 and s <= W:
            return lr * float(s) / float(W)
        if s > W + D:
            return min_lr
        return min_lr + 0.5 * (math.cos(math.pi * (float(s - W) / float(D))) + 1.0) * (lr - min_lr)

    anneal = {
        "WarmupPolicy": lambda s: lr,
        "WarmupHoldPolicy": lambda s: lr,
        "SquareAnnealing": lambda s: max(lr * (((M - W) - (s - W)) / (M - W)) ** 2, min_lr),
        "SquareRootAnnealing": lambda s: max(lr * ((M - s) / M) ** 0.5, min_lr),
        "WarmupAnnealing": lambda s: min_lr + (1 - (s - W) / (M - W)) * (lr - min_lr),
        "InverseSquareRootAnnealing": lambda s: lr / ((s + 1) / (W + 1)) ** 0.5,
        "T5InverseSquareRootAnnealing": lambda s: 1 / (s ** 0.5),
        "PolynomialDecayAnnealing": lambda s: poly(s - W, M - W, power),
        "PolynomialHoldDecayAnnealing": lambda s: poly(s - H, M - max(W, H), power),
        "WarmupHoldAnnealLinear": lambda s: lr - (lr - min_lr) * ((s - H) / (M - H)),
        "WarmupHoldAnnealOneMinusSquareRoot":
            lambda s: max(min_lr, lr * (1 - ((s - H) / (M - H)) ** 0.5)),
        "NoamHoldAnnealing": lambda s: max(
            lr * max(1, W ** decay_rate) / max(1, (s - (H - W if H > 0 else 0)) ** decay_rate), min_lr),
    }

    def f(s):
        if name == "CosineAnnealing":
            if W > 0 and s <= W:
                return warm(s) if C == 0 else megatron_cos(s)
            if C > 0 and W + D < s <= M:
                return megatron_cos(s)
            if s > M:
                return min_lr
            if C == 0:
                return (lr - min_lr) * (0.5 * (1 + math.cos(math.pi * (s - W) / (M - W)))) + min_lr
            return megatron_cos(s)
        if name == "NoamAnnealing":
            s = max(1, s)
            norm = d_model ** (-0.5)
            mult = norm * (min(s ** (-0.5), s * (W ** (-1.5))) if W > 0 else s ** (-0.5))
            out = lr * mult
            return max(out, min_lr) if s > W else out
        if name == "T5InverseSquareRootAnnealing":
            if s <= C:
                return 1 / (constant_steps ** 0.5)
            return min_lr if s > M else anneal[name](s)
        hold_frame = name in ("WarmupHoldPolicy", "NoamHoldAnnealing", "PolynomialHoldDecayAnnealing",
                              "WarmupHoldAnnealLinear", "WarmupHoldAnnealOneMinusSquareRoot")
        if s <= W and W > 0:
            return warm(s)
        if hold_frame and W <= s < H:
            return lr
        if M is not None and s > M:
            return min_lr
        return anneal[name](s)

    return f


class FnScheduler(torch.optim.lr_scheduler._LRScheduler):
    def __init__(self, optimizer, fn, last_epoch=-1):
        self.fn = fn
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [self.fn(self.last_epoch) for _ in self.base_lrs]


# case name, class, keys (NeMo names), recorded training steps, last_epoch
SCHED = [
    ("warmup_policy", "WarmupPolicy", dict(lr=0.1, warmup_steps=5, max_steps=20, min_lr=1e-4), 30, -1),
    ("warmup_policy_nomax", "WarmupPolicy", dict(lr=0.1, warmup_steps=3), 10, -1),
    ("warmup_hold", "WarmupHoldPolicy",
     dict(lr=0.5, warmup_ratio=0.1, hold_steps=5, max_steps=50, min_lr=1e-3), 60, -1),
    ("cosine", "CosineAnnealing", dict(lr=2.0, warmup_steps=10, max_steps=100, min_lr=1e-5), 120, -1),
    ("cosine_ratio", "CosineAnnealing", dict(lr=1e-3, warmup_ratio=0.05, max_steps=200), 210, -1),
    ("cosine_nowarmup", "CosineAnnealing", dict(lr=1e-3, max_steps=50, min_lr=1e-6), 60, -1),
    ("cosine_constant", "CosineAnnealing",
     dict(lr=2e-4, warmup_steps=10, constant_steps=20, max_steps=100, min_lr=2e-5), 120, -1),
    ("cosine_resume", "CosineAnnealing", dict(lr=2.0, warmup_steps=10, max_steps=100, min_lr=1e-5), 80, 37),
    ("noam", "NoamAnnealing", dict(lr=2.0, d_model=256, warmup_steps=25, min_lr=1e-6), 200, -1),
    ("noam_nowarmup", "NoamAnnealing", dict(lr=5.0, d_model=1, min_lr=0.5), 60, -1),
    ("noam_ratio", "NoamAnnealing", dict(lr=1.0, d_model=176, warmup_ratio=0.1, max_steps=300), 320, -1),
    ("noam_hold", "NoamHoldAnnealing",
     dict(lr=1e-3, warmup_steps=10, hold_steps=20, max_steps=100, decay_rate=0.5, min_lr=1e-5), 120, -1),
    ("inv_sqrt", "InverseSquareRootAnnealing", dict(lr=1e-2, warmup_steps=10, max_steps=100), 120, -1),
    ("poly", "PolynomialDecayAnnealing", dict(lr=1e-2, warmup_steps=5, max_steps=50, min_lr=1e-5, power=2.0),
     60, -1),
    ("poly_cycle", "PolynomialDecayAnnealing",
     dict(lr=1e-2, warmup_steps=5, max_steps=50, power=1.0, cycle=True), 60, -1),
    ("poly_hold", "PolynomialHoldDecayAnnealing",
     dict(lr=1e-2, warmup_steps=5, hold_steps=10, max_steps=50, power=1.5, min_lr=1e-4), 60, -1),
    ("poly_hold_nohold", "PolynomialHoldDecayAnnealing", dict(lr=1e-2, warmup_steps=5, max_steps=50), 60, -1),
    ("warmup_annealing", "WarmupAnnealing", dict(lr=0.1, warmup_ratio=0.1, max_steps=50, min_lr=0.01), 60, -1),
    ("square", "SquareAnnealing", dict(lr=0.1, warmup_steps=5, max_steps=40), 50, -1),
    ("sqrt", "SquareRootAnnealing", dict(lr=0.1, warmup_steps=5, max_steps=40, min_lr=1e-4), 50, -1),
    ("t5", "T5InverseSquareRootAnnealing", dict(lr=1.0, constant_steps=10, max_steps=60), 70, -1),
    ("hold_linear", "WarmupHoldAnnealLinear",
     dict(lr=1e-3, warmup_steps=5, hold_steps=5, max_steps=40, min_lr=1e-4), 50, -1),
    ("hold_1msqrt", "WarmupHoldAnnealOneMinusSquareRoot",
     dict(lr=1e-3, warmup_steps=5, hold_steps=5, max_steps=40), 50, -1),
]


def run_sched(cls_name, keys, n, last_epoch):
    keys = dict(keys)
    lr = keys.pop("lr")
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    if last_epoch >= 0:
        for g in opt.param_groups:
            g["initial_lr"] = lr
    sch = FnScheduler(opt, sched_fn(cls_name, lr, **keys), last_epoch=last_epoch)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sch.step()
    return np.array(out, dtype=np.float64)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    params0, grads = make_data()
    np.save(os.path.join(OUT, "params0.npy"), flat(params0))
    np.save(os.path.join(OUT, "grads.npy"), np.stack([flat(g) for g in grads]))
    for name, cls, kwargs, frozen in CASES:
        np.save(os.path.join(OUT, name + ".npy"), run_case(cls, kwargs, frozen, params0, grads))
    norms, clipped = run_clip(grads)
    np.save(os.path.join(OUT, "clip_norms.npy"), norms)
    np.save(os.path.join(OUT, "clip_grads.npy"), clipped)
    for name, cls_name, keys, n, last_epoch in SCHED:
        lrs = run_sched(cls_name, keys, n, last_epoch)
        np.save(os.path.join(OUT, "sched_" + name + ".npy"), lrs.view(np.int64))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
