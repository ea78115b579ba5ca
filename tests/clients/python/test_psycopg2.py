"""psycopg2 with pgvector-python."""
import numpy as np
import psycopg2
from pgvector.psycopg2 import register_vector
from conftest import HOST, ROWS, QUERY, L2_ORDER


def test_psycopg2(dbname):
    conn = psycopg2.connect(host=HOST, dbname=dbname)
    conn.autocommit = True
    register_vector(conn)
    cur = conn.cursor()
    cur.execute("CREATE TABLE items (id int PRIMARY KEY, embedding vector(3))")
    for i, row in enumerate(ROWS, start=1):
        cur.execute("INSERT INTO items VALUES (%s, %s)", (i, np.array(row)))
    cur.execute("CREATE INDEX ON items USING hnsw (embedding vector_l2_ops)")
    cur.execute("SET enable_seqscan = off")
    cur.execute("SELECT id, embedding <-> %s FROM items ORDER BY embedding <-> %s LIMIT 5", (np.array(QUERY), np.array(QUERY)))
    rows = cur.fetchall()
    assert [r[0] for r in rows] == L2_ORDER
    assert abs(rows[2][1] - 3 ** 0.5) < 1e-6
    cur.execute("SELECT embedding FROM items WHERE id = 4")
    assert cur.fetchone()[0].to_list() == [-1.0, 0.0, 5.0]
    conn.close()
