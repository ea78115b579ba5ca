"""Versioned SQL and on-disk format.

- The committed upgrade script sql/vecstore--0.1.0--X.sql is what
  scripts/upgrade_sql.py writes from the committed 0.1.0 script and the
  installed X script (stale after a merge that changed the SQL surface:
  rerun scripts/upgrade-sql.sh).
- A database created with 0.1.0's SQL (on the new library: the old script's C
  symbols must still be exported) with data and hnsw indexes is upgraded by
  ALTER EXTENSION vecstore UPDATE; its indexes are still used and right, and
  its catalog (every member object with its definition and comment) equals a
  fresh install's.
- An index whose metapage carries another format version gets a clear
  "REINDEX" error, not a crash; REINDEX mends it.
"""
import os
import re
import subprocess
import sys

import pytest

from conftest import PG_CONFIG

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VERSION = re.search(r'^version = "(.*)"$', open(os.path.join(REPO, "Cargo.toml")).read(), re.M).group(1)
OLD = "0.1.0"
EXTDIR = os.path.join(subprocess.check_output([PG_CONFIG, "--sharedir"], text=True).strip(), "extension")

# Every member of the extension with what defines it: functions by their
# attributes (language, arguments with defaults, SET clauses, privileges), types by their I/O functions and storage, operators by their
# procedures and estimators, operator classes by their operators and support
# functions, casts, access methods, comments.
CATALOG = r"""
WITH m AS (
  SELECT d.classid, d.objid, d.objsubid FROM pg_depend d
  WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
    AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'vecstore'))
SELECT pg_describe_object(m.classid, m.objid, m.objsubid),
  concat_ws(' | ',
    (SELECT row(p.prokind, p.prosrc, p.probin, p.provolatile, p.proisstrict, p.proparallel, p.prorettype::regtype,
                p.proargtypes::regtype[], p.procost, p.prorows, p.proretset, p.proleakproof, p.proargnames,
                (SELECT lanname FROM pg_language WHERE oid = p.prolang), pg_get_function_arguments(p.oid),
                p.prosecdef, p.prosupport::regproc, p.proconfig, p.proacl)::text
       FROM pg_proc p WHERE m.classid = 'pg_proc'::regclass AND p.oid = m.objid),
    (SELECT row(a.aggkind, a.aggtransfn::regprocedure, a.aggfinalfn::regproc, a.aggcombinefn::regproc,
                a.aggserialfn::regproc, a.aggdeserialfn::regproc, a.aggtranstype::regtype, a.agginitval,
                a.aggnumdirectargs, a.aggmtransfn::regproc, a.aggminvtransfn::regproc, a.aggmfinalfn::regproc,
                a.aggfinalextra, a.aggfinalmodify, a.aggsortop::regoperator, a.aggtransspace, a.aggmtranstype::regtype,
                a.aggminitval)::text
       FROM pg_aggregate a WHERE m.classid = 'pg_proc'::regclass AND a.aggfnoid = m.objid),
    (SELECT row(t.typlen, t.typbyval, t.typtype, t.typalign, t.typstorage, t.typinput::regproc, t.typoutput::regproc,
                t.typreceive::regproc, t.typsend::regproc, t.typmodin::regproc, t.typmodout::regproc,
                t.typanalyze::regproc, t.typelem::regtype, t.typcategory, t.typispreferred,
                t.typdelim, t.typsubscript::regproc, t.typdefault, t.typcollation, t.typacl)::text
       FROM pg_type t WHERE m.classid = 'pg_type'::regclass AND t.oid = m.objid),
    (SELECT row(o.oprleft::regtype, o.oprright::regtype, o.oprresult::regtype, o.oprcode::regproc,
                o.oprcom::regoperator, o.oprnegate::regoperator, o.oprrest::regproc, o.oprjoin::regproc,
                o.oprcanmerge, o.oprcanhash)::text
       FROM pg_operator o WHERE m.classid = 'pg_operator'::regclass AND o.oid = m.objid),
    (SELECT row((SELECT amname FROM pg_am WHERE oid = c.opcmethod), c.opcintype::regtype, c.opcdefault,
                c.opckeytype::regtype, (SELECT opfname FROM pg_opfamily WHERE oid = c.opcfamily),
                (SELECT string_agg(format('op %s %s %s %s %s %s', ao.amopstrategy, ao.amopopr::regoperator, ao.amoppurpose,
                                          ao.amopsortfamily, ao.amoplefttype::regtype, ao.amoprighttype::regtype), ', ' ORDER BY ao.amopstrategy)
                   FROM pg_amop ao WHERE ao.amopfamily = c.opcfamily),
                (SELECT string_agg(format('fn %s %s %s %s', ap.amprocnum, ap.amproc::regprocedure, ap.amproclefttype::regtype,
                                          ap.amprocrighttype::regtype), ', ' ORDER BY ap.amprocnum)
                   FROM pg_amproc ap WHERE ap.amprocfamily = c.opcfamily))::text
       FROM pg_opclass c WHERE m.classid = 'pg_opclass'::regclass AND c.oid = m.objid),
    (SELECT row(c.castcontext, c.castmethod, c.castfunc::regprocedure)::text
       FROM pg_cast c WHERE m.classid = 'pg_cast'::regclass AND c.oid = m.objid),
    (SELECT row(a.amhandler::regproc, a.amtype)::text
       FROM pg_am a WHERE m.classid = 'pg_am'::regclass AND a.oid = m.objid),
    (SELECT 'comment: ' || ds.description FROM pg_description ds
       WHERE ds.classoid = m.classid AND ds.objoid = m.objid AND ds.objsubid = m.objsubid))
FROM m
"""


