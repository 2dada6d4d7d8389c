#!/usr/bin/python3
"""Reference fixtures for the transducer losses (tests/unit/test_rnnt_ref.c).

Writes tests/ref/rnnt/<case>_*.npy: logits (B, T, U+1, C) float32, targets
(B, U) int64 (padding 0), input and target lengths, per-utterance losses
(reduction none), the gradient of their sum at the logits, and `reduced`:
[mean_batch, mean_volume, mean, sum] from NeMo's own RNNTLoss.reduce
(nemo/collections/asr/losses/rnnt.py).

References, all at the logits, every loss taking logits (log_softmax inside):
  * rnnt (no FastEmit): torchaudio.functional.rnnt_loss (blank = V, the last
    logit, as NeMo's blank_idx = num_classes), clamp included; cross-checked
    against NeMo's RNNTLossPytorch (losses/rnnt_pytorch.py) with autograd.
  * tdt / multiblank (sigma, no FastEmit, no clamp): NeMo's TDTLossPytorch /
    MultiblankRNNTLossPytorch (losses/rnnt_pytorch.py) with autograd, in
    float64 (the classes allocate alphas with the default dtype).
  * FastEmit and clamp for all three: NeMo's CUDA kernels themselves
    (parts/numba/rnnt_loss/utils/cuda_utils/gpu_rnnt_kernel.py), run by
    numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1, Debian python3-numba)
    on float64 arrays, driven as gpu_rnnt.py drives them; the cost is
    rnnt_helper.compute_costs_data's -(1 + fastemit_lambda) * ll. TDT's
    duration gradients leave the kernel at the duration log-probs and pass
    through torch's log_softmax backward, as in TDTLossNumba.forward. The
    simulator is cross-checked against the classes above at lambda = 0.

Run with /usr/bin/python3 (Debian python3-torch, python3-torchaudio,
python3-numba); NeMo's source at .nemo_src (see nemo_src.py)."""
import os
import sys
import types

os.environ["NUMBA_ENABLE_CUDASIM"] = "1"  # before numba is imported

import numpy as np
import torch
import torchaudio.functional as taF

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from nemo_src import nemo_import  # noqa: E402

OUT = os.path.join(HERE, "rnnt")
os.makedirs(OUT, exist_ok=True)

# TDTLossPytorch calls .cuda() on its alphas; keep them on the CPU
torch.Tensor.cuda = lambda self, *a, **k: self
rp = nemo_import("nemo.collections.asr.losses.rnnt_pytorch")
gk = nemo_import("nemo.collections.asr.parts.numba.rnnt_loss.utils.cuda_utils.gpu_rnnt_kernel")
rnnt_py = nemo_import("nemo.collections.asr.losses.rnnt")
THREADS = 16
gk.GPU_RNNT_THREAD_SIZE = THREADS  # the kernels stride over V by this; fewer simulated threads


def save(case, name, a):
    np.save(os.path.join(OUT, "%s_%s.npy" % (case, name)), np.ascontiguousarray(a))


def make_inputs(seed, B, T, U, C, il, tl, vocab, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(B, T, U + 1, C, generator=g) * scale).float()
    targets = torch.zeros(B, U, dtype=torch.int64)
    for b in range(B):
        targets[b, : tl[b]] = torch.randint(0, vocab, (tl[b],), generator=g)
    return logits, targets, torch.tensor(il, dtype=torch.int64), torch.tensor(tl, dtype=torch.int64)


def reduced(losses, tl):
    """NeMo's RNNTLoss.reduce for each reduction (losses float32 (B), as NeMo)."""
    out = []
    for red in ("mean_batch", "mean_volume", "mean", "sum"):
        obj = types.SimpleNamespace(reduction=red)
        out.append(float(rnnt_py.RNNTLoss.reduce(obj, losses.float(), tl)))
    return np.array(out, dtype=np.float32)


def per_utt_grad(fn, logits):
    """losses (B) and d sum(losses) / d logits, computing in float64."""
    x = logits.double().requires_grad_(True)
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        losses = fn(x)
    finally:
        torch.set_default_dtype(old)
    losses.sum().backward()
    return losses.detach(), x.grad


def torchaudio_ref(logits, targets, il, tl, clamp=-1.0):
    x = logits.clone().requires_grad_(True)
    losses = taF.rnnt_loss(x, targets.int(), il.int(), tl.int(), blank=-1, clamp=clamp,
                           reduction="none")
    losses.sum().backward()
    return losses.detach().double(), x.grad.double()


