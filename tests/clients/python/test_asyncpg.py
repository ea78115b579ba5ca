"""asyncpg with pgvector-python (binary codec)."""
import asyncio
import asyncpg
import numpy as np
from pgvector.asyncpg import register_vector
from conftest import HOST, ROWS, QUERY, L2_ORDER


def test_asyncpg(dbname):
    async def run():
        conn = await asyncpg.connect(host=HOST, database=dbname)
        await register_vector(conn)
        await conn.execute("CREATE TABLE items (id int PRIMARY KEY, embedding vector(3))")
        await conn.executemany("INSERT INTO items VALUES ($1, $2)",
                               [(i, np.array(r, dtype=np.float32)) for i, r in enumerate(ROWS, start=1)])
        await conn.execute("CREATE INDEX ON items USING hnsw (embedding vector_l2_ops)")
        await conn.execute("SET enable_seqscan = off")
        rows = await conn.fetch("SELECT id, embedding <-> $1 AS d FROM items ORDER BY embedding <-> $1 LIMIT 5",
                                np.array(QUERY, dtype=np.float32))
        assert [r["id"] for r in rows] == L2_ORDER
        assert abs(rows[1]["d"] - 1.0) < 1e-9 and abs(rows[2]["d"] - 3 ** 0.5) < 1e-6
        got = await conn.fetchval("SELECT embedding FROM items WHERE id = 5")
        assert got.to_list() == [10.0, -3.0, 1.0]
        await conn.close()
    asyncio.run(run())
