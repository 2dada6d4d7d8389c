#!/usr/bin/python3
"""A NeMo hybrid TDT-CTC .nemo for tests/unit/test_hybrid_nemo.c, made by
NeMo's OWN modules (through nemo_src.py): AudioToMelSpectrogramPreprocessor,
ConformerEncoder (FastConformer: dw_striding 8x), RNNTDecoder, RNNTJoint
(TDT durations [0, 1, 2, 3]) and ConvASRDecoder as ctc_decoder, packed as
NeMo's SaveRestoreConnector packs EncDecHybridRNNTCTCModel (target, labels,
model.joint / decoding / loss / aux_ctc keys of
fastconformer_hybrid_tdt_ctc_bpe.yaml, char labels), with random weights.

From the four WAVs of tests/ref/nemo_parity/audio as one zero-padded batch
(eval mode) it writes tests/ref/hybrid_nemo/:
  model.nemo
  feats (B, F, T), feat_lengths (B)       NeMo's preprocessor output
  encoded (B, T', d), encoded_lengths (B)  ConformerEncoder
  ctc_log_probs (B, T', V+1)               ctc_decoder (ConvASRDecoder)
  tdt_tokens (B, N) (-1 padded), tdt_lens  GreedyTDTInfer (NeMo's greedy TDT
                                           decoding, max_symbols 10) of `encoded`
Run: /usr/bin/python3 tests/ref/gen_hybrid_nemo.py (NEMO_SRC or .nemo_src)."""
import io
import os
import sys
import tarfile

import numpy as np
import soundfile
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from nemo_src import nemo_import, nemo_modules  # noqa: E402

