#!/usr/bin/python3
"""Writes PyTorch reference fixtures for the conv, pooling and LSTM ops.

Run with the Debian interpreter that has torch 1.13:  /usr/bin/python3 tests/ref/gen_conv.py
Each case is a folder tests/ref/conv/<name>/ holding
  cfg.npy   int64 parameters (layout per op below)
  inputs    x.npy, w.npy, b.npy (conv); x.npy (pool); x, w_ih<l>, w_hh<l>, b_ih<l>, b_hh<l>, h0, c0 (lstm)
  out.npy   forward output (lstm: y.npy, hn.npy, cn.npy)
  gout.npy  the fixed random weight G of the loss L = sum(out * G) (lstm: gy, ghn, gcn)
  d<name>   dL/d<input> for every input.
cfg layouts:
  conv1d, conv2d, conv_transpose1d: [s0, s1, pl0, pl1, pr0, pr1, d0, d1, groups, output_padding]
  max_pool1d, avg_pool1d:           [kernel, stride, padding, count_include_pad]
  lstm:                             [num_layers, has_bias, has_state]
Asymmetric padding is F.pad followed by an unpadded conv (the definition the C
ops implement directly). The C side is tests/unit/test_conv_ref.c.
"""
import os
import shutil

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conv")


def save(case, **arrays):
    d = os.path.join(OUT, case)
    os.makedirs(d, exist_ok=True)
    for k, v in arrays.items():
        if isinstance(v, torch.Tensor):
            v = v.detach().numpy()
        v = np.ascontiguousarray(v)
        if v.dtype == np.float64:
            v = v.astype(np.float32)
        np.save(os.path.join(d, k + ".npy"), v)


def leaf(*shape):
    return torch.randn(*shape, dtype=torch.float32).requires_grad_(True)


def conv_case(name, op, xs, ws, bias, s=(1, 1), pl=(0, 0), pr=(0, 0), d=(1, 1), groups=1, op_pad=0):
    x, w = leaf(*xs), leaf(*ws)
    b = leaf(ws[1] * groups if op == "conv_transpose1d" else ws[0]) if bias else None
    if op == "conv1d":
        y = F.conv1d(F.pad(x, (pl[0], pr[0])), w, b, stride=s[0], dilation=d[0], groups=groups)
    elif op == "conv2d":
        y = F.conv2d(F.pad(x, (pl[1], pr[1], pl[0], pr[0])), w, b, stride=s, dilation=d, groups=groups)
    else:
        assert pl[0] == pr[0]
        y = F.conv_transpose1d(x, w, b, stride=s[0], padding=pl[0], output_padding=op_pad,
                               groups=groups, dilation=d[0])
    g = torch.randn_like(y)
    (y * g).sum().backward()
    cfg = np.array([s[0], s[1], pl[0], pl[1], pr[0], pr[1], d[0], d[1], groups, op_pad], np.int64)
    arrays = dict(cfg=cfg, x=x, w=w, out=y, gout=g, dx=x.grad, dw=w.grad)
    if bias:
        arrays.update(b=b, db=b.grad)
    save(name, **arrays)


def pool_case(name, op, xs, k, s, p, include_pad=True):
    x = leaf(*xs)
    if op == "max_pool1d":
        y = F.max_pool1d(x, k, s, p)
    else:
        y = F.avg_pool1d(x, k, s, p, ceil_mode=False, count_include_pad=include_pad)
    g = torch.randn_like(y)
    (y * g).sum().backward()
    save(name, cfg=np.array([k, s, p, int(include_pad)], np.int64), x=x, out=y, gout=g, dx=x.grad)


