#!/usr/bin/python3
"""Reference waveform perturbations for tests/unit/test_augment_wave.c, from
NeMo's OWN perturb.py (nemo/collections/asr/parts/preprocessing/perturb.py,
imported from the source checkout through nemo_src; NEMO_SRC=<checkout>).

TimeStretchPerturbation runs NeMo's perturb() and NeMo's
numba_utils.phase_vocoder (nemo/collections/asr/parts/utils/numba_utils.py,
plain Python here: the numba stand-in's jit returns the function); the two
calls it makes into librosa, which is not installed, are given a numpy port
of librosa >= 0.10's stft (hann, center=True, pad_mode="constant") and istft
(overlap-add divided by the window's sum of squares, length=): the only
code here that is not NeMo's.

The random draws are fixed by the configs themselves: ShiftPerturbation with
min_shift_ms == max_shift_ms (random.uniform(a, a) == a), ImpulsePerturbation
with a one-entry RIR manifest (random.sample of one). NeMo's classes then run
unchanged: ShiftPerturbation.perturb and ImpulsePerturbation.perturb (which
reads the RIR with AudioSegment.from_file through the real soundfile and
convolves with the real scipy.signal.fftconvolve).

Writes into tests/ref/augment_wave/:
  x.npy (4000,) f32 the input (0.25 s at 16 kHz),
  rir.wav (16 kHz, float) and rir_manifest.json (NeMo manifest, relative path),
  rir8k.wav (the same RIR at 8 kHz, for the resampling test),
  <case>.npy NeMo's output (shift, impulse, time stretch up and down),
  g711_nemo.npy: NeMo's TranscodePerturbation g711 (the sox binary),
  g711_mulaw.npy: x as 8 kHz audio through audioop's G.711 mu-law, cases.txt "<case> <kind> key=value ...".

Run: NEMO_SRC=/path/to/NeMo /usr/bin/python3 tests/ref/gen_augment_wave.py
"""
import json
import os
import sys
import types

import numpy as np
import soundfile as sf

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "augment_wave")
sys.path.insert(0, HERE)
from nemo_src import nemo_import  # noqa: E402

SR = 16000


def signal():
    rng = np.random.default_rng(17)
    t = np.arange(4000) / SR
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1900 * t) + 0.05 * rng.standard_normal(4000)
    x *= np.hanning(4000) ** 0.25
    return x.astype(np.float32)


def rir(sr, n):
    # A simulated room impulse response: a 2.5 ms direct-path delay, then an exponentially decaying tail.
    rng = np.random.default_rng(5)
    h = np.zeros(n)
    d = int(0.0025 * sr)
    h[d] = 0.9
    tail = rng.standard_normal(n - d - 1) * np.exp(-np.arange(n - d - 1) / (0.015 * sr)) * 0.3
    h[d + 1:] = tail
    return h.astype(np.float32)


def _hann(n):
    # scipy.signal.get_window("hann", n, fftbins=True): periodic
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)


