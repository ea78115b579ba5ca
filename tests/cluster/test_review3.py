"""Adversarial review of the halfvec / bit merge (7068d7a), each outcome
compared with pgvector 0.8 (extension `pgvector`) in the same cluster.

Confirmed defect (xfail, not strict: pgvector's own sum order depends on how it was compiled, so on another machine the two may agree):

- test_halfvec_ip_and_cosine_match_pgvector: on an 8-dim pair of halfvecs
  (one full FMA lane block, no tail) `inner_product` / `<#>` and
  `cosine_distance` / `<=>` differ from pgvector in the last bits
  (vecstore -10.4281644821167 vs pgvector -10.428165435791016;
  cosine 0.8145190975050167 vs 0.8145190910499948). The module doc of
  crates/core/src/distance/half.rs promises bit-for-bit results (lane
  reduction / accumulation order of the F16C path differs from the
  installed pgvector's). l2 and l1 on the same pairs match.

Everything else probed matched pgvector (text input incl. 65520/65519/NaN/
inf/whitespace/16,001 elements, typmods, array casts with NULLs/overflow,
subvector bounds, || past 16,000, avg/sum and the aggregate state
functions with hostile states, binary COPY with lying dim/unused/NaN/Inf/
trailing bytes, bit hamming/jaccard incl. 0-length and mismatched
lengths, hnsw on halfvec/bit with NULL, zero and wrong-dim queries, varbit
columns, inserts and VACUUM); no crash in the server log. Those cheap
checks are kept below as regression tests.
"""

import struct

import psycopg
import pytest

from helpers_index import ext_db


def outcome(conn, sql):
    try:
        cur = conn.execute(sql)
        return ("ok", cur.fetchall() if cur.description else None)
    except psycopg.Error as e:
        assert not conn.closed, f"server connection lost on {sql!r}: {e}"
        return ("err", e.sqlstate, str(e).split("\n")[0], e.diag.message_detail or "")


def copy_bin(conn, table, payload):
    data = (b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0) + struct.pack(">hi", 1, len(payload)) + payload
            + struct.pack(">h", -1))
    try:
        with conn.cursor() as cur:
            with cur.copy(f"COPY {table} (v) FROM STDIN (FORMAT binary)") as cp:
                cp.write(data)
        return ("ok",)
    except psycopg.Error as e:
        assert not conn.closed, f"server connection lost on binary COPY {payload.hex()}: {e}"
        return ("err", e.sqlstate, str(e).split("\n")[0])


@pytest.fixture(scope="module")
def dbs(cluster):
    a = ext_db(cluster, "r3_vs", "vecstore")
    b = ext_db(cluster, "r3_pv", "pgvector")
    with cluster.connect(a) as ca, cluster.connect(b) as cb:
        yield ca, cb
    assert not [l for l in cluster.log_problems(allow=("ERROR", "STATEMENT", "FATAL"))], "crash in server log"


def same(dbs, stmts):
    ca, cb = dbs
    diffs = []
    for s in stmts:
        ra, rb = outcome(ca, s), outcome(cb, s)
        if repr(ra) != repr(rb):
            diffs.append((s[:200], ra, rb))
    return diffs


X8 = "[-1408.9,-0.00047717,-9.9506,0.0050386,-0.065115,0.00046954,-26.087,0.97775]"
Y8 = "[0.009784,0.034942,-3.7336e-06,-9.2008e-05,0.0002751,6675.7,-0.0083927,8.9302e-05]"
C8X = "[0.052365,-1.7064,1.5636,-1.8993,1.0749,0.25144,-1.7582,0.65322]"
C8Y = "[1.9423,-0.15066,-0.34978,0.58983,1.1331,-0.87073,-1.3865,-0.23258]"


@pytest.mark.xfail(strict=False, reason="halfvec inner product / cosine differ from pgvector in the last bits "
                   "(8-dim F16C lane path, crates/core/src/distance/half.rs)")
def test_halfvec_ip_and_cosine_match_pgvector(dbs):
    assert same(dbs, [
        f"SELECT inner_product('{X8}'::halfvec, '{Y8}')",
        f"SELECT '{X8}'::halfvec <#> '{Y8}'",
        f"SELECT cosine_distance('{C8X}'::halfvec, '{C8Y}')",
        f"SELECT '{C8X}'::halfvec <=> '{C8Y}'",
    ]) == []


