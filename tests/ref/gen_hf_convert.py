#!/usr/bin/python3
"""Writes the fixtures of tests/unit/test_llm_convert.c in tests/ref/hf_convert/:
two tiny Hugging Face checkpoints and the NeMo (Megatron-core, TP=1) state
dicts NeMo's own converters make of them.

`transformers` and `safetensors` are not installed here, so the HF folders are
built by hand from random tensors (the safetensors bytes by
tests/ref/gen_safetensors.py's serializer) and the EXPECTED NeMo tensors come
from NeMo's own conversion code:

  * qkv regrouping, fc1 = [gate; up], their inverses and the vocab pruning
    run NeMo's TransformFns (nemo/lightning/io/state.py: merge_qkv,
    merge_qkv_concat, merge_qkv_bias_concat, merge_fc1, split_qkv,
    split_qkv_bias, split_fc1, prune_padding), imported from the NeMo source
    checkout in $NEMO_SRC (NeMo 2.6.0rc0) by tests/ref/nemo_src.py;
  * the Llama model config follows scripts/checkpoint_converters/
    convert_llama_hf_to_nemo.py (NVIDIA/NeMo 2fac26a8, load_config():
    make_vocab_size_divisible_by = the largest power of two <= 128 that
    divides vocab_size; activation fast-swiglu; num_query_groups =
    num_key_value_heads; rotary_base = rope_theta) and its tensor loop
    (q/k/v regrouped per query group, gate_proj then up_proj into
    linear_fc1, no q/k permutation: HF Llama and Megatron core both rotate
    halves);
  * GPT-2: NeMo has no GPT-2 converter; the closest is the StarCoder one
    (scripts/checkpoint_converters/convert_starcoder_hf_to_nemo.py,
    NVIDIA/NeMo 0fb8cf11, and nemo/collections/llm/gpt/model/starcoder.py):
    ln_1 -> input norm, attn.c_attn -> linear_qkv, attn.c_proj ->
    linear_proj, ln_2 -> pre-MLP norm, mlp.c_fc -> linear_fc1, mlp.c_proj ->
    linear_fc2, ln_f -> final_layernorm, wpe -> position_embeddings,
    learned_absolute, layernorm, bias. StarCoder is MQA (one group), where
    [all q; k; v] already is Megatron's grouped layout; GPT-2 is MHA, so its
    c_attn (after the Conv1D transpose: Conv1D stores (in, out)) goes
    through merge_qkv_concat / merge_qkv_bias_concat, NeMo's transform for
    "naively concatenated q, k, v". gelu_new = NeMo's openai_gelu.

The local-spec norm names (input_layernorm, pre_mlp_layernorm) are used
(transformer_engine: false); NeMo's converters write the Transformer Engine
names (linear_qkv.layer_norm_weight), which nemoc accepts on read.

Files:
  gpt2/       config.json, model.safetensors (F16, tied embeddings, with the
              causal-mask buffers h.N.attn.bias that old checkpoints carry),
              vocab.json + merges.txt (257 entries: bytes + <|endoftext|>)
  llama/      config.json (GQA: 4 heads, 2 KV heads), two BF16 shards +
              model.safetensors.index.json, tokenizer.model (SentencePiece,
              250 pieces, from spm_train; spm_train's output differs between
              runs, the tests only copy it and read its size)
  gpt2_nemo.safetensors, llama_nemo.safetensors   expected NeMo state dicts
  expected_config.json   the model_config.yaml values expected per model
  expected_generate.json   greedy continuation ids of a prompt under the HF
              models' forward semantics (see greedy() below)
  llama_interleaved.safetensors   linear_qkv of the Llama model for
              rotary_interleaved: true (q/k rows in Meta's interleaved order)
  llama_split.safetensors   NeMo's split_qkv/split_fc1/prune_padding of the
              expected Llama tensors padded to 256 rows (export check)

Run: NEMO_SRC=/path/to/NeMo /usr/bin/python3 tests/ref/gen_hf_convert.py
"""
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gen_safetensors import serialize  # noqa: E402
from nemo_src import _setup  # noqa: E402

