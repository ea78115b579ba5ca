"""sparsevec through pgvector-python 0.5.1 (SparseVector, SQLAlchemy
SPARSEVEC, asyncpg): round trips in text and binary formats (pgvector's
wire format: dim, nnz, unused, 0-based indices, values), binary COPY, and
HNSW indexes (sparsevec_l2/ip/cosine/l1_ops) answering <->, <#>, <=>, <+>
in an exact, known order. Django is in test_django.py."""
import asyncio
import asyncpg
import numpy as np
import psycopg
from pgvector import SparseVector
from pgvector.psycopg import register_vector
from conftest import dsn, HOST, check_order

DIM = 6
# dense forms of the rows; orders from SV_QUERY are tie-free for every metric
SV_ROWS = [[1, 0, 0, 2, 0, 0], [1, 1, 1, 0, 0, 0], [0, 0, 0, 0, 0, 5],
           [2, 2, 0, 0, 0, 0], [0, 2, 0, 0, 3, 0], [1, 1, 1.5, 0, 0, 0.5]]
SV_QUERY = [1, 1, 1, 0, 0, 0]
OPS = {  # operator -> (opclass, distance, expected order)
    "<->": ("sparsevec_l2_ops", lambda a, q: float(np.linalg.norm(a - q)), [2, 6, 4, 1, 5, 3]),
    "<#>": ("sparsevec_ip_ops", lambda a, q: float(-a.dot(q)), [4, 6, 2, 5, 1, 3]),
    "<=>": ("sparsevec_cosine_ops", lambda a, q: float(1 - a.dot(q) / (np.linalg.norm(a) * np.linalg.norm(q))), [2, 6, 4, 5, 1, 3]),
    "<+>": ("sparsevec_l1_ops", lambda a, q: float(np.abs(a - q).sum()), [2, 6, 4, 1, 5, 3]),
}
NAMES = {"<->": "l2", "<#>": "ip", "<=>": "cos", "<+>": "l1"}


def dist_of(op):
    f = OPS[op][1]
    return lambda i: f(np.array(SV_ROWS[i - 1], dtype=np.float64), np.array(SV_QUERY, dtype=np.float64))


def sv(dense):
    return SparseVector({i: float(v) for i, v in enumerate(dense) if v != 0}, len(dense))


def connect(db):
    conn = psycopg.connect(dsn(db), autocommit=True)
    register_vector(conn)
    return conn


def test_orders_are_tie_free():
    for op, (_, _, order) in OPS.items():
        d = [dist_of(op)(i) for i in order]
        assert d == sorted(d) and len(set(d)) == len(d), (op, d)


