#!/usr/bin/python3
"""Writes tests/ref/yaml_types/types.tsv: how OmegaConf's YAML loader types
plain scalars, for test_config.c to compare against nc_cfg_scalar_type.

The loader is rebuilt the way omegaconf/_utils.py get_yaml_loader() does it
(PyYAML SafeLoader, OmegaConf's extra float resolver, no timestamp resolver),
since OmegaConf itself is not installed here. Columns: text, type, str(value)
as Python prints it (the text OmegaConf embeds in "a_${x}" strings)."""
import math
import os
import re

import yaml


def omegaconf_loader():
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(
            """^(?:
         [-+]?(?:[0-9][0-9_]*)\\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*
        |[-+]?\\.(?:inf|Inf|INF)
        |\\.(?:nan|NaN|NAN))$""",
            re.X,
        ),
        list("-+0123456789."),
    )
    Loader.yaml_implicit_resolvers = {
        k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
        for k, v in Loader.yaml_implicit_resolvers.items()
    }
    return Loader


TEXTS = """
null Null NULL ~ nul none None
true True TRUE false False FALSE yes Yes YES no No NO on On ON off Off OFF y Y n N tRue
0 00 7 -7 +7 010 08 0o7 0b101 -0b11 0x1F 0xff_ff 1_000 1__0 12345678901234 9223372036854775807
-9223372036854775808 1:30 -1:30:15 190:20:30 1:60 0:30
1.0 1. .5 -.5 +.5 -1.5 1e5 1E5 1e-5 1.0e-5 1.0e+5 2.5E-3 1_000.5 1.5e5_0 .inf -.inf +.inf .Inf .INF .nan .NaN .NAN
inf nan -inf 1:30.5 0.1 0.00001 1e16 1.0e16 123456789.123 5e-324 1e308 1.7976931348623157e308 1e-7 0.0001 100000000000000000.0
abc 1a 1.2.3 ${x} ??? 1e 1e+ e5 .e5 0x 0b2 12:3 1_ +1_0 -0 -0.0 0.0
""".split()


def main():
    loader = omegaconf_loader()
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "yaml_types")
    os.makedirs(out_dir, exist_ok=True)
    rows = []
    for t in TEXTS:
        v = yaml.load("v: " + t, Loader=loader)["v"]
        if v is None:
            kind = "null"
        elif isinstance(v, bool):
            kind = "bool"
        elif isinstance(v, int):
            kind = "int"
        elif isinstance(v, float):
            kind = "float"
        else:
            kind = "string"
        if kind == "int" and not (-(2**63) <= v < 2**63):
            kind = "int_overflow"
        s = str(v)
        if kind == "float" and math.isnan(v):
            s = "nan"
        rows.append(f"{t}\t{kind}\t{s}\n")
    with open(os.path.join(out_dir, "types.tsv"), "w") as f:
        f.writelines(rows)


if __name__ == "__main__":
    main()