OUT = os.path.join(HERE, "hf_convert")
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
V, H, L = 250, 64, 2  # Llama vocabulary; GPT-2 takes GV: its 256 byte symbols + "<|endoftext|>"
GV = 257


def transform_fns():
    """NeMo's TransformFns from nemo/lightning/io/state.py, loaded without
    nemo/lightning/__init__.py (which needs fiddle and lightning)."""
    _setup(None)
    src = os.environ.get("NEMO_SRC") or os.path.join(ROOT, ".nemo_src")
    for pkg in ["nemo.lightning", "nemo.lightning.io", "nemo.lightning.pytorch"]:
        m = types.ModuleType(pkg)
        m.__path__ = [os.path.join(src, *pkg.split("."))]
        sys.modules[pkg] = m
    # state.py decorates with a bare @torch.no_grad (torch >= 2.0); torch
    # 1.13's no_grad needs to be called first. Only while importing.
    real = torch.no_grad

    class NoGrad(real):
        def __new__(cls, fn=None):
            if fn is not None:
                return real()(fn)
            return super().__new__(cls)

        def __init__(self, fn=None):
            super().__init__()

    torch.no_grad = NoGrad
    try:
        st = importlib.import_module("nemo.lightning.io.state")
    finally:
        torch.no_grad = real
    return st.TransformFns


def ctx_for(heads, groups, kv, hidden, vocab=None):
    cfg = types.SimpleNamespace(num_attention_heads=heads, num_query_groups=groups, kv_channels=kv,
                                hidden_size=hidden, vocab_size=vocab)
    side = types.SimpleNamespace(config=cfg)
    return types.SimpleNamespace(target=side, source=side)


ST_NAME = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}


