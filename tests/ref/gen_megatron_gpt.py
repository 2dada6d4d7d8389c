#!/usr/bin/python3
"""Reference fixtures for MegatronGPTModel (mcore_gpt: true), made by Megatron-LM's
OWN megatron.core GPTModel on CPU, fp32, configured the way NeMo configures it.

Megatron-LM: tag core_v0.14.0 (commit 23e00ed0963c35382dfe8a5a94fb3cda4d21e133),
unpacked with
    git --git-dir=<Megatron-LM clone>/.git archive core_v0.14.0 megatron/core | tar -x -C .megatron_src
NeMo (checkout under NEMO_SRC, 2.6.0rc0): the TransformerConfig is made by NeMo's OWN
MegatronBaseModel.build_model_parallel_config / build_transformer_config and
MegatronGPTModel.build_transformer_config (compiled from its source files at run time)
with its own activation_to_func (nlp/parts/utils_funcs.py, imported); the GPTModel
arguments follow model_provider_func, the layer spec get_specs("") and the loss
MegatronGPTModel.loss_func (megatron_gpt_model.py). See tests/ref/megatron_gpt/README.md.

Run:  MEGATRON_SRC=.megatron_src NEMO_SRC=/work/main/.nemo_src /usr/bin/python3 tests/ref/gen_megatron_gpt.py
(regenerates byte-identical files).

What runs under torch 1.13 (Debian) instead of what NeMo's container has -- every
stand-in is listed in the README; none of them touches the model math except
where named:
  * the package __init__ of megatron.core.distributed (DDP/FSDP, needs torch>=2)
    and megatron.core.safe_globals (numpy.dtypes, torch>=2.6 only) are skipped;
  * megatron.core.jit.jit_fuser is the identity (on torch>=2.2 it is torch.compile:
    the same element-wise math, fused);
  * apex's FusedLayerNormAffineFunction (CUDA) is torch.nn.functional.layer_norm,
    so mcore's own FusedLayerNorm (with its zero-centred (1 + weight)) runs;
  * torch.nn.RMSNorm (torch>=2.4) is a backport of its documented formula;
  * torch.cuda.current_device() answers "cpu" (RotaryEmbedding moves inv_freq to it);
  * torch.distributed.new_group drops keywords torch 1.13 lacks (gloo, world size 1);
  * the CUDA RNG tracker's fork() is a no-op context (all dropouts are 0);
  * torch.baddbmm(..., beta=0) is answered by alpha * torch.bmm (torch 1.13's CPU baddbmm
    with beta=0 sometimes returns NaN; see setup_megatron).
"""
import ast
import contextlib
import io
import json
import math
import os
import struct
import sys
import tarfile
import tempfile
import types
from dataclasses import fields

import torch
import torch.nn.functional as F
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(HERE, "megatron_gpt")
MEGATRON_COMMIT = "23e00ed0963c35382dfe8a5a94fb3cda4d21e133"  # tag core_v0.14.0

B, T = 2, 16
SEED = 1234


# --------------------------------------------------------------------------------------------
# megatron.core under torch 1.13 on CPU
# --------------------------------------------------------------------------------------------

class _RMSNorm(torch.nn.Module):
    """torch.nn.RMSNorm (torch >= 2.4), as documented:
    y = x / sqrt(mean(x^2, last dim) + eps) * weight."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(self.normalized_shape, dtype=dtype))

    def forward(self, x):
        eps = self.eps if self.eps is not None else torch.finfo(x.dtype).eps
        dims = tuple(range(-len(self.normalized_shape), 0))
        return x * torch.rsqrt(x.pow(2).mean(dims, keepdim=True) + eps) * self.weight


class _FusedLayerNormAffineFunction:
    """apex.normalization.fused_layer_norm.FusedLayerNormAffineFunction computes
    torch's layer norm (biased variance, eps inside the sqrt) in one CUDA kernel."""

    @staticmethod
    def forward(ctx, input, weight, bias, normalized_shape, eps, memory_efficient=False):
        raise AssertionError("only apply() is used")

    @staticmethod
    def apply(input, weight, bias, normalized_shape, eps, memory_efficient=False):
        return F.layer_norm(input, tuple(normalized_shape), weight, bias, eps)


