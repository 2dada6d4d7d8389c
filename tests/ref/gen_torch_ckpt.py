#!/usr/bin/python3
"""Fixtures for the torch.save reader/writer and the .nemo archive code.

Writes into tests/ref/torch_ckpt/:
  <case>.pt / .ckpt        checkpoints written by torch.save (torch 1.13 here)
  expect/<case>.txt        one line per expected tensor: name, torch dtype, shape
  expect/<case>/<i>.npy    the values of tensor i (float64 -> float32, bfloat16 ->
                           float32, bool -> uint8, int16/int8 -> int32: what nemoc holds)
  model.nemo               a .nemo made like NeMo's SaveRestoreConnector
                           (tarfile "w:", arcname "."): model_config.yaml,
                           model_weights.ckpt (= the 'module' case), two artifacts
  legacy_gz.nemo           the same as a gzip tar (NeMo < 1.7)
  expect/model_config.yaml, expect/tokenizer.model, expect/vocab.txt: member bytes

Run with /usr/bin/python3 (the interpreter that has torch).
"""
import argparse
import collections
import io
import os
import random
import shutil
import sys
import tarfile
import tempfile
import zipfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "torch_ckpt")
EXP = os.path.join(OUT, "expect")

DTYPE_NAMES = {
    torch.float32: "float32", torch.float64: "float64", torch.float16: "float16",
    torch.bfloat16: "bfloat16", torch.int64: "int64", torch.int32: "int32",
    torch.int16: "int16", torch.int8: "int8", torch.uint8: "uint8", torch.bool: "bool",
}


def as_nemoc(t):
    """The array nemoc is expected to hold for tensor t."""
    t = t.detach().contiguous()
    if t.dtype in (torch.float64, torch.bfloat16):
        return t.float().numpy()
    if t.dtype == torch.bool:
        return t.to(torch.uint8).numpy()
    if t.dtype in (torch.int16, torch.int8):
        return t.to(torch.int32).numpy()
    return t.numpy()


def flatten(obj, prefix, out):
    """nemoc's flattening: dict keys (str/int) and list indices joined with '.'."""
    if isinstance(obj, torch.Tensor):
        out[prefix] = obj
        return
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    else:
        return
    for k, v in items:
        if not isinstance(k, (str, int)) or isinstance(k, bool):
            continue
        name = f"{prefix}.{k}" if prefix else str(k)
        flatten(v, name, out)


def write_expect(case, tensors):
    d = os.path.join(EXP, case)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    with open(os.path.join(EXP, case + ".txt"), "w") as f:
        for i, (name, t) in enumerate(tensors.items()):
            shape = ",".join(str(s) for s in t.shape)
            f.write(f"{name}\t{DTYPE_NAMES[t.dtype]}\t{shape}\n")
            np.save(os.path.join(d, f"{i}.npy"), as_nemoc(t))


def save_case(case, obj, fname=None, expect=None, **kw):
    path = os.path.join(OUT, fname or case + ".pt")
    torch.save(obj, path, **kw)
    if expect is not None:
        write_expect(case, expect)
    return path


def plain_dict():
    g = torch.Generator().manual_seed(1)
    sd = collections.OrderedDict()
    sd["f32"] = torch.randn(2, 3, generator=g)
    sd["f16"] = torch.randn(4, generator=g).half()
    sd["bf16"] = torch.randn(3, 2, generator=g).bfloat16()
    sd["i64"] = torch.tensor([-(2**40), -1, 0, 1, 2**62], dtype=torch.int64)
    sd["i32"] = torch.tensor([[-7, 8], [2**31 - 1, -(2**31)]], dtype=torch.int32)
    sd["u8"] = torch.tensor([0, 17, 255], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, False, True])
    sd["f64"] = torch.randn(3, generator=g, dtype=torch.float64)
    sd["i16"] = torch.tensor([-32768, 5, 32767], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 0, 127], dtype=torch.int8)
    sd["deep.name.with.dots"] = torch.ones(1, 1, 1, 1, 1)
    return sd