def lstm_case(name, T, B, I, H, L, bias, state):
    lstm = torch.nn.LSTM(I, H, num_layers=L, bias=bias)
    with torch.no_grad():  # N(0, 0.5) weights: livelier gates than the default init
        for p in lstm.parameters():
            p.normal_(0.0, 0.5)
    x = leaf(T, B, I)
    arrays = dict(cfg=np.array([L, int(bias), int(state)], np.int64), x=x)
    if state:
        h0, c0 = leaf(L, B, H), leaf(L, B, H)
        y, (hn, cn) = lstm(x, (h0, c0))
    else:
        y, (hn, cn) = lstm(x)
    gy, ghn, gcn = torch.randn_like(y), torch.randn_like(hn), torch.randn_like(cn)
    ((y * gy).sum() + (hn * ghn).sum() + (cn * gcn).sum()).backward()
    arrays.update(y=y, hn=hn, cn=cn, gy=gy, ghn=ghn, gcn=gcn, dx=x.grad)
    if state:
        arrays.update(h0=h0, c0=c0, dh0=h0.grad, dc0=c0.grad)
    for l in range(L):
        names = ["w_ih", "w_hh"] + (["b_ih", "b_hh"] if bias else [])
        for n in names:
            p = getattr(lstm, {"w_ih": "weight_ih_l", "w_hh": "weight_hh_l",
                               "b_ih": "bias_ih_l", "b_hh": "bias_hh_l"}[n] + str(l))
            arrays[f"{n}{l}"] = p
            arrays[f"d{n}{l}"] = p.grad
    save(name, **arrays)


def main():
    torch.manual_seed(0)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    # conv1d
    conv_case("c1_basic", "conv1d", (2, 3, 11), (4, 3, 3), True, pl=(1, 0), pr=(1, 0))
    conv_case("c1_stride2", "conv1d", (2, 3, 12), (5, 3, 4), True, s=(2, 1), pl=(2, 0), pr=(1, 0))
    conv_case("c1_causal_dil2", "conv1d", (2, 4, 10), (3, 4, 3), False, pl=(4, 0), d=(2, 1))
    conv_case("c1_groups2", "conv1d", (2, 4, 9), (6, 2, 3), True, pl=(1, 0), pr=(1, 0), groups=2)
    conv_case("c1_depthwise_k31", "conv1d", (2, 8, 40), (8, 1, 31), True, pl=(15, 0), pr=(15, 0),
              groups=8)
    conv_case("c1_depthwise_causal_k9", "conv1d", (2, 6, 20), (6, 1, 9), False, pl=(8, 0), groups=6)
    conv_case("c1_pointwise", "conv1d", (2, 8, 13), (16, 8, 1), True)
    # conv2d
    conv_case("c2_subsample", "conv2d", (2, 1, 16, 12), (4, 1, 3, 3), True, s=(2, 2), pl=(1, 1),
              pr=(1, 1))
    conv_case("c2_subsample2", "conv2d", (2, 4, 8, 6), (4, 4, 3, 3), True, s=(2, 2), pl=(1, 1),
              pr=(1, 1))
    conv_case("c2_depthwise_s2", "conv2d", (2, 4, 8, 6), (4, 1, 3, 3), True, s=(2, 2), pl=(1, 1),
              pr=(1, 1), groups=4)
    conv_case("c2_groups_dil", "conv2d", (1, 4, 9, 7), (6, 2, 3, 2), False, pl=(2, 0), pr=(1, 1),
              d=(2, 1), groups=2)
    # conv_transpose1d
    conv_case("ct_s4_outpad3", "conv_transpose1d", (2, 4, 6), (4, 3, 8), True, s=(4, 1), pl=(2, 0),
              pr=(2, 0), op_pad=3)
    conv_case("ct_groups_dil", "conv_transpose1d", (2, 4, 7), (4, 2, 3), True, s=(2, 1), pl=(1, 0),
              pr=(1, 0), d=(2, 1), groups=2, op_pad=1)
    conv_case("ct_basic", "conv_transpose1d", (1, 3, 5), (3, 2, 3), False)
    # pooling
    pool_case("mp_k3s2p1", "max_pool1d", (2, 3, 11), 3, 2, 1)
    pool_case("mp_k2", "max_pool1d", (2, 3, 10), 2, 2, 0)
    pool_case("ap_k3s2p1_incl", "avg_pool1d", (2, 3, 11), 3, 2, 1, True)
    pool_case("ap_k3s2p1_excl", "avg_pool1d", (2, 3, 11), 3, 2, 1, False)
    pool_case("ap_k4s3p2_excl", "avg_pool1d", (2, 2, 13), 4, 3, 2, False)
    # lstm
    lstm_case("lstm2_state", T=6, B=3, I=5, H=4, L=2, bias=True, state=True)
    lstm_case("lstm1_plain", T=5, B=2, I=3, H=4, L=1, bias=False, state=False)


if __name__ == "__main__":
    main()
