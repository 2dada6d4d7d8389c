#!/usr/bin/python3
"""Cross-check of files written by nemoc with PyTorch (and NeMo's .nemo unpacking).

  check_torch_load.py ckpt <file.pt> <expect_dir>
      torch.load(file) must give exactly the tensors in <expect_dir>
      (expect.txt: name, torch dtype, shape per line; <i>.npy: values as nemoc
      holds them), and torch.save of what was loaded must produce the same
      data.pkl bytes (nemoc writes the pickle exactly as torch does).
  check_torch_load.py nemo <file.nemo> <expect_dir>
      unpacked as SaveRestoreConnector._unpack_nemo_file does (tar "r:", then
      "r:gz"); every member name starts with "./"; model_config.yaml and the
      artifacts listed in <expect_dir>/artifacts.txt (member, local file) have
      the expected bytes; model_weights.ckpt is checked as in `ckpt` mode.

Exit status 0 when everything matches. Run by tests/unit/test_torch_ckpt_write.c
and test_nemo_archive.c with /usr/bin/python3 (the interpreter that has torch).
"""
import io
import os
import sys
import tarfile
import tempfile
import zipfile

import numpy as np
import torch


DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
          "bfloat16": torch.bfloat16, "int64": torch.int64, "int32": torch.int32,
          "int16": torch.int16, "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool}


def as_nemoc(t):
    t = t.detach().contiguous()
    if t.dtype in (torch.float64, torch.bfloat16):
        return t.float().numpy()
    if t.dtype == torch.bool:
        return t.to(torch.uint8).numpy()
    if t.dtype in (torch.int16, torch.int8):
        return t.to(torch.int32).numpy()
    return t.numpy()


def fail(msg):
    print(f"check_torch_load: {msg}", file=sys.stderr)
    sys.exit(1)


def check_ckpt(path, expect_dir):
    sd = torch.load(path, map_location="cpu")
    with open(os.path.join(expect_dir, "expect.txt")) as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    names = list(sd.keys())
    if names != [r[0] for r in rows]:
        fail(f"{path}: names {names[:5]}... differ from expected {[r[0] for r in rows][:5]}...")
    for i, (name, dtype, shape) in enumerate(rows):
        t = sd[name]
        if t.dtype != DTYPES[dtype]:
            fail(f"{path}: '{name}' is {t.dtype}, want {dtype}")
        want_shape = tuple(int(s) for s in shape.split(",")) if shape else ()
        if tuple(t.shape) != want_shape:
            fail(f"{path}: '{name}' has shape {tuple(t.shape)}, want {want_shape}")
        want = np.load(os.path.join(expect_dir, f"{i}.npy"))
        got = as_nemoc(t)
        if got.dtype != want.dtype or got.tobytes() != want.tobytes():
            fail(f"{path}: '{name}' values differ")
    # torch.save of the same dict must give byte-identical pickle.
    buf = io.BytesIO()
    torch.save(sd, buf)
    ours = zipfile.ZipFile(path)
    theirs = zipfile.ZipFile(buf)
    p1 = [n for n in ours.namelist() if n.endswith("/data.pkl")]
    p2 = [n for n in theirs.namelist() if n.endswith("/data.pkl")]
    if ours.read(p1[0]) != theirs.read(p2[0]):
        fail(f"{path}: data.pkl differs from what torch.save writes for the same state_dict")
    print(f"check_torch_load: {path}: {len(rows)} tensors match (torch {torch.__version__})")


def check_nemo(path, expect_dir):
    mode = "r:"
    try:
        tarfile.open(path, mode).close()
    except tarfile.ReadError:
        mode = "r:gz"
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(path, mode) as tar:
            for m in tar.getmembers():
                if not (m.name == "." or m.name.startswith("./")):
                    fail(f"{path}: member '{m.name}' is not under './'")
            tar.extractall(path=tmp)
        with open(os.path.join(tmp, "model_config.yaml"), "rb") as f:
            got = f.read()
        with open(os.path.join(expect_dir, "model_config.yaml"), "rb") as f:
            if got != f.read():
                fail(f"{path}: model_config.yaml differs")
        arts = os.path.join(expect_dir, "artifacts.txt")
        if os.path.exists(arts):
            with open(arts) as f:
                for line in f:
                    member, local = line.rstrip("\n").split("\t")
                    with open(os.path.join(tmp, member), "rb") as a, open(local, "rb") as b:
                        if a.read() != b.read():
                            fail(f"{path}: artifact '{member}' differs")
        check_ckpt(os.path.join(tmp, "model_weights.ckpt"), expect_dir)
    print(f"check_torch_load: {path}: .nemo unpacks like NeMo's ({mode})")


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("ckpt", "nemo"):
        fail(__doc__)
    (check_ckpt if sys.argv[1] == "ckpt" else check_nemo)(sys.argv[2], sys.argv[3])


if __name__ == "__main__":
    main()