def catalog(cluster, db):
    return dict(cluster.sql(CATALOG, db))


def test_committed_upgrade_script_is_current():
    """sql/vecstore--0.1.0--X.sql == upgrade_sql.py(0.1.0 script, installed X script)."""
    committed = os.path.join(REPO, "sql", f"vecstore--{OLD}--{VERSION}.sql")
    manual = os.path.join(REPO, "sql", "upgrade-manual", f"vecstore--{OLD}--{VERSION}.sql")
    cmd = [sys.executable, os.path.join(REPO, "scripts", "upgrade_sql.py"),
           os.path.join(REPO, "sql", "releases", f"vecstore--{OLD}.sql"),
           os.path.join(EXTDIR, f"vecstore--{VERSION}.sql"), OLD, VERSION] + ([manual] if os.path.exists(manual) else [])
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout == open(committed).read(), "stale upgrade script: run scripts/upgrade-sql.sh and commit it"
    assert open(os.path.join(EXTDIR, f"vecstore--{OLD}--{VERSION}.sql")).read() == r.stdout, "installed copy differs"


def _load(cluster, db):
    cluster.psql("""
CREATE TABLE items (id int PRIMARY KEY, v vector(8), h halfvec(8));
INSERT INTO items SELECT i, v, v::halfvec FROM (
  SELECT i, array_agg(sin(i * 7.3 + j * 1.9 + j * j) ORDER BY j)::vector AS v
  FROM generate_series(1, 300) i, generate_series(1, 8) j GROUP BY i) s;
CREATE INDEX items_l2 ON items USING hnsw (v vector_l2_ops);
CREATE INDEX items_cos ON items USING hnsw (v vector_cosine_ops) WITH (m = 8, ef_construction = 32);
CREATE INDEX items_half ON items USING hnsw (h halfvec_l2_ops);
""", db)


QUERIES = [
    ("items_l2", "v <-> '[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8]'"),
    ("items_cos", "v <=> '[1,-1,1,-1,1,-1,1,-1]'"),
    ("items_half", "h <-> '[0.5,0,0,0,0,0,0,-0.5]'::halfvec"),
]


def _check_queries(cluster, db):
    with cluster.connect(db) as c:
        c.execute("SET hnsw.ef_search = 400")
        for index, order in QUERIES:
            c.execute("SET enable_seqscan = off")
            plan = "\n".join(r[0] for r in c.execute(f"EXPLAIN SELECT id FROM items ORDER BY {order} LIMIT 10"))
            assert f"Index Scan using {index}" in plan, plan
            got = [r[0] for r in c.execute(f"SELECT id FROM items ORDER BY {order} LIMIT 10")]
            c.execute("SET enable_seqscan = on")
            c.execute("SET enable_indexscan = off")
            exact = [r[0] for r in c.execute(f"SELECT id FROM items ORDER BY {order}, id LIMIT 10")]
            c.execute("RESET enable_indexscan")
            assert got == exact, (index, got, exact)


def test_upgrade_from_0_1_0(cluster):
    assert os.path.exists(os.path.join(EXTDIR, f"vecstore--{OLD}.sql")), "scripts/install.sh installs sql/releases"
    old = cluster.create_db("up_from_old", extension=None)
    # every C function of 0.1.0's script is resolved (by symbol) in the new library here
    cluster.sql(f"CREATE EXTENSION vecstore VERSION '{OLD}'", old)
    symbols = set(re.findall(r"'MODULE_PATHNAME', '(\w+)'", open(os.path.join(EXTDIR, f"vecstore--{OLD}.sql")).read()))
    linked = {r[0] for r in cluster.sql("SELECT prosrc FROM pg_proc WHERE prolang = "
                                       "(SELECT oid FROM pg_language WHERE lanname = 'c') AND probin IS NOT NULL", old)}
    assert len(symbols) > 50 and symbols <= linked, symbols - linked
    assert cluster.scalar("SELECT extversion FROM pg_extension WHERE extname = 'vecstore'", db=old) == OLD
    _load(cluster, old)
    _check_queries(cluster, old)
    cluster.sql("ALTER EXTENSION vecstore UPDATE", old)
    assert cluster.scalar("SELECT extversion FROM pg_extension WHERE extname = 'vecstore'", db=old) == VERSION
    _check_queries(cluster, old)
    cluster.sql("INSERT INTO items SELECT id + 1000, v, h FROM items WHERE id <= 50", old)
    _check_queries(cluster, old)

    fresh = cluster.create_db("up_fresh")
    assert cluster.scalar("SELECT extversion FROM pg_extension WHERE extname = 'vecstore'", db=fresh) == VERSION
    upgraded, installed = catalog(cluster, old), catalog(cluster, fresh)
    assert len(installed) > 100
    only_up = {k: v for k, v in upgraded.items() if installed.get(k) != v}
    only_fresh = {k: v for k, v in installed.items() if upgraded.get(k) != v}
    assert not only_up and not only_fresh, f"upgraded only: {only_up}\nfresh only: {only_fresh}"
    assert not cluster.log_problems()


