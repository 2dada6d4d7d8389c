#!/usr/bin/python3
"""Reference fixtures for Megatron's indexed dataset and NeMo's GPT sampling
(tests/unit/test_llm_indexed.c, tests/unit/test_llm_gpt_dataset.c), written
by NeMo's OWN code imported from its source checkout (nemo_src.py):

  nemo/collections/nlp/data/language_modeling/megatron/indexed_dataset.py
      MMapIndexedDatasetBuilder writes the .bin/.idx files;
  gpt_dataset.py  GPTDataset and build_train_valid_test_datasets (index
      mappings, cache files, _get_text), with helpers.cpp (build_sample_idx,
      build_blending_indices) compiled by g++ against Debian's pybind11 into
      build/nemo_helpers/ (ignored by git), exactly as NeMo's Makefile does;
  base_dataset_utils.py  get_train_valid_test_split_;
  blendable_dataset.py  BlendableDataset.

torch.distributed and megatron.core.parallel_state are replaced by
single-process stand-ins (rank 0, world size 1): gpt_dataset.py calls them
only to synchronise ranks around the cache files.

Writes tests/ref/megatron_data/:
  a.bin/.idx       20 documents of 1-3 sequences (like --split-sentences), vocab 1000 -> uint16
  a_tokens.npy, a_sizes.npy, a_doc_idx.npy   what was added (flat ids, sequence sizes, doc index)
  b.bin/.idx       30 one-sequence documents, vocab 70000 -> int32
  b_tokens.npy, b_sizes.npy, b_doc_idx.npy
  idx/<case>_{doc,sample,shuffle}_idx.npy   NeMo's cache files for each GPTDataset case
  <case>_samples.npy   every sample of the case (len, seq_length + add_extra) int64, in index order
  cases.json       the GPTDataset cases, the splits cases, the blended datasets
  blend_<split>_samples.npy, blend_<split>_source.npy  the blended train/valid/test datasets
                   (samples; dataset index and sample index per blended sample)
  dict_<split>_samples.npy  data_prefix as a dict {train: [b], validation: [.5, a, .5, b], test: [a]}
Run: NEMO_SRC=... /usr/bin/python3 tests/ref/gen_megatron_data.py"""
import glob
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from nemo_src import _setup, nemo_import  # noqa: E402

OUT = os.path.join(HERE, "megatron_data")
MEG = "nemo.collections.nlp.data.language_modeling.megatron"


def setup():
    _setup(None)
    src = os.environ.get("NEMO_SRC") or os.path.join(ROOT, ".nemo_src")
    # Skip the nlp packages' __init__ (they import every NLP model).
    for pkg in ["nemo.collections.nlp", "nemo.collections.nlp.data", "nemo.collections.nlp.data.language_modeling",
                MEG]:
        m = types.ModuleType(pkg)
        m.__path__ = [os.path.join(src, *pkg.split("."))]
        sys.modules[pkg] = m
    # helpers.cpp, compiled as NeMo's Makefile compiles it.
    outdir = os.path.join(ROOT, "build", "nemo_helpers")
    os.makedirs(outdir, exist_ok=True)
    so = os.path.join(outdir, "helpers" + subprocess.check_output(
        ["python3-config", "--extension-suffix"]).decode().strip())
    cpp = os.path.join(src, *MEG.split("."), "helpers.cpp")
    if not os.path.exists(so) or os.path.getmtime(so) < os.path.getmtime(cpp):
        inc = subprocess.check_output(["python3-config", "--includes"]).decode().split()
        subprocess.check_call(["g++", "-O3", "-Wall", "-shared", "-std=c++11", "-fPIC", *inc, cpp, "-o", so])
    spec = importlib.util.spec_from_file_location(MEG + ".helpers", so)
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    sys.modules[MEG + ".helpers"] = helpers
    sys.modules[MEG].helpers = helpers
    du = types.ModuleType(MEG + ".dataset_utils")  # only compile_helper is used
    du.compile_helper = lambda: None
    sys.modules[MEG + ".dataset_utils"] = du
    # Single process: rank 0 of 1.
    import torch.distributed as dist
    dist.get_rank = lambda *a, **k: 0
    dist.barrier = lambda *a, **k: None
    dist.all_reduce = lambda *a, **k: None
    dist.get_world_size = lambda *a, **k: 1
    dist.is_initialized = lambda: False
    torch.cuda.LongTensor = torch.LongTensor
    gpt = nemo_import(MEG + ".gpt_dataset")
    gpt.HAVE_MEGATRON_CORE = True
    gpt.parallel_state = types.SimpleNamespace(get_data_parallel_group=lambda **k: None,
                                               get_pipeline_model_parallel_group=lambda: None,
                                               get_tensor_model_parallel_group=lambda: None)
    return nemo_import(MEG + ".indexed_dataset"), gpt, nemo_import(MEG + ".base_dataset_utils")


