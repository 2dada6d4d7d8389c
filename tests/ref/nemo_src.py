"""Imports NeMo's own ASR modules from a source checkout under Debian's torch.

NeMo is not installed here (pip is not reachable), but its module code runs
under torch 1.13 once the packages that merely have to *import* are present.
This helper:
  * puts the checkout on sys.path (NEMO_SRC, default <repo>/.nemo_src, made by
    `git archive HEAD nemo | tar -x -C .nemo_src` from a NeMo clone; ignored by git);
  * skips the __init__.py of a few NeMo packages (nemo, nemo.collections,
    nemo.collections.asr and its modules/models/parts) that import every model,
    so only the files the three modules need are loaded, from the checkout;
  * answers imports of packages that are NOT installed (lightning, hydra,
    lhotse, numba, transformers, ...) with empty stand-ins: a meta-path finder
    placed LAST, so every installed package (torch, numpy, scipy, omegaconf,
    packaging, wrapt, soundfile) is the real one. These packages are only
    imported at module level for training, data loading or export code; none
    of them is called by the forward passes used here.
  * The one piece of math that needs a missing package is
    librosa.filters.mel (the Slaney mel filterbank FilterbankFeatures builds at
    construction): it is given the same algorithm ported from librosa in
    tests/ref/gen_features.py (mel_filterbank), already checked by the
    features fixtures. Nothing else is replaced.
  * torch.nn.attention (torch >= 2.3, only for use_pytorch_sdpa=True) is a
    stand-in as well; the encoders here run with use_pytorch_sdpa=False.

Usage: `from nemo_src import nemo_modules; pre_cls, enc_cls, dec_cls = nemo_modules()`,
or `nemo_import("nemo.collections.asr.parts.submodules.subsampling")`.
"""
import abc
import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

# Top-level packages that NeMo imports at module level and that are not
# installed here. Only missing ones are stubbed (the finder runs last).
MISSING = {
    "hydra", "lightning", "pytorch_lightning", "lightning_utilities", "lhotse", "librosa", "numba",
    "huggingface_hub", "wget", "onnx", "pandas", "text_unidecode", "einops", "tqdm", "transformers",
    "sentencepiece", "texterrors", "pyannote", "braceexpand", "jiwer",
}
# torch.nn.attention: torch >= 2.3 (SDPA backends). nemo.utils.webdataset: perturb.py imports it
# inside a try that only catches ModuleNotFoundError, and the file is gone from NeMo's tree.
STUB_EXACT = {"torch.nn.attention", "nemo.utils.webdataset"}


class _StubMeta(abc.ABCMeta):
    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _stub(name)


def _call(self, *a, **k):
    # used as a decorator (@x or @x(...)): hand the function back
    return a[0] if len(a) == 1 and callable(a[0]) and not k else self


def _stub(name):
    return _StubMeta(name, (), {"__init__": lambda self, *a, **k: None, "__call__": _call,
                                "__getattr__": lambda self, m: _stub(m)})


class _StubModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _stub(name)


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in MISSING or name in STUB_EXACT:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        m = _StubModule(spec.name)
        m.__path__ = []
        return m

    def exec_module(self, module):
        pass


def _librosa_mel(*, sr, n_fft, n_mels=128, fmin=0.0, fmax=None, htk=False, norm="slaney", dtype=None, **_):
    assert not htk, "only the Slaney scale is ported"
    sys.path.insert(0, HERE)
    from gen_features import mel_filterbank
    return mel_filterbank(sr, n_fft, n_mels, fmin, fmax if fmax is not None else sr / 2.0, norm)


_READY = False


def nemo_import(name, src=None):
    """A module of NeMo's source checkout, e.g.
    nemo_import("nemo.collections.asr.parts.submodules.subsampling")."""
    _setup(src)
    return importlib.import_module(name)


def nemo_modules(src=None):
    """(AudioToMelSpectrogramPreprocessor, ConformerEncoder, ConvASRDecoder) from NeMo's code."""
    ap = nemo_import("nemo.collections.asr.modules.audio_preprocessing", src)
    ce = nemo_import("nemo.collections.asr.modules.conformer_encoder", src)
    ca = nemo_import("nemo.collections.asr.modules.conv_asr", src)
    return ap.AudioToMelSpectrogramPreprocessor, ce.ConformerEncoder, ca.ConvASRDecoder


def _setup(src):
    global _READY
    if _READY:
        return
    _READY = True
    src = src or os.environ.get("NEMO_SRC") or os.path.join(ROOT, ".nemo_src")
    if not os.path.isdir(os.path.join(src, "nemo", "collections", "asr")):
        raise SystemExit("NeMo source not found at %s (set NEMO_SRC)" % src)
    import torch  # noqa: F401  (the real one, before any finder)
    sys.path.insert(0, src)
    sys.meta_path.append(_Finder())
    for pkg in ["nemo", "nemo.collections", "nemo.collections.asr", "nemo.collections.asr.modules",
                "nemo.collections.asr.models", "nemo.collections.asr.parts"]:
        m = types.ModuleType(pkg)
        m.__path__ = [os.path.join(src, *pkg.split("."))]
        sys.modules[pkg] = m
    import librosa  # the stand-in module; give it the real filterbank
    librosa.filters = types.SimpleNamespace(mel=_librosa_mel)
