#!/usr/bin/python3
"""Reference fixtures for the hybrid transducer + CTC loss
(tests/unit/test_hybrid_ref.c), from NeMo's own module code
(nemo/collections/asr/modules/rnnt.py RNNTDecoder / RNNTJoint,
modules/conv_asr.py ConvASRDecoder, losses/rnnt.py RNNTLoss with the
'pytorch' (RNNTLossPytorch) or 'tdt_pytorch' (TDTLossPytorch) loss and
NeMo's reductions, losses/ctc.py CTCLoss), imported through nemo_src.py, and
the combination of EncDecHybridRNNTCTCModel.training_step
(nemo/collections/asr/models/hybrid_rnnt_ctc_models.py):

    loss = (1 - ctc_loss_weight) * transducer_loss + ctc_loss_weight * ctc_loss

on a fixed random encoder output (B, T, D).

Writes tests/ref/hybrid/<case>/:
  w.<state_dict key>.npy   every head parameter under the model's names
                           (decoder.prediction.*, joint.*, ctc_decoder.decoder_layers.0.*)
  enc, targets, il, tl     encoder output (B, T, D), targets (B, U) int64, lengths
  loss, loss_rnnt, loss_ctc  the combined loss and its two parts
  grad.<key>, grad_enc     gradients of the combined loss
The C test builds the model from a config with the same sizes and keys
(listed with each case below).

Run with /usr/bin/python3 (Debian python3-torch); NeMo's source at NEMO_SRC."""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from nemo_src import nemo_import  # noqa: E402

OUT = os.path.join(HERE, "hybrid")
# TDTLossPytorch calls .cuda() on its alphas; keep them on the CPU (as gen_rnnt.py)
torch.Tensor.cuda = lambda self, *a, **k: self
rnnt = nemo_import("nemo.collections.asr.modules.rnnt")
conv_asr = nemo_import("nemo.collections.asr.modules.conv_asr")
rnnt_loss = nemo_import("nemo.collections.asr.losses.rnnt")
ctc_loss = nemo_import("nemo.collections.asr.losses.ctc")


def save(d, name, a):
    np.save(os.path.join(d, name + ".npy"), np.ascontiguousarray(a))


def make_case(name, seed, V, H, D, J, B, T, U, il, tl, weight, rnnt_red, ctc_red,
              durations=None, sigma=0.0):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(seed)
    dec = rnnt.RNNTDecoder(prednet={"pred_hidden": H, "pred_rnn_layers": 1, "dropout": 0.0},
                           vocab_size=V, blank_as_pad=True)
    n_extra = len(durations) if durations else 0
    joint = rnnt.RNNTJoint(jointnet={"encoder_hidden": D, "pred_hidden": H, "joint_hidden": J,
                                     "activation": "relu", "dropout": 0.0},
                           num_classes=V, num_extra_outputs=n_extra, log_softmax=False)
    ctc = conv_asr.ConvASRDecoder(feat_in=D, num_classes=V)
    g = torch.Generator().manual_seed(seed + 1)
    mods = [("decoder.", dec), ("joint.", joint), ("ctc_decoder.", ctc)]
    params = [(pre + k, p) for pre, m in mods for k, p in m.named_parameters()]
    with torch.no_grad():
        for _, p in params:
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        dec.prediction["embed"].weight[V].zero_()  # blank_as_pad: the padding row stays zero
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
    # training_step: decoder(targets) -> joint -> self.loss; ctc_decoder(encoded) -> self.ctc_loss
    dec_out, _, _ = dec(targets=targets, target_length=tl_t)  # (B, H, U+1)
    logits = joint.joint(enc_r, dec_out.transpose(1, 2))      # (B, T, U+1, V+1+n_extra)
    if durations:
        lfn = rnnt_loss.RNNTLoss(num_classes=V, reduction=rnnt_red, loss_name="tdt_pytorch",
                                 loss_kwargs={"durations": durations, "sigma": sigma})
    else:
        lfn = rnnt_loss.RNNTLoss(num_classes=V, reduction=rnnt_red, loss_name="pytorch")
    l_rnnt = lfn(log_probs=logits, targets=targets, input_lengths=il_t, target_lengths=tl_t)
    lp = ctc(encoder_output=enc_r.transpose(1, 2))            # (B, T, V+1)
    cfn = ctc_loss.CTCLoss(num_classes=V, zero_infinity=True, reduction=ctc_red)
    l_ctc = cfn(log_probs=lp, targets=targets, input_lengths=il_t, target_lengths=tl_t)
    loss = (1 - weight) * l_rnnt + weight * l_ctc
    loss.backward()
    save(d, "loss", np.array([loss.item()], dtype=np.float32))
    save(d, "loss_rnnt", np.array([l_rnnt.item()], dtype=np.float32))
    save(d, "loss_ctc", np.array([l_ctc.item()], dtype=np.float32))
    save(d, "grad_enc", enc_r.grad.numpy())
    for k, p in params:
        save(d, "grad." + k, p.grad.numpy())
    print(name, "loss", loss.item(), "rnnt", l_rnnt.item(), "ctc", l_ctc.item())


if __name__ == "__main__":
    # rnnt: loss.loss_name default, rnnt_reduction mean_batch, aux_ctc weight 0.3, ctc_reduction mean_batch
    make_case("rnnt", 11, V=5, H=6, D=8, J=7, B=2, T=6, U=3, il=[6, 4], tl=[3, 2], weight=0.3,
              rnnt_red="mean_batch", ctc_red="mean_batch")
    # tdt: durations [0, 1, 2, 3], sigma 0.05 (omega 0: TDTLossPytorch has none), rnnt_reduction
    # mean_volume, aux_ctc weight 0.5, ctc_reduction mean
    make_case("tdt", 12, V=5, H=6, D=8, J=7, B=2, T=6, U=3, il=[5, 6], tl=[3, 1], weight=0.5,
              rnnt_red="mean_volume", ctc_red="mean", durations=[0, 1, 2, 3], sigma=0.05)
