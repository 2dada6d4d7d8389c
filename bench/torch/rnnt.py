#!/usr/bin/python3
"""PyTorch side of bench_rnnt: torchaudio.functional.rnnt_loss forward + backward
on the same shapes and lengths (B 8, T 200, U 40, V+1 129; lengths T - 5b, U - 2b),
logits in, mean over the batch, OMP_NUM_THREADS threads (default 2). Usage: rnnt.py [B T U V1] [steps]"""
import os
import sys
import time

import torch
import torchaudio.functional as F

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
B, T, U, V1 = (int(a) for a in sys.argv[1:5]) if len(sys.argv) >= 5 else (8, 200, 40, 129)
steps = int(sys.argv[5]) if len(sys.argv) >= 6 else 10
torch.manual_seed(7)
x0 = torch.randn(B, T, U + 1, V1)
targets = torch.randint(0, V1 - 1, (B, U), dtype=torch.int32)
il = torch.tensor([T - (T // 40) * b for b in range(B)], dtype=torch.int32)
tl = torch.tensor([U - (U // 20) * b for b in range(B)], dtype=torch.int32)
ts = []
cpu0 = 0.0
for s in range(steps + 2):
    x = x0.clone().requires_grad_(True)
    t0 = time.perf_counter()
    loss = F.rnnt_loss(x, targets, il, tl, blank=V1 - 1, reduction="mean")
    loss.backward()
    if s >= 2:
        ts.append(time.perf_counter() - t0)
    if s == 1:
        cpu0 = time.process_time()
cpu = (time.process_time() - cpu0) / steps
ts.sort()
print("torchaudio rnnt_loss     B=%d T=%d U=%d C=%d  fwd+bwd %8.2f ms (median of %d)  CPU %8.2f ms"
      % (B, T, U, V1, ts[len(ts) // 2] * 1e3, steps, cpu * 1e3))
