#!/usr/bin/python3
"""Reference fixtures for RNNTDecoder / RNNTJoint and greedy transducer
decoding (tests/unit/test_rnnt_modules.c), from NeMo's own module code:
nemo/collections/asr/modules/rnnt.py (RNNTDecoder, RNNTJoint) and
nemo/collections/asr/parts/submodules/rnnt_greedy_decoding.py
(GreedyRNNTInfer, GreedyTDTInfer, GreedyMultiblankRNNTInfer), imported
through nemo_src.py.

Writes tests/ref/rnnt_modules/<case>/:
  w.<state_dict key>.npy      every parameter, under the model's names
                              (decoder.prediction..., joint.enc/pred/joint_net...)
  enc, targets, il, tl        encoder output (B, T, D_enc), targets (B, U) int64, lengths
  dec_out                     RNNTDecoder.predict(targets, add_sos=True): (B, U+1, H)
  logits                      RNNTJoint.joint(enc, dec_out) without log_softmax (B, T, U+1, C)
  loss, grad.<key>, grad_enc  (rnnt cases) torchaudio rnnt_loss (blank = V, sum) and its
                              gradient w.r.t. every parameter and the encoder output
  greedy_tokens/_frames/_lens greedy decoding of `enc` (NeMo's GreedyRNNTInfer,
  greedy_scores                GreedyTDTInfer or GreedyMultiblankRNNTInfer), tokens
                              padded with -1
  meta                        [V, H, L, D_enc, joint_hidden, activation(0 relu,1 tanh,
                              2 sigmoid), max_symbols, n_extra, durations...]: the TDT
                              durations, or for multiblank_* cases the big-blank
                              durations (joint output V tokens, the big blanks, the blank)

Run with /usr/bin/python3 (Debian python3-torch, python3-torchaudio); NeMo's
source at .nemo_src (see nemo_src.py)."""
import os
import sys

import numpy as np
import torch
import torchaudio.functional as taF

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from nemo_src import nemo_import  # noqa: E402

OUT = os.path.join(HERE, "rnnt_modules")
rnnt = nemo_import("nemo.collections.asr.modules.rnnt")
greedy = nemo_import("nemo.collections.asr.parts.submodules.rnnt_greedy_decoding")
ACTS = ["relu", "tanh", "sigmoid"]


def save(d, name, a):
    np.save(os.path.join(d, name + ".npy"), np.ascontiguousarray(a))


