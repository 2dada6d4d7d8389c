#!/usr/bin/python3
"""NeMo-written transducer .nemo files and NeMo's own greedy transcripts, for
tests/unit/test_nemo_rnnt.c and tests/e2e/asr_nemo_rnnt.sh.

Two tiny models are built entirely from NeMo's OWN module code (a NeMo source
checkout, imported through nemo_src.py): AudioToMelSpectrogramPreprocessor,
ConformerEncoder, RNNTDecoder, RNNTJoint.
  rnnt_char  EncDecRNNTModel, char labels, FastConformer (dw_striding 8x,
             pad_to 16: about one frame per character, so frames emit several
             symbols), RNN-T loss (torchaudio's rnnt_loss, blank = V, as
             NeMo's warprnnt loss);
  tdt_bpe    EncDecRNNTBPEModel, SentencePiece BPE (Debian's spm_train, as
             gen_nemo_models.py, identity normalisation to keep the artifact
             small), Conformer (striding 4x: more frames than tokens, so
             durations above 1 are taken), loss_name tdt with durations
             [0, 1, 2, 3, 4] and NeMo's TDTLossPytorch recursion
             (nemo/collections/asr/losses/rnnt_pytorch.py; see tdt_loss_fast).
Each is trained in torch for a few hundred Adam steps on a handful of
espeak-ng utterances (16 kHz mono 16-bit WAVs under nemo_rnnt/audio, the
committed WAVs being the ground truth) so that greedy decoding emits real
text, not blanks. Then, in eval mode (dither off, as NeMo's featurizer in
eval), NeMo's greedy decoders run on each WAV alone and on all WAVs as one
zero-padded batch:
  GreedyRNNTInfer / GreedyTDTInfer             (strategy "greedy")
  GreedyBatchedRNNTInfer / GreedyBatchedTDTInfer (strategy "greedy_batch",
                                               label-looping, CPU, no CUDA graphs)
with the joint's log_softmax=None, as NeMo's configs (log-softmax on CPU).
Token ids become text as NeMo's decoding does: char labels joined
(RNNTDecoding.decode_tokens_to_str), or SentencePiece pieces joined with
U+2581 read as a space and the leading space dropped (what
SentencePieceTokenizer.ids_to_text / sentencepiece's DecodeIds give for
plain pieces, <unk> read as " \u2047 "; the Python sentencepiece module is
not installed here).

Writes tests/ref/nemo_rnnt/:
  <model>.nemo    model_config.yaml (NeMo's keys, `target`), model_weights.ckpt
                  (torch.save of the state_dict), tokenizer artifact for BPE,
                  packed as NeMo's SaveRestoreConnector does (gen_nemo_models.py)
  audio/utt<i>.wav
  expected.json   {"models": [{"name", "nemo", "blank", "durations",
                   "utts": [{"audio", "truth", "text", "tokens", "frames",
                             "enc_len", "enc_sum", "enc_abs_sum", "enc_first",
                             "batch": {"text", "tokens", "frames"},
                             "batched": {"text", "tokens", "frames"}}]}]}
                  text/tokens/frames: the non-batched decoder on the utterance
                  alone; batch: the same decoder on the padded batch;
                  batched: the batched (label-looping) decoder on the batch.
                  enc_*: encoder output (T', d) of the utterance alone.
  <model>.manifest.json  the WAVs with NeMo's greedy text as "text" (for
                  `nemoc asr eval`, which must then report WER 0).

Run: NEMO_SRC=/path/to/nemo /usr/bin/python3 tests/ref/gen_nemo_rnnt.py [MODEL...]
Needs espeak-ng, spm_train/spm_encode, python3-torch, python3-torchaudio and
what gen_nemo_parity.py needs.
"""
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import uuid

import numpy as np
import soundfile
import torch
import torchaudio.functional as taF

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "nemo_rnnt")
sys.path.insert(0, HERE)
from nemo_src import nemo_import, nemo_modules  # noqa: E402
from gen_nemo_parity import synth, yaml_value, add_bytes  # noqa: E402