def write_indexed(idx, name, docs, vocab):
    """docs: list of documents, each a list of sequences (lists of ids)."""
    prefix = os.path.join(OUT, name)
    b = idx.make_builder(prefix + ".bin", impl="mmap", vocab_size=vocab)
    flat, sizes, doc_idx = [], [], [0]
    for doc in docs:
        for seq in doc:
            b.add_item(torch.IntTensor(seq))
            flat += seq
            sizes.append(len(seq))
        b.end_document()
        doc_idx.append(len(sizes))
    b.finalize(prefix + ".idx")
    np.save(prefix + "_tokens.npy", np.array(flat, dtype=np.int32))
    np.save(prefix + "_sizes.npy", np.array(sizes, dtype=np.int64))
    np.save(prefix + "_doc_idx.npy", np.array(doc_idx, dtype=np.int64))
    # NeMo's reader reads back what was written.
    ds = idx.MMapIndexedDataset(prefix, skip_warmup=True)
    assert len(ds) == len(sizes) and list(ds.doc_idx) == doc_idx
    return prefix


def main():
    idx, gpt, bdu = setup()
    from omegaconf import OmegaConf

    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(os.path.join(OUT, "idx"))
    rng = np.random.RandomState(7)
    docs_a = [[list(rng.randint(0, 1000, rng.randint(1, 9))) for _ in range(rng.randint(1, 4))] for _ in range(20)]
    docs_a[5][0] = []  # an empty sequence inside a document
    docs_b = [[list(rng.randint(0, 70000, rng.randint(2, 16)))] for _ in range(30)]
    docs_b[3][0][0] = 69999
    pa = write_indexed(idx, "a", docs_a, 1000)
    pb = write_indexed(idx, "b", docs_b, 70000)

    tok = types.SimpleNamespace(eos_id=0)
    cases = []

    def gpt_case(name, prefix, begin, end, num_samples, seq_length, seed, drop_last=True, extra=True,
                 shuffle=True, split="train"):
        cfg = OmegaConf.create({"data": {"index_mapping_dir": os.path.join(OUT, "idx"),
                                         "no_seqlen_plus_one_input_tokens": not extra,
                                         "shuffle_documents": shuffle}})
        data = idx.MMapIndexedDataset(prefix, skip_warmup=True)
        end = len(data) if end is None else end
        ds = gpt.GPTDataset(cfg, None, tok, split, prefix, np.arange(begin, end, dtype=np.int32), data,
                            num_samples, seq_length, seed, drop_last=drop_last)
        samples = np.stack([ds._get_text(i) for i in range(len(ds))])
        np.save(os.path.join(OUT, name + "_samples.npy"), samples.astype(np.int64))
        base = "%s_%s_indexmap_%dns_%dsl_%ds" % (os.path.basename(prefix), split, num_samples, seq_length, seed)
        cases.append(dict(case=name, data=os.path.basename(prefix), begin=begin, end=end, num_samples=num_samples,
                          seq_length=seq_length, seed=seed, drop_last=drop_last, add_extra_token=extra,
                          shuffle_documents=shuffle, split=split, cache=base, len=len(ds)))

    # Several epochs with the last one shuffled apart (few samples of it).
    gpt_case("multi_epoch", pa, 0, None, 60, 8, 1234)
    # One epoch: no separate last epoch.
    gpt_case("one_epoch", pa, 3, 40, 10, 7, 5)
    # Last epoch large enough to be shuffled with the others.
    gpt_case("merged_last", pb, 0, 30, 74, 9, 77)
    # The short last sample kept (validation_drop_last: false), padded with -1.
    gpt_case("keep_last", pb, 2, 11, 9, 6, 3, drop_last=False, split="valid")
    # no_seqlen_plus_one_input_tokens: samples of seq_length tokens.
    gpt_case("no_extra", pa, 0, 30, 25, 5, 11, extra=False, split="test")
    # shuffle_documents: false.
    gpt_case("no_shuffle_docs", pa, 0, None, 20, 10, 1, shuffle=False)

    splits = []
    for s, n in [("98,1,1", 1000), ("98,1,1", 46), ("1,1,1", 10), ("0.5,0.25,0.25", 7), ("1/1/2", 9),
                 ("100,0,0", 14), ("8,1,1", 5), ("3,3,3", 1), ("969,30,1", 46), ("2.5,2.5,5", 3)]:
        splits.append(dict(splits_string=s, size=n, index=[int(v) for v in bdu.get_train_valid_test_split_(s, n)]))

    # Two prefixes blended 0.3 / 0.7 over an 8,1,1 split of each.
    cfg = OmegaConf.create({"data": {"index_mapping_dir": os.path.join(OUT, "idx"), "validation_drop_last": True}})
    blend = dict(data_prefix=["0.3", "a", "0.7", "b"], splits_string="8,1,1", num_samples=[40, 6, 6],
                 seq_length=6, seed=42)
    prefixes = ["0.3", pa, "0.7", pb]
    dss = gpt.build_train_valid_test_datasets(cfg, None, prefixes, "mmap", blend["splits_string"],
                                              blend["num_samples"], blend["seq_length"], blend["seed"], True, tok)
    blend["len"] = []
    for name, ds in zip(["train", "valid", "test"], dss):
        blend["len"].append(len(ds))
        np.save(os.path.join(OUT, "blend_%s_samples.npy" % name),
                np.stack([ds[i]["tokens"].numpy() for i in range(len(ds))]).astype(np.int64))
        np.save(os.path.join(OUT, "blend_%s_labels.npy" % name),
                np.stack([ds[i]["labels"].numpy() for i in range(len(ds))]).astype(np.int64))
        np.save(os.path.join(OUT, "blend_%s_source.npy" % name),
                np.stack([ds.dataset_index.astype(np.int64), ds.dataset_sample_index]))
    # The dict form: a prefix list per split, all documents, no splits_string.
    cfg = OmegaConf.create({"data": {"index_mapping_dir": os.path.join(OUT, "idx"), "validation_drop_last": False,
                                     "splits_string": None}})
    per_split = dict(train=["b"], validation=["0.5", "a", "0.5", "b"], test=["a"], num_samples=[30, 11, 4],
                     seq_length=5, seed=8)
    dprefix = OmegaConf.create({"train": [pb], "validation": ["0.5", pa, "0.5", pb], "test": [pa]})
    dss = gpt.build_train_valid_test_datasets(cfg, None, dprefix, "mmap", None, per_split["num_samples"],
                                              per_split["seq_length"], per_split["seed"], True, tok)
    per_split["len"] = []
    for name, ds in zip(["train", "valid", "test"], dss):
        per_split["len"].append(len(ds))
        np.save(os.path.join(OUT, "dict_%s_samples.npy" % name),
                np.stack([ds[i]["tokens"].numpy() for i in range(len(ds))]).astype(np.int64))
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(dict(gpt=cases, splits=splits, blend=blend, per_split=per_split), f, indent=1)
    total = sum(os.path.getsize(p) for p in glob.glob(os.path.join(OUT, "**"), recursive=True) if os.path.isfile(p))
    print("wrote %s (%d bytes)" % (OUT, total))


if __name__ == "__main__":
    main()
