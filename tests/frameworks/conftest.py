"""Shared fixtures for the framework tests: a fresh database per test module
with no extension (the frameworks create `vector` themselves), deterministic
fake embeddings and exact nearest-neighbour answers computed here."""
import hashlib
import os
import re
import subprocess

import numpy as np
import psycopg
import pytest

# run.sh starts a throwaway cluster and exports PGHOST/PGPORT/PGUSER; never
# the machine's own.
if "VECSTORE_TMP_CLUSTER" not in os.environ:
    raise RuntimeError("run these tests through tests/frameworks/run.sh (throwaway cluster)")
HOST = os.environ["PGHOST"]
PORT = os.environ["PGPORT"]
USER = os.environ["PGUSER"]
VERSION = os.environ["VECSTORE_VERSION"]  # Cargo.toml's, from run.sh
_CONTROL = os.path.join(subprocess.check_output([os.environ["PG_CONFIG"], "--sharedir"], text=True).strip(),
                        "extension", "vecstore.control")
# the library vecstore's functions name (vecstore.control's module_pathname)
LIBRARY = re.search(r"^module_pathname = '(.*)'$", open(_CONTROL).read(), re.M).group(1)
DIM = 16


def dsn(db):
    return f"host={HOST} port={PORT} dbname={db}"


def sa_url(driver, db):
    """SQLAlchemy URL over the cluster's unix socket."""
    return f"postgresql+{driver}://{USER}@/{db}?host={HOST}&port={PORT}"


def fresh_db(name, extension=None):
    with psycopg.connect(dsn("postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    if extension:
        with psycopg.connect(dsn(name), autocommit=True) as c:
            c.execute(f"CREATE EXTENSION {extension}")
    return name


@pytest.fixture(scope="module")
def dbname(request):
    name = fresh_db("fw_" + request.module.__name__.rsplit(".", 1)[-1].replace("test_", ""))
    yield name
    with psycopg.connect(dsn("postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def embed(text):
    """Deterministic fake embedding: a unit vector seeded by the text's hash."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(DIM)
    return [float(x) for x in (v / np.linalg.norm(v)).astype(np.float32)]


def cosine_order(query_text, texts, k):
    """Exact (float64) cosine distances: [(text, distance)] nearest first."""
    q = np.array(embed(query_text), dtype=np.float64)
    d = []
    for t in texts:
        v = np.array(embed(t), dtype=np.float64)
        d.append((t, float(1 - v.dot(q) / (np.linalg.norm(v) * np.linalg.norm(q)))))
    return sorted(d, key=lambda x: x[1])[:k]


# 40 short texts in two topics; the metadata filter splits them.
TEXTS = [f"{topic} note {i}: {word}" for i, (topic, word) in enumerate(
    [("fruit", w) for w in "apple pear plum cherry grape lemon lime mango melon kiwi fig date peach apricot guava papaya lychee quince olive banana".split()]
    + [("tool", w) for w in "hammer saw drill chisel file rasp plane level square clamp vise wrench pliers spanner awl mallet trowel shovel rake hoe".split()])]


def topic(text):
    return text.split(" ", 1)[0]


def extension_row(dbname):
    """(extname, extversion, library of its functions) of the extension behind the type vector."""
    with psycopg.connect(dsn(dbname)) as c:
        return c.execute("""
            SELECT e.extname, e.extversion,
                   (SELECT string_agg(DISTINCT p.probin, ',') FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
                     WHERE d.refobjid = e.oid AND d.classid = 'pg_proc'::regclass AND p.probin IS NOT NULL)
            FROM pg_type t JOIN pg_depend d ON d.objid = t.oid AND d.deptype = 'e'
                 JOIN pg_extension e ON e.oid = d.refobjid
            WHERE t.typname = 'vector'""").fetchone()


def has_extension(name):
    """Whether the PostgreSQL under test has extension `name` available (pgvector as `pgvector`)."""
    with psycopg.connect(dsn("postgres")) as c:
        return c.execute("SELECT count(*) FROM pg_available_extensions WHERE name = %s", (name,)).fetchone()[0] == 1