def librosa_stft(y, n_fft, hop_length):
    win = _hann(n_fft)
    yp = np.pad(y, n_fft // 2, mode="constant")
    nt = 1 + (len(yp) - n_fft) // hop_length
    frames = np.stack([yp[t * hop_length:t * hop_length + n_fft] for t in range(nt)], axis=1)
    return np.fft.rfft(win[:, None] * frames, axis=0).astype(np.complex64)


def librosa_istft(D, dtype, hop_length, length):
    n_fft = 2 * (D.shape[0] - 1)
    win = _hann(n_fft)
    nf = min(D.shape[1], int(np.ceil((length + 2 * (n_fft // 2)) / hop_length)))
    full = np.zeros(n_fft + hop_length * (nf - 1), dtype=dtype)
    wss = np.zeros_like(full)
    for t in range(nf):
        full[t * hop_length:t * hop_length + n_fft] += (win * np.fft.irfft(D[:, t], n=n_fft)).astype(dtype)
        wss[t * hop_length:t * hop_length + n_fft] += (win ** 2).astype(dtype)
    y = np.zeros(length, dtype=dtype)
    w = np.zeros(length, dtype=dtype)
    m = min(length, len(full) - n_fft // 2)
    y[:m] = full[n_fft // 2:n_fft // 2 + m]
    w[:m] = wss[n_fft // 2:n_fft // 2 + m]
    nz = w > np.finfo(dtype).tiny
    y[nz] /= w[nz]
    return y


def soxr_resample(y, orig_sr, target_sr, **_):
    """librosa.resample(res_type="soxr_hq", fix=True): libsoxr's one-shot HQ, length ceil(n * ratio)."""
    import ctypes
    import math

    class Q(ctypes.Structure):
        _fields_ = [("precision", ctypes.c_double), ("phase_response", ctypes.c_double),
                    ("passband_end", ctypes.c_double), ("stopband_begin", ctypes.c_double),
                    ("e", ctypes.c_void_p), ("flags", ctypes.c_ulong)]

    class IO(ctypes.Structure):
        _fields_ = [("itype", ctypes.c_int), ("otype", ctypes.c_int), ("scale", ctypes.c_double),
                    ("e", ctypes.c_void_p), ("flags", ctypes.c_ulong)]

    class RT(ctypes.Structure):
        _fields_ = [("log2_min_dft_size", ctypes.c_uint), ("log2_large_dft_size", ctypes.c_uint),
                    ("coef_size_kbytes", ctypes.c_uint), ("num_threads", ctypes.c_uint),
                    ("e", ctypes.c_void_p), ("flags", ctypes.c_ulong)]

    lib = ctypes.CDLL("libsoxr.so.0")
    lib.soxr_quality_spec.restype, lib.soxr_quality_spec.argtypes = Q, [ctypes.c_ulong, ctypes.c_ulong]
    lib.soxr_io_spec.restype, lib.soxr_io_spec.argtypes = IO, [ctypes.c_int, ctypes.c_int]
    lib.soxr_runtime_spec.restype, lib.soxr_runtime_spec.argtypes = RT, [ctypes.c_uint]
    lib.soxr_oneshot.restype = ctypes.c_char_p
    y = np.ascontiguousarray(y, dtype=np.float32)
    m = int(math.ceil(len(y) * target_sr / orig_sr))
    out = np.zeros(m, dtype=np.float32)
    io, q, rt = lib.soxr_io_spec(0, 0), lib.soxr_quality_spec(4, 0), lib.soxr_runtime_spec(1)  # FLOAT32_I, HQ
    done = ctypes.c_size_t(0)
    err = lib.soxr_oneshot(ctypes.c_double(orig_sr), ctypes.c_double(target_sr), ctypes.c_uint(1),
                           y.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(len(y)), None,
                           out.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(m), ctypes.byref(done),
                           ctypes.byref(io), ctypes.byref(q), ctypes.byref(rt))
    assert err is None, err
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    perturb = nemo_import("nemo.collections.asr.parts.preprocessing.perturb")
    segment = nemo_import("nemo.collections.asr.parts.preprocessing.segment")
    assert perturb.HAVE_NUMBA  # NeMo's numba phase vocoder path, run as Python
    sys.modules["librosa"].core = types.SimpleNamespace(stft=librosa_stft, istft=librosa_istft)
    x = signal()
    np.save(os.path.join(OUT, "x.npy"), x)
    h = rir(SR, 1600)
    sf.write(os.path.join(OUT, "rir.wav"), h, SR, subtype="FLOAT")
    sf.write(os.path.join(OUT, "rir8k.wav"), rir(8000, 800), 8000, subtype="FLOAT")
    man = os.path.join(OUT, "rir_manifest.json")
    with open(man, "w") as f:
        f.write(json.dumps({"audio_filepath": "rir.wav", "duration": 0.1, "text": ""}) + "\n")
    cases = [
        ("shift_pos", "shift", dict(min_shift_ms=12.5, max_shift_ms=12.5)),
        ("shift_neg", "shift", dict(min_shift_ms=-7.3, max_shift_ms=-7.3)),
        ("impulse_plain", "impulse", dict(normalize_impulse=False, shift_impulse=False)),
        ("impulse_norm_shift", "impulse", dict(normalize_impulse=True, shift_impulse=True)),
        ("stretch_fast", "time_stretch", dict(min_speed_rate=1.15, max_speed_rate=1.15, num_rates=1, n_fft=512)),
        ("stretch_slow", "time_stretch", dict(min_speed_rate=0.85, max_speed_rate=0.85, num_rates=1, n_fft=256)),
    ]
    lines = []
    for name, kind, kw in cases:
        seg = segment.AudioSegment(x.copy(), SR)
        if kind == "shift":
            p = perturb.ShiftPerturbation(**kw)
        elif kind == "time_stretch":
            p = perturb.TimeStretchPerturbation(**kw)
        else:
            # NeMo's manifest loader resolves the relative path against the manifest's folder
            p = perturb.ImpulsePerturbation(manifest_path=man, **kw)
        p.perturb(seg)
        y = np.asarray(seg._samples, dtype=np.float32)
        np.save(os.path.join(OUT, name + ".npy"), y)
        lines.append(f"{name} {kind} " + " ".join(f"{k}={str(v).lower()}" for k, v in kw.items()))
        print(name, y.shape, float(np.abs(y[: len(x)] - x[: len(y)]).max()))
    # TranscodePerturbation(codecs=["g711"]): NeMo's own perturb(), which runs the sox binary
    # (`-r 8000 -e a-law ... lowpass 3400 highpass 300`) and reads the result back at 16 kHz
    # through AudioSegment (librosa.resample: given libsoxr HQ through ctypes, as librosa's
    # default soxr_hq). sox dithers, so two runs differ (by ~49 dB SNR): a tolerance test.
    sys.modules["librosa"].core = types.SimpleNamespace(stft=librosa_stft, istft=librosa_istft,
                                                        resample=soxr_resample)
    seg = segment.AudioSegment(x.copy(), SR)
    perturb.TranscodePerturbation(codecs=["g711"]).perturb(seg)
    np.save(os.path.join(OUT, "g711_nemo.npy"), np.asarray(seg._samples, dtype=np.float32))
    # G.711 mu-law (nemoc's `mulaw`, no filters): Python's audioop, an implementation independent
    # of libsndfile, on x taken as 8 kHz audio (no resampling). The one libsndfile-specific step
    # is how float becomes the codec's 14-bit linear input: rounded, x * 32767 / 4.
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
    pcm = np.clip(np.rint(x.astype(np.float64) * 0x7FFF / 4) * 4, -32768, 32767).astype("<i2").tobytes()
    yu = np.frombuffer(audioop.ulaw2lin(audioop.lin2ulaw(pcm, 2), 2), dtype="<i2").astype(np.float32)
    np.save(os.path.join(OUT, "g711_mulaw.npy"), (yu / np.float32(0x8000)).astype(np.float32))
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