def _module(name, **attrs):
    m = types.ModuleType(name)
    m.__path__ = []
    for k, v in attrs.items():
        setattr(m, k, v)
    sys.modules[name] = m
    return m


def setup_megatron():
    src = os.environ.get("MEGATRON_SRC") or os.path.join(ROOT, ".megatron_src")
    src = os.path.abspath(src)
    if not os.path.isfile(os.path.join(src, "megatron", "core", "models", "gpt", "gpt_model.py")):
        raise SystemExit("Megatron-LM source not found at %s (set MEGATRON_SRC)" % src)
    info = open(os.path.join(src, "megatron", "core", "package_info.py")).read()
    if "MINOR = 14" not in info or "PATCH = 0" not in info:
        raise SystemExit("%s is not megatron.core 0.14.0 (tag core_v0.14.0)" % src)
    sys.path.insert(0, src)
    import warnings
    warnings.filterwarnings("ignore")

    # skipped package __init__s / torch>=2 only helpers (see the module docstring)
    dist = _module("megatron.core.distributed", DistributedDataParallel=type("DistributedDataParallel", (), {}))
    dist.__path__ = [os.path.join(src, "megatron", "core", "distributed")]
    _module("megatron.core.safe_globals", register_safe_globals=lambda: None)
    _module("megatron.core.jit", jit_fuser=lambda f: f)
    # apex: only the fused layer norm kernel entry point
    _module("apex")
    _module("apex.normalization")
    _module("apex.normalization.fused_layer_norm", FusedLayerNormAffineFunction=_FusedLayerNormAffineFunction)
    if not hasattr(torch.nn, "RMSNorm"):
        torch.nn.RMSNorm = _RMSNorm
    torch.cuda.current_device = lambda: "cpu"

    __import__("megatron.core")  # runs its __init__ with the stand-ins above in place
    import megatron.core.utils as mu

    # DotProductAttention computes the scores as torch.baddbmm(buffer, q, k^T, beta=0.0,
    # alpha=softmax_scale). Debian's torch 1.13 CPU baddbmm with beta=0 now and then returns
    # NaN (it reads the uninitialised result memory: ~1 in 300 calls of these sizes in
    # isolation, and NaN logits in a greedy run after a backward freed memory). beta=0
    # means "input ignored" (torch docs), so the call is answered by alpha * bmm, which is
    # the same product.
    real_baddbmm = torch.baddbmm

    def baddbmm(input, batch1, batch2, *, beta=1.0, alpha=1.0, out=None):
        if beta == 0 and out is None:
            return torch.bmm(batch1, batch2) * alpha
        return real_baddbmm(input, batch1, batch2, beta=beta, alpha=alpha, out=out)

    torch.baddbmm = baddbmm
    real_min = mu.is_torch_min_version

    def is_torch_min_version(version, check_equality=True):
        # torch.nn.RMSNorm is provided above; nothing else asks for 2.4
        if version == "2.4.0a0":
            return True
        return real_min(version, check_equality)

    import megatron.core.transformer.torch_norm as tn
    tn.is_torch_min_version = is_torch_min_version

    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29517")
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("gloo", rank=0, world_size=1)
    import inspect
    real_new_group = torch.distributed.new_group
    known = set(inspect.signature(real_new_group).parameters)

    def new_group(**kw):
        # torch 1.13's new_group lacks use_local_synchronization (torch 2.1); world size 1
        return real_new_group(**{k: v for k, v in kw.items() if k in known})

    torch.distributed.new_group = new_group
    from megatron.core import parallel_state
    parallel_state.initialize_model_parallel(1, 1)

    from megatron.core.tensor_parallel import random as tp_random

    class _Tracker:
        @contextlib.contextmanager
        def fork(self, name=None):
            yield

    tp_random._CUDA_RNG_STATE_TRACKER = _Tracker()
    tp_random._CUDA_RNG_STATE_TRACKER_INITIALIZED = True


# --------------------------------------------------------------------------------------------
# NeMo's config -> TransformerConfig: NeMo's own build_*_config methods and activation_to_func
# --------------------------------------------------------------------------------------------

