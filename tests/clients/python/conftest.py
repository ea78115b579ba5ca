"""Shared fixtures: a fresh database with vecstore per test module."""
import os
import psycopg
import pytest

# run.sh starts a throwaway cluster and exports PGHOST/PGPORT/PGUSER (which
# libpq, asyncpg and Django's backend also read); never the machine's own.
if "VECSTORE_TMP_CLUSTER" not in os.environ:
    raise RuntimeError("run these tests through tests/clients/python/run.sh (throwaway cluster)")
HOST = os.environ["PGHOST"]
PORT = os.environ["PGPORT"]


def dsn(db):
    return f"host={HOST} port={PORT} dbname={db}"


@pytest.fixture(scope="module")
def dbname(request):
    name = "vecstore_client_" + request.module.__name__.rsplit(".", 1)[-1].replace("test_", "")
    with psycopg.connect(dsn("postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    with psycopg.connect(dsn(name), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION vecstore")
    yield name
    with psycopg.connect(dsn("postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# A small dataset whose nearest neighbours are known exactly.
ROWS = [[1, 1, 1], [2, 2, 2], [1, 1, 2], [-1, 0, 5], [10, -3, 1], [0.5, 0.25, -1.5e38 / 1e38]]
QUERY = [1, 1, 1]
L2_ORDER = [1, 3, 2, 6, 4]

# halfvec(3) / bit(8) dataset (every value exact in float16) with exactly
# known, tie-free orders from HV_QUERY / BIT_QUERY.
HV_ROWS = [[1.5, 2, 3], [1, 1, 1], [1, 1, 2], [-1, 0, 5], [10, -3, 1], [2, 2, 1]]
HV_QUERY = [1, 1, 1]
HV_L2_ORDER = [2, 3, 6, 1, 4, 5]
HV_COSINE_ORDER = [2, 6, 1, 3, 4, 5]
BIT_ROWS = ["10101010", "10101011", "01010101", "11111111", "10100000", "01001010"]
BIT_QUERY = "10101010"
BIT_HAMMING_ORDER = [1, 2, 5, 6, 4, 3]  # distances 0, 1, 2, 3, 4, 8


def hv_l2(i):
    import numpy as np
    return float(np.linalg.norm(np.array(HV_ROWS[i - 1], dtype=np.float64) - np.array(HV_QUERY, dtype=np.float64)))


def hv_cosine(i):
    import numpy as np
    a, q = np.array(HV_ROWS[i - 1], dtype=np.float64), np.array(HV_QUERY, dtype=np.float64)
    return float(1 - a.dot(q) / (np.linalg.norm(a) * np.linalg.norm(q)))


def bit_hamming(i):
    return float(sum(x != y for x, y in zip(BIT_ROWS[i - 1], BIT_QUERY)))


def check_order(rows, order, dist, tol=1e-6):
    """rows: [(id, distance)] from an ORDER BY ... LIMIT query."""
    assert [r[0] for r in rows] == order, rows
    for i, d in rows:
        assert abs(d - dist(i)) <= tol, (i, d, dist(i))
