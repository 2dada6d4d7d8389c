#!/usr/bin/python3
"""Reference fixtures for Conformer-CTC and FastConformer-CTC.

NeMo itself is not installed here, so this script uses a re-implementation of
the exact modules of NeMo (bench/torch/nemo_modules.py: ConvSubsampling
striding/dw_striding, RelPositionalEncoding, RelPositionMultiHeadAttention with
rel_shift, ConformerLayer, ConformerConvolution, ConvASRDecoder; CTCLoss with
mean_batch here) following
nemo/collections/asr/modules/conformer_encoder.py,
nemo/collections/asr/parts/submodules/{subsampling,conformer_modules,multi_head_attention}.py,
nemo/collections/asr/modules/conv_asr.py and nemo/collections/asr/losses/ctc.py,
with NeMo's state_dict names). For each model it writes the weights, features,
lengths, targets, encoder output (B, T', d), log-probs, the CTC loss and every
parameter gradient (training mode, dropout 0, BatchNorm on batch statistics),
plus eval-mode log-probs using the (non-trivial) running statistics.

Run: /usr/bin/python3 tests/ref/gen_conformer.py
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "conformer")
# The modules themselves live with the benchmarks' PyTorch twin (with NeMo's
# dropouts, set to 0 here), so the fixtures and the benchmark share one copy.
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench", "torch"))
import nemo_modules as nm  # noqa: E402


class Model(nm.CTCModel):
    """The modules, without dropout, also returning the encoder output."""

    def __init__(self, vocab, **kw):
        super().__init__(vocab, dropout=0.0, dropout_pre_encoder=0.0, dropout_emb=0.0, **kw)

    def forward(self, feats, lengths):
        enc, enc_len = self.encoder(feats, lengths)
        logits = self.decoder.decoder_layers(enc.transpose(1, 2)).transpose(1, 2)
        return enc, enc_len, F.log_softmax(logits, dim=-1)


def save(d, name, a):
    np.save(os.path.join(d, name + ".npy"), np.ascontiguousarray(a))


def make(name, seed, vocab, lengths, T, target_lens, **kw):
    out = os.path.join(ROOT, name)
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(seed)
    model = Model(vocab, **kw)
    with torch.no_grad():  # non-trivial norms, biases and BatchNorm statistics
        for n, p in model.named_parameters():
            if "norm" in n or "pos_bias" in n:
                p.add_(0.1 * torch.randn_like(p))
        for n, b in model.named_buffers():
            if n.endswith("running_mean"):
                b.copy_(0.1 * torch.randn_like(b))
            elif n.endswith("running_var"):
                b.copy_(0.5 + torch.rand_like(b))
            elif n.endswith("num_batches_tracked"):
                b.fill_(7)
    sd = model.state_dict()
    for n, t in sd.items():
        save(out, "w." + n, t.numpy())
    B = len(lengths)
    feats = torch.randn(B, kw["feat_in"], T)
    lens = torch.tensor(lengths, dtype=torch.int64)
    for b in range(B):  # NeMo's preprocessor zeroes (pad_value) frames past the length
        feats[b, :, lengths[b]:] = 0.0
    targets = torch.randint(0, vocab, (B, max(target_lens)))
    tl = torch.tensor(target_lens, dtype=torch.int64)
    save(out, "feats", feats.numpy())
    save(out, "lengths", lens.numpy())
    save(out, "targets", targets.numpy())
    save(out, "target_lengths", tl.numpy())

    model.eval()
    with torch.no_grad():
        _, _, lp_eval = model(feats, lens)
    save(out, "log_probs_eval", lp_eval.numpy())

    model.train()
    enc, enc_len, lp = model(feats, lens)
    loss_each = F.ctc_loss(lp.transpose(0, 1), targets, enc_len.long(), tl, blank=vocab,
                           reduction="none", zero_infinity=True)
    loss = loss_each.sum() / B  # NeMo CTCLoss reduction mean_batch
    loss.backward()
    save(out, "encoded", enc.detach().numpy())
    save(out, "encoded_lengths", enc_len.long().numpy())
    save(out, "log_probs", lp.detach().numpy())
    save(out, "loss", np.array([loss.item()], dtype=np.float32))
    for n, p in model.named_parameters():
        save(out, "grad." + n, p.grad.numpy())
    for n, b in model.named_buffers():  # running stats after one training step
        if "running" in n:
            save(out, "after." + n, b.numpy())
    print(name, "loss", loss.item(), "enc", tuple(enc.shape))


def main():
    make("conformer_ctc", 1, vocab=28, lengths=[67, 50, 33], T=67, target_lens=[9, 6, 4],
         feat_in=40, n_layers=2, d=48, heads=4, k=7, subsampling="striding", factor=4,
         conv_channels=16)
    make("fastconformer_ctc", 2, vocab=40, lengths=[130, 97, 60], T=130, target_lens=[8, 5, 3],
         feat_in=40, n_layers=2, d=48, heads=4, k=9, subsampling="dw_striding", factor=8,
         conv_channels=16)


if __name__ == "__main__":
    main()