NLP = "nemo.collections.nlp"
LM_DIR = ("nemo", "collections", "nlp", "models", "language_modeling")


def setup_nemo():
    """NeMo's utils_funcs (activation_to_func) imported from its checkout (nemo_src.py);
    the package __init__s of nemo.collections.nlp import every NLP model and are skipped."""
    sys.path.insert(0, HERE)
    import nemo_src
    nemo_src.MISSING.update({"matplotlib", "sklearn"})
    nemo_src._setup(None)
    src = os.environ.get("NEMO_SRC") or os.path.join(ROOT, ".nemo_src")
    for pkg in [NLP, NLP + ".parts", NLP + ".modules", NLP + ".modules.common", NLP + ".modules.common.megatron"]:
        m = types.ModuleType(pkg)
        m.__path__ = [os.path.join(src, *pkg.split("."))]
        sys.modules[pkg] = m
    return src, nemo_src.nemo_import(NLP + ".parts.utils_funcs")


def _methods(path, cls, names):
    """FunctionDef nodes of cls.names in NeMo's source file, unchanged."""
    tree = ast.parse(open(path).read(), path)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            found = [f for f in node.body if isinstance(f, ast.FunctionDef) and f.name in names]
            assert len(found) == len(names), (cls, names)
            return found
    raise SystemExit("%s not found in %s" % (cls, path))


def nemo_config_builders():
    """MegatronBaseModel.build_model_parallel_config / build_transformer_config and
    MegatronGPTModel.build_transformer_config, compiled from NeMo's own source at run time
    into two small classes (the real classes need Lightning, the trainer and the tokenizer;
    these methods only read self.cfg, self.trainer.precision and the dtype attributes)."""
    src, uf = setup_nemo()
    from megatron.core.model_parallel_config import ModelParallelConfig
    from megatron.core.transformer.enums import AttnBackend
    from megatron.core.transformer.transformer_config import MLATransformerConfig, TransformerConfig
    from megatron.core.utils import init_method_normal, scaled_init_method_normal
    from omegaconf import OmegaConf
    import logging

    base = _methods(os.path.join(src, *LM_DIR, "megatron_base_model.py"), "MegatronBaseModel",
                    ["build_model_parallel_config", "build_transformer_config"])
    gpt = _methods(os.path.join(src, *LM_DIR, "megatron_gpt_model.py"), "MegatronGPTModel",
                   ["build_transformer_config"])
    mod = ast.Module(body=[
        ast.ClassDef(name="NemoBase", bases=[], keywords=[], body=base, decorator_list=[]),
        ast.ClassDef(name="NemoGPT", bases=[ast.Name("NemoBase", ast.Load())], keywords=[], body=gpt,
                     decorator_list=[]),
    ], type_ignores=[])
    ast.fix_missing_locations(mod)
    log = logging.getLogger("nemo")
    log.setLevel(logging.ERROR)
    env = {
        "os": os, "torch": torch, "fields": fields, "OmegaConf": OmegaConf, "logging": log,
        "ModelParallelConfig": ModelParallelConfig, "TransformerConfig": TransformerConfig,
        "MLATransformerConfig": MLATransformerConfig, "AttnBackend": AttnBackend,
        "init_method_normal": init_method_normal, "scaled_init_method_normal": scaled_init_method_normal,
        "activation_to_func": uf.activation_to_func,
        "HAVE_TE": False, "mcore_supports_moe": lambda: True,
    }
    exec(compile(mod, "<NeMo build_*_config>", "exec"), env)
    return env["NemoGPT"]


def nemo_transformer_config(cfg):
    """TransformerConfig exactly as NeMo's MegatronGPTModel builds it for an fp32 trainer
    (precision 32: torch_dtype = params_dtype = float32, no autocast)."""
    from omegaconf import OmegaConf
    NemoGPT = nemo_config_builders()
    model = NemoGPT()
    model.cfg = OmegaConf.create(cfg)
    model.trainer = types.SimpleNamespace(precision=32)
    model.torch_dtype = torch.float32
    model.params_dtype = torch.float32
    model.autocast_dtype = torch.float32
    model.megatron_timers = None
    tc = model.build_transformer_config()
    return tc


