#!/usr/bin/python3
"""PyTorch side of bench_matmul: same shapes, fp32 and bf16, 2 threads."""
import time

import torch

torch.set_num_threads(2)
SHAPES = [(2048, 512, 512), (2048, 2048, 512), (2048, 512, 2048), (1600, 176, 176),
          (1600, 704, 176), (1024, 1024, 1024)]
for M, N, K in SHAPES:
    for dt, name in ((torch.float32, "torch_f32"), (torch.bfloat16, "torch_bf16")):
        a = torch.randn(M, K).to(dt)
        b = torch.randn(K, N).to(dt)
        ts = []
        for it in range(18):
            t0 = time.perf_counter()
            torch.matmul(a, b)
            if it >= 3:
                ts.append(time.perf_counter() - t0)
        ts.sort()
        med = ts[len(ts) // 2]
        print(f"matmul {M} {N} {K} {name} {med*1e3:.3f} ms {2*M*N*K/med*1e-9:.1f} GFLOP/s")
