#!/usr/bin/python3
"""Reference fixture for the core engine: a 2-layer pre-LN Transformer encoder
stack (d=64, 4 heads, GELU MLP) with a per-token cross-entropy head.

Writes weights (named as nemoc declares them), the input, key-padding mask,
targets, logits, loss, every parameter gradient and the input gradient, and
the losses before each of 3 AdamW steps. Attention masks padded keys with
-10000 and zeroes their probabilities, as NeMo's MultiHeadAttention does.

Run with Debian's python3-torch: /usr/bin/python3 tests/ref/gen_transformer.py
"""
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "transformer")
B, T, D, H, L, C = 3, 10, 64, 4, 2, 11
LENGTHS = [10, 7, 4]


class MHA(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear_q = nn.Linear(D, D)
        self.linear_k = nn.Linear(D, D)
        self.linear_v = nn.Linear(D, D)
        self.linear_out = nn.Linear(D, D)

    def forward(self, x, pad):  # pad: (B, T) bool, True on padding
        b, t, _ = x.shape
        dk = D // H
        q = self.linear_q(x).view(b, t, H, dk).transpose(1, 2)
        k = self.linear_k(x).view(b, t, H, dk).transpose(1, 2)
        v = self.linear_v(x).view(b, t, H, dk).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(dk)
        m = pad[:, None, None, :]
        scores = scores.masked_fill(m, -10000.0)
        attn = torch.softmax(scores, dim=-1).masked_fill(m, 0.0)
        y = torch.matmul(attn, v).transpose(1, 2).reshape(b, t, D)
        return self.linear_out(y)


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(D)
        self.self_attn = MHA()
        self.norm2 = nn.LayerNorm(D)
        self.linear1 = nn.Linear(D, 4 * D)
        self.linear2 = nn.Linear(4 * D, D)

    def forward(self, x, pad):
        x = x + self.self_attn(self.norm1(x), pad)
        return x + self.linear2(F.gelu(self.linear1(self.norm2(x))))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([Layer() for _ in range(L)])
        self.norm_out = nn.LayerNorm(D)
        self.head = nn.Linear(D, C)

    def forward(self, x, pad):
        for layer in self.layers:
            x = layer(x, pad)
        return self.head(self.norm_out(x))


def save(name, a):
    np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(a))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    model = Model()
    # Non-trivial LayerNorm parameters so their gradients are exercised.
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" in n:
                p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(B, T, D, requires_grad=True)
    pad = torch.arange(T)[None, :] >= torch.tensor(LENGTHS)[:, None]
    target = torch.randint(0, C, (B, T))
    target[pad] = -100
    for n, p in model.named_parameters():
        save("w." + n, p.detach().numpy().astype(np.float32))
    save("x", x.detach().numpy())
    save("pad", pad.numpy().astype(np.uint8))
    save("target", target.numpy().astype(np.int64))

    logits = model(x, pad)
    loss = F.cross_entropy(logits.reshape(-1, C), target.reshape(-1), ignore_index=-100)
    loss.backward()
    save("logits", logits.detach().numpy())
    save("loss", np.array([loss.item()], dtype=np.float32))
    save("grad.x", x.grad.numpy())
    for n, p in model.named_parameters():
        save("grad." + n, p.grad.numpy())

    # Three AdamW steps from the same start; the loss before each step.
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.98), eps=1e-8,
                            weight_decay=1e-3)
    losses = []
    x0 = x.detach()
    for _ in range(3):
        opt.zero_grad()
        logits = model(x0, pad)
        loss = F.cross_entropy(logits.reshape(-1, C), target.reshape(-1), ignore_index=-100)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    logits = model(x0, pad)
    losses.append(F.cross_entropy(logits.reshape(-1, C), target.reshape(-1), ignore_index=-100).item())
    save("adamw_losses", np.array(losses, dtype=np.float32))
    print("wrote", OUT, "loss", losses)


if __name__ == "__main__":
    main()
