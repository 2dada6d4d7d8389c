#!/usr/bin/python3
"""NeMo parity fixtures for tests/unit/test_nemo_parity.c, made by NeMo's OWN code.

Unlike gen_conformer.py (a PyTorch re-implementation), this runs NeMo's
AudioToMelSpectrogramPreprocessor, ConformerEncoder and ConvASRDecoder from a
NeMo source checkout (see nemo_src.py for how they import under Debian's
torch 1.13), so the fixtures cannot share a misreading of NeMo with nemoc.

Audio: a few short utterances synthesized with espeak-ng, resampled to
16 kHz and cut to sample counts that are multiples neither of the hop (160)
nor of hop x subsampling factor (640, 1280), written as 16-bit WAV (the
committed WAVs are the ground truth; espeak-ng versions may differ).

For each model (NeMo config keys; small widths, 2 layers, random weights with
non-trivial norms, attention biases and BatchNorm statistics) it writes
<model>/model.nemo (model_config.yaml + model_weights.ckpt as NeMo's
SaveRestoreConnector packs them) and, from the eval-mode forward on the WAV
samples (int16 / 32768), at batch size 1 for each utterance (prefix b1_<i>.)
and as one zero-padded batch of all of them (prefix batch.):
  feats (B, F, T), feat_lengths (B), encoded (B, T', d), encoded_lengths (B),
  log_probs (B, T', V+1), greedy (B, T') argmax ids (-1 past the length).
Only the batch's features are saved (NeMo's features are padding-invariant).

Run: /usr/bin/python3 tests/ref/gen_nemo_parity.py [--full OUTDIR | --from-nemo MODEL.nemo OUTDIR]
  --full writes one full-width model (conformer_ctc_char.yaml's encoder at
  2 layers) to OUTDIR for local investigation; it is too big to commit.
  --from-nemo runs NeMo's modules with the config and weights of a .nemo
  (e.g. one nemoc wrote) into OUTDIR. Check either with
  build/tests/test_nemo_parity OUTDIR (NC_SOURCE_DIR set to the repository).
Needs: NeMo source in .nemo_src (or NEMO_SRC), espeak-ng, python3-torch,
python3-scipy, python3-soundfile, python3-omegaconf, python3-packaging, python3-wrapt.
"""
import io
import os
import subprocess
import sys
import tarfile
import tempfile

import numpy as np
import soundfile
import torch
from scipy.signal import resample_poly

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "nemo_parity")
sys.path.insert(0, HERE)
from nemo_src import nemo_modules  # noqa: E402

LABELS = [" "] + [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["'"]
# (text, samples): residues mod 160 / 640 / 1280 all differ and none is 0.
UTTS = [
    ("one two three", 17_461),
    ("stop the train", 20_853),
    ("go left now", 14_339),
    ("yes no maybe", 23_707),
]

PRE = dict(sample_rate=16000, normalize="per_feature", window_size=0.025, window_stride=0.01, window="hann",
           features=40, n_fft=512, log=True, frame_splicing=1, dither=1.0e-05, pad_to=0, pad_value=0.0)

ENC_COMMON = dict(feat_out=-1, causal_downsampling=False, ff_expansion_factor=2, self_attention_model="rel_pos",
                  att_context_size=[-1, -1], xscaling=True, untie_biases=True, pos_emb_max_len=5000,
                  conv_norm_type="batch_norm", dropout=0.1, dropout_pre_encoder=0.1, dropout_emb=0.0,
                  dropout_att=0.1)

MODELS = {
    # Conformer-CTC: striding 4x (conformer_ctc_char.yaml's options, small widths)
    "conformer": (dict(PRE), dict(ENC_COMMON, n_layers=2, d_model=32, subsampling="striding", subsampling_factor=4,
                                  subsampling_conv_channels=-1, n_heads=4, conv_kernel_size=31)),
    # FastConformer-CTC: dw_striding 8x, preprocessor pad_to 16 (NeMo's default)
    "fastconformer": (dict(PRE, pad_to=16), dict(ENC_COMMON, n_layers=2, d_model=32, subsampling="dw_striding",
                                                  subsampling_factor=8, subsampling_conv_channels=16, n_heads=4,
                                                  conv_kernel_size=9)),
}
FULL = (dict(PRE, features=80), dict(ENC_COMMON, n_layers=2, d_model=256, subsampling="striding",
                                       subsampling_factor=4, subsampling_conv_channels=-1, n_heads=8,
                                       conv_kernel_size=31, ff_expansion_factor=4))


def synth(text, n, path):
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "a.wav")
        subprocess.run(["espeak-ng", "-s", "160", "-w", raw, text], check=True)
        x, sr = soundfile.read(raw, dtype="float64")
    assert sr == 22050, sr
    x = resample_poly(x, 320, 441)  # 22050 -> 16000
    x = np.pad(x, (800, max(0, n - 800 - len(x))))[:n]  # 50 ms lead-in, then cut to n samples
    x = np.round(np.clip(x * 0.8, -1, 1) * 32767).astype(np.int16)
    soundfile.write(path, x, 16000, subtype="PCM_16")