def make_case(name, seed, V, H, L, D, J, act, B, T, U, il, tl, max_symbols, durations=None,
              wscale=0.6, blank_bias=0.0, big_blanks=None, big_bias=0.0):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(seed)
    dec = rnnt.RNNTDecoder(prednet={"pred_hidden": H, "pred_rnn_layers": L, "dropout": 0.0},
                           vocab_size=V, blank_as_pad=True)
    n_extra = len(durations) if durations else len(big_blanks) if big_blanks else 0
    joint = rnnt.RNNTJoint(jointnet={"encoder_hidden": D, "pred_hidden": H, "joint_hidden": J,
                                     "activation": act, "dropout": 0.0},
                           num_classes=V, num_extra_outputs=n_extra, log_softmax=False)
    dec.eval()
    joint.eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for k, p in list(dec.named_parameters()) + list(joint.named_parameters()):
            p.copy_(torch.randn(p.shape, generator=g) * wscale)
        dec.prediction["embed"].weight[V].zero_()  # blank_as_pad: the padding row stays zero
        if big_blanks:  # tokens, big blanks and blanks in greedy decoding
            joint.joint_net[-1].bias[V: V + n_extra] += big_bias
            joint.joint_net[-1].bias[V + n_extra] += blank_bias
        else:
            joint.joint_net[-1].bias[V] += blank_bias  # a mix of blanks and tokens in greedy decoding
    params = [("decoder." + k, p) for k, p in dec.named_parameters()] + \
             [("joint." + k, p) for k, p in joint.named_parameters()]
    for k, p in params:
        save(d, "w." + k, p.detach().numpy().astype(np.float32))
    enc = torch.randn(B, T, D, generator=g)
    targets = torch.zeros(B, U, dtype=torch.int64)
    for b in range(B):
        targets[b, : tl[b]] = torch.randint(0, V, (tl[b],), generator=g)
    il_t = torch.tensor(il, dtype=torch.int64)
    tl_t = torch.tensor(tl, dtype=torch.int64)
    save(d, "enc", enc.numpy())
    save(d, "targets", targets.numpy())
    save(d, "il", il_t.numpy())
    save(d, "tl", tl_t.numpy())

    enc_r = enc.clone().requires_grad_(True)
    dec_out, _ = dec.predict(targets, state=None, add_sos=True)  # (B, U+1, H)
    # the training forward (B, H, U+1) is the same values transposed
    fwd, _, _ = dec(targets=targets, target_length=tl_t)
    assert torch.equal(fwd.transpose(1, 2), dec_out)
    logits = joint.joint(enc_r, dec_out)  # (B, T, U+1, C), no log_softmax
    save(d, "dec_out", dec_out.detach().numpy())
    save(d, "logits", logits.detach().numpy())
    if not durations and not big_blanks:
        loss = taF.rnnt_loss(logits, targets.int(), il_t.int(), tl_t.int(), blank=V,
                             reduction="sum", clamp=-1)
        loss.backward()
        save(d, "loss", np.array([loss.item()], dtype=np.float32))
        save(d, "grad_enc", enc_r.grad.numpy())
        for k, p in params:
            save(d, "grad." + k, p.grad.numpy())

    if big_blanks:
        inf = greedy.GreedyMultiblankRNNTInfer(dec, joint, blank_index=V + n_extra,
                                               big_blank_durations=big_blanks,
                                               max_symbols_per_step=max_symbols,
                                               preserve_alignments=True)
    elif durations:
        inf = greedy.GreedyTDTInfer(dec, joint, blank_index=V, durations=durations,
                                    max_symbols_per_step=max_symbols)
    else:
        inf = greedy.GreedyRNNTInfer(dec, joint, blank_index=V, max_symbols_per_step=max_symbols)
    hyps = inf(encoder_output=enc.transpose(1, 2), encoded_lengths=il_t)[0]
    n = max(1, max(len(h.y_sequence) for h in hyps))
    toks = np.full((B, n), -1, dtype=np.int64)
    frames = np.full((B, n), -1, dtype=np.int64)
    lens = np.zeros(B, dtype=np.int64)
    scores = np.zeros(B, dtype=np.float32)
    for b, h in enumerate(hyps):
        ys = [int(y) for y in h.y_sequence]
        ts = [int(t) for t in h.timestamp]
        toks[b, : len(ys)] = ys
        frames[b, : len(ts)] = ts
        lens[b] = len(ys)
        scores[b] = float(h.score)
    save(d, "greedy_tokens", toks)
    save(d, "greedy_frames", frames)
    save(d, "greedy_lens", lens)
    save(d, "greedy_scores", scores)
    meta = [V, H, L, D, J, ACTS.index(act), max_symbols if max_symbols else 0, n_extra] + \
        list(durations or big_blanks or [])
    save(d, "meta", np.array(meta, dtype=np.int64))
    print(name, "lens", lens.tolist(), "tokens", [toks[b, : lens[b]].tolist() for b in range(B)])
    if big_blanks:  # the kinds of the steps taken: tokens, big blanks, blanks
        ks = [int(k) for h in hyps for frame in h.alignments for _, k in frame]
        print("  steps: %d tokens, %d big blanks, %d blanks" % (
            sum(k < V for k in ks), sum(V <= k < V + n_extra for k in ks), sum(k == V + n_extra for k in ks)))


make_case("rnnt_relu", 10, V=5, H=8, L=2, D=6, J=7, act="relu", B=3, T=9, U=4, il=[9, 6, 7],
          tl=[4, 2, 0], max_symbols=3, blank_bias=2.5)
make_case("rnnt_tanh", 20, V=7, H=6, L=1, D=5, J=9, act="tanh", B=2, T=11, U=3, il=[11, 8],
          tl=[3, 3], max_symbols=2, blank_bias=2.0)
make_case("rnnt_sigmoid", 30, V=4, H=5, L=3, D=4, J=6, act="sigmoid", B=2, T=6, U=2, il=[6, 3],
          tl=[1, 2], max_symbols=5, blank_bias=2.5)
make_case("tdt", 40, V=6, H=8, L=1, D=6, J=8, act="relu", B=3, T=14, U=3, il=[14, 10, 5],
          tl=[3, 1, 2], max_symbols=3, durations=[0, 1, 2, 3, 4], blank_bias=1.0)
make_case("multiblank_relu", 50, V=6, H=8, L=1, D=6, J=8, act="relu", B=3, T=24, U=3,
          il=[24, 17, 9], tl=[3, 1, 2], max_symbols=3, big_blanks=[2, 4, 8], blank_bias=1.6,
          big_bias=0.0, wscale=0.4)
make_case("multiblank_nolimit", 60, V=5, H=6, L=2, D=5, J=7, act="tanh", B=2, T=20, U=2,
          il=[20, 13], tl=[2, 2], max_symbols=None, big_blanks=[2, 3], blank_bias=0.4,
          big_bias=0.4, wscale=0.4)