# --------------------------------------------------------------------------------------------
# The cases: NeMo model sections (megatron_gpt_config.yaml key names)
# --------------------------------------------------------------------------------------------

def _common(**kw):
    cfg = {
        "mcore_gpt": True,
        "transformer_engine": False,  # get_specs('') -> get_gpt_layer_local_spec (no TE here)
        "precision": 32,
        "num_layers": 2,
        "hidden_size": 32,
        "num_attention_heads": 4,
        "kv_channels": None,
        "encoder_seq_length": T,
        "max_position_embeddings": T,
        "init_method_std": 0.02,
        "use_scaled_init_method": True,
        "hidden_dropout": 0.0,
        "attention_dropout": 0.0,
        "ffn_dropout": 0.0,
        "layernorm_epsilon": 1e-5,
        "make_vocab_size_divisible_by": 128,
        "override_vocab_size": 128,
        "apply_query_key_layer_scaling": False,
        "persist_layer_norm": True,
        "masked_softmax_fusion": True,
        "bias_dropout_add_fusion": True,
        "rotary_base": 10000,
        "rotary_percentage": 1.0,
        "num_query_groups": None,
        "use_cpu_initialization": True,  # ModelParallelConfig; RotaryEmbedding keeps inv_freq on CPU
    }
    cfg.update(kw)
    return cfg


CASES = {
    "gpt2": _common(
        ffn_hidden_size=64, normalization="layernorm", activation="gelu",
        position_embedding_type="learned_absolute", bias=True,
        share_embeddings_and_output_weights=True, bias_activation_fusion=True),
    "llama": _common(
        ffn_hidden_size=32, num_query_groups=2, normalization="rmsnorm", activation="fast-swiglu",
        position_embedding_type="rope", rotary_base=10000, rotary_percentage=1.0, bias=False,
        share_embeddings_and_output_weights=False, bias_activation_fusion=True,
        # megatron.core's torch RMSNorm wrapper refuses the persistent (apex) layer norm flag
        persist_layer_norm=False),
    "nemotron": _common(
        ffn_hidden_size=48, num_query_groups=1, normalization="layernorm1p", activation="squared-relu",
        position_embedding_type="rope", rotary_base=10000, rotary_percentage=0.5, bias=False,
        share_embeddings_and_output_weights=False, bias_activation_fusion=False),
}


def build_model(cfg):
    from megatron.core.models.gpt.gpt_layer_specs import get_gpt_layer_local_spec
    from megatron.core.models.gpt.gpt_model import GPTModel

    tc = nemo_transformer_config(cfg)
    # NeMo's get_specs("") = get_gpt_layer_local_spec(num_experts, moe_grouped_gemm). Its
    # norm is apex's FusedLayerNorm, which only does LayerNorm, so NeMo needs TE for RMSNorm;
    # megatron.core's local spec takes normalization="RMSNorm" for that (torch RMSNorm).
    # The block's final norm is transformer_block.LayerNormImpl: FusedLayerNorm when apex
    # imports, WrappedTorchNorm when it does not -- the install where RMSNorm works locally.
    import megatron.core.transformer.transformer_block as tb
    from megatron.core.fusions.fused_layer_norm import FusedLayerNorm
    from megatron.core.transformer.torch_norm import WrappedTorchNorm
    if tc.normalization == "RMSNorm":
        spec = get_gpt_layer_local_spec(None, False, normalization="RMSNorm")
        tb.LayerNormImpl = WrappedTorchNorm
    else:
        # LocalSpecProvider.layer_norm(rms_norm=True) rebinds backends.LNImpl for good; undo
        # it so a LayerNorm case after the RMSNorm one gets apex's norm as in a fresh process
        import megatron.core.models.backends as backends
        backends.LNImpl = FusedLayerNorm
        spec = get_gpt_layer_local_spec(None, False)
        tb.LayerNormImpl = FusedLayerNorm
    torch.manual_seed(SEED)
    model = GPTModel(
        config=tc,
        transformer_layer_spec=spec,
        vocab_size=cfg["override_vocab_size"],
        max_sequence_length=cfg["encoder_seq_length"],
        pre_process=True,
        post_process=True,
        parallel_output=True,
        share_embeddings_and_output_weights=cfg["share_embeddings_and_output_weights"],
        position_embedding_type=cfg["position_embedding_type"],
        rotary_percent=cfg["rotary_percentage"],
        seq_len_interpolation_factor=None,
        rotary_base=cfg["rotary_base"],
    )
    return model, tc