def st_entry(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        data = t.view(torch.int16).numpy().tobytes()
    else:
        data = t.numpy().tobytes()
    return (ST_NAME[t.dtype], list(t.shape), data)


def write_st(path, tensors, meta=None):
    with open(path, "wb") as f:
        f.write(serialize({k: st_entry(v) for k, v in tensors.items()}, meta or {"format": "pt"}))


def rnd(g, *shape, dtype):
    return (torch.randn(*shape, generator=g) * 0.5).to(dtype)


def nemo_vocab_divisor(vocab):
    # convert_llama_hf_to_nemo.py load_config(): base 128 halved until it divides vocab_size
    base = 128
    while vocab % base != 0:
        base //= 2
    return base


def gpt2(tf, g):
    heads, inner, npos, dt = 4, 128, 64, torch.float16
    cfg = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": GV, "n_embd": H,
           "n_layer": L, "n_head": heads, "n_positions": npos, "n_inner": inner,
           "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "tie_word_embeddings": True,
           "bos_token_id": GV - 1, "eos_token_id": GV - 1, "torch_dtype": "float16"}
    hf = {"transformer.wte.weight": rnd(g, GV, H, dtype=dt), "transformer.wpe.weight": rnd(g, npos, H, dtype=dt)}
    for i in range(L):
        p = "transformer.h.%d." % i
        hf[p + "ln_1.weight"] = rnd(g, H, dtype=dt)
        hf[p + "ln_1.bias"] = rnd(g, H, dtype=dt)
        hf[p + "attn.bias"] = torch.tril(torch.ones(npos, npos)).view(1, 1, npos, npos).to(dt)  # causal mask buffer
        hf[p + "attn.c_attn.weight"] = rnd(g, H, 3 * H, dtype=dt)  # Conv1D: (in, out)
        hf[p + "attn.c_attn.bias"] = rnd(g, 3 * H, dtype=dt)
        hf[p + "attn.c_proj.weight"] = rnd(g, H, H, dtype=dt)
        hf[p + "attn.c_proj.bias"] = rnd(g, H, dtype=dt)
        hf[p + "ln_2.weight"] = rnd(g, H, dtype=dt)
        hf[p + "ln_2.bias"] = rnd(g, H, dtype=dt)
        hf[p + "mlp.c_fc.weight"] = rnd(g, H, inner, dtype=dt)
        hf[p + "mlp.c_fc.bias"] = rnd(g, inner, dtype=dt)
        hf[p + "mlp.c_proj.weight"] = rnd(g, inner, H, dtype=dt)
        hf[p + "mlp.c_proj.bias"] = rnd(g, H, dtype=dt)
    hf["transformer.ln_f.weight"] = rnd(g, H, dtype=dt)
    hf["transformer.ln_f.bias"] = rnd(g, H, dtype=dt)

    ctx = ctx_for(heads, heads, H // heads, H)
    ne = {"model.embedding.word_embeddings.weight": hf["transformer.wte.weight"],
          "model.embedding.position_embeddings.weight": hf["transformer.wpe.weight"]}
    for i in range(L):
        p, q = "transformer.h.%d." % i, "model.decoder.layers.%d." % i
        ne[q + "input_layernorm.weight"] = hf[p + "ln_1.weight"]
        ne[q + "input_layernorm.bias"] = hf[p + "ln_1.bias"]
        # merge_qkv_concat works in fp32 here (torch.cat of fp16 views is exact either way)
        ne[q + "self_attention.linear_qkv.weight"] = tf.merge_qkv_concat(ctx, hf[p + "attn.c_attn.weight"].t().contiguous())
        ne[q + "self_attention.linear_qkv.bias"] = tf.merge_qkv_bias_concat(ctx, hf[p + "attn.c_attn.bias"])
        ne[q + "self_attention.linear_proj.weight"] = hf[p + "attn.c_proj.weight"].t().contiguous()
        ne[q + "self_attention.linear_proj.bias"] = hf[p + "attn.c_proj.bias"]
        ne[q + "pre_mlp_layernorm.weight"] = hf[p + "ln_2.weight"]
        ne[q + "pre_mlp_layernorm.bias"] = hf[p + "ln_2.bias"]
        ne[q + "mlp.linear_fc1.weight"] = hf[p + "mlp.c_fc.weight"].t().contiguous()
        ne[q + "mlp.linear_fc1.bias"] = hf[p + "mlp.c_fc.bias"]
        ne[q + "mlp.linear_fc2.weight"] = hf[p + "mlp.c_proj.weight"].t().contiguous()
        ne[q + "mlp.linear_fc2.bias"] = hf[p + "mlp.c_proj.bias"]
    ne["model.decoder.final_layernorm.weight"] = hf["transformer.ln_f.weight"]
    ne["model.decoder.final_layernorm.bias"] = hf["transformer.ln_f.bias"]
    exp = {"num_layers": L, "hidden_size": H, "ffn_hidden_size": inner, "num_attention_heads": heads,
           "num_query_groups": heads, "kv_channels": H // heads, "encoder_seq_length": npos,
           "max_position_embeddings": npos, "position_embedding_type": "learned_absolute",
           "normalization": "layernorm", "layernorm_epsilon": 1e-5, "activation": "gelu", "openai_gelu": True,
           "bias": True, "share_embeddings_and_output_weights": True,
           "make_vocab_size_divisible_by": nemo_vocab_divisor(GV), "mcore_gpt": True, "transformer_engine": False,
           "precision": 16, "tokenizer.library": "megatron", "tokenizer.type": "GPT2BPETokenizer"}
    return cfg, hf, ne, exp


def llama(tf, g):
    heads, groups, inner, npos, dt = 4, 2, 96, 128, torch.bfloat16
    kv = H // heads
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": V, "hidden_size": H,
           "intermediate_size": inner, "num_hidden_layers": L, "num_attention_heads": heads,
           "num_key_value_heads": groups, "rms_norm_eps": 1e-6, "rope_theta": 500000.0, "rope_scaling": None,
           "max_position_embeddings": npos, "tie_word_embeddings": False, "hidden_act": "silu",
           "initializer_range": 0.02, "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "bfloat16"}
    hf = {"model.embed_tokens.weight": rnd(g, V, H, dtype=dt)}
    for i in range(L):
        p = "model.layers.%d." % i
        hf[p + "self_attn.q_proj.weight"] = rnd(g, heads * kv, H, dtype=dt)
        hf[p + "self_attn.k_proj.weight"] = rnd(g, groups * kv, H, dtype=dt)
        hf[p + "self_attn.v_proj.weight"] = rnd(g, groups * kv, H, dtype=dt)
        hf[p + "self_attn.o_proj.weight"] = rnd(g, H, heads * kv, dtype=dt)
        hf[p + "mlp.gate_proj.weight"] = rnd(g, inner, H, dtype=dt)
        hf[p + "mlp.up_proj.weight"] = rnd(g, inner, H, dtype=dt)
        hf[p + "mlp.down_proj.weight"] = rnd(g, H, inner, dtype=dt)
        hf[p + "input_layernorm.weight"] = rnd(g, H, dtype=dt)
        hf[p + "post_attention_layernorm.weight"] = rnd(g, H, dtype=dt)
    hf["model.norm.weight"] = rnd(g, H, dtype=dt)
    hf["lm_head.weight"] = rnd(g, V, H, dtype=dt)

    ctx = ctx_for(heads, groups, kv, H, V)
    ne = {"model.embedding.word_embeddings.weight": hf["model.embed_tokens.weight"]}
    for i in range(L):
        p, q = "model.layers.%d." % i, "model.decoder.layers.%d." % i
        ne[q + "input_layernorm.weight"] = hf[p + "input_layernorm.weight"]
        ne[q + "self_attention.linear_qkv.weight"] = tf.merge_qkv(
            ctx, hf[p + "self_attn.q_proj.weight"], hf[p + "self_attn.k_proj.weight"], hf[p + "self_attn.v_proj.weight"])
        ne[q + "self_attention.linear_proj.weight"] = hf[p + "self_attn.o_proj.weight"]
        ne[q + "pre_mlp_layernorm.weight"] = hf[p + "post_attention_layernorm.weight"]
        ne[q + "mlp.linear_fc1.weight"] = tf.merge_fc1(hf[p + "mlp.gate_proj.weight"], hf[p + "mlp.up_proj.weight"])
        ne[q + "mlp.linear_fc2.weight"] = hf[p + "mlp.down_proj.weight"]
    ne["model.decoder.final_layernorm.weight"] = hf["model.norm.weight"]
    ne["model.output_layer.weight"] = hf["lm_head.weight"]
    exp = {"num_layers": L, "hidden_size": H, "ffn_hidden_size": inner, "num_attention_heads": heads,
           "num_query_groups": groups, "kv_channels": kv, "encoder_seq_length": npos,
           "max_position_embeddings": npos, "position_embedding_type": "rope", "rotary_base": 500000.0,
           "rotary_percentage": 1.0, "normalization": "rmsnorm", "layernorm_epsilon": 1e-6,
           "activation": "fast-swiglu", "bias": False, "share_embeddings_and_output_weights": False,
           "make_vocab_size_divisible_by": nemo_vocab_divisor(V), "mcore_gpt": True, "transformer_engine": False,
           "precision": "bf16", "init_method_std": 0.02, "tokenizer.library": "sentencepiece"}

    # export direction: NeMo's split_qkv / split_fc1 / prune_padding over the
    # expected tensors with the vocabulary padded to 256 rows (zeros).
    split = {}
    pad = lambda w: torch.cat([w, torch.zeros(256 - V, H, dtype=w.dtype)])  # noqa: E731
    split["model.embed_tokens.weight"] = tf.prune_padding(ctx, pad(ne["model.embedding.word_embeddings.weight"]))
    split["lm_head.weight"] = tf.prune_padding(ctx, pad(ne["model.output_layer.weight"]))
    for i in range(L):
        p, q = "model.layers.%d." % i, "model.decoder.layers.%d." % i
        qw, kw, vw = tf.split_qkv(ctx, ne[q + "self_attention.linear_qkv.weight"])
        split[p + "self_attn.q_proj.weight"], split[p + "self_attn.k_proj.weight"] = qw, kw
        split[p + "self_attn.v_proj.weight"] = vw
        split[p + "mlp.gate_proj.weight"], split[p + "mlp.up_proj.weight"] = tf.split_fc1(ne[q + "mlp.linear_fc1.weight"])

    # rotary_interleaved: true (Megatron's GPT-J-style RoPE on adjacent channel
    # pairs, Meta's original Llama layout). Its q/k rows are the inverse of
    # transformers' convert_llama_weights_to_hf.py permute(w, n_heads) =
    # w.view(n_heads, dim1 // n_heads // 2, 2, dim2).transpose(1, 2).reshape(dim1, dim2),
    # which turns them into HF's rotate-half rows; export must apply permute.
    def unpermute(w, n):
        return w.view(n, 2, kv // 2, H).transpose(1, 2).reshape(n * kv, H)

    inter = {}
    for i in range(L):
        p, q = "model.layers.%d." % i, "model.decoder.layers.%d." % i
        inter[q + "self_attention.linear_qkv.weight"] = tf.merge_qkv(
            ctx, unpermute(hf[p + "self_attn.q_proj.weight"], heads), unpermute(hf[p + "self_attn.k_proj.weight"], groups),
            hf[p + "self_attn.v_proj.weight"])
    return cfg, hf, ne, exp, split, inter


# Greedy continuations under the Hugging Face models' own forward semantics
# (transformers' modeling_gpt2.py: Conv1D x @ W + b, [q; k; v] split of
# c_attn, gelu_new, tied lm_head; modeling_llama.py: RMSNorm, rotate-half RoPE
# with inv_freq = 1 / theta^(2i/d), repeat_kv for GQA, down(silu(gate) * up)),
# written out in torch since transformers is not installed. The e2e test
# checks that nemoc's MegatronGPTModel, given the imported .nemo, continues
# the prompt with the same ids.
PROMPT = [5, 17, 42, 9]


def _causal_attn(q, k, v):  # (heads, T, d)
    t = q.shape[1]
    s = q @ k.transpose(1, 2) / float(q.shape[-1]) ** 0.5
    s = s.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool), 1), float("-inf"))
    return torch.softmax(s, -1) @ v