def test_upgrade_catalog_check_sees_a_difference(cluster):
    """The comparison is not vacuous: a changed comment and a dropped cast show up."""
    a, b = cluster.create_db("cmp_a"), cluster.create_db("cmp_b")
    cluster.sql("COMMENT ON FUNCTION vector_dims(vector) IS 'changed'", b)
    cluster.sql("ALTER EXTENSION vecstore DROP CAST (integer[] AS vector)", b)
    ca, cb = catalog(cluster, a), catalog(cluster, b)
    assert ca["function vector_dims(vector)"] != cb["function vector_dims(vector)"]
    assert set(ca) - set(cb) == {"cast from integer[] to vector"}


def test_upgrade_catalog_check_sees_settings_privileges_and_defaults(cluster):
    """What an upgrade script can get wrong beyond CREATE: a function's SET
    clause, its privileges, a type's privileges, an argument default."""
    a, b = cluster.create_db("cmp_c"), cluster.create_db("cmp_d")
    cluster.psql("""
ALTER FUNCTION l2_normalize(vector) SET search_path = pg_catalog;
REVOKE EXECUTE ON FUNCTION vector_norm(vector) FROM PUBLIC;
REVOKE USAGE ON TYPE halfvec FROM PUBLIC;
""", b)
    ca, cb = catalog(cluster, a), catalog(cluster, b)
    for obj in ("function l2_normalize(vector)", "function vector_norm(vector)", "type halfvec"):
        assert ca[obj] != cb[obj], obj


def _metapage_version(cluster, db, index, new=None):
    """Reads (and with `new` writes, server stopped) the format version at
    offset 28 of block 0: the MetaPage after the 24-byte page header."""
    path = os.path.join(cluster.data, cluster.scalar(f"SELECT pg_relation_filepath('{index}')", db=db))
    cluster.sql("CHECKPOINT")
    cluster.stop()
    with open(path, "r+b") as f:
        f.seek(24)
        magic, version = int.from_bytes(f.read(4), "little"), int.from_bytes(f.read(4), "little")
        assert magic == 0x5653484E, hex(magic)
        if new is not None:
            f.seek(28)
            f.write(new.to_bytes(4, "little"))
    cluster.start()
    return version


@pytest.mark.parametrize("other", [1, 99])
def test_other_format_version_asks_for_reindex(cluster, other):
    db = cluster.create_db(f"fmt_{other}")
    log_start = len(cluster.log())
    cluster.psql("""
CREATE TABLE t (id int, v vector(3));
INSERT INTO t SELECT i, ARRAY[i, i % 7, 1] FROM generate_series(1, 100) i;
CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops);
""", db)
    assert _metapage_version(cluster, db, "t_v", new=other) == 2
    r = cluster.psql("SET enable_seqscan = off; SELECT id FROM t ORDER BY v <-> '[1,1,1]' LIMIT 3;", db, check=False)
    assert r.returncode != 0
    assert 'index "t_v" is not a vecstore hnsw index of format version 2' in r.stderr, r.stderr
    assert "REINDEX the index with this version of vecstore." in r.stderr, r.stderr
    r = cluster.psql("INSERT INTO t VALUES (0, '[0,0,0]');", db, check=False)
    assert "REINDEX" in r.stderr, r.stderr
    cluster.sql("REINDEX INDEX t_v", db)
    ids = cluster.psql("SET enable_seqscan = off; SELECT id FROM t ORDER BY v <-> '[1,1,1]' LIMIT 3;", db).stdout.split()
    assert ids == ["1", "2", "3"], ids
    assert _metapage_version(cluster, db, "t_v") == 2
    assert cluster.scalar("SELECT 1") == 1  # the server survived: an error, no crash
    problems = [line for line in cluster.log()[log_start:].splitlines()
                if any(w in line for w in ("PANIC", "TRAP", "terminated by signal", "ERROR", "FATAL"))
                and "terminating connection due to administrator command" not in line]  # the stop itself
    assert problems and all("is not a vecstore hnsw index of format version 2" in line for line in problems), problems
