"""Adversarial review of session 14's speed work (AVX-512 float4 kernels
used by the SQL operators, flat layer-0 lists, hop grouping, ivfflat
centers measured on the list pages).

Each test states the hazard it probes and checks against pgvector.
"""

import json
import math

import numpy as np
import pytest

from helpers_index import ext_db, need_pgvector

# Short vectors whose float4 sums overflow in pgvector's sequential loop
# (fewer than 8 elements: its vectorised loop does not run) but not when
# lanes are summed as a tree, and the reverse; plus a plain overflow.
EDGE_PAIRS = [
    ("[2e38,2e38,-2e38]", "[1,1,1]"),
    ("[2e38,-2e38,2e38]", "[1,1,1]"),
    ("[2e38,2e38,-2e38,-2e38]", "[1,1,1,1]"),
    ("[-2e38,-2e38,2e38,2e38,1]", "[1,1,1,1,1]"),
    ("[3e38,0,1e38,-3e38,0,0,-1e38]", "[1,1,1,1,1,1,1]"),
    ("[1e38,1e38]", "[-1e38,-1e38]"),
    ("[3e38]", "[-3e38]"),
]


def _f32_sums(terms):
    """The float4 totals pgvector's loop can give for these terms, by how
    its compiler (it builds with -march=native) vectorised the loop:
    'sequential' (no vector code for fewer than 8 elements, as GCC tuned
    for AMD Zen emits) and 'lanes4' (GCC tuned for Intel: a 4-lane
    epilogue summed as (l1 + l3) + (l0 + l2), then the rest in order)."""
    t = [np.float32(x) for x in terms]
    seq = np.float32(0)
    for x in t:
        seq = np.float32(seq + x)
    lanes = seq
    if len(t) >= 4:
        lanes = np.float32(np.float32(t[1] + t[3]) + np.float32(t[0] + t[2]))
        for x in t[4:]:
            lanes = np.float32(lanes + x)
    return {"sequential": seq, "lanes4": lanes}


def _expected(a, b):
    """Each column of the query below, for both summation orders."""
    a = [np.float32(x) for x in a]
    b = [np.float32(x) for x in b]
    l2 = _f32_sums([np.float32(x - y) * np.float32(x - y) for x, y in zip(a, b)])
    ip = _f32_sums([np.float32(x * y) for x, y in zip(a, b)])
    aa = _f32_sums([np.float32(x * x) for x in a])
    bb = _f32_sums([np.float32(y * y) for y in b])
    l1 = _f32_sums([np.float32(abs(x - y)) for x, y in zip(a, b)])
    out = {}
    for order in ("sequential", "lanes4"):
        dist = math.sqrt(float(l2[order])) if not math.isnan(float(l2[order])) else math.nan
        sim = float(ip[order]) / math.sqrt(float(aa[order]) * float(bb[order]))
        cos = 1.0 - min(max(sim, -1.0), 1.0) if not math.isnan(sim) else math.nan
        inner = float(ip[order])
        out[order] = (dist, -inner, cos, float(l1[order]), dist, inner, cos)
    return out


def _same(x, y):
    return (math.isnan(x) and math.isnan(y)) or (x == y and math.copysign(1, x) == math.copysign(1, y))


def test_operators_at_float4_edges_match_pgvector(cluster):
    """The AVX-512 kernels sum lanes as a tree: '[2e38,2e38,-2e38]' <#>
    '[1,1,1]' gave -2e38 where pgvector gives -Infinity (its running total
    overflows). vecstore sums vectors of fewer than 8 elements in order,
    as pgvector's portable loop does; every operator must give pgvector's
    value, except where pgvector's own value depends on how its compiler
    vectorised the loop on this machine (a 4-lane epilogue sums '[2e38,
    2e38,-2e38,-2e38]' to 0, the loop in order to Infinity): there
    vecstore's is the in-order value and pgvector's one of the other
    orders."""
    need_pgvector(cluster)
    ops = ["<->", "<#>", "<=>", "<+>"]
    funcs = ["l2_distance", "inner_product", "cosine_distance", "vector_norm"]
    got = {}
    for ext in ("vecstore", "pgvector"):
        db = ext_db(cluster, f"edges_{ext}", ext)
        with cluster.connect(db) as conn:
            rows = []
            for a, b in EDGE_PAIRS:
                exprs = [f"(%s::vector {op} %s::vector)::float8" for op in ops]
                exprs += [f"{f}(%s::vector, %s::vector)::float8" for f in funcs[:3]]
                exprs += ["vector_norm(%s::vector)::float8"]
                params = [a, b] * (len(ops) + 3) + [a]
                rows.append(conn.execute("SELECT " + ", ".join(exprs), params).fetchone())
            got[ext] = rows
    with np.errstate(all="ignore"):
        for (a, b), mine, theirs in zip(EDGE_PAIRS, got["vecstore"], got["pgvector"]):
            assert _same(mine[-1], theirs[-1]), f"vector_norm({a}): vecstore {mine[-1]}, pgvector {theirs[-1]}"
            orders = _expected(json.loads(a), json.loads(b))
            for k, (m, t) in enumerate(zip(mine[:-1], theirs[:-1])):
                seq, lanes = orders["sequential"][k], orders["lanes4"][k]
                where = f"column {k} of {a} vs {b}: vecstore {m}, pgvector {t}"
                assert _same(m, seq), f"{where}; in order: {seq}"
                if _same(m, t):
                    continue
                # pgvector differs: only allowed where the order decides
                assert not _same(seq, lanes) and _same(t, lanes), f"{where}; 4 lanes: {lanes}"
        # the model itself tells the orders apart on the 4-element pair
        assert _same(_expected([2e38, 2e38, -2e38, -2e38], [1, 1, 1, 1])["lanes4"][1], -0.0)