def kernel_ref(kind, logits, targets, il, tl, lam=0.0, clamp=-1.0, sigma=0.0, durations=(),
               big=()):
    """NeMo's CUDA kernels under the simulator; returns costs (B), grads at the logits."""
    B, T, U1, C = logits.shape
    D = len(durations)
    x = logits.double()
    acts = x[..., : C - D] if kind == "tdt" else x
    Vt = acts.shape[-1]
    blank = Vt - 1
    acts_np = acts.contiguous().numpy().ravel().copy()
    denom = (-torch.logsumexp(acts, -1)).contiguous().numpy().ravel().copy()
    alphas = np.zeros(B * T * U1)
    betas = np.zeros(B * T * U1)
    llf, llb = np.zeros(B), np.zeros(B)
    ilv, tlv, lab = il.numpy().copy(), tl.numpy().copy(), targets.numpy().copy()
    grads = np.zeros(B * T * U1 * Vt)
    common = (ilv, tlv, lab, B, T, U1, Vt, blank)
    if kind == "rnnt":
        gk.compute_alphas_kernel[B, U1](acts_np, denom, alphas, llf, *common)
        gk.compute_betas_kernel[B, U1](acts_np, denom, betas, llb, *common)
        gk.compute_grad_kernel[B * T * U1, THREADS](grads, acts_np, denom, alphas, betas, llf,
                                                    *common, lam, clamp)
    elif kind == "multiblank":
        bb = np.array(big, dtype=np.int64)
        gk.compute_multiblank_alphas_kernel[B, U1](acts_np, denom, sigma, alphas, llf, *common,
                                                   bb, len(big))
        gk.compute_multiblank_betas_kernel[B, U1](acts_np, denom, sigma, betas, llb, *common,
                                                  bb, len(big))
        gk.compute_multiblank_grad_kernel[B * T * U1, THREADS](
            grads, acts_np, denom, sigma, alphas, betas, llf, *common, bb, len(big), lam, clamp)
    else:
        dlog = torch.log_softmax(x[..., C - D:], -1)
        dl_np = dlog.contiguous().numpy().ravel().copy()
        dd = np.array(durations, dtype=np.int64)
        dgr = np.zeros(B * T * U1 * D)
        gk.compute_tdt_alphas_kernel[B, U1](acts_np, dl_np, denom, sigma, alphas, llf, *common,
                                            dd, D)
        gk.compute_tdt_betas_kernel[B, U1](acts_np, dl_np, denom, sigma, betas, llb, *common,
                                           dd, D)
        gk.compute_tdt_grad_kernel[B * T * U1, THREADS](
            grads, dgr, acts_np, dl_np, denom, sigma, alphas, betas, llf, *common, dd, D, lam,
            clamp)
    assert np.allclose(llf, llb, atol=1e-9), (llf, llb)
    g = torch.from_numpy(grads.reshape(B, T, U1, Vt))
    if kind == "tdt":
        # TDTLossNumba.forward: duration log_softmax in torch, its backward here
        xd = x[..., C - D:].clone().requires_grad_(True)
        torch.log_softmax(xd, -1).backward(torch.from_numpy(dgr.reshape(B, T, U1, D)))
        g = torch.cat([g, xd.grad], -1)
    return torch.from_numpy(-llf * (1.0 + lam)), g


def emit(case, logits, targets, il, tl, losses, grad, params):
    save(case, "logits", logits.numpy())
    save(case, "targets", targets.numpy())
    save(case, "input_lengths", il.numpy())
    save(case, "target_lengths", tl.numpy())
    save(case, "losses", losses.float().numpy())
    save(case, "grad", grad.float().numpy())
    save(case, "reduced", reduced(losses.float(), tl))
    save(case, "params", np.array(params, dtype=np.float32))  # C rounds to 1e-6
    print("%-10s losses %s" % (case, np.array2string(losses.numpy(), precision=5)))


def close(a, b, tol, what):
    d = (a.double() - b.double()).abs().max().item()
    assert d <= tol, "%s differ by %g" % (what, d)


# params row: [kind(0 rnnt, 1 tdt, 2 multiblank), lambda, clamp, sigma, n, durations...]
def rnnt_case(case, seed, B, T, U, V1, il, tl, lam=0.0, clamp=-1.0):
    logits, targets, ilt, tlt = make_inputs(seed, B, T, U, V1, il, tl, V1 - 1)
    if lam == 0.0:
        losses, grad = torchaudio_ref(logits, targets, ilt, tlt, clamp)
        kl, kg = kernel_ref("rnnt", logits, targets, ilt, tlt, 0.0, clamp)
        close(losses, kl, 1e-4, case + " torchaudio vs NeMo kernel loss")
        close(grad, kg, 1e-5, case + " torchaudio vs NeMo kernel grad")
        if clamp <= 0:
            pl, pg = per_utt_grad(lambda x: rp.RNNTLossPytorch(blank=V1 - 1, reduction="none")(
                x, targets, ilt, tlt), logits)
            close(losses, pl, 1e-4, case + " torchaudio vs RNNTLossPytorch loss")
            close(grad, pg, 1e-5, case + " torchaudio vs RNNTLossPytorch grad")
    else:
        losses, grad = kernel_ref("rnnt", logits, targets, ilt, tlt, lam, clamp)
    emit(case, logits, targets, ilt, tlt, losses, grad, [0, lam, clamp, 0.0, 0])