OUT = os.path.join(HERE, "hybrid_nemo")
AUDIO = os.path.join(HERE, "nemo_parity", "audio")
LABELS = [" "] + [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["'"]
DURATIONS = [0, 1, 2, 3]
PRE = dict(sample_rate=16000, normalize="per_feature", window_size=0.025, window_stride=0.01, window="hann",
           features=24, n_fft=512, log=True, frame_splicing=1, dither=1.0e-05, pad_to=16, pad_value=0.0)
ENC = dict(feat_out=-1, n_layers=1, d_model=16, subsampling="dw_striding", subsampling_factor=8,
           subsampling_conv_channels=8, causal_downsampling=False, ff_expansion_factor=2,
           self_attention_model="rel_pos", n_heads=2, att_context_size=[-1, -1], xscaling=True, untie_biases=True,
           pos_emb_max_len=5000, conv_kernel_size=9, conv_norm_type="batch_norm", dropout=0.1,
           dropout_pre_encoder=0.1, dropout_emb=0.0, dropout_att=0.1)
H = 16
J = 16


def yaml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return "'%s'" % v.replace("'", "''")
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(yaml_value(x) for x in v) + "]"
    return repr(v)


def model_config():
    d = ENC["d_model"]
    lines = ["sample_rate: 16000",
             "target: nemo.collections.asr.models.hybrid_rnnt_ctc_models.EncDecHybridRNNTCTCModel",
             "nemo_version: 2.5.0", "compute_eval_loss: false", "rnnt_reduction: mean_batch",
             "labels: " + yaml_value(LABELS),
             "preprocessor:", "  _target_: nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor"]
    lines += ["  %s: %s" % (k, yaml_value(v)) for k, v in PRE.items()]
    lines += ["encoder:", "  _target_: nemo.collections.asr.modules.ConformerEncoder",
              "  feat_in: %d" % PRE["features"]]
    lines += ["  %s: %s" % (k, yaml_value(v)) for k, v in ENC.items()]
    lines += ["decoder:", "  _target_: nemo.collections.asr.modules.RNNTDecoder", "  normalization_mode: null",
              "  random_state_sampling: false", "  blank_as_pad: true", "  vocab_size: %d" % len(LABELS),
              "  prednet: {pred_hidden: %d, pred_rnn_layers: 1, t_max: null, dropout: 0.2}" % H,
              "joint:", "  _target_: nemo.collections.asr.modules.RNNTJoint", "  log_softmax: null",
              "  preserve_memory: false", "  fuse_loss_wer: false", "  fused_batch_size: 4",
              "  num_classes: %d" % len(LABELS), "  vocabulary: " + yaml_value(LABELS),
              "  num_extra_outputs: %d" % len(DURATIONS),
              "  jointnet: {encoder_hidden: %d, pred_hidden: %d, joint_hidden: %d, activation: relu, dropout: 0.2}"
              % (d, H, J),
              "decoding:", "  strategy: greedy_batch", "  model_type: tdt", "  durations: " + yaml_value(DURATIONS),
              "  greedy: {max_symbols: 10}",
              "aux_ctc:", "  ctc_loss_weight: 0.3", "  use_cer: false", "  ctc_reduction: mean_batch",
              "  decoder:", "    _target_: nemo.collections.asr.modules.ConvASRDecoder", "    feat_in: %d" % d,
              "    num_classes: %d" % len(LABELS), "    vocabulary: " + yaml_value(LABELS),
              "  decoding: {strategy: greedy}",
              "interctc: {loss_weights: [], apply_at_layers: []}",
              "loss:", "  loss_name: tdt",
              "  tdt_kwargs: {fastemit_lambda: 0.0, clamp: -1.0, durations: %s, sigma: 0.02, omega: 0.1}"
              % yaml_value(DURATIONS),
              "optim: {name: adamw, lr: 0.001}"]
    return "\n".join(lines) + "\n"


def add_bytes(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def save(name, t):
    np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(t.numpy()))


def main():
    os.makedirs(OUT, exist_ok=True)
    rnnt = nemo_import("nemo.collections.asr.modules.rnnt")
    greedy = nemo_import("nemo.collections.asr.parts.submodules.rnnt_greedy_decoding")
    Pre, Enc, Dec = nemo_modules()
    torch.manual_seed(5)
    V = len(LABELS)
    pre = Pre(**PRE)
    enc = Enc(feat_in=PRE["features"], use_pytorch_sdpa=False, **ENC)
    dec = rnnt.RNNTDecoder(prednet={"pred_hidden": H, "pred_rnn_layers": 1, "dropout": 0.2}, vocab_size=V,
                           blank_as_pad=True)
    joint = rnnt.RNNTJoint(jointnet={"encoder_hidden": ENC["d_model"], "pred_hidden": H, "joint_hidden": J,
                                     "activation": "relu", "dropout": 0.2},
                           num_classes=V, num_extra_outputs=len(DURATIONS))
    ctc = Dec(feat_in=ENC["d_model"], num_classes=V, vocabulary=LABELS)
    g = torch.Generator().manual_seed(6)
    with torch.no_grad():  # non-trivial norms and BatchNorm statistics; heads that emit tokens
        for n, p in enc.named_parameters():
            if "norm" in n or "pos_bias" in n:
                p.add_(0.1 * torch.randn_like(p))
        for n, b in enc.named_buffers():
            if n.endswith("running_mean"):
                b.copy_(0.1 * torch.randn_like(b))
            elif n.endswith("running_var"):
                b.copy_(0.5 + torch.rand_like(b))
            elif n.endswith("num_batches_tracked"):
                b.fill_(123)
        for m in (dec, joint, ctc):
            for _, p in m.named_parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        # all weights of the encoder's last feed-forward module: frames that differ more
        for n, p in enc.named_parameters():
            if "feed_forward2" in n and n.endswith("weight"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        dec.prediction["embed"].weight[V].zero_()
    mods = (("preprocessor", pre), ("encoder", enc), ("decoder", dec), ("joint", joint), ("ctc_decoder", ctc))
    for _, m in mods:
        m.eval()
    sd = {}
    for prefix, m in mods:
        for k, v in m.state_dict().items():
            sd[prefix + "." + k] = v
    weights = io.BytesIO()
    torch.save(sd, weights)
    with tarfile.open(os.path.join(OUT, "model.nemo"), "w:") as tar:
        add_bytes(tar, "./model_config.yaml", model_config().encode())
        add_bytes(tar, "./model_weights.ckpt", weights.getvalue())

    sigs = []
    for i in range(4):
        x, sr = soundfile.read(os.path.join(AUDIO, "utt%d.wav" % i), dtype="int16")
        sigs.append(torch.tensor(x.astype(np.float32) / 32768.0))
    B, T = len(sigs), max(len(s) for s in sigs)
    x = torch.zeros(B, T)
    for b, s in enumerate(sigs):
        x[b, :len(s)] = s
    lens = torch.tensor([len(s) for s in sigs], dtype=torch.int64)
    with torch.no_grad():
        f, fl = pre(input_signal=x, length=lens)
        e, el = enc(audio_signal=f, length=fl)
        lp = ctc(encoder_output=e)
        print("encoded: std over frames %.3f, over channels %.3f" % (e[0, :, :el[0]].std(-1).mean().item(),
                                                                   e[0, :, :el[0]].std(0).mean().item()))
        inf = greedy.GreedyTDTInfer(dec, joint, blank_index=V, durations=DURATIONS, max_symbols_per_step=10)
        hyps = inf(encoder_output=e, encoded_lengths=el)[0]
    n = max(1, max(len(h.y_sequence) for h in hyps))
    toks = np.full((B, n), -1, dtype=np.int64)
    tl = np.zeros(B, dtype=np.int64)
    for b, h in enumerate(hyps):
        ys = [int(y) for y in h.y_sequence]
        toks[b, :len(ys)] = ys
        tl[b] = len(ys)
        print("utt%d: T'=%d, TDT greedy %r, CTC greedy argmax %r" % (
            b, int(el[b]), "".join(LABELS[y] for y in ys),
            "".join(LABELS[k] for k in lp[b, :el[b]].argmax(-1).tolist() if k < V)))
    save("feats", f)
    save("feat_lengths", fl.to(torch.int64))
    save("encoded", e.transpose(1, 2).contiguous())
    save("encoded_lengths", el.to(torch.int64))
    save("ctc_log_probs", lp)
    np.save(os.path.join(OUT, "tdt_tokens.npy"), toks)
    np.save(os.path.join(OUT, "tdt_lens.npy"), tl)
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(OUT, "bytes", total)


if __name__ == "__main__":
    main()
