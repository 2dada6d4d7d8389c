"""NeMo's Conformer / FastConformer CTC modules in plain PyTorch, for the
benchmarks and the reference fixtures (tests/ref/gen_conformer.py), following
nemo/collections/asr/modules/conformer_encoder.py,
nemo/collections/asr/parts/submodules/{subsampling,conformer_modules,multi_head_attention}.py
and nemo/collections/asr/modules/conv_asr.py), with NeMo's dropouts added
(ConformerLayer.dropout after every residual branch and inside the feed
forward, RelPositionalEncoding's dropout on x and dropout_emb on the
positions). State-dict names are NeMo's, so nemoc's safetensors load 1:1.
Also a tiny safetensors reader (numpy only) and a GPT-2-shaped decoder."""
import json
import math
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    dt = {"F32": np.float32, "I64": np.int64, "I32": np.int32}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=dt[v["dtype"]]).reshape(v["shape"])
        out[k] = torch.from_numpy(arr.copy())
    return out


class LayerNorm(nn.LayerNorm):
    """nn.LayerNorm computed in float32. torch 1.13's CPU autocast hands
    layer_norm a bfloat16 input with float32 weights and fails ("expected
    scalar type BFloat16 but found Float"); norms in fp32 is what autocast
    intends (and what nemoc's bf16-mixed does). A no-op in fp32."""

    def forward(self, x):
        return F.layer_norm(x.float(), self.normalized_shape, self.weight, self.bias, self.eps)


class BatchNorm1d(nn.BatchNorm1d):
    """nn.BatchNorm1d in float32 for the same reason."""

    def forward(self, x):
        return super().forward(x.float())


def calc_length(lengths, all_paddings, kernel_size, stride, repeat_num):
    add_pad = all_paddings - kernel_size
    for _ in range(repeat_num):
        lengths = torch.div(lengths.to(torch.float) + add_pad, stride) + 1.0
        lengths = torch.floor(lengths)
    return lengths.to(torch.int)


def time_mask(x, lengths):
    """(B, 1, T, 1) float mask of frames t < lengths[b] for x (B, C, T, F)."""
    t = torch.arange(x.size(2), device=x.device)
    return (t.unsqueeze(0) < lengths.long().unsqueeze(1)).to(x.dtype)[:, None, :, None]


class ConvSubsampling(nn.Module):
    def __init__(self, subsampling, factor, feat_in, feat_out, conv_channels):
        super().__init__()
        self._sampling_num = int(math.log(factor, 2))
        layers = []
        if subsampling == "striding":
            cin = 1
            for _ in range(self._sampling_num):
                layers += [nn.Conv2d(cin, conv_channels, 3, 2, 1), nn.ReLU()]
                cin = conv_channels
        else:  # dw_striding
            layers += [nn.Conv2d(1, conv_channels, 3, 2, 1), nn.ReLU()]
            for _ in range(self._sampling_num - 1):
                layers += [nn.Conv2d(conv_channels, conv_channels, 3, 2, 1, groups=conv_channels),
                           nn.Conv2d(conv_channels, conv_channels, 1, 1, 0), nn.ReLU()]
        self.conv = nn.Sequential(*layers)
        out_length = calc_length(torch.tensor(feat_in, dtype=torch.float), 2, 3, 2, self._sampling_num)
        self.out = nn.Linear(conv_channels * int(out_length), feat_out)

    def forward(self, x, lengths):
        # NeMo >= 2.4 runs self.conv as MaskedConvSequential (subsampling.py):
        # the time mask is applied before every layer, advanced after every
        # strided conv ((len + pad_h + pad_w - k) // s + 1 on floats), and once more at the end.
        cur = lengths.clone().float()
        x = x.unsqueeze(1)
        mask = time_mask(x, cur)
        for layer in self.conv:
            x = layer(x * mask)
            if isinstance(layer, nn.Conv2d) and layer.stride != (1, 1):
                cur = (cur + layer.padding[0] + layer.padding[1] - layer.kernel_size[0]) // layer.stride[0] + 1
                mask = time_mask(x, cur)
        x = x * mask
        lengths = calc_length(lengths, 2, 3, 2, self._sampling_num)
        b, c, t, f = x.size()
        x = self.out(x.transpose(1, 2).reshape(b, t, -1))
        return x, lengths


