#!/usr/bin/python3
"""Writes safetensors fixtures for test_safetensors.c by following the format
rules of huggingface/safetensors (safetensors/src/tensor.rs `prepare`) by
hand, since the safetensors package is not installed here:

  * tensors sorted by dtype, largest alignment first (the Rust Dtype enum
    order, descending), then by name; data offsets follow that order;
  * header = compact JSON (serde_json style), "__metadata__" first,
    padded with spaces to a multiple of 8 bytes;
  * 8-byte little-endian header length, header, data.

mixed.safetensors     every dtype nemoc writes, metadata, an escaped name.
with_f64.safetensors  adds F64 and I8 tensors (readable, not loadable).
legacy.safetensors    an old-style file: header keys in name order (not
                      offset order) and no padding, so the F32 data sits at
                      an offset that is not a multiple of 4.
Values are small exact numbers the C test recomputes."""
import json
import os
import struct

import numpy as np
import torch

DTYPE_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16",
               "BF16", "I32", "U32", "F32", "F64", "I64", "U64"]


def bf16_bytes(values):
    t = torch.tensor(values, dtype=torch.float32).to(torch.bfloat16)
    return t.view(torch.int16).numpy().tobytes()


def tensors_common():
    return {
        "encoder.weight": ("F32", [2, 3], (np.arange(6, dtype=np.float32) * 0.5 - 1).tobytes()),
        "encoder.bias": ("F32", [3], np.array([0.25, -0.5, 1.0], np.float32).tobytes()),
        "emb.bf16": ("BF16", [2, 2], bf16_bytes([1.0, -2.5, 0.15625, 1024.0])),
        "half": ("F16", [3], np.array([0.5, -1.25, 65504.0], np.float16).tobytes()),
        "steps": ("I64", [2], np.array([1, -(2 ** 40)], np.int64).tobytes()),
        "ids": ("I32", [4], np.array([0, 1, -7, 2 ** 31 - 1], np.int32).tobytes()),
        "mask": ("BOOL", [3], np.array([1, 0, 1], np.uint8).tobytes()),
        "bytes": ("U8", [2, 2], np.array([0, 255, 17, 3], np.uint8).tobytes()),
        "scalar": ("F32", [], np.array([3.5], np.float32).tobytes()),
        "empty": ("F32", [0, 4], b""),
        'weird "name"\n\x01': ("F32", [1], np.array([2.0], np.float32).tobytes()),
    }


def serialize(tensors, metadata, pad=True, name_order=False):
    items = sorted(tensors.items(), key=lambda kv: (-DTYPE_ORDER.index(kv[1][0]), kv[0].encode()))
    header = {}
    if metadata:
        header["__metadata__"] = dict(sorted(metadata.items()))
    offset = 0
    entries = {}
    for name, (dtype, shape, data) in items:
        entries[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    keys = sorted(entries, key=lambda k: k.encode()) if name_order else [k for k, _ in items]
    for k in keys:
        header[k] = entries[k]
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(d for _, (_, _, d) in items)


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "safetensors")
    os.makedirs(out, exist_ok=True)
    meta = {"format": "pt", "note": 'h\u00e9llo "q"'}
    with open(os.path.join(out, "mixed.safetensors"), "wb") as f:
        f.write(serialize(tensors_common(), meta))
    t = tensors_common()
    t["double"] = ("F64", [2], np.array([0.1, -3.0], np.float64).tobytes())
    t["small"] = ("I8", [3], np.array([-1, 0, 1], np.int8).tobytes())
    with open(os.path.join(out, "with_f64.safetensors"), "wb") as f:
        f.write(serialize(t, {"format": "pt"}))
    legacy = {
        "b": ("U8", [3], bytes([1, 2, 3])),
        "a": ("F32", [2], np.array([1.5, -2.0], np.float32).tobytes()),
    }
    # Data order U8 then F32 (as an old writer might), keys in name order.
    hdr = json.dumps({"a": {"dtype": "F32", "shape": [2], "data_offsets": [3, 11]},
                      "b": {"dtype": "U8", "shape": [3], "data_offsets": [0, 3]}},
                     separators=(",", ":")).encode()
    blob = struct.pack("<Q", len(hdr)) + hdr + legacy["b"][2] + legacy["a"][2]
    with open(os.path.join(out, "legacy.safetensors"), "wb") as f:
        f.write(blob)


if __name__ == "__main__":
    main()
