#!/usr/bin/python3
"""ConvSubsampling fixtures from NeMo's own code (subsampling.py, with
MaskedConvSequential) for tests/unit/test_subsampling.c: 'striding' and
'dw_striding' at subsampling_factor 2, 4, 8, 16, 32 (dw_striding 32 has nine
convs). Small widths: feat_in 16, conv_channels 4, feat_out 8. One shared
input x (B=2, T=200, feat_in) with lengths [200, 137] (frames past a length
zeroed, as the preprocessor leaves them), and per case: the state_dict
(w.<name>), the output (B, T', feat_out), the lengths, and the gradient of
L = sum(out * G) for a fixed G (g.<name>, and G itself).

Run: /usr/bin/python3 tests/ref/gen_subsampling.py   (NeMo source in .nemo_src or NEMO_SRC)
"""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "subsampling")
sys.path.insert(0, HERE)
from nemo_src import nemo_import  # noqa: E402


def save(name, a):
    np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(a))


def main():
    sub = nemo_import("nemo.collections.asr.parts.submodules.subsampling")
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    B, T, F = 2, 200, 16
    lens = torch.tensor([200, 137])
    x = torch.randn(B, T, F)
    x[1, 137:] = 0.0
    save("x", x.numpy())
    save("lengths", lens.numpy())
    for kind in ("striding", "dw_striding"):
        for factor in (2, 4, 8, 16, 32):
            name = "%s_%d" % (kind, factor)
            m = sub.ConvSubsampling(subsampling=kind, subsampling_factor=factor, feat_in=F, feat_out=8,
                                    conv_channels=4)
            with torch.no_grad():  # make the biases matter: they are what leaks past a length
                for n, p in m.named_parameters():
                    if n.endswith("bias"):
                        p.add_(0.2 * torch.rand_like(p))
            m.train()
            out, out_len = m(x, lens)
            G = torch.randn_like(out)
            (out * G).sum().backward()
            for n, p in m.state_dict().items():
                save("%s.w.encoder.pre_encode.%s" % (name, n), p.numpy())
            for n, p in m.named_parameters():
                save("%s.g.encoder.pre_encode.%s" % (name, n), p.grad.numpy())
            save(name + ".out", out.detach().numpy())
            save(name + ".out_lengths", out_len.to(torch.int64).numpy())
            save(name + ".G", G.numpy())
            print(name, "convs", sum(1 for c in m.conv if isinstance(c, torch.nn.Conv2d)), "out", tuple(out.shape),
                  "lengths", out_len.tolist())


if __name__ == "__main__":
    main()
