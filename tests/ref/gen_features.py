#!/usr/bin/python3
"""Reference log-mel features for tests/unit/test_features_ref.c.

Re-implements NeMo's FilterbankFeatures.forward
(nemo/collections/asr/parts/preprocessing/features.py) with torch.stft and a
numpy port of librosa.filters.mel(htk=False) (librosa is not installed here),
and writes small .npy fixtures into tests/ref/features/:

  audio16.npy (3, 12000) f32, len16.npy (3,) i64    16 kHz batch
  audio22.npy (3, 11025) f32, len22.npy (3,) i64    22.05 kHz batch (TTS)
  <name>_feats.npy (B, F, T'), <name>_lens.npy (B,) for each line of configs.txt
  <name>_fb.npy, <name>_window.npy                 buffers for a few configs
  configs.txt: "<name> <batch> <train_seed|-> key=value ..." (parsed by the C test)

The fixtures are NeMo's algorithm evaluated in float64 (torch.stft on doubles,
window and filterbank as the float32 buffers NeMo holds), i.e. the exact
result that any float32 implementation approximates. NeMo itself runs in
float32: its output differs from this by float32 FFT rounding, which this
script prints per config ("torch fp32 vs exact"). Dither noise is drawn as
float32 torch.randn_like (what NeMo draws) and then added in float64.

Signals: a -20 dBFS chirp, white noise and espeak-ng speech (a harmonic
synthesis when espeak-ng/sox are missing), each over a -40 dBFS noise floor
shaped by the inverse of the 0.97 pre-emphasis, so that after pre-emphasis
every mel band holds energy within ~60 dB of the frame's peak. In bands much
further below the peak, float32 FFT rounding alone moves log-mel values by
1e-3 (torch's as much as ours), which would blur a 1e-4 check.

Run: /usr/bin/python3 tests/ref/gen_features.py
"""
import math
import os
import subprocess
import tempfile
import wave

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "features")

# name, batch, train seed (None = eval), config overrides (NeMo keys)
CONFIGS = [
    ("asr80", "16", None, dict(window_size=0.025, features=80, n_fft=512, pad_to=0)),
    ("mel64_pad16", "16", None, dict()),
    ("allfeat", "16", None, dict(window_size=0.025, features=80, normalize="all_features", pad_to=0)),
    ("na", "16", None, dict(window_size=0.025, features=80, normalize="NA", pad_to=16, pad_value=-5.0)),
    ("exactpad", "16", None, dict(window_size=0.025, features=80, exact_pad=True, pad_to=0)),
    ("splice3", "16", None, dict(window_size=0.025, features=40, frame_splicing=3, pad_to=8)),
    ("hamming400", "16", None, dict(window_size=0.025, window="hamming", n_fft=400, features=64,
                                    mel_norm=None, lowfreq=100, highfreq=7000, pad_to=0)),
    ("blackman", "16", None, dict(window="blackman", features=64, log_zero_guard_value="eps",
                                  log_zero_guard_type="clamp", pad_to=0)),
    ("bartlett", "16", None, dict(window="bartlett", features=64, preemph=0.0, pad_to=0, mag_power=1.5)),
    ("ones", "16", None, dict(window="ones", features=64, normalize=None, log=False, pad_to=0)),
    ("dither", "16", 1234, dict(window_size=0.025, features=80, dither=0.01, pad_to=0)),
    ("tts", "22", None, dict(sample_rate=22050, window_size=None, window_stride=None, n_window_size=1024,
                             n_window_stride=256, n_fft=1024, features=80, lowfreq=0, highfreq=8000,
                             mag_power=1.0, normalize=None, preemph=None, dither=0.0,
                             log_zero_guard_type="clamp", log_zero_guard_value=1e-5, pad_to=1)),
    ("hifigan", "22", None, dict(sample_rate=22050, window_size=None, window_stride=None, n_window_size=1024,
                                 n_window_stride=256, n_fft=1024, features=80, highfreq=8000, mag_power=1.0,
                                 normalize=None, preemph=None, dither=0.0, log_zero_guard_type="clamp",
                                 log_zero_guard_value=1e-5, exact_pad=True, pad_value=-11.52, pad_to=0)),
]
BUFFERS = ["asr80", "hamming400"]

DEFAULTS = dict(sample_rate=16000, window_size=0.02, window_stride=0.01, n_window_size=None,
                n_window_stride=None, window="hann", normalize="per_feature", n_fft=None, preemph=0.97,
                features=64, lowfreq=0, highfreq=None, log=True, log_zero_guard_type="add",
                log_zero_guard_value=2 ** -24, dither=1e-5, pad_to=16, frame_splicing=1, exact_pad=False,
                pad_value=0.0, mag_power=2.0, mel_norm="slaney")


# ---- librosa.filters.mel (htk=False), ported --------------------------------------------------
def hz_to_mel(f):
    f = np.asanyarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    if f.ndim:
        log_t = f >= min_log_hz
        mels[log_t] = min_log_mel + np.log(f[log_t] / min_log_hz) / logstep
    elif f >= min_log_hz:
        mels = min_log_mel + np.log(f / min_log_hz) / logstep
    return mels


