#!/usr/bin/python3
"""Reference fixtures for transducer beam search (tests/unit/test_rnnt_beam.c),
from NeMo's own code imported through nemo_src.py: RNNTDecoder / RNNTJoint
(nemo/collections/asr/modules/rnnt.py), BeamRNNTInfer
(nemo/collections/asr/parts/submodules/rnnt_beam_decoding.py, search_type
'default', and its greedy_search at beam_size 1) and BeamTDTInfer
(tdt_beam_decoding.py, search_type 'default').

The weights are random (N(0, wscale^2)) so that beams leave greedy's path; the
script asserts that at least one utterance's best beam differs from greedy.

Writes tests/ref/rnnt_beam/<case>/:
  w.<state_dict key>.npy   every parameter under the model's names
  enc, il                  encoder output (B, T, D_enc), lengths (B)
  meta                     [V, H, L, D_enc, joint_hidden, activation(0 relu), n_durations, durations...]
  <run>.cfg                [beam_size, score_norm, return_best_hypothesis]
  <run>.count              (B) hypotheses per utterance
  <run>.lens               (N) tokens per hypothesis (N = sum of counts, utterance by utterance, best first)
  <run>.tokens/.frames     (N, maxlen) int64, padded with -1 (no leading blank; NeMo's timestamp)
  <run>.scores             (N) float32 Hypothesis.score

The tqdm progress bar of __call__ is the only piece replaced (tqdm is not
installed): by a context manager over the batch indices.

Run with /usr/bin/python3 (Debian python3-torch); NeMo's source via NEMO_SRC."""
import contextlib
import os
import shutil
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from nemo_src import nemo_import  # noqa: E402

OUT = os.path.join(HERE, "rnnt_beam")
rnnt = nemo_import("nemo.collections.asr.modules.rnnt")
beam_mod = nemo_import("nemo.collections.asr.parts.submodules.rnnt_beam_decoding")
tdt_mod = nemo_import("nemo.collections.asr.parts.submodules.tdt_beam_decoding")
greedy_mod = nemo_import("nemo.collections.asr.parts.submodules.rnnt_greedy_decoding")
for mod in (beam_mod, tdt_mod):
    mod.tqdm = lambda it, **kw: contextlib.nullcontext(it)


def save(d, name, a):
    np.save(os.path.join(d, name + ".npy"), np.ascontiguousarray(a))


def run(d, tag, inf, enc, il, cfg):
    hyps = inf(encoder_output=enc.transpose(1, 2), encoded_lengths=il)[0]
    count, rows = [], []
    for h in hyps:
        lst = h.n_best_hypotheses if hasattr(h, "n_best_hypotheses") else [h]
        count.append(len(lst))
        for x in lst:
            ys = [int(y) for y in x.y_sequence]
            ts = [int(t) for t in x.timestamp]
            # pack_hypotheses leaves the leading blank in y_sequence (RNNTDecoding drops blanks later)
            ys = [y for y in ys if y != inf.blank]
            assert len(ys) == len(ts), (ys, ts)
            rows.append((ys, ts, float(x.score)))
    n = max(1, max(len(r[0]) for r in rows))
    toks = np.full((len(rows), n), -1, dtype=np.int64)
    frames = np.full((len(rows), n), -1, dtype=np.int64)
    for i, (ys, ts, _) in enumerate(rows):
        toks[i, : len(ys)] = ys
        frames[i, : len(ts)] = ts
    save(d, tag + ".cfg", np.array(cfg, dtype=np.int64))
    save(d, tag + ".count", np.array(count, dtype=np.int64))
    save(d, tag + ".lens", np.array([len(r[0]) for r in rows], dtype=np.int64))
    save(d, tag + ".tokens", toks)
    save(d, tag + ".frames", frames)
    save(d, tag + ".scores", np.array([r[2] for r in rows], dtype=np.float32))
    best, k = [], 0
    for c in count:
        best.append(rows[k][0])
        k += c
    print(" ", tag, "counts", count, "best", best)
    return best


def make_case(name, seed, V, H, L, D, J, B, T, il, runs, durations=None, wscale=0.5, blank_bias=0.0):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    torch.manual_seed(seed)
    dec = rnnt.RNNTDecoder(prednet={"pred_hidden": H, "pred_rnn_layers": L, "dropout": 0.0},
                           vocab_size=V, blank_as_pad=True)
    n_extra = len(durations) if durations else 0
    joint = rnnt.RNNTJoint(jointnet={"encoder_hidden": D, "pred_hidden": H, "joint_hidden": J,
                                     "activation": "relu", "dropout": 0.0},
                           num_classes=V, num_extra_outputs=n_extra, log_softmax=None)
    dec.eval()
    joint.eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for _, p in list(dec.named_parameters()) + list(joint.named_parameters()):
            p.copy_(torch.randn(p.shape, generator=g) * wscale)
        dec.prediction["embed"].weight[V].zero_()
        joint.joint_net[-1].bias[V] += blank_bias
    for k, p in [("decoder." + k, p) for k, p in dec.named_parameters()] + \
                [("joint." + k, p) for k, p in joint.named_parameters()]:
        save(d, "w." + k, p.detach().numpy().astype(np.float32))
    enc = torch.randn(B, T, D, generator=g)
    il_t = torch.tensor(il, dtype=torch.int64)
    save(d, "enc", enc.numpy())
    save(d, "il", il_t.numpy())
    save(d, "meta", np.array([V, H, L, D, J, 0, n_extra] + list(durations or []), dtype=np.int64))
    print(name)
    if durations:
        gr = greedy_mod.GreedyTDTInfer(dec, joint, blank_index=V, durations=durations, max_symbols_per_step=10)
    else:
        gr = greedy_mod.GreedyRNNTInfer(dec, joint, blank_index=V, max_symbols_per_step=10)
    greedy = [[int(y) for y in h.y_sequence] for h in gr(encoder_output=enc.transpose(1, 2),
                                                          encoded_lengths=il_t)[0]]
    print("  greedy", greedy)
    differs = False
    for tag, beam, norm, best_only in runs:
        if durations:
            inf = tdt_mod.BeamTDTInfer(dec, joint, durations=durations, beam_size=beam, search_type="default",
                                       score_norm=bool(norm), return_best_hypothesis=bool(best_only))
        else:
            inf = beam_mod.BeamRNNTInfer(dec, joint, beam_size=beam, search_type="default",
                                         score_norm=bool(norm), return_best_hypothesis=bool(best_only))
        best = run(d, tag, inf, enc, il_t, [beam, norm, best_only])
        differs |= beam > 1 and best != greedy
    assert differs, name + ": the beams never leave greedy's path; change the weights"


RUNS = [("b4_norm_nbest", 4, 1, 0), ("b4_norm_best", 4, 1, 1), ("b3_raw_nbest", 3, 0, 0),
        ("b1_best", 1, 1, 1)]
make_case("rnnt", 51, V=6, H=8, L=2, D=6, J=8, B=3, T=10, il=[10, 7, 0], runs=RUNS, wscale=0.45,
          blank_bias=1.0)
make_case("tdt", 60, V=5, H=8, L=1, D=6, J=8, B=3, T=12, il=[12, 9, 4], runs=RUNS,
          durations=[0, 1, 2, 3], wscale=0.6, blank_bias=1.0)
