#!/usr/bin/python3
"""PyTorch twin of bench/bench_gpt_generate.c: batch-1 greedy generation
with a key/value cache (bench/torch/gpt_model.py keeps each layer's keys and
values after RoPE and attends the new position over them), fp32, on the
weights and the prompt bench_gpt_generate --save wrote. The head runs on
the last position only (as nc_gpt_generate). Greedy picks the argmax over the
real vocabulary (padded ids never win, as nc_gpt_generate).
Timing as the nemoc side: prompt_s is the prefill through the first token,
decode tokens/s is (new - 1) / decode_s; median of --repeats runs after one
warm-up. Prints how many of the greedy ids agree with nemoc's (gen.npy,
counted from the first token up to the first difference).

  gpt_generate.py --dir DIR [--arch gpt2|llama] [--new 128] [--repeats 3]
                  [--threads 2]
"""
import argparse
import os
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt_model  # noqa: E402
import nemo_modules as nm  # noqa: E402


@torch.no_grad()
def generate(model, prompt, n_new, vocab):
    caches = [[None, None] for _ in model.model.decoder.layers]
    t0 = time.perf_counter()
    logits = model(prompt[None, :], 0, caches, last_only=True)
    out = [int(logits[0, -1, :vocab].argmax())]
    t1 = time.perf_counter()
    pos = prompt.numel()
    while len(out) < n_new:
        logits = model(torch.tensor([[out[-1]]]), pos, caches, last_only=True)
        out.append(int(logits[0, -1, :vocab].argmax()))
        pos += 1
    return out, t1 - t0, time.perf_counter() - t1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--arch", default="gpt2", choices=sorted(gpt_model.ARCHS))
    ap.add_argument("--new", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prec", default="32", choices=["32", "bf16"],
                    help="bf16: the model's weights and activations in bfloat16 (model.bfloat16())")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    sd = nm.load_safetensors(os.path.join(a.dir, "weights.safetensors"))
    prompt = torch.from_numpy(np.load(os.path.join(a.dir, "prompt.npy")))
    model = gpt_model.build(a.arch, sd, dropout=0.0)
    model.eval()
    if a.prec == "bf16":
        model = model.bfloat16()
    vocab = gpt_model.ARCHS[a.arch]["vocab"]
    ids, _, _ = generate(model, prompt, a.new, vocab)  # warm-up
    tp, td = [], []
    for _ in range(a.repeats):
        ids, p, d = generate(model, prompt, a.new, vocab)
        tp.append(p)
        td.append(d)
    ps, ds = float(np.median(tp)), float(np.median(td))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    P = prompt.numel()
    print(f"result side=torch case=gen_{a.arch} prec={a.prec} prompt={P} new={a.new} prompt_s={ps:.4f} prompt_tok_s={P / ps:.1f} "
          f"decode_s={ds:.4f} decode_tok_s={(a.new - 1) / ds:.2f} rss_mb={rss:.0f}")
    print("ids: " + " ".join(str(i) for i in ids[:16]))
    ref = os.path.join(a.dir, "gen.npy")
    if os.path.exists(ref):
        nc = np.load(ref).tolist()
        n = min(len(nc), len(ids))
        agree = next((i for i in range(n) if nc[i] != ids[i]), n)
        print(f"check gen_{a.arch}: greedy ids agree with nemoc for the first {agree} of {n} tokens")


if __name__ == "__main__":
    main()
