"""Megatron-core's GPTModel (megatron/core/models/gpt/gpt_model.py, local
layer spec, TP = PP = 1) in plain PyTorch for the LLM benchmarks
(bench/torch/gpt.py, bench/torch/gpt_generate.py), with NeMo's .nemo
state_dict names ("model.decoder.layers.{i}.self_attention.linear_qkv.weight",
...), so the safetensors nemoc's bench_gpt --save writes load 1:1:

  x = word_embeddings(ids) [+ position_embeddings(pos)]; dropout
  per layer: x += dropout(linear_proj(attn(input_layernorm(x))))
             x += dropout(linear_fc2(act(linear_fc1(pre_mlp_layernorm(x)))))
  logits = final_layernorm(x) @ (output_layer | word_embeddings)^T

linear_qkv's rows are grouped per query group (attention.py
get_query_key_value_tensors): heads/groups query heads, then the group's key
head, then its value head. RoPE is Megatron's rotate-half layout
(rope_utils.py _rotate_half / apply_rotary_pos_emb_bshd), SwiGLU is
silu(first half) * second half of linear_fc1's output, GELU with a bias is
the tanh approximation (fused bias_gelu). Norms run in float32 (see
nemo_modules.LayerNorm). An optional key/value cache serves generation."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# name: (layers, hidden, heads, groups, ffn, vocab, max_pos, norm, act, pos, bias, tied, hidden_dropout)
ARCHS = {
    "gpt2": dict(layers=12, hidden=768, heads=12, groups=12, ffn=3072, vocab=50257, max_pos=1024,
                 norm="layernorm", act="gelu", pos="learned_absolute", bias=True, tied=True, dropout=0.1),
    "llama": dict(layers=12, hidden=768, heads=12, groups=4, ffn=2048, vocab=32000, max_pos=4096,
                  norm="rmsnorm", act="swiglu", pos="rope", bias=False, tied=False, dropout=0.0),
}


def padded(v, div=128):
    return (v + div - 1) // div * div


class Norm(nn.Module):
    def __init__(self, d, kind, eps=1e-5):
        super().__init__()
        self.kind, self.eps = kind, eps
        self.weight = nn.Parameter(torch.ones(d))
        if kind == "layernorm":
            self.bias = nn.Parameter(torch.zeros(d))

    def forward(self, x):
        x = x.float()
        w = self.weight.float()
        if self.kind == "rmsnorm":
            y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * w
        else:
            y = F.layer_norm(x, (x.shape[-1],), w, self.bias.float(), self.eps)
        # a model cast to bfloat16 (generation --prec bf16) gets its own dtype back
        return y if self.weight.dtype == torch.float32 else y.to(self.weight.dtype)


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.h, self.g, self.kv = c["heads"], c["groups"], c["hidden"] // c["heads"]
        self.rope = c["pos"] == "rope"
        self.linear_qkv = nn.Linear(c["hidden"], (self.h + 2 * self.g) * self.kv, bias=c["bias"])
        self.linear_proj = nn.Linear(self.h * self.kv, c["hidden"], bias=c["bias"])

    def forward(self, x, pos0=0, cache=None):
        b, t, _ = x.shape
        rep, kv = self.h // self.g, self.kv
        qkv = self.linear_qkv(x).view(b, t, self.g, (rep + 2) * kv)
        q = qkv[..., : rep * kv].reshape(b, t, self.h, kv).transpose(1, 2)
        k = qkv[..., rep * kv: (rep + 1) * kv].transpose(1, 2)  # (b, g, t, kv)
        v = qkv[..., (rep + 1) * kv:].transpose(1, 2)
        if self.rope:
            inv = 1.0 / (10000.0 ** (torch.arange(0, kv, 2, dtype=torch.float32) / kv))
            f = torch.outer(torch.arange(pos0, pos0 + t, dtype=torch.float32), inv)
            emb = torch.cat((f, f), dim=-1)
            cos, sin = emb.cos(), emb.sin()
            q = (q.float() * cos + rotate_half(q.float()) * sin).to(q.dtype)
            k = (k.float() * cos + rotate_half(k.float()) * sin).to(k.dtype)
        if cache is not None:  # (k, v) of the earlier positions
            if cache[0] is not None:
                k, v = torch.cat((cache[0], k), 2), torch.cat((cache[1], v), 2)
            cache[0], cache[1] = k, v
        if rep > 1:
            k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        s = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(kv)
        n = k.shape[2]
        if t > 1:  # causal over [0, pos0 + t)
            mask = torch.ones(t, n, dtype=torch.bool).triu(n - t + 1)
            s = s.masked_fill(mask, float("-inf"))
        a = torch.matmul(torch.softmax(s.float(), -1).to(v.dtype), v)
        return self.linear_proj(a.transpose(1, 2).reshape(b, t, self.h * kv))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.act = c["act"]
        up = 2 * c["ffn"] if self.act == "swiglu" else c["ffn"]
        self.linear_fc1 = nn.Linear(c["hidden"], up, bias=c["bias"])
        self.linear_fc2 = nn.Linear(c["ffn"], c["hidden"], bias=c["bias"])

    def forward(self, x):
        h = self.linear_fc1(x)
        if self.act == "swiglu":
            a, g = h.chunk(2, dim=-1)
            h = F.silu(a) * g
        else:
            h = F.gelu(h, approximate="tanh" if self.linear_fc1.bias is not None else "none")
        return self.linear_fc2(h)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = Norm(c["hidden"], c["norm"])
        self.self_attention = Attention(c)
        self.pre_mlp_layernorm = Norm(c["hidden"], c["norm"])
        self.mlp = MLP(c)
        self.drop = nn.Dropout(c["dropout"])

    def forward(self, x, pos0=0, cache=None):
        x = x + self.drop(self.self_attention(self.input_layernorm(x), pos0, cache))
        return x + self.drop(self.mlp(self.pre_mlp_layernorm(x)))


class Embedding(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(padded(c["vocab"]), c["hidden"])
        if c["pos"] == "learned_absolute":
            self.position_embeddings = nn.Embedding(c["max_pos"], c["hidden"])


class Decoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layers = nn.ModuleList([Layer(c) for _ in range(c["layers"])])
        self.final_layernorm = Norm(c["hidden"], c["norm"])


class GPTModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embedding = Embedding(c)
        self.decoder = Decoder(c)
        if not c["tied"]:
            self.output_layer = nn.Linear(c["hidden"], padded(c["vocab"]), bias=False)
        self.drop = nn.Dropout(c["dropout"])

    def forward(self, ids, pos0=0, caches=None, last_only=False):
        t = ids.shape[1]
        x = self.embedding.word_embeddings(ids)
        if self.c["pos"] == "learned_absolute":
            x = x + self.embedding.position_embeddings(torch.arange(pos0, pos0 + t))
        x = self.drop(x)
        for i, layer in enumerate(self.decoder.layers):
            x = layer(x, pos0, caches[i] if caches is not None else None)
        if last_only:  # generation: the head for the last position only, as nc_gpt_generate
            x = x[:, -1:]
        x = self.decoder.final_layernorm(x)
        w = self.embedding.word_embeddings.weight if self.c["tied"] else self.output_layer.weight
        return F.linear(x, w)


class Wrapper(nn.Module):
    """The .nemo state_dict's "model." prefix."""

    def __init__(self, c):
        super().__init__()
        self.model = GPTModel(c)

    def forward(self, *a, **k):
        return self.model(*a, **k)


def build(arch, sd, layers=0, dropout=None):
    """The arch's model with the weights of state_dict sd (strict)."""
    c = dict(ARCHS[arch])
    c["layers"] = layers or sum(1 for k in sd if k.endswith("self_attention.linear_qkv.weight"))
    if dropout is not None:
        c["dropout"] = dropout
    m = Wrapper(c)
    m.load_state_dict(sd, strict=True)
    return m