def test_psycopg_sparsevec_round_trip(dbname):
    with connect(dbname) as conn:
        conn.execute(f"CREATE TABLE pg_sv (id int PRIMARY KEY, s sparsevec({DIM}))")
        # text format: SparseVector from a dict, from a dense list, from numpy
        conn.execute("INSERT INTO pg_sv VALUES (1, %s)", (sv(SV_ROWS[0]),))
        conn.execute("INSERT INTO pg_sv VALUES (2, %s)", (SparseVector(SV_ROWS[1]),))
        conn.execute("INSERT INTO pg_sv VALUES (3, %s)", (SparseVector(np.array(SV_ROWS[2], dtype=np.float32)),))
        with conn.cursor(binary=True) as cur:
            for i in (4, 5, 6):
                cur.execute("INSERT INTO pg_sv VALUES (%s, %s)", (i, sv(SV_ROWS[i - 1])))
        assert conn.execute("SELECT s::text FROM pg_sv WHERE id = 1").fetchone()[0] == "{1:1,4:2}/6"
        assert conn.execute("SELECT s::text FROM pg_sv WHERE id = 6").fetchone()[0] == "{1:1,2:1,3:1.5,6:0.5}/6"
        for binary in (False, True):
            with conn.cursor(binary=binary) as cur:
                for i in range(1, 7):
                    s = cur.execute("SELECT s FROM pg_sv WHERE id = %s", (i,)).fetchone()[0]
                    assert isinstance(s, SparseVector)
                    assert s == sv(SV_ROWS[i - 1])
                    assert s.dimensions() == DIM
                    assert s.indices() == [k for k, v in enumerate(SV_ROWS[i - 1]) if v != 0]
                    assert s.to_list() == [float(v) for v in SV_ROWS[i - 1]]
        # the binary form is pgvector's: send gives SparseVector.to_binary's bytes
        sent = conn.execute("SELECT sparsevec_send(s) FROM pg_sv WHERE id = 6").fetchone()[0]
        assert bytes(sent) == sv(SV_ROWS[5]).to_binary()
        # casts from and to vector keep the values; zeros are dropped
        s = conn.execute("SELECT %s::vector::sparsevec", (np.array([0, 1.5, 0, -2], dtype=np.float32),)).fetchone()[0]
        assert (s.indices(), s.values(), s.dimensions()) == ([1, 3], [1.5, -2.0], 4)
        # a SPLADE-sized value: 30,522 dimensions, 1,100 non-zeros, both formats
        rng = np.random.default_rng(3)
        idx = sorted(rng.choice(30522, 1100, replace=False).tolist())
        big = SparseVector({i: float(np.float32(rng.random() + 0.1)) for i in idx}, 30522)
        for binary in (False, True):
            back = conn.execute("SELECT %s::sparsevec(30522)", (big,), binary=binary).fetchone()[0]
            # text gives the shortest decimals, which read back as float64
            assert (back.dimensions(), back.indices()) == (30522, idx)
            assert np.array_equal(np.array(back.values(), dtype=np.float32), np.array(big.values(), dtype=np.float32))
        # server-side errors reach the client with pgvector's wording
        try:
            conn.execute("SELECT %s::sparsevec(5)", (sv(SV_ROWS[0]),))
            raise AssertionError("typmod not enforced")
        except psycopg.errors.DataException as e:
            assert "expected 5 dimensions, not 6" in str(e)


