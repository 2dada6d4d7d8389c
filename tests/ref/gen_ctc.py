#!/usr/bin/python3
"""Reference fixtures for nc_ctc_loss (tests/unit/test_ctc_ref.c).

Writes tests/ref/ctc/*.npy: random logits (B, T, V), padded targets (padding
-1, which must be ignored), input and target lengths, and torch's CTC losses
and gradients for every reduction NeMo offers, with zero_infinity on and off.
Reductions mean_batch / mean_volume are computed exactly as NeMo's CTCLoss
(nemo/collections/asr/losses/ctc.py): torch 'none' losses, then mean() or
sum() / target_lengths.sum().

Batch rows: 0 plain; 1 repeated labels; 2 empty target; 3 T exactly long
enough (5 labels + 2 forced blanks between repeats = 7 frames); 4 impossible
(4 equal labels need 7 frames, 6 given); 5 full-length target.
Run with /usr/bin/python3 (Debian python3-torch)."""
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ctc")
os.makedirs(OUT, exist_ok=True)

B, T, V, S = 6, 12, 6, 5
BLANK = V - 1  # NeMo: blank is the last class
torch.manual_seed(1234)
logits = (torch.randn(B, T, V) * 2.0).float()
tgt_rows = [[1, 2, 3], [2, 2, 1, 1], [], [1, 1, 2, 2, 3], [3, 3, 3, 3], [0, 1, 2, 3, 4]]
input_lengths = torch.tensor([12, 10, 8, 7, 6, 12], dtype=torch.int64)
targets = torch.full((B, S), -1, dtype=torch.int64)
for b, row in enumerate(tgt_rows):
    targets[b, : len(row)] = torch.tensor(row, dtype=torch.int64)
target_lengths = torch.tensor([len(r) for r in tgt_rows], dtype=torch.int64)


def save(name, t):
    np.save(os.path.join(OUT, name + ".npy"), t.detach().numpy())


def run(reduction, zinf, blank, tg):
    """NeMo CTCLoss.forward on (B, T, V) log-probs, torch's gradients."""
    x = logits.clone().requires_grad_(True)
    lp = torch.log_softmax(x, dim=-1)
    lp.retain_grad()
    torch_red = "none" if reduction in ("mean_batch", "mean_volume") else reduction
    loss = torch.nn.functional.ctc_loss(
        lp.transpose(0, 1), tg, input_lengths, target_lengths,
        blank=blank, reduction=torch_red, zero_infinity=zinf)
    if reduction == "mean_batch":
        loss = loss.mean()
    elif reduction == "mean_volume":
        loss = loss.sum() / target_lengths.sum()
    # 'none' is checked with a fixed non-uniform upstream gradient
    w = torch.arange(1, B + 1, dtype=torch.float32) / B if reduction == "none" else torch.tensor(1.0)
    (loss * w).sum().backward()
    return loss, x.grad, lp.grad


save("logits", logits)
save("targets", targets)
save("input_lengths", input_lengths)
save("target_lengths", target_lengths)
for red in ("none", "sum", "mean", "mean_batch", "mean_volume"):
    for zinf in (False, True):
        loss, gx, glp = run(red, zinf, BLANK, targets)
        tag = "%s_z%d" % (red, int(zinf))
        save("loss_" + tag, loss.reshape(-1))
        save("grad_logits_" + tag, gx)
        save("grad_logp_" + tag, glp)
# blank at index 0 (torch's default): labels shifted up by one
tg0 = torch.where(targets >= 0, targets + 1, targets)
loss, gx, glp = run("none", True, 0, tg0)
save("targets_blank0", tg0)
save("loss_blank0", loss.reshape(-1))
save("grad_logits_blank0", gx)
print("losses (none, z0):", run("none", False, BLANK, targets)[0].tolist())
