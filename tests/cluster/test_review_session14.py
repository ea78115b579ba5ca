"""Adversarial review of session 14's speed work (AVX-512 float4 kernels
used by the SQL operators, flat layer-0 lists, hop grouping, ivfflat
centers measured on the list pages).

Each test states the hazard it probes and checks against pgvector.
"""

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


def test_operators_at_float4_edges_match_pgvector(cluster):
    """The AVX-512 kernels sum lanes as a tree: '[2e38,2e38,-2e38]' <#>
    '[1,1,1]' gave -2e38 where pgvector gives -Infinity (its running total
    overflows); every operator on these pairs must give pgvector's value."""
    need_pgvector(cluster)
    ops = ["<->", "<#>", "<=>", "<+>"]
    funcs = ["l2_distance", "inner_product", "cosine_distance", "vector_norm"]
    got = {}
    for ext in ("vecstore", "pgvector"):
        db = ext_db(cluster, f"edges_{ext}", ext)
        with cluster.connect(db) as conn:
            rows = []
            for a, b in EDGE_PAIRS:
                exprs = [f"(%s::vector {op} %s::vector)::text" for op in ops]
                exprs += [f"{f}(%s::vector, %s::vector)::text" for f in funcs[:3]]
                exprs += ["vector_norm(%s::vector)::text"]
                params = [a, b] * (len(ops) + 3) + [a]
                rows.append(conn.execute("SELECT " + ", ".join(exprs), params).fetchone())
            got[ext] = rows
    for (a, b), mine, theirs in zip(EDGE_PAIRS, got["vecstore"], got["pgvector"]):
        assert mine == theirs, f"{a} vs {b}: vecstore {mine}, pgvector {theirs}"