def mel_to_hz(m):
    m = np.asanyarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * m
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    log_t = m >= min_log_mel
    freqs[log_t] = min_log_hz * np.exp(logstep * (m[log_t] - min_log_mel))
    return freqs


def mel_filterbank(sr, n_fft, n_mels, fmin, fmax, norm):
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=np.float32)
    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    if norm == "slaney":
        enorm = 2.0 / (mel_f[2: n_mels + 2] - mel_f[:n_mels])
        weights *= enorm[:, np.newaxis]
    return weights


# ---- FilterbankFeatures.forward ------------------------------------------------------------
def resolve(over):
    c = dict(DEFAULTS)
    c.update(over)
    sr = c["sample_rate"]
    win = int(c["window_size"] * sr) if c["window_size"] else c["n_window_size"]
    hop = int(c["window_stride"] * sr) if c["window_stride"] else c["n_window_stride"]
    n_fft = c["n_fft"] or 2 ** math.ceil(math.log2(win))
    highfreq = c["highfreq"] or sr / 2
    windows = {"hann": torch.hann_window, "hamming": torch.hamming_window, "blackman": torch.blackman_window,
               "bartlett": torch.bartlett_window}
    window = windows[c["window"]](win, periodic=False, dtype=torch.float32) if c["window"] in windows \
        else torch.ones(win, dtype=torch.float32)
    fb = torch.tensor(mel_filterbank(sr, n_fft, c["features"], c["lowfreq"], highfreq, c["mel_norm"]),
                      dtype=torch.float32).unsqueeze(0)
    return c, win, hop, n_fft, window, fb


def guard_value(c):
    v = c["log_zero_guard_value"]
    if v == "tiny":
        return torch.finfo(torch.float32).tiny
    if v == "eps":
        return torch.finfo(torch.float32).eps
    return float(np.float32(v))  # NeMo adds the Python float to a float32 tensor


def normalize_batch(x, seq_len, normalize_type):
    if normalize_type == "per_feature":
        batch_size, max_time = x.shape[0], x.shape[2]
        time_steps = torch.arange(max_time).unsqueeze(0).expand(batch_size, max_time)
        valid_mask = time_steps < seq_len.unsqueeze(1)
        x_mean_numerator = torch.where(valid_mask.unsqueeze(1), x, 0.0).sum(axis=2)
        x_mean_denominator = valid_mask.sum(axis=1)
        x_mean = x_mean_numerator / x_mean_denominator.unsqueeze(1)
        x_std = torch.sqrt(torch.sum(torch.where(valid_mask.unsqueeze(1), x - x_mean.unsqueeze(2), 0.0) ** 2, axis=2)
                           / (x_mean_denominator.unsqueeze(1) - 1.0))
        x_std = x_std.masked_fill(x_std.isnan(), 0.0)
        x_std += float(np.float32(1e-5))
        return (x - x_mean.unsqueeze(2)) / x_std.unsqueeze(2)
    if normalize_type == "all_features":
        x_mean = torch.zeros(seq_len.shape, dtype=x.dtype)
        x_std = torch.zeros(seq_len.shape, dtype=x.dtype)
        for i in range(x.shape[0]):
            x_mean[i] = x[i, :, : seq_len[i].item()].mean()
            x_std[i] = x[i, :, : seq_len[i].item()].std()
        x_std += float(np.float32(1e-5))
        return (x - x_mean.view(-1, 1, 1)) / x_std.view(-1, 1, 1)
    return x


def featurize(x, seq_len_time, over, train_seed):
    c, win, hop, n_fft, window, fb = resolve(over)
    exact = c["exact_pad"]
    stft_pad = (n_fft - hop) // 2 if exact else None
    pad_amount = stft_pad * 2 if stft_pad is not None else n_fft // 2 * 2
    seq_len_unfixed = torch.floor_divide(seq_len_time + pad_amount - n_fft, hop).to(torch.long)
    seq_len = torch.where(seq_len_time == 0, torch.zeros_like(seq_len_unfixed), seq_len_unfixed)
    if stft_pad is not None:
        x = torch.nn.functional.pad(x.unsqueeze(1), (stft_pad, stft_pad), "constant").squeeze(1)
    if train_seed is not None and c["dither"] > 0:
        torch.manual_seed(train_seed)
        x = x + float(np.float32(c["dither"])) * torch.randn(x.shape, dtype=torch.float32).to(x.dtype)
    if c["preemph"] is not None:
        timemask = torch.arange(x.shape[1]).unsqueeze(0) < seq_len_time.unsqueeze(1)
        a = float(np.float32(c["preemph"]))  # a Python float times a float32 tensor is float32 math
        x = torch.cat((x[:, 0].unsqueeze(1), x[:, 1:] - a * x[:, :-1]), dim=1)
        x = x.masked_fill(~timemask, 0.0)
    x = torch.stft(x, n_fft=n_fft, hop_length=hop, win_length=win, center=not exact, window=window.to(x.dtype),
                   return_complex=True, pad_mode="constant")
    x = torch.view_as_real(x)
    x = torch.sqrt(x.pow(2).sum(-1))
    if c["mag_power"] != 1.0:
        x = x.pow(c["mag_power"])
    x = torch.matmul(fb.to(x.dtype), x)
    if c["log"]:
        g = guard_value(c)
        if c["log_zero_guard_type"] == "add":
            x = torch.log(x + g)
        else:
            x = torch.log(torch.clamp(x, min=g))
    if c["frame_splicing"] > 1:
        seq = [x]
        for n in range(1, c["frame_splicing"]):
            seq.append(torch.cat([x[:, :, :n], x[:, :, n:]], dim=2))
        x = torch.cat(seq, dim=1)
    if c["normalize"]:
        x = normalize_batch(x, seq_len, c["normalize"])
    max_len = x.size(-1)
    mask = torch.arange(max_len).repeat(x.size(0), 1) >= seq_len.unsqueeze(1)
    x = x.masked_fill(mask.unsqueeze(1), c["pad_value"])
    pad_to = c["pad_to"]
    if pad_to > 0:
        pad_amt = x.size(-1) % pad_to
        if pad_amt != 0:
            x = torch.nn.functional.pad(x, (0, pad_to - pad_amt), value=c["pad_value"])
    return x, seq_len, window, fb


