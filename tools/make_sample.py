#!/usr/bin/env python3
"""Regenerates data/sample/sentences.tsv: the first N sentences of the
minilm-10k set (all-MiniLM-L6-v2 embeddings, 384-d, from ../shared/data) as
a tab-separated COPY file: id, source, sentence, embedding.

Run from the repository root: python3 tools/make_sample.py [N]
"""
import struct, sys

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
D = "../shared/data/minilm-10k/minilm-10k"

def fvecs(path, n):
    out = []
    with open(path, "rb") as f:
        for _ in range(n):
            (d,) = struct.unpack("<i", f.read(4))
            out.append(struct.unpack(f"<{d}f", f.read(4 * d)))
    return out

def short(x):
    """Shortest decimal that reads back as the same float32."""
    for p in range(1, 10):
        t = "%.*g" % (p, x)
        if struct.unpack("<f", struct.pack("<f", float(t)))[0] == x:
            return t
    return repr(x)

def esc(s):
    return s.replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")

vecs = fvecs(D + ".base.fvecs", N)
texts = open(D + ".base.txt", encoding="utf-8").read().split("\n")[:N]
sources = open(D + ".base.source.txt", encoding="utf-8").read().split("\n")[:N]
with open("data/sample/sentences.tsv", "w", encoding="utf-8") as f:
    for i, (v, t, s) in enumerate(zip(vecs, texts, sources)):
        vec = "[" + ",".join(short(x) for x in v) + "]"
        f.write(f"{i + 1}\t{esc(s)}\t{esc(t)}\t{vec}\n")
print(f"wrote {N} rows")
