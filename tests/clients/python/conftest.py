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