# ---- signals ---------------------------------------------------------------------------------
def speech(sr, n, rng):
    """espeak-ng speech resampled by sox to sr; a harmonic synthesis if the tools are missing."""
    try:
        with tempfile.TemporaryDirectory() as d:
            raw, res = os.path.join(d, "a.wav"), os.path.join(d, "b.wav")
            subprocess.run(["espeak-ng", "-w", raw, "open the door and bring me seven apples"], check=True,
                           capture_output=True)
            subprocess.run(["sox", "-R", raw, "-D", "-r", str(sr), res], check=True, capture_output=True)
            with wave.open(res) as w:
                y = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
        y = y[int(0.15 * sr):]  # skip the leading silence
    except (OSError, subprocess.CalledProcessError):
        t = np.arange(n) / sr
        f0 = 120 + 30 * np.sin(2 * np.pi * 3 * t)
        ph = 2 * np.pi * np.cumsum(f0) / sr
        y = sum(np.sin(k * ph) / k for k in range(1, 30)) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)) * 0.1
    y = np.pad(y, (0, max(0, n - len(y))))[:n]
    return y.astype(np.float32)


def noise_floor(n, sigma, rng):
    """White noise through 1 / (1 - 0.97 z^-1): white again after pre-emphasis."""
    w = sigma * rng.standard_normal(n)
    y = np.empty(n)
    acc = 0.0
    for i in range(n):
        acc = w[i] + 0.97 * acc
        y[i] = acc
    return y


def batch(sr, n, lengths, rng):
    t = np.arange(n) / sr
    f0, f1 = 100.0, 0.45 * sr
    chirp = 0.1 * np.sin(2 * np.pi * (f0 * t + (f1 - f0) / (2 * t[-1]) * t ** 2))
    noise = 0.1 * rng.standard_normal(n)
    sigs = [chirp, noise, speech(sr, n, rng)]
    x = np.zeros((3, n), dtype=np.float32)
    for i, (s, L) in enumerate(zip(sigs, lengths)):
        s = s + noise_floor(n, 1e-2, rng)
        x[i, :L] = s[:L]
    return x, np.array(lengths, dtype=np.int64)


def cfg_text(over):
    out = []
    for k, v in over.items():
        if v is None:
            v = "null"
        elif isinstance(v, bool):
            v = "true" if v else "false"
        out.append(f"{k}={v}")
    return " ".join(out)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240611)
    audio = {"16": batch(16000, 12000, [12000, 9345, 5000], rng),
             "22": batch(22050, 11025, [11025, 8000, 6001], rng)}
    for key, (x, lens) in audio.items():
        np.save(os.path.join(OUT, f"audio{key}.npy"), x)
        np.save(os.path.join(OUT, f"len{key}.npy"), lens)
    lines = []
    for name, key, seed, over in CONFIGS:
        x, lens = audio[key]
        feats, flens, window, fb = featurize(torch.from_numpy(x).double(), torch.from_numpy(lens), over, seed)
        f32 = featurize(torch.from_numpy(x), torch.from_numpy(lens), over, seed)[0]
        np.save(os.path.join(OUT, f"{name}_feats.npy"), feats.numpy().astype(np.float32))
        np.save(os.path.join(OUT, f"{name}_lens.npy"), flens.numpy().astype(np.int64))
        if name in BUFFERS:
            np.save(os.path.join(OUT, f"{name}_window.npy"), window.numpy().astype(np.float32))
            np.save(os.path.join(OUT, f"{name}_fb.npy"), fb.numpy().astype(np.float32))
        lines.append(f"{name} {key} {seed if seed is not None else '-'} {cfg_text(over)}")
        dev = (f32.double() - feats).abs().max().item()
        print(f"{name:12s} {tuple(feats.shape)} lens {flens.tolist()} torch fp32 vs exact: max |diff| {dev:.3g}")
    with open(os.path.join(OUT, "configs.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