def tdt_case(case, seed, B, T, U, V1, durations, il, tl, sigma, lam=0.0, clamp=-1.0):
    D = len(durations)
    logits, targets, ilt, tlt = make_inputs(seed, B, T, U, V1 + D, il, tl, V1 - 1)
    kl, kg = kernel_ref("tdt", logits, targets, ilt, tlt, lam, clamp, sigma, durations)
    if lam == 0.0 and clamp <= 0:
        cls = rp.TDTLossPytorch(blank=V1 - 1, durations=list(durations), reduction="none",
                                sigma=sigma)
        losses, grad = per_utt_grad(lambda x: cls(x, targets, ilt, tlt), logits)
        close(losses, kl, 1e-9, case + " TDTLossPytorch vs NeMo kernel loss")
        close(grad, kg, 1e-9, case + " TDTLossPytorch vs NeMo kernel grad")
    else:
        losses, grad = kl, kg
    emit(case, logits, targets, ilt, tlt, losses, grad, [1, lam, clamp, sigma, D] + list(durations))


def multiblank_case(case, seed, B, T, U, V, big, il, tl, sigma, lam=0.0, clamp=-1.0):
    C = V + len(big) + 1
    logits, targets, ilt, tlt = make_inputs(seed, B, T, U, C, il, tl, V)
    kl, kg = kernel_ref("multiblank", logits, targets, ilt, tlt, lam, clamp, sigma, big=big)
    if lam == 0.0 and clamp <= 0:
        cls = rp.MultiblankRNNTLossPytorch(blank=C - 1, big_blank_durations=list(big),
                                           reduction="none", sigma=sigma)
        losses, grad = per_utt_grad(lambda x: cls(x, targets, ilt, tlt), logits)
        close(losses, kl, 1e-9, case + " MultiblankRNNTLossPytorch vs NeMo kernel loss")
        close(grad, kg, 1e-9, case + " MultiblankRNNTLossPytorch vs NeMo kernel grad")
    else:
        losses, grad = kl, kg
    emit(case, logits, targets, ilt, tlt, losses, grad, [2, lam, clamp, sigma, len(big)] + list(big))


# rnnt: uneven lengths with an empty transcript; T = 1 with U > T; V + 1 = 21 (vector tails)
rnnt_case("rnnt_a", 1, 3, 5, 3, 6, [5, 3, 4], [3, 1, 0])
rnnt_case("rnnt_t1", 2, 2, 1, 2, 5, [1, 1], [2, 1])
rnnt_case("rnnt_b", 3, 4, 8, 5, 21, [8, 6, 3, 7], [5, 2, 4, 0])
rnnt_case("rnnt_clamp", 3, 4, 8, 5, 21, [8, 6, 3, 7], [5, 2, 4, 0], clamp=0.05)
rnnt_case("rnnt_fe", 1, 3, 5, 3, 6, [5, 3, 4], [3, 1, 0], lam=0.01)
rnnt_case("rnnt_fec", 3, 4, 8, 5, 21, [8, 6, 3, 7], [5, 2, 4, 0], lam=0.05, clamp=0.1)
# tdt: durations [0..3], U > T (b2), empty transcript; T = 1; wider vocabulary, a gap in durations
tdt_case("tdt_a", 4, 3, 6, 3, 6, [0, 1, 2, 3], [6, 4, 2], [3, 0, 3], 0.05)
tdt_case("tdt_t1", 5, 2, 1, 2, 5, [0, 1], [1, 1], [2, 0], 0.0)
tdt_case("tdt_b", 6, 2, 7, 4, 19, [0, 1, 2, 4], [7, 5], [4, 2], 0.02)
tdt_case("tdt_fec", 4, 3, 6, 3, 6, [0, 1, 2, 3], [6, 4, 2], [3, 0, 3], 0.05, lam=0.01, clamp=0.2)
# multiblank: big blanks [2, 4] before the blank; T = 1 (no big blank fits); three big blanks
multiblank_case("mb_a", 7, 3, 7, 3, 4, [2, 4], [7, 5, 3], [3, 2, 0], 0.05)
multiblank_case("mb_t1", 8, 2, 1, 2, 4, [2], [1, 1], [2, 1], 0.0)
multiblank_case("mb_b", 9, 2, 9, 4, 16, [2, 3, 5], [9, 6], [4, 3], 0.05)
multiblank_case("mb_fec", 7, 3, 7, 3, 4, [2, 4], [7, 5, 3], [3, 2, 0], 0.05, lam=0.02, clamp=0.3)
