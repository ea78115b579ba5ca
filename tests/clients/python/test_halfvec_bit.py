"""halfvec and bit through pgvector-python 0.5.1 (HalfVector, Bit, SQLAlchemy
HALFVEC/BIT): round trips in text and binary formats, binary COPY, and HNSW
indexes (halfvec_l2_ops, halfvec_cosine_ops, bit_hamming_ops) answering
<->, <=>, <~> in an exact, known order.  Django is in test_django.py
(one settings.configure per process)."""
import asyncio
import asyncpg
import numpy as np
import psycopg
from pgvector import Bit, HalfVector
from pgvector.psycopg import register_vector
from conftest import (dsn, HOST, HV_ROWS, HV_QUERY, HV_L2_ORDER, HV_COSINE_ORDER, BIT_ROWS, BIT_QUERY,
                      BIT_HAMMING_ORDER, hv_l2, hv_cosine, bit_hamming, check_order)

INDEXES = [("hv_l2_idx", "h halfvec_l2_ops"), ("hv_cos_idx", "h halfvec_cosine_ops"), ("bit_ham_idx", "b bit_hamming_ops")]


def connect(db):
    conn = psycopg.connect(dsn(db), autocommit=True)
    register_vector(conn)
    return conn


def create_indexes(execute, table):
    for name, spec in INDEXES:
        execute(f"CREATE INDEX {table}_{name} ON {table} USING hnsw ({spec})")


def test_psycopg_halfvec_bit_round_trip(dbname):
    with connect(dbname) as conn:
        conn.execute("CREATE TABLE pg_hb (id int PRIMARY KEY, h halfvec(3), b bit(8))")
        # rows 1-2: text format (HalfVector; numpy float16 goes through the
        # vector dumper and vector -> halfvec implicit cast), rows 3-6: binary
        conn.execute("INSERT INTO pg_hb VALUES (1, %s, %s)", (HalfVector(HV_ROWS[0]), Bit(BIT_ROWS[0])))
        conn.execute("INSERT INTO pg_hb VALUES (2, %s, %s)", (np.array(HV_ROWS[1], dtype=np.float16), Bit(BIT_ROWS[1])))
        with conn.cursor(binary=True) as cur:
            cur.execute("INSERT INTO pg_hb VALUES (3, %s, %s)", (HalfVector(np.array(HV_ROWS[2], dtype=np.float16)), Bit(BIT_ROWS[2])))
            cur.execute("INSERT INTO pg_hb VALUES (4, %s, %s)", (np.array(HV_ROWS[3], dtype=np.float16), Bit(BIT_ROWS[3])))
        for i in (5, 6):
            conn.execute("INSERT INTO pg_hb VALUES (%s, %s, %s)", (i, HalfVector(HV_ROWS[i - 1]), Bit(BIT_ROWS[i - 1])), binary=True)
        assert conn.execute("SELECT h::text, b::text FROM pg_hb WHERE id = 1").fetchone() == ("[1.5,2,3]", "10101010")
        for binary in (False, True):
            with conn.cursor(binary=binary) as cur:
                for i in range(1, 7):
                    h, b = cur.execute("SELECT h, b FROM pg_hb WHERE id = %s", (i,)).fetchone()
                    assert isinstance(h, HalfVector)
                    assert h == HalfVector(HV_ROWS[i - 1])
                    assert h.to_numpy().dtype == np.float16
                    assert h.to_list() == [float(x) for x in HV_ROWS[i - 1]]
                    # pgvector 0.5.1 registers a Bit dumper but no bit loader:
                    # text comes back as str, binary as the raw varbit bytes
                    if binary:
                        assert Bit.from_binary(b) == Bit(BIT_ROWS[i - 1])
                    else:
                        assert b == BIT_ROWS[i - 1]
        # halfvec <-> vector casts keep the values
        h = conn.execute("SELECT %s::vector::halfvec", (np.array([1.5, -2.25, 65504], dtype=np.float32),)).fetchone()[0]
        assert h.to_list() == [1.5, -2.25, 65504.0]