def test_psycopg_sparsevec_copy_binary(dbname):
    rng = np.random.default_rng(5)
    rows = []
    for _ in range(200):
        idx = sorted(rng.choice(1000, int(rng.integers(0, 40)), replace=False).tolist())
        rows.append(SparseVector({i: float(np.float32(rng.standard_normal() or 1.0)) for i in idx}, 1000))
    with connect(dbname) as conn:
        conn.execute("CREATE TABLE pg_sv_copy (id int, s sparsevec(1000))")
        with conn.cursor().copy("COPY pg_sv_copy (id, s) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "sparsevec"])
            for i, r in enumerate(rows):
                copy.write_row((i, r))
        assert conn.execute("SELECT count(*) FROM pg_sv_copy").fetchone()[0] == 200
        with conn.cursor().copy("COPY pg_sv_copy (id, s) TO STDOUT WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "sparsevec"])
            out = {row[0]: row[1] for row in copy.rows()}
        assert out == dict(enumerate(rows))


def test_psycopg_sparsevec_hnsw(dbname):
    with connect(dbname) as conn:
        conn.execute(f"CREATE TABLE pg_sv_idx (id int PRIMARY KEY, s sparsevec({DIM}))")
        with conn.cursor(binary=True) as cur:
            cur.executemany("INSERT INTO pg_sv_idx VALUES (%s, %s)", [(i, sv(r)) for i, r in enumerate(SV_ROWS, start=1)])
        for op, (opclass, _, _) in OPS.items():
            conn.execute(f"CREATE INDEX pg_sv_idx_{NAMES[op]} ON pg_sv_idx USING hnsw (s {opclass})")
        conn.execute("SET enable_seqscan = off")
        q = sv(SV_QUERY)
        for binary in (False, True):
            with conn.cursor(binary=binary) as cur:
                for op, (_, _, order) in OPS.items():
                    sql = f"SELECT id, s {op} %s FROM pg_sv_idx ORDER BY s {op} %s LIMIT 6"
                    plan = "\n".join(r[0] for r in cur.execute("EXPLAIN " + sql, (q, q)))
                    assert f"Index Scan using pg_sv_idx_{NAMES[op]}" in plan, plan
                    check_order(cur.execute(sql, (q, q)).fetchall(), order, dist_of(op))


def test_sqlalchemy_sparsevec(dbname):
    from pgvector.sqlalchemy import SPARSEVEC
    from sqlalchemy import Index, Integer, create_engine, event, select
    from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

    class Base(DeclarativeBase):
        pass

    class SVItem(Base):
        __tablename__ = "sa_sv"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        s = mapped_column(SPARSEVEC(DIM))

    for op, (opclass, _, _) in OPS.items():
        Index(f"sa_sv_{NAMES[op]}_idx", SVItem.s, postgresql_using="hnsw", postgresql_with={"m": 16, "ef_construction": 64},
              postgresql_ops={"s": opclass})

    engine = create_engine(f"postgresql+psycopg://@/{dbname}?host={HOST}")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add_all([SVItem(id=i, s=(sv(r) if i % 2 else np.array(r, dtype=np.float32))) for i, r in enumerate(SV_ROWS, start=1)])
        s.commit()
        for i in range(1, 7):
            got = s.execute(select(SVItem.s).where(SVItem.id == i)).scalar_one()
            assert isinstance(got, SparseVector) and got == sv(SV_ROWS[i - 1])
        s.connection().exec_driver_sql("SET enable_seqscan = off")
        q = sv(SV_QUERY)
        for comp, op in [(SVItem.s.l2_distance, "<->"), (SVItem.s.max_inner_product, "<#>"),
                         (SVItem.s.cosine_distance, "<=>"), (SVItem.s.l1_distance, "<+>")]:
            stmt = select(SVItem.id, comp(q)).order_by(comp(q)).limit(6)
            seen = []
            listener = lambda conn, cur, sql, params, ctx, many: seen.append((sql, params))
            event.listen(engine, "before_cursor_execute", listener)
            rows = [tuple(r) for r in s.execute(stmt)]
            event.remove(engine, "before_cursor_execute", listener)
            check_order(rows, OPS[op][2], dist_of(op))
            with s.connection().connection.cursor() as cur:
                cur.execute("EXPLAIN " + seen[-1][0], seen[-1][1])
                plan = "\n".join(r[0] for r in cur.fetchall())
            assert f"Index Scan using sa_sv_{NAMES[op]}_idx" in plan, plan
    with engine.connect() as c:
        defs = dict(c.exec_driver_sql("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'sa_sv'").all())
        for op, (opclass, _, _) in OPS.items():
            assert f"USING hnsw (s {opclass})" in defs[f"sa_sv_{NAMES[op]}_idx"]
    engine.dispose()


def test_asyncpg_sparsevec(dbname):
    from pgvector.asyncpg import register_vector as register_vector_asyncpg

    async def run():
        conn = await asyncpg.connect(host=HOST, database=dbname)
        await register_vector_asyncpg(conn)  # binary codec for sparsevec
        await conn.execute(f"CREATE TABLE ap_sv (id int PRIMARY KEY, s sparsevec({DIM}))")
        await conn.executemany("INSERT INTO ap_sv VALUES ($1, $2)",
                               [(i, sv(r) if i % 2 else np.array(r, dtype=np.float32)) for i, r in enumerate(SV_ROWS, start=1)])
        for i in range(1, 7):
            got = await conn.fetchval("SELECT s FROM ap_sv WHERE id = $1", i)
            assert isinstance(got, SparseVector) and got == sv(SV_ROWS[i - 1])
        assert await conn.fetchval("SELECT s::text FROM ap_sv WHERE id = 5") == "{2:2,5:3}/6"
        for op, (opclass, _, _) in OPS.items():
            await conn.execute(f"CREATE INDEX ap_sv_{NAMES[op]} ON ap_sv USING hnsw (s {opclass})")
        await conn.execute("SET enable_seqscan = off")
        for op, (_, _, order) in OPS.items():
            sql = f"SELECT id, s {op} $1 AS d FROM ap_sv ORDER BY s {op} $1 LIMIT 6"
            plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN " + sql, sv(SV_QUERY)))
            assert f"Index Scan using ap_sv_{NAMES[op]}" in plan, plan
            check_order([(r["id"], r["d"]) for r in await conn.fetch(sql, sv(SV_QUERY))], order, dist_of(op))
        await conn.close()
    asyncio.run(run())
