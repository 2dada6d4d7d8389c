#!/usr/bin/python3
"""Writes the two files llm.c's CPU trainer (train_gpt2.c) reads, from what
bench_gpt --arch gpt2 --save DIR wrote, so llm.c trains the same GPT-2 124M
on the same batch without downloads (numpy only):

  gpt2_124M.bin   gpt2_build_from_checkpoint's layout: 256 int32 header
                  (magic 20240326, version 3, maxT, V, L, NH, C, Vp), then
                  the float32 tensors wte (Vp, C), wpe (maxT, C), ln1w, ln1b,
                  qkvw (L, 3C, C), qkvb, attprojw, attprojb, ln2w, ln2b, fcw
                  (L, 4C, C), fcb, fcprojw (L, C, 4C), fcprojb, lnfw, lnfb
  train.bin       llmc/dataloader.h's shard: 256 int32 header (magic
                  20240520, version 1, token count), then uint16 tokens: the
                  B*T+1 token stream of the batch (stream.npy)

Megatron-core's linear_qkv rows are per head [q_h, k_h, v_h]
(attention.py get_query_key_value_tensors, one query group per head for
GPT-2); llm.c's are [Q; K; V] with the heads inside each, so the rows are
permuted (NH, 3, hs) -> (3, NH, hs). All other tensors keep their layout.

  llmc_files.py --dir DIR [--out DIR]
"""
import argparse
import json
import os
import struct

import numpy as np


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        assert v["dtype"] == "F32", (k, v["dtype"])
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype=np.float32).reshape(v["shape"])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--out", default=None)
    ap.add_argument("--vocab", type=int, default=50257)
    a = ap.parse_args()
    out = a.out or a.dir
    os.makedirs(out, exist_ok=True)
    sd = load_safetensors(os.path.join(a.dir, "weights.safetensors"))
    wte = sd["model.embedding.word_embeddings.weight"]
    wpe = sd["model.embedding.position_embeddings.weight"]
    Vp, C = wte.shape
    maxT = wpe.shape[0]
    L = sum(1 for k in sd if k.endswith("self_attention.linear_qkv.weight"))
    assert "model.output_layer.weight" not in sd, "llm.c ties the head: --arch gpt2 only"
    NH = 12 if C == 768 else C // 64  # GPT-2's head size 64
    hs = C // NH

    def stack(leaf):
        return np.stack([sd[f"model.decoder.layers.{i}.{leaf}"] for i in range(L)])

    qkvw = stack("self_attention.linear_qkv.weight").reshape(L, NH, 3, hs, C).transpose(0, 2, 1, 3, 4)
    qkvb = stack("self_attention.linear_qkv.bias").reshape(L, NH, 3, hs).transpose(0, 2, 1, 3)
    tensors = [wte, wpe, stack("input_layernorm.weight"), stack("input_layernorm.bias"), qkvw, qkvb,
               stack("self_attention.linear_proj.weight"), stack("self_attention.linear_proj.bias"),
               stack("pre_mlp_layernorm.weight"), stack("pre_mlp_layernorm.bias"),
               stack("mlp.linear_fc1.weight"), stack("mlp.linear_fc1.bias"),
               stack("mlp.linear_fc2.weight"), stack("mlp.linear_fc2.bias"),
               sd["model.decoder.final_layernorm.weight"], sd["model.decoder.final_layernorm.bias"]]
    header = np.zeros(256, dtype=np.int32)
    header[:8] = [20240326, 3, maxT, a.vocab, L, NH, C, Vp]
    with open(os.path.join(out, "gpt2_124M.bin"), "wb") as f:
        f.write(header.tobytes())
        for t in tensors:
            f.write(np.ascontiguousarray(t, dtype=np.float32).tobytes())
    stream = np.load(os.path.join(a.dir, "stream.npy"))
    assert stream.max() < 65536
    header = np.zeros(256, dtype=np.int32)
    header[:3] = [20240520, 1, stream.size]
    with open(os.path.join(out, "train.bin"), "wb") as f:
        f.write(header.tobytes())
        f.write(stream.astype(np.uint16).tobytes())
    n = sum(t.size for t in tensors)
    print(f"llm.c files in {out}: {n} parameters (L={L} NH={NH} C={C} Vp={Vp} maxT={maxT}), {stream.size} tokens")


if __name__ == "__main__":
    main()