def gpt2_logits(cfg, w, ids):
    H, nh = cfg["n_embd"], cfg["n_head"]
    d, T = H // nh, len(ids)
    w = {k: v.float() for k, v in w.items()}

    def ln(x, p):
        return torch.nn.functional.layer_norm(x, (H,), w[p + ".weight"], w[p + ".bias"], cfg["layer_norm_epsilon"])

    def gelu_new(x):
        return 0.5 * x * (1.0 + torch.tanh((2.0 / torch.pi) ** 0.5 * (x + 0.044715 * x ** 3)))

    x = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][:T]
    for i in range(cfg["n_layer"]):
        p = "transformer.h.%d." % i
        qkv = ln(x, p + "ln_1") @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = [t.view(T, nh, d).transpose(0, 1) for t in qkv.split(H, -1)]
        o = _causal_attn(q, k, v).transpose(0, 1).reshape(T, H)
        x = x + o @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        h = gelu_new(ln(x, p + "ln_2") @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"])
        x = x + h @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    return ln(x, "transformer.ln_f") @ w["transformer.wte.weight"].T


def llama_logits(cfg, w, ids):
    H, nh, ng = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d, T, eps = H // nh, len(ids), cfg["rms_norm_eps"]
    w = {k: v.float() for k, v in w.items()}

    def rms(x, name):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w[name]

    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, d, 2).float() / d))
    f = torch.outer(torch.arange(T).float(), inv)
    cos, sin = torch.cat([f, f], -1).cos(), torch.cat([f, f], -1).sin()

    def rope(x):
        return x * cos + torch.cat([-x[..., d // 2:], x[..., : d // 2]], -1) * sin

    x = w["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        h = rms(x, p + "input_layernorm.weight")
        q = (h @ w[p + "self_attn.q_proj.weight"].T).view(T, nh, d).transpose(0, 1)
        k = (h @ w[p + "self_attn.k_proj.weight"].T).view(T, ng, d).transpose(0, 1)
        v = (h @ w[p + "self_attn.v_proj.weight"].T).view(T, ng, d).transpose(0, 1)
        q, k = rope(q), rope(k).repeat_interleave(nh // ng, 0)
        o = _causal_attn(q, k, v.repeat_interleave(nh // ng, 0)).transpose(0, 1).reshape(T, H)
        x = x + o @ w[p + "self_attn.o_proj.weight"].T
        h = rms(x, p + "post_attention_layernorm.weight")
        g = torch.nn.functional.silu(h @ w[p + "mlp.gate_proj.weight"].T) * (h @ w[p + "mlp.up_proj.weight"].T)
        x = x + g @ w[p + "mlp.down_proj.weight"].T
    return rms(x, "model.norm.weight") @ w["lm_head.weight"].T


def greedy(logits_fn, cfg, w, n=10):
    ids, margin = list(PROMPT), float("inf")
    for _ in range(n):
        lg = logits_fn(cfg, w, ids)[-1]
        top = torch.topk(lg, 2).values
        margin = min(margin, float(top[0] - top[1]))
        ids.append(int(lg.argmax()))
    return {"prompt_ids": PROMPT, "greedy": ids[len(PROMPT):], "min_top1_top2_margin": round(margin, 4)}


def gpt2_tokenizer(d):
    # GPT-2's byte-to-unicode table (openai/gpt-2 encoder.py bytes_to_unicode) and
    # "<|endoftext|>": 257 entries, no merges (vocab.json + merges.txt as HF writes them).
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    vocab = {chr(c): i for i, c in enumerate(cs)}
    vocab["<|endoftext|>"] = GV - 1
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")


def llama_tokenizer(d):
    corpus = os.path.join(ROOT, "tests", "data", "text", "sentences.txt")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["spm_train", "--input=" + corpus, "--model_prefix=" + os.path.join(tmp, "m"),
                        "--vocab_size=%d" % V, "--model_type=bpe", "--normalization_rule_name=identity",
                        "--num_threads=1", "--input_sentence_size=20000", "--minloglevel=2"], check=True)
        shutil.copy(os.path.join(tmp, "m.model"), os.path.join(d, "tokenizer.model"))


def main():
    tf = transform_fns()
    g = torch.Generator().manual_seed(18)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    for sub in ["gpt2", "llama"]:
        os.makedirs(os.path.join(OUT, sub))
    expected = {}

    cfg, hf, ne, exp = gpt2(tf, g)
    d = os.path.join(OUT, "gpt2")
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    write_st(os.path.join(d, "model.safetensors"), hf)
    gpt2_tokenizer(d)
    write_st(os.path.join(OUT, "gpt2_nemo.safetensors"), ne)
    expected["gpt2"] = exp
    generate = {"gpt2": greedy(gpt2_logits, cfg, hf)}

    cfg, hf, ne, exp, split, inter = llama(tf, g)
    d = os.path.join(OUT, "llama")
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    names = list(hf)
    shards = [names[: len(names) // 2], names[len(names) // 2:]]
    index = {"metadata": {"total_size": sum(t.numel() * 2 for t in hf.values())}, "weight_map": {}}
    for k, part in enumerate(shards):
        fn = "model-%05d-of-%05d.safetensors" % (k + 1, len(shards))
        write_st(os.path.join(d, fn), {n: hf[n] for n in part})
        for n in part:
            index["weight_map"][n] = fn
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
    llama_tokenizer(d)
    write_st(os.path.join(OUT, "llama_nemo.safetensors"), ne)
    write_st(os.path.join(OUT, "llama_split.safetensors"), split)
    write_st(os.path.join(OUT, "llama_interleaved.safetensors"), inter)
    expected["llama"] = exp
    generate["llama"] = greedy(llama_logits, cfg, hf)
    with open(os.path.join(OUT, "expected_generate.json"), "w") as f:
        json.dump(generate, f, indent=2, sort_keys=True)
    with open(os.path.join(OUT, "expected_config.json"), "w") as f:
        json.dump(expected, f, indent=2, sort_keys=True)
    for root, _, files in os.walk(OUT):
        for fn in files:
            size = os.path.getsize(os.path.join(root, fn))
            assert size < 200 * 1024, (fn, size)


if __name__ == "__main__":
    main()
