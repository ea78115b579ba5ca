"""psycopg 3 with pgvector-python: numpy in and out, text and binary
formats, binary COPY, an HNSW index."""
import numpy as np
import psycopg
from pgvector import Vector
from pgvector.psycopg import register_vector
from conftest import dsn, ROWS, QUERY, L2_ORDER


def connect(db):
    conn = psycopg.connect(dsn(db), autocommit=True)
    register_vector(conn)
    return conn


def test_insert_and_search_text_and_binary(dbname):
    with connect(dbname) as conn:
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, embedding vector(3))")
        for i, row in enumerate(ROWS[:3], start=1):
            conn.execute("INSERT INTO items VALUES (%s, %s)", (i, np.array(row, dtype=np.float32)))
        with conn.cursor(binary=True) as cur:
            for i, row in enumerate(ROWS[3:], start=4):
                cur.execute("INSERT INTO items VALUES (%s, %s)", (i, np.array(row, dtype=np.float32)))
        rows = conn.execute(
            "SELECT id, embedding <-> %s AS d FROM items ORDER BY embedding <-> %s LIMIT 5",
            (np.array(QUERY), np.array(QUERY))).fetchall()
        assert [r[0] for r in rows] == L2_ORDER
        assert abs(rows[1][1] - 1.0) < 1e-9
        assert abs(rows[2][1] - 3 ** 0.5) < 1e-6
        for binary in (False, True):
            with conn.cursor(binary=binary) as cur:
                got = cur.execute("SELECT embedding FROM items WHERE id = 6").fetchone()[0]
                assert isinstance(got, Vector)
                assert got.to_numpy().dtype == np.float32
                assert got.to_list() == np.array(ROWS[5], dtype=np.float32).tolist()


def test_round_trip_is_exact(dbname):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(384).astype(np.float32) * 1e3
    with connect(dbname) as conn:
        for binary in (False, True):
            with conn.cursor(binary=binary) as cur:
                back = cur.execute("SELECT %s::vector", (x,)).fetchone()[0]
                assert np.array_equal(back.to_numpy(), x)
        assert conn.execute("SELECT %s::vector::text", (Vector([1.5e38, -1.5e38]),)).fetchone()[0] == "[1.5e+38,-1.5e+38]"


def test_copy_binary(dbname):
    rng = np.random.default_rng(2)
    data = rng.standard_normal((500, 16)).astype(np.float32)
    with connect(dbname) as conn:
        conn.execute("CREATE TABLE copied (id int, embedding vector(16))")
        with conn.cursor().copy("COPY copied (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector"])
            for i, v in enumerate(data):
                copy.write_row((i, v))
        assert conn.execute("SELECT count(*) FROM copied").fetchone()[0] == 500
        back = conn.execute("SELECT embedding FROM copied WHERE id = 42").fetchone()[0]
        assert np.array_equal(back.to_numpy(), data[42])
        with conn.cursor().copy("COPY copied (id, embedding) TO STDOUT WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector"])
            out = {row[0]: row[1] for row in copy.rows()}
        assert np.array_equal(out[7].to_numpy(), data[7])


def test_hnsw_index_answers(dbname):
    rng = np.random.default_rng(3)
    data = rng.standard_normal((2000, 8)).astype(np.float32)
    with connect(dbname) as conn:
        conn.execute("CREATE TABLE big (id int PRIMARY KEY, embedding vector(8))")
        with conn.cursor().copy("COPY big (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector"])
            for i, v in enumerate(data):
                copy.write_row((i, v))
        conn.execute("CREATE INDEX ON big USING hnsw (embedding vector_l2_ops)")
        conn.execute("SET enable_seqscan = off")
        q = data[123] + 0.001
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN SELECT id FROM big ORDER BY embedding <-> %s LIMIT 5", (q,)))
        assert "Index Scan" in plan
        got = [r[0] for r in conn.execute("SELECT id FROM big ORDER BY embedding <-> %s LIMIT 5", (q,))]
        exact = np.argsort(((data - q) ** 2).sum(1))[:5].tolist()
        assert got[0] == 123 and len(set(got) & set(exact)) >= 4
