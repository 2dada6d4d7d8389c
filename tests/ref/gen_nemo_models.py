#!/usr/bin/python3
"""NeMo .nemo archives for tests/unit/test_nemo_models.c.

Builds tiny Conformer-CTC and FastConformer-CTC models (char and BPE) with the
module re-implementations of gen_conformer.py (NeMo's state_dict names), gives
them non-trivial BatchNorm statistics, and packs each the way NeMo's
SaveRestoreConnector does: an uncompressed tar with arcname "./" holding
model_config.yaml (the model section with `target`), model_weights.ckpt
(torch.save of the state_dict, preprocessor buffers included) and, for BPE, a
SentencePiece model as "<uuid>_tokenizer.model" referenced as "nemo:...".
Also writes features and the eval-mode log-probs each model gives.

Run: /usr/bin/python3 tests/ref/gen_nemo_models.py   (needs Debian's spm_train)
"""
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import uuid

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gen_conformer import Model  # noqa: E402
from gen_features import mel_filterbank  # noqa: E402

OUT = os.path.join(HERE, "nemo_models")
LABELS = [" "] + [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["'"]


def yaml_list(xs):
    return "[" + ", ".join("'%s'" % x.replace("'", "''") for x in xs) + "]"


def config(kind, bpe, vocab_ref, d, layers, k, sub, factor, ch):
    lines = [
        "sample_rate: 16000",
        "target: nemo.collections.asr.models.%s" %
        ("ctc_bpe_models.EncDecCTCModelBPE" if bpe else "ctc_models.EncDecCTCModel"),
        "nemo_version: 1.23.0",
        "ctc_reduction: mean_batch",
    ]
    if not bpe:
        lines.append("labels: " + yaml_list(LABELS))
    else:
        lines += ["tokenizer:", "  dir: /nonexistent/tokenizer_spe_bpe_v32", "  type: bpe",
                  "  model_path: nemo:" + vocab_ref]
    lines += [
        "preprocessor:",
        "  _target_: nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
        "  sample_rate: 16000", "  normalize: per_feature", "  window_size: 0.025",
        "  window_stride: 0.01", "  window: hann", "  features: 40", "  n_fft: 512",
        "  log: true", "  frame_splicing: 1", "  dither: 1.0e-05", "  pad_to: 0", "  pad_value: 0.0",
        "spec_augment:",
        "  _target_: nemo.collections.asr.modules.SpectrogramAugmentation",
        "  freq_masks: 2", "  time_masks: 2", "  freq_width: 15", "  time_width: 0.05",
        "encoder:",
        "  _target_: nemo.collections.asr.modules.ConformerEncoder",
        "  feat_in: 40", "  feat_out: -1", "  n_layers: %d" % layers, "  d_model: %d" % d,
        "  subsampling: %s" % sub, "  subsampling_factor: %d" % factor,
        "  subsampling_conv_channels: %d" % ch, "  ff_expansion_factor: 4",
        "  self_attention_model: rel_pos", "  n_heads: 4", "  att_context_size: [-1, -1]",
        "  xscaling: true", "  untie_biases: true", "  pos_emb_max_len: 5000",
        "  conv_kernel_size: %d" % k, "  conv_norm_type: batch_norm", "  dropout: 0.1",
        "  dropout_pre_encoder: 0.1", "  dropout_emb: 0.0", "  dropout_att: 0.1",
        "decoder:",
        "  _target_: nemo.collections.asr.modules.ConvASRDecoder",
        "  feat_in: %d" % d,
        "  num_classes: -1",
        "  vocabulary: []" if bpe else "  vocabulary: " + yaml_list(LABELS),
        "optim:", "  name: adamw", "  lr: 0.001",
    ]
    return "\n".join(lines) + "\n"


def train_spm(tmp):
    text = os.path.join(tmp, "text.txt")
    with open(text, "w") as f:
        for i in range(400):
            f.write("one two three four five six seven eight nine zero oh yes no stop go %d\n" % i)
    prefix = os.path.join(tmp, "tokenizer")
    subprocess.run(["spm_train", "--input=" + text, "--model_prefix=" + prefix, "--vocab_size=32",
                    "--model_type=bpe", "--character_coverage=1.0", "--minloglevel=2"], check=True)
    return prefix + ".model"


def count_pieces(model_path):
    # vocab size = number of lines in the .vocab file spm_train wrote next to it
    with open(model_path[:-len(".model")] + ".vocab", encoding="utf-8") as f:
        return sum(1 for _ in f)


def add_bytes(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def make(name, seed, bpe, spm_model, d, layers, k, sub, factor, ch):
    torch.manual_seed(seed)
    vocab = count_pieces(spm_model) if bpe else len(LABELS)
    model = Model(vocab, feat_in=40, n_layers=layers, d=d, heads=4, k=k, subsampling=sub,
                  factor=factor, conv_channels=ch)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" in n or "pos_bias" in n:
                p.add_(0.1 * torch.randn_like(p))
        for n, b in model.named_buffers():
            if n.endswith("running_mean"):
                b.copy_(0.1 * torch.randn_like(b))
            elif n.endswith("running_var"):
                b.copy_(0.5 + torch.rand_like(b))
            elif n.endswith("num_batches_tracked"):
                b.fill_(123)
    sd = model.state_dict()
    # NeMo's state_dict starts with the preprocessor's two buffers.
    window = torch.hann_window(400, periodic=False)
    fb = torch.tensor(mel_filterbank(16000, 512, 40, 0.0, 8000.0, "slaney"), dtype=torch.float32).unsqueeze(0)
    full = {"preprocessor.featurizer.window": window, "preprocessor.featurizer.fb": fb}
    full.update(sd)
    art = uuid.uuid4().hex + "_tokenizer.model"
    cfg = config(name, bpe, art, d, layers, k, sub, factor, ch)
    weights = io.BytesIO()
    torch.save(full, weights)
    path = os.path.join(OUT, name + ".nemo")
    with tarfile.open(path, "w:") as tar:
        add_bytes(tar, "./model_config.yaml", cfg.encode())
        add_bytes(tar, "./model_weights.ckpt", weights.getvalue())
        if bpe:
            with open(spm_model, "rb") as f:
                add_bytes(tar, "./" + art, f.read())
    B, T = 2, 90 if factor == 4 else 130
    feats = torch.randn(B, 40, T)
    lens = torch.tensor([T, T - 23])
    feats[1, :, T - 23:] = 0
    model.eval()
    with torch.no_grad():
        _, _, lp = model(feats, lens)
    np.save(os.path.join(OUT, name + ".feats.npy"), feats.numpy())
    np.save(os.path.join(OUT, name + ".lengths.npy"), lens.numpy())
    np.save(os.path.join(OUT, name + ".log_probs.npy"), lp.numpy())
    print(name, "vocab", vocab, "tensors", len(full), "bytes", os.path.getsize(path))


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        spm = train_spm(tmp)
        make("conformer_ctc_char", 1, False, spm, 32, 2, 7, "striding", 4, 16)
        make("conformer_ctc_bpe", 2, True, spm, 32, 2, 7, "striding", 4, 16)
        make("fastconformer_ctc_char", 3, False, spm, 32, 2, 9, "dw_striding", 8, 16)
        make("fastconformer_ctc_bpe", 4, True, spm, 32, 2, 9, "dw_striding", 8, 16)


if __name__ == "__main__":
    main()