def test_psycopg_halfvec_bit_copy_binary(dbname):
    rng = np.random.default_rng(4)
    data = rng.standard_normal((300, 16)).astype(np.float16)
    bits = rng.integers(0, 2, (300, 24)).astype(bool)
    with connect(dbname) as conn:
        conn.execute("CREATE TABLE pg_hb_copy (id int, h halfvec(16), b bit(24))")
        with conn.cursor().copy("COPY pg_hb_copy (id, h, b) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "halfvec", "bit"])
            for i in range(len(data)):
                copy.write_row((i, HalfVector(data[i]), Bit(bits[i])))
        assert conn.execute("SELECT count(*) FROM pg_hb_copy").fetchone()[0] == 300
        h, b = conn.execute("SELECT h, b FROM pg_hb_copy WHERE id = 42").fetchone()
        assert np.array_equal(h.to_numpy(), data[42])
        assert Bit(b) == Bit(bits[42])
        with conn.cursor().copy("COPY pg_hb_copy (id, h, b) TO STDOUT WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "halfvec", "bytea"])
            out = {row[0]: (row[1], row[2]) for row in copy.rows()}
        assert len(out) == 300
        for i in (0, 7, 299):
            assert isinstance(out[i][0], HalfVector) and np.array_equal(out[i][0].to_numpy(), data[i])
            assert np.array_equal(Bit.from_binary(out[i][1]).to_numpy(), bits[i])


def test_psycopg_halfvec_bit_hnsw(dbname):
    with connect(dbname) as conn:
        conn.execute("CREATE TABLE pg_hb_idx (id int PRIMARY KEY, h halfvec(3), b bit(8))")
        with conn.cursor(binary=True) as cur:
            cur.executemany("INSERT INTO pg_hb_idx VALUES (%s, %s, %s)",
                            [(i, HalfVector(r), Bit(b)) for i, (r, b) in enumerate(zip(HV_ROWS, BIT_ROWS), start=1)])
        create_indexes(conn.execute, "pg_hb_idx")
        conn.execute("SET enable_seqscan = off")
        q, qb = HalfVector(HV_QUERY), Bit(BIT_QUERY)
        for binary in (False, True):
            with conn.cursor(binary=binary) as cur:
                for op, idx, arg, order, dist in [("<->", "hv_l2_idx", q, HV_L2_ORDER, hv_l2),
                                                  ("<=>", "hv_cos_idx", q, HV_COSINE_ORDER, hv_cosine),
                                                  ("<~>", "bit_ham_idx", qb, BIT_HAMMING_ORDER, bit_hamming)]:
                    col = "b" if op == "<~>" else "h"
                    sql = f"SELECT id, {col} {op} %s FROM pg_hb_idx ORDER BY {col} {op} %s LIMIT 6"
                    plan = "\n".join(r[0] for r in cur.execute("EXPLAIN " + sql, (arg, arg)))
                    assert f"Index Scan using pg_hb_idx_{idx}" in plan, plan
                    check_order(cur.execute(sql, (arg, arg)).fetchall(), order, dist)


def test_sqlalchemy_halfvec_bit(dbname):
    from pgvector.sqlalchemy import BIT, HALFVEC
    from sqlalchemy import Index, Integer, create_engine, event, select
    from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

    class Base(DeclarativeBase):
        pass

    class HBItem(Base):
        __tablename__ = "sa_hb"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        h = mapped_column(HALFVEC(3))
        b = mapped_column(BIT(8))

    for name, col, ops in [("sa_hb_hv_l2_idx", HBItem.h, "halfvec_l2_ops"), ("sa_hb_hv_cos_idx", HBItem.h, "halfvec_cosine_ops"),
                           ("sa_hb_bit_ham_idx", HBItem.b, "bit_hamming_ops")]:
        Index(name, col, postgresql_using="hnsw", postgresql_with={"m": 16, "ef_construction": 64},
              postgresql_ops={col.key: ops})

    engine = create_engine(f"postgresql+psycopg://@/{dbname}?host={HOST}")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add_all([HBItem(id=i, h=(HalfVector(r) if i % 2 else np.array(r, dtype=np.float16)), b=b)
                   for i, (r, b) in enumerate(zip(HV_ROWS, BIT_ROWS), start=1)])
        s.commit()
        for i in range(1, 7):
            h, b = s.execute(select(HBItem.h, HBItem.b).where(HBItem.id == i)).one()
            assert h == [float(x) for x in HV_ROWS[i - 1]]  # HALFVEC returns list[float] in 0.5.1
            assert b == BIT_ROWS[i - 1]
        s.connection().exec_driver_sql("SET enable_seqscan = off")
        for comp, arg, order, dist, idx in [(HBItem.h.l2_distance, HalfVector(HV_QUERY), HV_L2_ORDER, hv_l2, "sa_hb_hv_l2_idx"),
                                            (HBItem.h.cosine_distance, np.array(HV_QUERY, dtype=np.float16), HV_COSINE_ORDER, hv_cosine, "sa_hb_hv_cos_idx"),
                                            (HBItem.b.hamming_distance, BIT_QUERY, BIT_HAMMING_ORDER, bit_hamming, "sa_hb_bit_ham_idx")]:
            stmt = select(HBItem.id, comp(arg)).order_by(comp(arg)).limit(6)
            seen = []
            listener = lambda conn, cur, sql, params, ctx, many: seen.append((sql, params))
            event.listen(engine, "before_cursor_execute", listener)
            rows = [tuple(r) for r in s.execute(stmt)]
            event.remove(engine, "before_cursor_execute", listener)
            check_order(rows, order, dist)
            # EXPLAIN the very statement and parameters SQLAlchemy sent
            with s.connection().connection.cursor() as cur:
                cur.execute("EXPLAIN " + seen[-1][0], seen[-1][1])
                plan = "\n".join(r[0] for r in cur.fetchall())
            assert f"Index Scan using {idx}" in plan, plan
    with engine.connect() as c:
        defs = dict(c.exec_driver_sql("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'sa_hb'").all())
        assert "USING hnsw (h halfvec_l2_ops)" in defs["sa_hb_hv_l2_idx"]
        assert "USING hnsw (h halfvec_cosine_ops)" in defs["sa_hb_hv_cos_idx"]
        assert "USING hnsw (b bit_hamming_ops)" in defs["sa_hb_bit_ham_idx"]
    engine.dispose()


def test_asyncpg_halfvec_bit(dbname):
    from pgvector.asyncpg import register_vector as register_vector_asyncpg

    async def run():
        conn = await asyncpg.connect(host=HOST, database=dbname)
        await register_vector_asyncpg(conn)  # halfvec codec; bit uses asyncpg's own BitString
        await conn.execute("CREATE TABLE ap_hb (id int PRIMARY KEY, h halfvec(3), b bit(8))")
        await conn.executemany("INSERT INTO ap_hb VALUES ($1, $2, $3)",
                               [(i, HalfVector(r) if i % 2 else np.array(r, dtype=np.float16), asyncpg.BitString(b))
                                for i, (r, b) in enumerate(zip(HV_ROWS, BIT_ROWS), start=1)])
        for i in range(1, 7):
            row = await conn.fetchrow("SELECT h, b FROM ap_hb WHERE id = $1", i)
            assert isinstance(row["h"], HalfVector) and row["h"] == HalfVector(HV_ROWS[i - 1])
            assert row["h"].to_numpy().dtype == np.float16
            assert isinstance(row["b"], asyncpg.BitString) and row["b"].as_string().replace(" ", "") == BIT_ROWS[i - 1]
        for name, spec in INDEXES:
            await conn.execute(f"CREATE INDEX ap_hb_{name} ON ap_hb USING hnsw ({spec})")
        await conn.execute("SET enable_seqscan = off")
        for col, op, arg, order, dist, idx in [("h", "<->", np.array(HV_QUERY, dtype=np.float16), HV_L2_ORDER, hv_l2, "hv_l2_idx"),
                                               ("h", "<=>", HalfVector(HV_QUERY), HV_COSINE_ORDER, hv_cosine, "hv_cos_idx"),
                                               ("b", "<~>", asyncpg.BitString(BIT_QUERY), BIT_HAMMING_ORDER, bit_hamming, "bit_ham_idx")]:
            sql = f"SELECT id, {col} {op} $1 AS d FROM ap_hb ORDER BY {col} {op} $1 LIMIT 6"
            plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN " + sql, arg))
            assert f"Index Scan using ap_hb_{idx}" in plan, plan
            check_order([(r["id"], r["d"]) for r in await conn.fetch(sql, arg)], order, dist)
        await conn.close()
    asyncio.run(run())
