#!/usr/bin/python3
"""Reference SpecAugment masks for tests/unit/test_augment.c.

Re-implements NeMo's vectorised SpecAugment (SpecAugment._apply_masks in
nemo/collections/asr/parts/submodules/spectr_augment.py: time masks, then
frequency masks, from torch.rand on the global generator) and writes into
tests/ref/augment/:
  spec.npy (2, 20, 50) f32, lens.npy (2,) i64, <name>.npy the augmented spec,
  cases.txt: "<name> <seed> key=value ..." (parsed by the C test).

Run: /usr/bin/python3 tests/ref/gen_augment.py
"""
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "augment")

CASES = [
    ("int_width", 7, dict(freq_masks=2, freq_width=5, time_masks=3, time_width=8, mask_value=0.0)),
    ("frac_width", 11, dict(freq_masks=3, freq_width=6, time_masks=4, time_width=0.2, mask_value=-1.5)),
    ("wide", 3, dict(freq_masks=2, freq_width=27, time_masks=10, time_width=40, mask_value=0.0)),
]


def apply_masks(spec, num_masks, length, width, mask_value, time_axis):
    batch_size = spec.shape[0]
    axis_length = spec.shape[2 if time_axis else 1]
    if time_axis and isinstance(width, float):
        width = torch.clamp(width * length, max=axis_length).unsqueeze(1)
    mask_width = torch.rand((batch_size, num_masks), dtype=torch.float32) * width
    mask_width = mask_width.long()
    mask_start = torch.rand((batch_size, num_masks), dtype=torch.float32)
    if time_axis:
        mask_start = mask_start * (length.unsqueeze(1) - mask_width)
    else:
        mask_start = mask_start * (axis_length - mask_width)
    mask_start = mask_start.long()
    mask_end = mask_start + mask_width
    indices = torch.arange(axis_length)
    mask_tensor = (indices >= mask_start.unsqueeze(-1)) & (indices < mask_end.unsqueeze(-1))
    mask_tensor = mask_tensor.any(dim=1)
    mask = torch.zeros_like(spec, dtype=torch.bool)
    mask[:, :, :] = mask_tensor[:, None, :] if time_axis else mask_tensor[:, :, None]
    return spec.masked_fill(mask=mask, value=mask_value)


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    spec = torch.randn((2, 20, 50), generator=g) + 3.0  # nonzero everywhere, so masks show
    lens = torch.tensor([50, 31], dtype=torch.long)
    np.save(os.path.join(OUT, "spec.npy"), spec.numpy())
    np.save(os.path.join(OUT, "lens.npy"), lens.numpy())
    lines = []
    for name, seed, c in CASES:
        torch.manual_seed(seed)
        out = apply_masks(spec, c["time_masks"], lens, c["time_width"], c["mask_value"], True)
        out = apply_masks(out, c["freq_masks"], lens, c["freq_width"], c["mask_value"], False)
        np.save(os.path.join(OUT, f"{name}.npy"), out.numpy())
        lines.append(f"{name} {seed} " + " ".join(f"{k}={v}" for k, v in c.items()))
        print(name, int((out != spec).sum()), "masked elements")
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