def views_dict():
    g = torch.Generator().manual_seed(2)
    m = torch.randn(3, 4, generator=g)
    base = torch.arange(24, dtype=torch.float32)
    w = torch.randn(5, 2, generator=g)
    sd = collections.OrderedDict()
    sd["transposed"] = m.t()
    sd["orig"] = m
    sd["slice"] = m[:, 1:3]
    sd["shared.a"] = base[0:5]
    sd["shared.b"] = base[5:15].view(2, 5)
    sd["shared.c"] = base[15:24:2]
    sd["expanded"] = torch.randn(3, generator=g).expand(4, 3)
    sd["num_batches_tracked"] = torch.tensor(7, dtype=torch.int64)
    sd["empty"] = torch.zeros(0)
    sd["empty2d"] = torch.zeros(2, 0)
    sd["tied.a"] = w
    sd["tied.b"] = w
    sd["perm4d"] = torch.randn(2, 3, 4, 5, generator=g).permute(0, 2, 3, 1)
    sd["half_t"] = torch.randn(3, 2, generator=g).half().t()
    sd["bf16_slice"] = torch.randn(4, 4, generator=g).bfloat16()[1:3, ::2]
    sd["i64_tail"] = torch.arange(10, dtype=torch.int64)[7:]
    return sd


def module():
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.Conv1d(3, 2, 3))
    with torch.no_grad():
        net[1].running_mean.uniform_(-1, 1)
        net[1].running_var.uniform_(0.5, 2)
        net[1].num_batches_tracked.fill_(7)
    return net


def lightning_ckpt():
    """A PyTorch Lightning-like .ckpt: weights under 'state_dict' beside counters,
    an Adam state after one step (int keys, floats, tuples, None) and hyper-parameters."""
    torch.manual_seed(6)
    net = torch.nn.Linear(4, 3)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net(torch.randn(5, 4)).sum().backward()
    opt.step()
    return {
        "epoch": 3,
        "global_step": 120,
        "pytorch-lightning_version": "1.9.4",
        "state_dict": net.state_dict(),
        "optimizer_states": [opt.state_dict()],
        "lr_schedulers": [],
        "hyper_parameters": {"lr": 0.001, "betas": (0.9, 0.999), "name": None},
    }


def writer_ref_dict():
    """Contiguous tensors of every dtype, enough of them for LONG_BINPUT (memo >= 256)."""
    g = torch.Generator().manual_seed(4)
    sd = collections.OrderedDict()
    sd["w.f32"] = torch.randn(2, 3, generator=g)
    sd["w.f16"] = torch.randn(5, generator=g).half()
    sd["w.bf16"] = torch.randn(2, 2, generator=g).bfloat16()
    sd["w.i64.scalar"] = torch.tensor(123456789012, dtype=torch.int64)
    sd["w.i32"] = torch.tensor([1, -2, 3], dtype=torch.int32)
    sd["w.u8"] = torch.tensor([1, 2, 250], dtype=torch.uint8)
    sd["w.bool"] = torch.tensor([[True], [False]])
    sd["w.f64"] = torch.arange(4, dtype=torch.float64) * 0.5
    sd["w.i16"] = torch.tensor([-3, 300], dtype=torch.int16)
    sd["w.i8"] = torch.tensor([-3, 100], dtype=torch.int8)
    sd["w.empty"] = torch.zeros(0)
    sd["w.empty2d"] = torch.zeros(2, 0, 3)
    sd["w.4d"] = torch.randn(2, 1, 3, 2, generator=g)
    sd["w.big"] = torch.randn(300, generator=g)  # numel > 255: BININT2
    sd["w.unicode.größe"] = torch.ones(2)
    for i in range(40):
        sd[f"layers.{i}.weight"] = torch.randn(2, 2, generator=g)
    return sd