def randomize(model, zero_centered):
    """Every parameter gets a random value so every path is exercised:
    weights N(0, 0.05); norm weights 1 + N(0, 0.1) (N(0, 0.1) when zero-centred, where
    the module applies 1 + w itself); biases (norm biases included) N(0, 0.05)."""
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g, dtype=torch.float32)
            is_norm = "layernorm" in name or "final_layernorm" in name
            if is_norm and name.endswith("weight"):
                p.copy_(r * 0.1 if zero_centered else 1.0 + r * 0.1)
            else:
                p.copy_(r * 0.05)


def nemo_state_dict(model):
    """The module state_dict with NeMo's .nemo names ("model." + mcore name), no _extra_state."""
    sd = {}
    for k, v in model.state_dict().items():
        if k.endswith("_extra_state"):
            continue
        sd["model." + k] = v.detach().clone().contiguous()
    return sd


def ltor_inputs(tokens):
    """NeMo get_ltor_masks_and_position_ids (reset_* and eod_mask_loss off): the causal
    mask [1, 1, s, s] (True = masked out) and position ids 0..s-1."""
    s = tokens.shape[1]
    mask = torch.tril(torch.ones((1, s, s))).view(1, 1, s, s) < 0.5
    pos = torch.arange(s, dtype=torch.long).unsqueeze(0).expand_as(tokens).contiguous()
    return mask, pos


def run_case(name, cfg):
    model, tc = build_model(cfg)
    randomize(model, tc.layernorm_zero_centered_gamma)
    model.eval()  # dropouts are 0 anyway
    V = cfg["override_vocab_size"]
    g = torch.Generator().manual_seed(SEED + 2)
    data = torch.randint(0, V, (B, T + 1), generator=g, dtype=torch.long)
    tokens, labels = data[:, :-1].contiguous(), data[:, 1:].contiguous()
    loss_mask = torch.ones(B, T, dtype=torch.float32)
    loss_mask[0, 13:] = 0.0
    loss_mask[1, 2] = 0.0
    loss_mask[1, 9] = 0.0
    mask, pos = ltor_inputs(tokens)

    with torch.no_grad():
        logits = model(tokens, pos, mask)  # labels=None -> [b, s, v]
    per_token = model(tokens, pos, mask, labels=labels)  # [b, s]
    # NeMo MegatronGPTModel.loss_func: sum(losses * loss_mask) / num_valid_tokens_in_ub
    loss = torch.sum(per_token.float().view(-1) * loss_mask.view(-1)) / loss_mask.sum()
    model.zero_grad(set_to_none=True)
    loss.backward()

    sd = nemo_state_dict(model)
    params = dict(model.named_parameters())
    io_t = {
        "tokens": tokens, "labels": labels, "loss_mask": loss_mask, "position_ids": pos,
        "logits": logits.float().contiguous(), "per_token_loss": per_token.detach().float().contiguous(),
        "loss": loss.detach().reshape(()),
    }
    for k, p in params.items():
        io_t["grad.model." + k] = p.grad.detach().clone().contiguous()
    assert set("model." + k for k in params) == set(sd), (set(sd) ^ set("model." + k for k in params))

    ref = formulas_logits(cfg, sd, tokens)
    err = (ref - logits.double()).abs().max().item()
    lp = torch.log_softmax(ref, -1)
    ce = -lp.gather(-1, labels[..., None])[..., 0]
    ce_err = (ce - per_token.detach().double()).abs().max().item()
    assert err < 1e-4 and ce_err < 1e-4, (name, err, ce_err)
    print("%-9s README formulas vs GPTModel: max |logit diff| %.2e, max |loss diff| %.2e" % (name, err, ce_err))

    # greedy: repeated full forward on the growing sequence, argmax of the last position
    # (real vocab == padded vocab here, so no padded entries to mask). The prompt is the first
    # one drawn whose continuation has >= 3 distinct tokens (random tied embeddings tend to
    # repeat the last token) and whose top-1/top-2 logit gap is >= 1e-3 at every step, so an
    # fp32 reimplementation cannot flip an argmax by rounding.
    for attempt in range(100):
        prompt = torch.randint(0, V, (1, 5), generator=g, dtype=torch.long)
        seq, gap = prompt.clone(), float("inf")
        with torch.no_grad():
            for _ in range(8):
                m, p_ids = ltor_inputs(seq)
                last = model(seq, p_ids, m)[:, -1, :]
                top = torch.topk(last[0], 2).values
                gap = min(gap, (top[0] - top[1]).item())
                nxt = torch.argmax(last, dim=-1, keepdim=True)
                ref_next = torch.argmax(formulas_logits(cfg, sd, seq)[:, -1, :], dim=-1, keepdim=True)
                assert torch.equal(nxt, ref_next), (name, attempt)
                seq = torch.cat([seq, nxt], dim=1)
        if gap >= 1e-3 and len(set(seq[0, 5:].tolist())) >= 3:
            break
    else:
        raise SystemExit("%s: no prompt with a clear greedy continuation" % name)
    print("%-9s greedy prompt #%d, min top-2 logit gap %.4f" % (name, attempt, gap))
    gen = {"prompt": prompt, "greedy": seq[:, 5:].contiguous()}
    return model, tc, sd, io_t, gen