def load_audio():
    adir = os.path.join(OUT, "audio")
    os.makedirs(adir, exist_ok=True)
    sig = []
    for i, (text, n) in enumerate(UTTS):
        p = os.path.join(adir, "utt%d.wav" % i)
        if not os.path.exists(p):
            synth(text, n, p)
        x, sr = soundfile.read(p, dtype="int16")
        assert sr == 16000 and len(x) == n, (p, sr, len(x))
        sig.append(torch.tensor(x.astype(np.float32) / 32768.0))
    return sig


def yaml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return "'%s'" % v.replace("'", "''")
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(yaml_value(x) for x in v) + "]"
    return repr(v)


def model_config(pre, enc):
    lines = ["sample_rate: 16000", "target: nemo.collections.asr.models.ctc_models.EncDecCTCModel",
             "nemo_version: 2.5.0", "ctc_reduction: mean_batch", "labels: " + yaml_value(LABELS),
             "preprocessor:", "  _target_: nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor"]
    lines += ["  %s: %s" % (k, yaml_value(v)) for k, v in pre.items()]
    lines += ["encoder:", "  _target_: nemo.collections.asr.modules.ConformerEncoder",
              "  feat_in: %d" % pre["features"]]
    lines += ["  %s: %s" % (k, yaml_value(v)) for k, v in enc.items()]
    lines += ["decoder:", "  _target_: nemo.collections.asr.modules.ConvASRDecoder",
              "  feat_in: %d" % enc["d_model"], "  num_classes: -1", "  vocabulary: " + yaml_value(LABELS),
              "optim:", "  name: adamw", "  lr: 0.001"]
    return "\n".join(lines) + "\n"


