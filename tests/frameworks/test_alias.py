"""The extension name `vector` (scripts/install.sh --as-vector) is vecstore:
psql's \\dx says so, the objects are exactly vecstore's, from the same
library, and IF NOT EXISTS, DROP and re-CREATE behave as for any extension."""
import os
import subprocess

import psycopg

from conftest import LIBRARY, VERSION, dsn, fresh_db

MEMBERS = """
SELECT pg_describe_object(classid, objid, objsubid) FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = %s) ORDER BY 1"""


def psql(db, command):
    bindir = subprocess.check_output([os.environ["PG_CONFIG"], "--bindir"], text=True).strip()
    return subprocess.run([f"{bindir}/psql", "-X", "-d", db, "-c", command], capture_output=True, text=True,
                          check=True).stdout


def test_dx_says_vecstore():
    db = fresh_db("fw_alias_dx")
    with psycopg.connect(dsn(db), autocommit=True) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS vector")
        c.execute("CREATE EXTENSION IF NOT EXISTS vector")  # a notice, no error
    out = psql(db, r"\dx vector")
    row = next(line for line in out.splitlines() if line.strip().startswith("vector "))
    cells = [x.strip() for x in row.split("|")]
    assert cells[:3] == ["vector", f"vecstore-{VERSION}", "public"], out
    assert cells[3].startswith(f"vecstore {VERSION} under the name vector: "), out


def test_same_objects_same_library_as_vecstore():
    a, b = fresh_db("fw_alias_vector", "vector"), fresh_db("fw_alias_vecstore", "vecstore")
    with psycopg.connect(dsn(a)) as ca, psycopg.connect(dsn(b)) as cb:
        ours = [r[0] for r in ca.execute(MEMBERS, ("vector",))]
        theirs = [r[0] for r in cb.execute(MEMBERS, ("vecstore",))]
        assert len(ours) > 100 and ours == theirs
        libs = "SELECT DISTINCT probin FROM pg_proc WHERE probin IS NOT NULL AND pronamespace = 'public'::regnamespace"
        assert [r[0] for r in ca.execute(libs)] == [r[0] for r in cb.execute(libs)] == [LIBRARY]
        q = "SELECT '[1,2,3]'::vector <-> '[4,5,6]', '[1,2]'::halfvec <=> '[2,1]', B'1010' <~> B'0110'"
        assert ca.execute(q).fetchone() == cb.execute(q).fetchone()


def test_drop_and_create_again():
    db = fresh_db("fw_alias_drop", "vector")
    with psycopg.connect(dsn(db), autocommit=True) as c:
        c.execute("CREATE TABLE t (v vector(2))")
        c.execute("CREATE INDEX ON t USING hnsw (v vector_l2_ops)")
        c.execute("DROP EXTENSION vector CASCADE")
        assert c.execute("SELECT to_regtype('vector'), to_regtype('halfvec')").fetchone() == (None, None)
        assert c.execute("SELECT count(*) FROM pg_am WHERE amname = 'hnsw'").fetchone()[0] == 0
        c.execute("CREATE EXTENSION vector")
        assert c.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0] == f"vecstore-{VERSION}"


def test_set_schema_as_for_pgvector():
    """pgvector is relocatable: ALTER EXTENSION vector SET SCHEMA extensions
    (Supabase's advice for extensions in public, many migrations) works, and
    the moved types, operators, operator classes and index keep answering."""
    db = fresh_db("fw_alias_schema")
    with psycopg.connect(dsn(db), autocommit=True) as c:
        c.execute("CREATE SCHEMA extensions")
        c.execute("CREATE EXTENSION vector")
        c.execute("CREATE TABLE t (id int, v vector(3))")
        c.execute("INSERT INTO t SELECT i, ARRAY[i, i % 7, 1] FROM generate_series(1, 300) i")
        c.execute("ALTER EXTENSION vector SET SCHEMA extensions")
        c.execute("SET search_path = public")
        assert c.execute("SELECT to_regtype('vector'), to_regtype('extensions.vector')::text").fetchone() == (
            None, "extensions.vector")
        c.execute("CREATE INDEX ON t USING hnsw (v extensions.vector_cosine_ops)")
        c.execute("SET enable_seqscan = off")
        q = "SELECT id FROM t ORDER BY v OPERATOR(extensions.<=>) '[1,1,1]'::extensions.vector LIMIT 3"
        assert "Index Scan" in "\n".join(r[0] for r in c.execute("EXPLAIN " + q))
        assert sorted(r[0] for r in c.execute(q)) == [1, 2, 3]
        c.execute("ALTER EXTENSION vector SET SCHEMA public")
        c.execute("INSERT INTO t VALUES (0, '[2,2,2]')")
        assert c.execute("SELECT id FROM t ORDER BY v <=> '[1,1,1]', id LIMIT 1").fetchone()[0] in (0, 1)