def test_halfvec_l2_l1_same_pairs_match(dbs):
    assert same(dbs, [f"SELECT l2_distance('{x}'::halfvec,'{y}'), l1_distance('{x}'::halfvec,'{y}')"
                      for x, y in [(X8, Y8), (C8X, C8Y)]]) == []


def test_halfvec_text_and_cast_errors_match(dbs):
    stmts = [f"SELECT '{t}'::halfvec" for t in [
        "[65520]", "[65519]", "[-65520]", "[4e38]", "[1e39]", "[NaN]", "[inf]", "[-Infinity]", "[ 1 , 2 ]", "[]",
        "", "[1,]", " [1] ", "[1] x", "[1e-8,-1e-8]", "[1e-46]", "[1.23456]", "[-0]", "[65519.99]", "[1e400]",
        "[1\t,2]", "[1 2]", "[.5]"]]
    stmts += [f"SELECT '[1]'::halfvec({m})" for m in ["0", "-1", "16000", "16001", "2147483647"]]
    stmts += ["SELECT '[1,2]'::halfvec(3)", "SELECT ('[' || repeat('1,',16000) || '1]')::halfvec IS NULL"]
    stmts += [f"SELECT {a}::halfvec" for a in [
        "'{1,NULL}'::int[]", "'{}'::int[]", "'{{1,2},{3,4}}'::int[]", "'{65520}'::real[]", "'{4e38}'::float8[]",
        "'{1e39}'::numeric[]", "'{NaN}'::real[]", "'{Infinity}'::float8[]", "'{NaN}'::numeric[]"]]
    stmts += ["SELECT array_fill(1, ARRAY[16001])::halfvec IS NULL", "SELECT '[65520]'::vector::halfvec"]
    stmts += [f"SELECT subvector('[1,2,3,4,5]'::halfvec,{s},{n})" for s, n in [
        (-1, 3), (3, 9), (-1, 2), (-2147483644, 2147483647), (1, 0), (6, 1), (2147483647, 2147483647),
        (-2147483648, -2147483648)]]
    stmts += ["SELECT '[65519]'::halfvec + '[65519]'", "SELECT '[1e-7]'::halfvec * '[1e-7]'",
              "SELECT '[1,2]'::halfvec <-> '[1]'",
              "SELECT array_fill(1::real,ARRAY[8000])::halfvec || array_fill(1::real,ARRAY[8001])::halfvec IS NULL",
              "SELECT l2_normalize('[65504,65504]'::halfvec), l2_normalize('[0,0]'::halfvec)"]
    assert same(dbs, stmts) == []


def test_halfvec_aggregates_and_states_match(dbs):
    stmts = ["SELECT avg(v) FROM (VALUES ('[65504]'::halfvec),('[65504]')) t(v)",
             "SELECT avg(v) FROM (VALUES ('[1,2]'::halfvec),('[1]')) t(v)",
             "SELECT sum(v) FROM (VALUES ('[65504]'::halfvec),('[65504]')) t(v)"]
    for st in ["'{0}'", "'{1}'", "'{}'", "'{NULL}'", "'{{1}}'", "'{1,1e308}'", "'{1,NaN}'", "'{1,65520}'",
               "'{-1,5}'"]:
        stmts += [f"SELECT halfvec_avg({st}::float8[])", f"SELECT halfvec_accum({st}::float8[], '[1]'::halfvec)",
                  f"SELECT halfvec_combine({st}::float8[], '{{1,2}}'::float8[])"]
    stmts += ["SELECT halfvec_avg(array_fill(1::float8, ARRAY[16002]))",
              "SELECT halfvec_combine('{1,1e308}'::float8[], '{1,1e308}'::float8[])"]
    assert same(dbs, stmts) == []