def formulas_logits(cfg, sd, tokens):
    """The README's formulas in plain torch, written from reading megatron.core -- NOT used to
    make any fixture, only to assert that the README describes what GPTModel computed."""
    w = {k[len("model."):]: v.double() for k, v in sd.items()}
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    ng = cfg["num_query_groups"] or nh
    d = H // nh
    eps = cfg["layernorm_epsilon"]
    norm = cfg["normalization"]
    b_, s_ = tokens.shape

    def nrm(x, pre):
        if norm == "rmsnorm":
            return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w[pre + ".weight"]
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        g = w[pre + ".weight"] + (1.0 if norm == "layernorm1p" else 0.0)
        return (x - mu) / torch.sqrt(var + eps) * g + w[pre + ".bias"]

    def lin(x, pre):
        y = x @ w[pre + ".weight"].t()
        return y + w[pre + ".bias"] if pre + ".bias" in w else y

    x = w["embedding.word_embeddings.weight"][tokens]
    if cfg["position_embedding_type"] == "learned_absolute":
        x = x + w["embedding.position_embeddings.weight"][torch.arange(s_)][None]
    rot = int(d * cfg["rotary_percentage"]) if cfg["position_embedding_type"] == "rope" else 0
    if rot:
        inv = 1.0 / (cfg["rotary_base"] ** (torch.arange(0, rot, 2, dtype=torch.float64) / rot))
        ang = torch.arange(s_, dtype=torch.float64)[:, None] * inv[None]  # [s, rot/2]
        cos, sin = torch.cos(ang), torch.sin(ang)

    def rope(t):  # t [b, heads, s, d]; pairs (i, i + rot/2) of the first rot dims rotate
        if not rot:
            return t
        a, bq, rest = t[..., :rot // 2], t[..., rot // 2:rot], t[..., rot:]
        return torch.cat([a * cos - bq * sin, bq * cos + a * sin, rest], -1)

    causal = torch.triu(torch.ones(s_, s_, dtype=torch.bool), 1)
    for layer in range(cfg["num_layers"]):
        pre = "decoder.layers.%d." % layer
        qkv = lin(nrm(x, pre + "input_layernorm"), pre + "self_attention.linear_qkv")
        qkv = qkv.view(b_, s_, ng, (nh // ng + 2) * d)
        q = qkv[..., :nh // ng * d].reshape(b_, s_, nh, d)
        k = qkv[..., nh // ng * d:(nh // ng + 1) * d]
        v = qkv[..., (nh // ng + 1) * d:]
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [b, heads, s, d]
        q, k = rope(q), rope(k)
        k = k.repeat_interleave(nh // ng, dim=1)
        v = v.repeat_interleave(nh // ng, dim=1)
        sc = (q @ k.transpose(-1, -2)) / math.sqrt(d)
        sc = sc.masked_fill(causal, -10000.0)
        ctx = (torch.softmax(sc, -1) @ v).transpose(1, 2).reshape(b_, s_, nh * d)
        x = x + lin(ctx, pre + "self_attention.linear_proj")
        h = lin(nrm(x, pre + "pre_mlp_layernorm"), pre + "mlp.linear_fc1")
        act = cfg["activation"]
        if act == "gelu":  # bias_gelu_impl: the tanh approximation
            h = h * 0.5 * (1.0 + torch.tanh(0.79788456 * h * (1 + 0.044715 * h * h)))
        elif act == "fast-swiglu":
            h1, h2 = torch.chunk(h, 2, -1)
            h = F.silu(h1) * h2
        elif act == "squared-relu":
            h = torch.relu(h) ** 2
        x = x + lin(h, pre + "mlp.linear_fc2")
    x = nrm(x, "decoder.final_layernorm")
    out = w["output_layer.weight"] if "output_layer.weight" in w else w["embedding.word_embeddings.weight"]
    return x @ out.t()


# --------------------------------------------------------------------------------------------
# writers
# --------------------------------------------------------------------------------------------

_ST_DTYPE = {torch.float32: "F32", torch.int64: "I64"}
_ST_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32",
             "F32", "F64", "I64", "U64"]


def safetensors_bytes(tensors):
    """safetensors layout as huggingface/safetensors writes it (tests/ref/gen_safetensors.py):
    tensors sorted by dtype alignment (descending) then name; compact JSON header padded
    with spaces to 8 bytes; u64 LE header length; raw little-endian data."""
    items = []
    for k, t in tensors.items():
        t = t.detach().contiguous()
        items.append((k, _ST_DTYPE[t.dtype], list(t.shape), t.numpy().tobytes()))
    items.sort(key=lambda it: (-_ST_ORDER.index(it[1]), it[0].encode()))
    header, off = {"__metadata__": {"format": "pt", "source": "megatron.core core_v0.14.0 " + MEGATRON_COMMIT}}, 0
    for k, dt, shape, data in items:
        header[k] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(data)]}
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(it[3] for it in items)


TC_FIELDS = ["num_layers", "hidden_size", "ffn_hidden_size", "num_attention_heads", "num_query_groups",
             "kv_channels", "normalization", "layernorm_zero_centered_gamma", "layernorm_epsilon",
             "add_bias_linear", "add_qkv_bias", "gated_linear_unit", "bias_activation_fusion",
             "apply_query_key_layer_scaling", "attention_softmax_in_fp32", "masked_softmax_fusion",
             "persist_layer_norm", "rotary_interleaved", "apply_rope_fusion", "cross_entropy_loss_fusion",
             "apply_residual_connection_post_layernorm", "hidden_dropout", "attention_dropout",
             "bias_dropout_fusion", "softmax_scale"]


def transformer_config_json(tc, model):
    """The TransformerConfig fields NeMo's builder produced that decide the math, plus the
    activation and the norm/MLP classes megatron.core picked from them."""
    out = {k: getattr(tc, k) for k in TC_FIELDS}
    f = tc.activation_func
    out["activation_func"] = getattr(f, "__name__", None) or getattr(f, "name", None) or str(f)
    layer = model.decoder.layers[0]
    out["input_layernorm_class"] = type(layer.input_layernorm).__name__
    out["final_layernorm_class"] = type(model.decoder.final_layernorm).__name__
    out["core_attention_softmax_scale"] = layer.self_attention.core_attention.softmax_scale
    return json.dumps(out, indent=1, sort_keys=True) + "\n"


def model_config_yaml(cfg):
    keys = ["mcore_gpt", "transformer_engine", "precision", "num_layers", "hidden_size", "ffn_hidden_size",
            "num_attention_heads", "num_query_groups", "kv_channels", "encoder_seq_length",
            "max_position_embeddings", "position_embedding_type", "rotary_base", "rotary_percentage",
            "normalization", "layernorm_epsilon", "activation", "bias", "bias_activation_fusion",
            "bias_dropout_add_fusion", "masked_softmax_fusion", "persist_layer_norm",
            "share_embeddings_and_output_weights", "init_method_std", "use_scaled_init_method",
            "hidden_dropout", "attention_dropout", "ffn_dropout", "make_vocab_size_divisible_by",
            "override_vocab_size", "apply_query_key_layer_scaling", "use_cpu_initialization"]
    assert set(keys) == set(cfg), set(keys) ^ set(cfg)
    return yaml.safe_dump({k: cfg[k] for k in keys}, sort_keys=False, default_flow_style=False)


# NeMo's save_to writes the model's whole cfg, whose first key is the class.
NEMO_TARGET = "target: nemo.collections.nlp.models.language_modeling.megatron_gpt_model.MegatronGPTModel\n"


def te_names(sd):
    """The state_dict as a Transformer Engine layer spec names it (the spec NeMo trains with on
    GPUs): the norms fused into the next linear (input_layernorm -> self_attention.linear_qkv.
    layer_norm_weight/_bias, pre_mlp_layernorm -> mlp.linear_fc1.layer_norm_weight/_bias) and an
    `_extra_state` entry per fused module (TE's fp8 metadata, a BytesIO object, not a tensor),
    so the .nemo exercises a loader's handling of both."""
    out = {}
    for k, v in sd.items():
        k2 = k.replace(".input_layernorm.weight", ".self_attention.linear_qkv.layer_norm_weight")
        k2 = k2.replace(".input_layernorm.bias", ".self_attention.linear_qkv.layer_norm_bias")
        k2 = k2.replace(".pre_mlp_layernorm.weight", ".mlp.linear_fc1.layer_norm_weight")
        k2 = k2.replace(".pre_mlp_layernorm.bias", ".mlp.linear_fc1.layer_norm_bias")
        out[k2] = v
        if k.endswith("linear_qkv.weight") or k.endswith("linear_fc1.weight"):
            out[k[: -len("weight")] + "_extra_state"] = io.BytesIO(b"")
    return out


def nemo_tar(cfg_yaml, sd):
    """SaveRestoreConnector._make_nemo_file_from_folder: tarfile.open(path, "w:") (uncompressed,
    Python's default PAX format) and tar.add(folder, arcname=".") -> members ".",
    "./model_config.yaml", "./model_weights.ckpt" (sorted); the weights file is
    torch.save(state_dict) to a path named model_weights.ckpt (its zip root is then
    "model_weights/"), as the single-file TP=1/PP=1 layout holds them."""
    with tempfile.TemporaryDirectory() as tmp:
        wpath = os.path.join(tmp, "model_weights.ckpt")
        torch.save(sd, wpath)
        with open(wpath, "rb") as f:
            weights = f.read()
    members = [("./model_config.yaml", cfg_yaml.encode("utf-8")), ("./model_weights.ckpt", weights)]
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:", format=tarfile.PAX_FORMAT) as tar:
        d = tarfile.TarInfo(".")
        d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, 0
        tar.addfile(d)
        for n, data in members:
            ti = tarfile.TarInfo(n)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 0
            tar.addfile(ti, io.BytesIO(data))
    return out.getvalue()


def main():
    setup_megatron()
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    for name, cfg in CASES.items():
        model, tc, sd, io_t, gen = run_case(name, cfg)
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        y = model_config_yaml(cfg)
        with open(os.path.join(d, "model_config.yaml"), "w") as f:
            f.write(y)
        for fn, t in [("weights.safetensors", sd), ("io.safetensors", io_t), ("generate.safetensors", gen)]:
            with open(os.path.join(d, fn), "wb") as f:
                f.write(safetensors_bytes(t))
        with open(os.path.join(d, "transformer_config.json"), "w") as f:
            f.write(transformer_config_json(tc, model))
        if name == "gpt2":
            with open(os.path.join(d, "gpt2.nemo"), "wb") as f:
                f.write(nemo_tar(NEMO_TARGET + y, te_names(sd)))
        print("%-9s loss %.6f  params %d  greedy %s" % (name, io_t["loss"].item(),
              sum(v.numel() for v in sd.values()), gen["greedy"].tolist()))


if __name__ == "__main__":
    main()