LABELS = [" "] + [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["'"]
# (text, samples): sample counts that are multiples of neither 160, 640 nor 1280
UTTS = [
    ("open the door", 19_317),
    ("turn it off", 17_029),
    ("seven red cars", 21_891),
    ("go home", 14_573),
]
DURATIONS = [0, 1, 2, 3, 4]

PRE = dict(sample_rate=16000, normalize="per_feature", window_size=0.025, window_stride=0.01, window="hann",
           features=40, n_fft=512, log=True, frame_splicing=1, dither=1.0e-05, pad_to=0, pad_value=0.0)
ENC_COMMON = dict(feat_out=-1, causal_downsampling=False, ff_expansion_factor=2, self_attention_model="rel_pos",
                  att_context_size=[-1, -1], xscaling=True, untie_biases=True, pos_emb_max_len=5000,
                  conv_norm_type="batch_norm", dropout=0.1, dropout_pre_encoder=0.1, dropout_emb=0.0,
                  dropout_att=0.1)
MODELS = {
    "rnnt_char": dict(
        bpe=False, tdt=False, seed=11, steps=400, lr=3e-3, pre=dict(PRE, pad_to=16),
        enc=dict(ENC_COMMON, n_layers=2, d_model=32, subsampling="dw_striding", subsampling_factor=8,
                 subsampling_conv_channels=16, n_heads=4, conv_kernel_size=9),
        pred_hidden=32, joint_hidden=32),
    "tdt_bpe": dict(
        bpe=True, tdt=True, seed=12, steps=400, lr=3e-3, pre=dict(PRE),
        enc=dict(ENC_COMMON, n_layers=2, d_model=32, subsampling="striding", subsampling_factor=4,
                 subsampling_conv_channels=16, n_heads=4, conv_kernel_size=9),
        pred_hidden=32, joint_hidden=32),
    # Untrained and small, the joint's output layer scaled 4x: TDT decoding that takes duration 0
    # (several tokens on one frame) and stops at max_symbols on most frames, which the trained
    # tdt_bpe never does.
    "tdt_bpe_stress": dict(
        bpe=True, tdt=True, seed=105, steps=0, lr=0.0, joint_scale=4.0, pre=dict(PRE),
        enc=dict(ENC_COMMON, n_layers=1, d_model=16, subsampling="striding", subsampling_factor=4,
                 subsampling_conv_channels=8, n_heads=2, conv_kernel_size=9),
        pred_hidden=16, joint_hidden=16),
}
MAX_SYMBOLS = 10


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


def train_spm(tmp):
    """A 56-piece BPE model over the utterances' words (and a few more)."""
    text = os.path.join(tmp, "text.txt")
    words = " ".join(t for t, _ in UTTS) + " one two three four five six eight nine stop left right yes no"
    with open(text, "w") as f:
        for i in range(200):
            f.write(words + "\n")
    prefix = os.path.join(tmp, "tokenizer")
    subprocess.run(["spm_train", "--input=" + text, "--model_prefix=" + prefix, "--vocab_size=56",
                    "--model_type=bpe", "--character_coverage=1.0", "--normalization_rule_name=identity",
                    "--minloglevel=2"], check=True)
    with open(prefix + ".vocab", encoding="utf-8") as f:
        pieces = [line.split("\t")[0] for line in f]
    return prefix + ".model", pieces


def spm_ids(model, text):
    out = subprocess.run(["spm_encode", "--model=" + model, "--output_format=id"], input=text + "\n",
                         capture_output=True, text=True, check=True).stdout
    return [int(x) for x in out.split()]


def model_config(name, m, vocab, art):
    bpe, tdt = m["bpe"], m["tdt"]
    target = ("rnnt_bpe_models.EncDecRNNTBPEModel" if bpe else "rnnt_models.EncDecRNNTModel")
    L = ["sample_rate: 16000", "target: nemo.collections.asr.models." + target, "nemo_version: 2.5.0",
         "rnnt_reduction: mean_batch", "compute_eval_loss: true"]
    if bpe:
        L += ["tokenizer:", "  dir: /nonexistent/tokenizer_spe_bpe_v56", "  type: bpe",
              "  model_path: nemo:" + art]
    else:
        L.append("labels: " + yaml_value(LABELS))
    L += ["preprocessor:", "  _target_: nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor"]
    L += ["  %s: %s" % (k, yaml_value(v)) for k, v in m["pre"].items()]
    L += ["spec_augment:", "  _target_: nemo.collections.asr.modules.SpectrogramAugmentation",
          "  freq_masks: 2", "  time_masks: 2", "  freq_width: 15", "  time_width: 0.05"]
    L += ["encoder:", "  _target_: nemo.collections.asr.modules.ConformerEncoder",
          "  feat_in: %d" % m["pre"]["features"]]
    L += ["  %s: %s" % (k, yaml_value(v)) for k, v in m["enc"].items()]
    L += ["decoder:", "  _target_: nemo.collections.asr.modules.RNNTDecoder", "  normalization_mode: null",
          "  random_state_sampling: false", "  blank_as_pad: true", "  vocab_size: %d" % vocab,
          "  prednet:", "    pred_hidden: %d" % m["pred_hidden"], "    pred_rnn_layers: 1",
          "    t_max: null", "    dropout: 0.2"]
    # fuse_loss_wer: true as NeMo's example configs (conformer_transducer_char.yaml,
    # conformer_tdt_bpe.yaml) for tdt_bpe, false for rnnt_char; it only changes how NeMo's training
    # forward batches the joint (RNNTJoint.forward), not the loss
    L += ["joint:", "  _target_: nemo.collections.asr.modules.RNNTJoint", "  log_softmax: null",
          "  preserve_memory: false", "  fuse_loss_wer: %s" % ("true" if tdt else "false"), "  fused_batch_size: 4",
          "  num_classes: %d" % vocab, "  vocabulary: " + (yaml_value(LABELS) if not bpe else "[]"),
          "  jointnet:", "    encoder_hidden: %d" % m["enc"]["d_model"],
          "    pred_hidden: %d" % m["pred_hidden"], "    joint_hidden: %d" % m["joint_hidden"],
          "    activation: relu", "    dropout: 0.2"]
    if tdt:
        L.append("  num_extra_outputs: %d" % len(DURATIONS))
    L += ["decoding:", "  strategy: greedy_batch"]
    if tdt:
        L += ["  model_type: tdt", "  durations: " + yaml_value(DURATIONS)]
    L += ["  greedy:", "    max_symbols: %d" % MAX_SYMBOLS]
    if tdt:
        L += ["loss:", "  loss_name: tdt", "  tdt_kwargs:", "    fastemit_lambda: 0.0", "    clamp: -1.0",
              "    durations: " + yaml_value(DURATIONS), "    sigma: 0.05", "    omega: 0.0"]
    else:
        L += ["loss:", "  loss_name: default", "  warprnnt_numba_kwargs:", "    fastemit_lambda: 0.0",
              "    clamp: -1.0"]
    L += ["optim:", "  name: adamw", "  lr: 0.001"]
    return "\n".join(L) + "\n"


def build(m, vocab):
    Pre, Enc, _ = nemo_modules()
    rnnt = nemo_import("nemo.collections.asr.modules.rnnt")
    torch.manual_seed(m["seed"])
    pre = Pre(**m["pre"])
    enc = Enc(feat_in=m["pre"]["features"], use_pytorch_sdpa=False, **m["enc"])
    dec = rnnt.RNNTDecoder(prednet={"pred_hidden": m["pred_hidden"], "pred_rnn_layers": 1, "dropout": 0.2},
                           vocab_size=vocab, normalization_mode=None, random_state_sampling=False,
                           blank_as_pad=True)
    joint = rnnt.RNNTJoint(jointnet={"encoder_hidden": m["enc"]["d_model"], "pred_hidden": m["pred_hidden"],
                                     "joint_hidden": m["joint_hidden"], "activation": "relu", "dropout": 0.2},
                           num_classes=vocab, num_extra_outputs=len(DURATIONS) if m["tdt"] else 0,
                           log_softmax=None, preserve_memory=False, fuse_loss_wer=False)
    return pre, enc, dec, joint


def padded(sigs):
    x = torch.zeros(len(sigs), max(len(s) for s in sigs))
    for b, s in enumerate(sigs):
        x[b, :len(s)] = s
    return x, torch.tensor([len(s) for s in sigs], dtype=torch.int64)


def tdt_loss_fast(acts, labels, act_lens, label_lens, blank, sigma):
    """TDTLossPytorch.forward (mean_batch) with the same lattice recursion, the
    same -1000 floor and the same order of terms, vectorised over the batch:
    NeMo's version loops over (b, t, u) in Python and takes ~13 s a step on
    this machine, so training uses this one after checking at the first step
    that it gives NeMo's loss and gradients (train())."""
    n_dur = len(DURATIONS)
    lab = torch.log_softmax(acts[..., :-n_dur], -1) - sigma  # (B, T, U1, V+1)
    dur = torch.log_softmax(acts[..., -n_dur:], -1)  # (B, T, U1, D)
    B, T, U1, _ = lab.shape
    blank_lp = lab[..., blank]  # (B, T, U1)
    idx = labels[:, : U1 - 1].clamp(min=0).unsqueeze(1).unsqueeze(-1).expand(B, T, U1 - 1, 1)
    emit_lp = lab[:, :, : U1 - 1].gather(-1, idx).squeeze(-1)  # (B, T, U)
    floor = torch.full((B,), -1000.0)
    alpha = [[None] * U1 for _ in range(T)]
    for t in range(T):
        for u in range(U1):
            if t == 0 and u == 0:
                alpha[t][u] = torch.zeros(B)
                continue
            a = floor
            for n, d in enumerate(DURATIONS):
                if t - d < 0:
                    continue
                if d > 0:
                    a = torch.logaddexp(alpha[t - d][u] + blank_lp[:, t - d, u] + dur[:, t - d, u, n], a)
                if u > 0:
                    a = torch.logaddexp(alpha[t - d][u - 1] + emit_lp[:, t - d, u - 1] + dur[:, t - d, u - 1, n], a)
            alpha[t][u] = a
    out = []
    for b in range(B):
        Tb, Ub = int(act_lens[b]), int(label_lens[b])
        tt = torch.tensor(-1000.0)
        for n, d in enumerate(DURATIONS):
            if Tb - d >= 0 and d > 0:
                tt = torch.logaddexp(alpha[Tb - d][Ub][b] + blank_lp[b, Tb - d, Ub] + dur[b, Tb - d, Ub, n], tt)
        out.append(tt)
    return -torch.stack(out).mean()


def train(m, mods, sigs, targets, vocab):
    pre, enc, dec, joint = mods
    params = [p for mod in (enc, dec, joint) for p in mod.parameters()]
    opt = torch.optim.Adam(params, lr=m["lr"])
    tdt_loss = None
    if m["tdt"]:
        # TDTLossPytorch.compute_forward_prob moves its alpha table with
        # `.cuda()`; Debian's torch has no CUDA, so .cuda() hands the CPU
        # tensor back (the loss's math is untouched).
        torch.Tensor.cuda = lambda self, *a, **k: self
        losses = nemo_import("nemo.collections.asr.losses.rnnt_pytorch")
        tdt_loss = losses.TDTLossPytorch(blank=vocab, durations=DURATIONS, reduction="mean_batch", sigma=0.05)
    x, xl = padded(sigs)
    U = max(len(t) for t in targets)
    y = torch.zeros(len(targets), U, dtype=torch.int64)
    for b, t in enumerate(targets):
        y[b, :len(t)] = torch.tensor(t)
    yl = torch.tensor([len(t) for t in targets], dtype=torch.int64)
    for mod in (pre, enc, dec, joint):
        mod.train()
    for step in range(m["steps"]):
        with torch.no_grad():
            f, fl = pre(input_signal=x, length=xl)
        e, el = enc(audio_signal=f, length=fl)
        g, _, _ = dec(targets=y, target_length=yl)
        # the training graph NeMo runs without fuse_loss_wer: joint(enc, dec) -> (B, T, U+1, C);
        # log_softmax=None gives log-probs on CPU, which both losses re-normalise unchanged
        logits = joint(encoder_outputs=e, decoder_outputs=g)
        if step == 0:
            print("  encoder frames", e.shape[2], "lengths", el.tolist(), flush=True)
        logits = logits[:, : int(el.max())].contiguous()  # torchaudio wants max(lengths) frames
        if tdt_loss is not None:
            loss = tdt_loss_fast(logits, y, el, yl, vocab, 0.05)
            if step == 0:  # the fast loss is NeMo's TDTLossPytorch: value and gradient w.r.t. the joint
                acts = logits.detach().requires_grad_(True)
                ref = tdt_loss(acts=acts, labels=y, act_lens=el, label_lens=yl)
                ref.backward()
                acts2 = logits.detach().requires_grad_(True)
                tdt_loss_fast(acts2, y, el, yl, vocab, 0.05).backward()
                gap = (acts.grad - acts2.grad).abs().max().item()
                print("  TDT loss: NeMo %.6f, fast %.6f, max |grad diff| %.2e" % (ref.item(), loss.item(), gap))
                assert abs(ref.item() - loss.item()) <= 1e-4 * abs(ref.item()) and gap <= 1e-5
        else:
            loss = taF.rnnt_loss(logits, y.int(), el.int(), yl.int(), blank=vocab, reduction="mean", clamp=-1)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % 25 == 0 or step == m["steps"] - 1:
            print("  step %d loss %.4f" % (step, loss.item()), flush=True)
    for mod in (pre, enc, dec, joint):
        mod.eval()


def state_dict(mods):
    sd = {}
    for prefix, mod in zip(("preprocessor", "encoder", "decoder", "joint"), mods):
        for k, v in mod.state_dict().items():
            sd[prefix + "." + k] = v
    return sd


def hyp_dict(h, to_text):
    ys = [int(v) for v in h.y_sequence]
    ts = [int(v) for v in h.timestamp]
    return {"text": to_text(ys), "tokens": ys, "frames": ts}


def decode_all(m, mods, sigs, vocab, to_text):
    greedy = nemo_import("nemo.collections.asr.parts.submodules.rnnt_greedy_decoding")
    pre, enc, dec, joint = mods
    if m["tdt"]:
        single = greedy.GreedyTDTInfer(dec, joint, blank_index=vocab, durations=DURATIONS,
                                       max_symbols_per_step=MAX_SYMBOLS)
        batched = greedy.GreedyBatchedTDTInfer(dec, joint, blank_index=vocab, durations=DURATIONS,
                                               max_symbols_per_step=MAX_SYMBOLS, use_cuda_graph_decoder=False)
    else:
        single = greedy.GreedyRNNTInfer(dec, joint, blank_index=vocab, max_symbols_per_step=MAX_SYMBOLS)
        batched = greedy.GreedyBatchedRNNTInfer(dec, joint, blank_index=vocab, max_symbols_per_step=MAX_SYMBOLS,
                                                loop_labels=True, use_cuda_graph_decoder=False)

    def encode(batch):
        x, xl = padded(batch)
        with torch.no_grad():
            f, fl = pre(input_signal=x, length=xl)
            return enc(audio_signal=f, length=fl)

    utts = []
    with torch.no_grad():
        for s in sigs:
            e, el = encode([s])
            h = single(encoder_output=e, encoded_lengths=el)[0][0]
            u = hyp_dict(h, to_text)
            L = int(el[0])
            et = e[0, :, :L].transpose(0, 1).contiguous().double()  # (T', d)
            u.update(enc_len=L, enc_sum=float(et.sum()), enc_abs_sum=float(et.abs().sum()),
                     enc_first=[float(v) for v in et.reshape(-1)[:8]])
            utts.append(u)
        e, el = encode(sigs)
        for i, h in enumerate(single(encoder_output=e, encoded_lengths=el)[0]):
            utts[i]["batch"] = hyp_dict(h, to_text)
        for i, h in enumerate(batched(encoder_output=e, encoded_lengths=el)[0]):
            utts[i]["batched"] = hyp_dict(h, to_text)
    return utts


def make(name, m, sigs, spm_model, pieces):
    bpe = m["bpe"]
    vocab = len(pieces) if bpe else len(LABELS)
    if bpe:
        targets = [spm_ids(spm_model, t) for t, _ in UTTS]

        # sentencepiece's DecodeIds reads <unk> as its unk_surface " \u2047 " and <s>, </s> as nothing
        surface = {"<unk>": " \u2047 ", "<s>": "", "</s>": ""}

        def to_text(ids):
            return "".join(surface.get(pieces[i], pieces[i]) for i in ids).replace("\u2581", " ").strip()
    else:
        targets = [[LABELS.index(c) for c in t] for t, _ in UTTS]

        def to_text(ids):
            return "".join(LABELS[i] for i in ids)
    mods = build(m, vocab)
    if "joint_scale" in m:
        with torch.no_grad():
            mods[3].joint_net[-1].weight.mul_(m["joint_scale"])
    print(name, "vocab", vocab, "training", flush=True)
    train(m, mods, sigs, targets, vocab)
    art = uuid.uuid4().hex + "_tokenizer.model"
    weights = io.BytesIO()
    torch.save(state_dict(mods), weights)
    path = os.path.join(OUT, name + ".nemo")
    with tarfile.open(path, "w:") as tar:
        add_bytes(tar, "./model_config.yaml", model_config(name, m, vocab, art).encode())
        add_bytes(tar, "./model_weights.ckpt", weights.getvalue())
        if bpe:
            with open(spm_model, "rb") as f:
                add_bytes(tar, "./" + art, f.read())
    utts = decode_all(m, mods, sigs, vocab, to_text)
    with open(os.path.join(OUT, name + ".manifest.json"), "w") as f:
        for i, (u, (truth, n)) in enumerate(zip(utts, UTTS)):
            u["audio"] = "audio/utt%d.wav" % i
            u["truth"] = truth
            f.write(json.dumps({"audio_filepath": "audio/utt%d.wav" % i, "duration": n / 16000.0,
                                "text": u["text"]}) + "\n")
            for k in ("batch", "batched"):
                same = all(u[k][x] == u[x] for x in ("text", "tokens", "frames"))
                print("  utt%d %-8s %s %r %s" % (i, k, "same" if same else "DIFFERS", u[k]["text"],
                                                "" if same else u[k]))
            print("  utt%d: %r (truth %r) tokens %s frames %s" % (i, u["text"], truth, u["tokens"], u["frames"]))
    print(name, "bytes", os.path.getsize(path))
    return {"name": name, "nemo": name + ".nemo", "blank": vocab, "durations": DURATIONS if m["tdt"] else [],
            "utts": utts}


def main():
    torch.set_num_threads(2)
    sigs = load_audio()
    with tempfile.TemporaryDirectory() as tmp:
        spm_model, pieces = train_spm(tmp)
        models = [make(name, m, sigs, spm_model, pieces) for name, m in MODELS.items()
                  if len(sys.argv) < 2 or name in sys.argv[1:]]
    # a run for some models (names as arguments) keeps the others' entries
    path = os.path.join(OUT, "expected.json")
    if len(sys.argv) >= 2 and os.path.exists(path):
        with open(path) as f:
            old = {m["name"]: m for m in json.load(f)["models"]}
        old.update({m["name"]: m for m in models})
        models = [old[n] for n in MODELS if n in old]
    with open(path, "w") as f:
        json.dump({"models": models}, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
