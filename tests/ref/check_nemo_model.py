#!/usr/bin/python3
"""check_nemo_model.py <written.nemo> <original.nemo>

Unpacks both archives as NeMo's SaveRestoreConnector does and checks that
torch.load of the written model_weights.ckpt gives exactly the original
state_dict (same keys, dtypes, shapes and values), that model_config.yaml
names the same target, and that every "nemo:" artifact it references is a
member of the archive. Exit status 0 when all holds. Run by
tests/unit/test_nemo_models.c when /usr/bin/python3 has torch.
"""
import io
import sys
import tarfile

import torch


def load(path):
    with tarfile.open(path, "r:") as tar:
        names = tar.getnames()
        assert all(n.startswith("./") for n in names if n != "."), names
        cfg = tar.extractfile("./model_config.yaml").read().decode()
        sd = torch.load(io.BytesIO(tar.extractfile("./model_weights.ckpt").read()))
    return names, cfg, sd


def main():
    wn, wcfg, wsd = load(sys.argv[1])
    _, ocfg, osd = load(sys.argv[2])
    assert list(wsd.keys()) == list(osd.keys()), (list(wsd)[:5], list(osd)[:5])
    for k in osd:
        a, b = wsd[k], osd[k]
        assert a.dtype == b.dtype and a.shape == b.shape, (k, a.dtype, b.dtype, a.shape, b.shape)
        assert torch.equal(a, b), k
    target = [l for l in ocfg.splitlines() if l.startswith("target:")][0]
    assert target in wcfg.splitlines(), target
    for line in wcfg.splitlines():
        if "nemo:" in line:
            member = "./" + line.split("nemo:")[1].strip().strip("'\"")
            assert member in wn, (member, wn)
    print("ok", len(wsd), "tensors")


if __name__ == "__main__":
    main()