def add_bytes(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def build(seed, pre_cfg, enc_cfg):
    Pre, Enc, Dec = nemo_modules()
    torch.manual_seed(seed)
    pre = Pre(**pre_cfg)
    enc = Enc(feat_in=pre_cfg["features"], use_pytorch_sdpa=False, **enc_cfg)
    dec = Dec(feat_in=enc_cfg["d_model"], num_classes=len(LABELS), vocabulary=LABELS)
    with torch.no_grad():  # non-trivial norms, attention biases and BatchNorm statistics
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
    for m in (pre, enc, dec):
        m.eval()
    return pre, enc, dec


def state_dict(pre, enc, dec):
    sd = {}
    for prefix, m in (("preprocessor", pre), ("encoder", enc), ("decoder", dec)):
        for k, v in m.state_dict().items():
            sd[prefix + "." + k] = v
    return sd


def run(pre, enc, dec, sigs):
    B, T = len(sigs), max(len(s) for s in sigs)
    x = torch.zeros(B, T)
    for b, s in enumerate(sigs):
        x[b, :len(s)] = s
    lens = torch.tensor([len(s) for s in sigs], dtype=torch.int64)
    with torch.no_grad():
        f, fl = pre(input_signal=x, length=lens)
        e, el = enc(audio_signal=f, length=fl)
        lp = dec(encoder_output=e)
    e = e.transpose(1, 2).contiguous()  # (B, d, T') -> (B, T', d)
    greedy = lp.argmax(-1)
    for b in range(B):
        greedy[b, el[b]:] = -1
    return dict(feats=f, feat_lengths=fl.to(torch.int64), encoded=e, encoded_lengths=el.to(torch.int64),
                log_probs=lp, greedy=greedy.to(torch.int64))


def save(d, name, t):
    np.save(os.path.join(d, name + ".npy"), np.ascontiguousarray(t.numpy()))


def make(out, seed, pre_cfg, enc_cfg, sigs):
    os.makedirs(out, exist_ok=True)
    pre, enc, dec = build(seed, pre_cfg, enc_cfg)
    weights = io.BytesIO()
    torch.save(state_dict(pre, enc, dec), weights)
    with tarfile.open(os.path.join(out, "model.nemo"), "w:") as tar:
        add_bytes(tar, "./model_config.yaml", model_config(pre_cfg, enc_cfg).encode())
        add_bytes(tar, "./model_weights.ckpt", weights.getvalue())
    write_outputs(out, pre, enc, dec, sigs)


def write_outputs(out, pre, enc, dec, sigs):
    r = run(pre, enc, dec, sigs)
    for k, v in r.items():
        save(out, "batch." + k, v)
    for i, s in enumerate(sigs):
        r1 = run(pre, enc, dec, [s])
        for k, v in r1.items():
            if k != "feats":
                save(out, "b1_%d.%s" % (i, k), v)
        # sanity: NeMo's own batch/solo agreement on valid frames
        L = int(r1["encoded_lengths"][0])
        gap = (r["encoded"][i, :L] - r1["encoded"][0, :L]).abs().max().item()
        print("%s utt%d: T'=%d, NeMo batch vs alone max |diff| %.2e" % (os.path.basename(out), i, L, gap))
    total = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    print(out, "bytes", total)


def from_nemo(path, out, sigs):
    """Fixtures for a .nemo that nemoc (or anyone) wrote: NeMo's modules built
    from its model_config.yaml, its weights loaded strictly."""
    import yaml
    with tarfile.open(path) as tar:
        names = {os.path.basename(n): n for n in tar.getnames()}
        cfg = yaml.safe_load(tar.extractfile(names["model_config.yaml"]).read())
        sd = torch.load(io.BytesIO(tar.extractfile(names["model_weights.ckpt"]).read()), map_location="cpu")
    drop = {"_target_"}
    pre_cfg = {k: v for k, v in cfg["preprocessor"].items() if k not in drop}
    enc_cfg = {k: v for k, v in cfg["encoder"].items() if k not in drop | {"feat_in"}}
    pre, enc, dec = build(0, pre_cfg, enc_cfg)
    for prefix, m in (("preprocessor", pre), ("encoder", enc), ("decoder", dec)):
        sub = {k[len(prefix) + 1:]: v for k, v in sd.items() if k.startswith(prefix + ".")}
        m.load_state_dict(sub, strict=True)
    os.makedirs(out, exist_ok=True)
    with open(path, "rb") as f, open(os.path.join(out, "model.nemo"), "wb") as g:
        g.write(f.read())
    write_outputs(out, pre, enc, dec, sigs)


def main():
    sigs = load_audio()
    if len(sys.argv) == 3 and sys.argv[1] == "--full":
        make(sys.argv[2], 7, FULL[0], FULL[1], sigs)
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--from-nemo":
        from_nemo(sys.argv[2], sys.argv[3], sigs)
        return
    for seed, (name, (pre_cfg, enc_cfg)) in enumerate(MODELS.items()):
        make(os.path.join(OUT, name), seed + 1, pre_cfg, enc_cfg, sigs)


if __name__ == "__main__":
    main()