class RelPositionalEncoding(nn.Module):
    def __init__(self, d_model, xscale, dropout, dropout_emb, max_len=5000):
        super().__init__()
        self.xscale = xscale
        self.dropout = nn.Dropout(dropout)
        self.dropout_emb = nn.Dropout(dropout_emb)
        positions = torch.arange(max_len - 1, -max_len, -1, dtype=torch.float32).unsqueeze(1)
        pe = torch.zeros(positions.size(0), d_model)
        div_term = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * -(math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(positions * div_term)
        pe[:, 1::2] = torch.cos(positions * div_term)
        self.register_buffer("pe", pe.unsqueeze(0), persistent=False)

    def forward(self, x):
        if self.xscale:
            x = x * self.xscale
        input_len = x.size(1)
        center_pos = self.pe.size(1) // 2 + 1
        pos_emb = self.pe[:, center_pos - input_len:center_pos + input_len - 1]
        return self.dropout(x), self.dropout_emb(pos_emb)


class RelPositionMultiHeadAttention(nn.Module):
    def __init__(self, n_head, n_feat, bias=True):
        super().__init__()
        self.d_k = n_feat // n_head
        self.s_d_k = math.sqrt(self.d_k)
        self.h = n_head
        self.linear_q = nn.Linear(n_feat, n_feat, bias=bias)
        self.linear_k = nn.Linear(n_feat, n_feat, bias=bias)
        self.linear_v = nn.Linear(n_feat, n_feat, bias=bias)
        self.linear_out = nn.Linear(n_feat, n_feat, bias=bias)
        self.linear_pos = nn.Linear(n_feat, n_feat, bias=False)
        self.pos_bias_u = nn.Parameter(torch.zeros(self.h, self.d_k))
        self.pos_bias_v = nn.Parameter(torch.zeros(self.h, self.d_k))

    def rel_shift(self, x):
        b, h, qlen, pos_len = x.size()
        x = F.pad(x, pad=(1, 0))
        x = x.view(b, h, -1, qlen)
        return x[:, :, 1:].view(b, h, qlen, pos_len)

    def forward(self, x, mask, pos_emb):
        n = x.size(0)
        q = self.linear_q(x).view(n, -1, self.h, self.d_k)
        k = self.linear_k(x).view(n, -1, self.h, self.d_k).transpose(1, 2)
        v = self.linear_v(x).view(n, -1, self.h, self.d_k).transpose(1, 2)
        p = self.linear_pos(pos_emb).view(pos_emb.size(0), -1, self.h, self.d_k).transpose(1, 2)
        q_u = (q + self.pos_bias_u).transpose(1, 2)
        q_v = (q + self.pos_bias_v).transpose(1, 2)
        bd = self.rel_shift(torch.matmul(q_v, p.transpose(-2, -1)))
        ac = torch.matmul(q_u, k.transpose(-2, -1))
        bd = bd[:, :, :, :ac.size(-1)]
        scores = (ac + bd) / self.s_d_k
        m = mask.unsqueeze(1)
        scores = scores.masked_fill(m, -10000.0)
        attn = torch.softmax(scores, dim=-1).masked_fill(m, 0.0)
        y = torch.matmul(attn, v).transpose(1, 2).reshape(n, -1, self.h * self.d_k)
        return self.linear_out(y)


class FF(nn.Module):
    def __init__(self, d, d_ff, dropout, bias=True):
        super().__init__()
        self.linear1 = nn.Linear(d, d_ff, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(d_ff, d, bias=bias)

    def forward(self, x):
        return self.linear2(self.dropout(F.silu(self.linear1(x))))


class ConvModule(nn.Module):
    def __init__(self, d, k, bias=True):
        super().__init__()
        self.pointwise_conv1 = nn.Conv1d(d, 2 * d, 1, bias=bias)
        self.depthwise_conv = nn.Conv1d(d, d, k, padding=(k - 1) // 2, groups=d, bias=bias)
        self.batch_norm = BatchNorm1d(d)
        self.pointwise_conv2 = nn.Conv1d(d, d, 1, bias=bias)

    def forward(self, x, pad_mask):
        x = self.pointwise_conv1(x.transpose(1, 2))
        x = F.glu(x, dim=1)
        x = x.masked_fill(pad_mask.unsqueeze(1), 0.0)
        x = self.depthwise_conv(x)
        x = F.silu(self.batch_norm(x))
        return self.pointwise_conv2(x).transpose(1, 2)


class ConformerLayer(nn.Module):
    def __init__(self, d, heads, k, dropout, ff=4):
        super().__init__()
        self.norm_feed_forward1 = LayerNorm(d)
        self.feed_forward1 = FF(d, d * ff, dropout)
        self.norm_conv = LayerNorm(d)
        self.conv = ConvModule(d, k)
        self.norm_self_att = LayerNorm(d)
        self.self_attn = RelPositionMultiHeadAttention(heads, d)
        self.norm_feed_forward2 = LayerNorm(d)
        self.feed_forward2 = FF(d, d * ff, dropout)
        self.norm_out = LayerNorm(d)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, att_mask, pos_emb, pad_mask):
        r = x
        r = r + 0.5 * self.dropout(self.feed_forward1(self.norm_feed_forward1(r)))
        r = r + self.dropout(self.self_attn(self.norm_self_att(r), att_mask, pos_emb))
        r = r + self.dropout(self.conv(self.norm_conv(r), pad_mask))
        r = r + 0.5 * self.dropout(self.feed_forward2(self.norm_feed_forward2(r)))
        return self.norm_out(r)


class ConformerEncoder(nn.Module):
    def __init__(self, feat_in, n_layers, d, heads, k, subsampling, factor, conv_channels,
                 dropout=0.1, dropout_pre_encoder=0.1, dropout_emb=0.1):
        super().__init__()
        self.pre_encode = ConvSubsampling(subsampling, factor, feat_in, d, conv_channels)
        self.pos_enc = RelPositionalEncoding(d, math.sqrt(d), dropout_pre_encoder, dropout_emb)
        self.layers = nn.ModuleList([ConformerLayer(d, heads, k, dropout) for _ in range(n_layers)])

    def forward(self, audio_signal, length):
        x, length = self.pre_encode(audio_signal.transpose(1, 2), length)
        x, pos_emb = self.pos_enc(x)
        T = x.size(1)
        valid = torch.arange(T)[None, :] < length[:, None]
        att = valid.unsqueeze(1).repeat(1, T, 1)
        att = torch.logical_and(att, att.transpose(1, 2))
        att_mask, pad_mask = ~att, ~valid
        for layer in self.layers:
            x = layer(x, att_mask, pos_emb, pad_mask)
        return x, length  # (B, T', d); NeMo transposes to (B, d, T') at the end


class CTCModel(nn.Module):
    def __init__(self, vocab, **kw):
        super().__init__()
        self.encoder = ConformerEncoder(**kw)
        self.decoder = nn.Module()
        self.decoder.decoder_layers = nn.Sequential(nn.Conv1d(kw["d"], vocab + 1, 1, bias=True))

    def forward(self, feats, lengths):
        enc, enc_len = self.encoder(feats, lengths)
        logits = self.decoder.decoder_layers(enc.transpose(1, 2)).transpose(1, 2)
        return F.log_softmax(logits.float(), dim=-1), enc_len


class RNNTModel(nn.Module):
    """EncDecRNNTModel's training graph: the encoder, NeMo's RNNTDecoder
    (embedding with the blank as padding row, a zero start-of-signal frame,
    LSTM, dropout on its output) and RNNTJoint (enc/pred projections,
    joint_net = ReLU, Dropout, Linear), state-dict names as NeMo's
    (nemo/collections/asr/modules/rnnt.py). Returns the joint logits
    (B, T', U + 1, V + 1); the loss (torchaudio's rnnt_loss) normalises."""

    def __init__(self, vocab, pred_hidden=320, joint_hidden=320, dropout=0.1, **kw):
        super().__init__()
        self.vocab = vocab
        self.encoder = ConformerEncoder(**kw)
        self.decoder = nn.Module()
        self.decoder.prediction = nn.ModuleDict({
            "embed": nn.Embedding(vocab + 1, pred_hidden, padding_idx=vocab),
            "dec_rnn": nn.Module()})
        self.decoder.prediction["dec_rnn"].lstm = nn.LSTM(pred_hidden, pred_hidden, 1)
        self.pred_dropout = nn.Dropout(dropout)
        self.joint = nn.Module()
        self.joint.pred = nn.Linear(pred_hidden, joint_hidden)
        self.joint.enc = nn.Linear(kw["d"], joint_hidden)
        self.joint.joint_net = nn.Sequential(nn.ReLU(), nn.Dropout(dropout),
                                             nn.Linear(joint_hidden, vocab + 1))

    def forward(self, feats, lengths, targets):
        enc, enc_len = self.encoder(feats, lengths)
        # add_sos: the blank id embeds to the zero padding row
        y = F.pad(targets, (1, 0), value=self.vocab)
        g = self.decoder.prediction["embed"](y).transpose(0, 1)
        g, _ = self.decoder.prediction["dec_rnn"].lstm(g)
        g = self.pred_dropout(g.transpose(0, 1))
        f = self.joint.enc(enc)
        p = self.joint.pred(g)
        return self.joint.joint_net(f[:, :, None, :] + p[:, None, :, :]), enc_len