def test_halfvec_binary_recv_matches(dbs):
    ca, cb = dbs
    for c in (ca, cb):
        c.execute("CREATE TABLE IF NOT EXISTS rb (v halfvec)")
        c.execute("CREATE TABLE IF NOT EXISTS rb2 (v halfvec(2))")

    def h(dim, unused, halves, extra=b""):
        return struct.pack(">HH", dim, unused) + b"".join(struct.pack(">H", x) for x in halves) + extra

    cases = [h(1, 0, [0x3C00]), h(0, 0, []), h(0xFFFF, 0, []), h(16001, 0, []), h(16000, 0, [0] * 10),
             h(3, 0, [0x3C00] * 2), h(1, 0, [0x3C00] * 2), h(1, 1, [0x3C00]), h(1, 0, [0x7E00]),
             h(1, 0, [0x7C00]), h(1, 0, [0x0001]), h(1, 0, [0x8000]), h(0x8000, 0, []), b"\x00"]
    diffs = []
    for t in ("rb", "rb2"):
        for p in cases:
            ra, rb_ = copy_bin(ca, t, p), copy_bin(cb, t, p)
            if ra != rb_:
                diffs.append((t, p.hex(), ra, rb_))
    assert diffs == []
    assert same(dbs, ["SELECT v::text FROM rb ORDER BY 1"]) == []


def test_bit_distances_match(dbs):
    stmts = []
    for x, y in [("''", "''"), ("'1'", "''"), ("'101'", "'10'"), ("'1100'", "'1000'"), ("'0000'", "'0000'"),
                 ("B'1'::varbit", "B'1'::varbit")]:
        stmts += [f"SELECT hamming_distance({x},{y}), jaccard_distance({x},{y})",
                  f"SELECT {x}::varbit <~> {y}::varbit, {x}::varbit <%> {y}::varbit"]
    assert same(dbs, stmts) == []


def test_index_errors_and_wrong_dim_queries_match(dbs):
    stmts = ["SET enable_seqscan = off",
             "CREATE TABLE ih (id int, v halfvec(3))",
             "INSERT INTO ih VALUES (1,'[1,2,3]'),(2,'[0,0,0]'),(3,NULL),(4,'[-1,-2,-3]')",
             "CREATE INDEX ON ih USING hnsw (v halfvec_cosine_ops)",
             "SELECT count(*) FROM (SELECT id FROM ih ORDER BY v <=> '[0,0,0]' LIMIT 10) s",
             "SELECT count(*) FROM (SELECT id FROM ih ORDER BY v <=> (SELECT NULL::halfvec) LIMIT 10) s",
             "SELECT id FROM ih ORDER BY v <=> '[1,1]' LIMIT 10",
             "CREATE TABLE ib (id int, v bit(4))",
             "INSERT INTO ib VALUES (1,'1100'),(2,'0000'),(3,NULL),(4,'1111')",
             "CREATE INDEX ON ib USING hnsw (v bit_jaccard_ops)",
             "SELECT id FROM ib ORDER BY v <%> '10' LIMIT 10",
             "SELECT count(*) FROM (SELECT id FROM ib ORDER BY v <%> '0000' LIMIT 10) s",
             "CREATE TABLE iv (v varbit)",
             "CREATE INDEX ON iv USING hnsw (v bit_hamming_ops)",
             "CREATE TABLE ihn (v halfvec)",
             "CREATE INDEX ON ihn USING hnsw (v halfvec_l2_ops)",
             "CREATE TABLE ib65 (v bit(64001))",
             "CREATE INDEX ON ib65 USING hnsw (v bit_hamming_ops)",
             "RESET enable_seqscan"]
    assert same(dbs, stmts) == []


def test_hnsw_halfvec_16000_insert_vacuum(cluster, dbs):
    """vecstore (documented) indexes halfvec up to 16,000 dims; inserts, deletes
    and VACUUM on such an index must not crash and keep finding rows."""
    ca, _ = dbs
    ca.execute("CREATE TABLE h16 (id int, v halfvec(16000))")
    ca.execute("CREATE INDEX ON h16 USING hnsw (v halfvec_l2_ops)")
    ca.execute("INSERT INTO h16 SELECT i, array_fill(i::real, ARRAY[16000])::halfvec FROM generate_series(1,12) i")
    ca.execute("DELETE FROM h16 WHERE id <= 4")
    ca.execute("VACUUM h16")
    ca.execute("SET enable_seqscan = off")
    got = [r[0] for r in ca.execute(
        "SELECT id FROM h16 ORDER BY v <-> array_fill(1::real, ARRAY[16000])::halfvec LIMIT 3").fetchall()]
    ca.execute("RESET enable_seqscan")
    assert got == [5, 6, 7]