def make_nemo(weights_sd, mode, path, with_vocab):
    tok_uuid = "0123456789abcdef0123456789abcdef"
    vocab_uuid = "fedcba9876543210fedcba9876543210"
    vocab_name = f"{vocab_uuid}_vocab_" + "x" * 90 + ".txt"  # > 100 chars: a pax path header
    rnd = random.Random(5)
    tok = bytes(rnd.randrange(256) for _ in range(300))
    vocab = "".join(f"tok{i}\n" for i in range(50)).encode()
    cfg = (
        "target: nemo.collections.asr.models.ctc_bpe_models.EncDecCTCModelBPE\n"
        "sample_rate: 16000\n"
        "tokenizer:\n"
        "  dir: null\n"
        "  type: bpe\n"
        f"  model_path: nemo:{tok_uuid}_tokenizer.model\n"
        + (f"  vocab_path: nemo:{vocab_name}\n" if with_vocab else "")
    )
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "model_config.yaml"), "w") as f:
            f.write(cfg)
        torch.save(weights_sd, os.path.join(tmp, "model_weights.ckpt"))
        with open(os.path.join(tmp, f"{tok_uuid}_tokenizer.model"), "wb") as f:
            f.write(tok)
        if with_vocab:
            with open(os.path.join(tmp, vocab_name), "wb") as f:
                f.write(vocab)
        # SaveRestoreConnector._make_nemo_file_from_folder
        with tarfile.open(path, mode) as tar:
            tar.add(tmp, arcname=".")
    return cfg, tok, vocab, vocab_name


def main():
    os.makedirs(EXP, exist_ok=True)
    torch.manual_seed(0)

    sd = plain_dict()
    save_case("plain", sd, expect=sd)

    sd = views_dict()
    save_case("views", sd, expect=sd)

    net = module()
    msd = net.state_dict()
    save_case("module", msd, expect=msd)

    p = {"p": torch.nn.Parameter(torch.randn(2, 2))}
    save_case("param", p, expect={"p": p["p"]})

    ck = lightning_ckpt()
    save_case("lightning", ck, fname="lightning.ckpt", expect=ck["state_dict"])
    allt = {}
    flatten(ck, "", allt)
    write_expect("lightning_all", allt)

    small = collections.OrderedDict(a=torch.arange(6, dtype=torch.float32).view(2, 3), b=torch.tensor(3))
    save_case("proto4", small, expect=small, pickle_protocol=4)

    ns = {"w": torch.arange(4, dtype=torch.int32), "args": argparse.Namespace(lr=1, name="x")}
    save_case("unknown_global", ns, expect={"w": ns["w"]})

    save_case("legacy", small, _use_new_zipfile_serialization=False)

    wsd = writer_ref_dict()
    save_case("writer_ref", wsd, expect=wsd)

    # Re-zipped with DEFLATE by another tool, and a big-endian variant
    # (byteorder record "big", every storage byteswapped), from plain.pt.
    src = zipfile.ZipFile(os.path.join(OUT, "plain.pt"))
    pkl = [n for n in src.namelist() if n.endswith("/data.pkl")][0]
    arch = pkl.split("/")[0]
    with zipfile.ZipFile(os.path.join(OUT, "deflate.pt"), "w", zipfile.ZIP_DEFLATED) as z:
        for n in src.namelist():
            z.writestr(n, src.read(n))
    sizes = {}
    for i, t in enumerate(plain_dict().values()):
        sizes[f"{arch}/data/{i}"] = t.element_size()
    with zipfile.ZipFile(os.path.join(OUT, "bigendian.pt"), "w", zipfile.ZIP_STORED) as z:
        for n in src.namelist():
            data = src.read(n)
            if n in sizes and sizes[n] > 1:
                a = np.frombuffer(data, dtype=np.dtype(f"<u{sizes[n]}"))
                data = a.byteswap().tobytes()
            z.writestr(n, data)
        z.writestr(f"{arch}/byteorder", "big")
    write_expect("deflate", plain_dict())
    write_expect("bigendian", plain_dict())

    cfg, tok, vocab, vocab_name = make_nemo(msd, "w:", os.path.join(OUT, "model.nemo"), True)
    cfg_gz, _, _, _ = make_nemo(msd, "w:gz", os.path.join(OUT, "legacy_gz.nemo"), False)
    with open(os.path.join(EXP, "model_config_gz.yaml"), "w") as f:
        f.write(cfg_gz)
    with open(os.path.join(EXP, "model_config.yaml"), "w") as f:
        f.write(cfg)
    with open(os.path.join(EXP, "tokenizer.model"), "wb") as f:
        f.write(tok)
    with open(os.path.join(EXP, "vocab.txt"), "wb") as f:
        f.write(vocab)
    with open(os.path.join(EXP, "vocab_member.txt"), "w") as f:
        f.write(vocab_name + "\n")
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(OUT) for fn in fns)
    print(f"wrote {OUT} ({total} bytes), torch {torch.__version__}", file=sys.stderr)


if __name__ == "__main__":
    main()
