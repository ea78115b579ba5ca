"""vecstore's SQL objects are pgvector 0.8's, object for object: what `\\dT`,
`\\df`, `\\do`, `\\dA`, `\\dAc` and `\\dAo` list in a database with `CREATE
EXTENSION vecstore` equals what they list with pgvector (installed here under
the extension name `pgvector`), down to function signatures, result types,
strictness, volatility and parallel safety, casts and their contexts,
operator properties and every operator-family member. vecstore's own
additions are the documented list below and nothing else.
"""

import pytest

from helpers_index import ext_db

# vecstore-only objects (documented in the README's reference); none today
EXTRAS = set()

MEMBERS = """
SELECT pg_describe_object(classid, objid, objsubid) FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = %s)
"""

FUNCTIONS = """
SELECT p.oid::regprocedure::text, pg_get_function_result(p.oid), p.proisstrict, p.provolatile,
       p.proparallel, p.prokind, p.proretset, coalesce(l.lanname, '')
FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
LEFT JOIN pg_language l ON l.oid = p.prolang
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = %s)
"""

AGGREGATES = """
SELECT a.aggfnoid::regprocedure::text, a.aggtransfn::regproc::text, a.aggfinalfn::regproc::text,
       a.aggcombinefn::regproc::text, a.aggserialfn::regproc::text, a.aggdeserialfn::regproc::text,
       format_type(a.aggtranstype, NULL), a.agginitval
FROM pg_aggregate a JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = a.aggfnoid AND d.deptype = 'e'
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = %s)
"""

OPERATORS = """
SELECT o.oprname, format_type(o.oprleft, NULL), format_type(o.oprright, NULL), format_type(o.oprresult, NULL),
       o.oprcode::regproc::text, coalesce(c.oprname, ''), coalesce(n.oprname, ''),
       o.oprrest::regproc::text, o.oprjoin::regproc::text, o.oprcanmerge, o.oprcanhash
FROM pg_operator o JOIN pg_depend d ON d.classid = 'pg_operator'::regclass AND d.objid = o.oid AND d.deptype = 'e'
LEFT JOIN pg_operator c ON c.oid = o.oprcom LEFT JOIN pg_operator n ON n.oid = o.oprnegate
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = %s)
"""

CASTS = """
SELECT format_type(c.castsource, NULL), format_type(c.casttarget, NULL), c.castfunc::regprocedure::text,
       c.castcontext, c.castmethod
FROM pg_cast c JOIN pg_depend d ON d.classid = 'pg_cast'::regclass AND d.objid = c.oid AND d.deptype = 'e'
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = %s)
"""

TYPES = """
SELECT format_type(t.oid, NULL), t.typlen, t.typbyval, t.typalign, t.typstorage, t.typcategory,
       t.typinput::regproc::text, t.typoutput::regproc::text, t.typreceive::regproc::text, t.typsend::regproc::text,
       t.typmodin::regproc::text, t.typmodout::regproc::text, t.typanalyze::regproc::text
FROM pg_type t JOIN pg_depend d ON d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e'
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = %s)
"""

# opclasses with their default flag, and every member of every family an
# extension's opclass uses (what \\dAo and \\dAp list)
OPCLASSES = """
SELECT am.amname, c.opcname, format_type(c.opcintype, NULL), c.opcdefault,
       coalesce(format_type(c.opckeytype, NULL), '')
FROM pg_opclass c JOIN pg_am am ON am.oid = c.opcmethod
JOIN pg_depend d ON d.classid = 'pg_opclass'::regclass AND d.objid = c.oid AND d.deptype = 'e'
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = %s)
"""

FAMILY_MEMBERS = """
SELECT am.amname, f.opfname, 'op', a.amopstrategy::text, format_type(a.amoplefttype, NULL),
       format_type(a.amoprighttype, NULL), a.amopopr::regoperator::text, a.amoppurpose::text,
       coalesce(a.amopsortfamily::regclass::text, '')
FROM pg_amop a JOIN pg_opfamily f ON f.oid = a.amopfamily JOIN pg_am am ON am.oid = f.opfmethod
JOIN pg_depend d ON d.classid = 'pg_opfamily'::regclass AND d.objid = f.oid AND d.deptype = 'e'
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = %s)
UNION ALL
SELECT am.amname, f.opfname, 'proc', p.amprocnum::text, format_type(p.amproclefttype, NULL),
       format_type(p.amprocrighttype, NULL), p.amproc::regprocedure::text, '', ''
FROM pg_amproc p JOIN pg_opfamily f ON f.oid = p.amprocfamily JOIN pg_am am ON am.oid = f.opfmethod
JOIN pg_depend d ON d.classid = 'pg_opfamily'::regclass AND d.objid = f.oid AND d.deptype = 'e'
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = %s)
"""

ACCESS_METHODS = """
SELECT a.amname, a.amtype::text, a.amhandler::regproc::text
FROM pg_am a JOIN pg_depend d ON d.classid = 'pg_am'::regclass AND d.objid = a.oid AND d.deptype = 'e'
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = %s)
"""

CHECKS = {
    "members": MEMBERS,
    "types": TYPES,
    "functions": FUNCTIONS,
    "aggregates": AGGREGATES,
    "operators": OPERATORS,
    "casts": CASTS,
    "access methods": ACCESS_METHODS,
    "operator classes": OPCLASSES,
    "operator family members": FAMILY_MEMBERS,
}


@pytest.fixture(scope="module")
def dbs(cluster):
    return ext_db(cluster, "cat_vs", "vecstore"), ext_db(cluster, "cat_pg", "pgvector")


def rows(cluster, db, sql, ext):
    with cluster.connect(db) as c:
        return {tuple(str(x) for x in r) for r in c.execute(sql, (ext,) * sql.count("%s")).fetchall()}


@pytest.mark.parametrize("what", list(CHECKS))
def test_same_objects_as_pgvector(cluster, dbs, what):
    vs_db, pg_db = dbs
    ours = rows(cluster, vs_db, CHECKS[what], "vecstore")
    theirs = rows(cluster, pg_db, CHECKS[what], "pgvector")
    assert theirs, f"no {what} found for pgvector: the query is wrong"
    missing = sorted(theirs - ours)
    extra = sorted(r for r in ours - theirs if r[0] not in EXTRAS)
    assert not missing and not extra, (
        f"{what}: {len(missing)} of pgvector's missing or different, {len(extra)} of vecstore's not in pgvector\n"
        + "\n".join(f"  - {m}" for m in missing[:40])
        + "\n"
        + "\n".join(f"  + {e}" for e in extra[:40])
    )


def test_relocatable_as_pgvector(cluster):
    """pgvector's control file says relocatable = true: ALTER EXTENSION ...
    SET SCHEMA (Supabase's advice for extensions in public) moves every object
    and the index keeps answering."""
    db = ext_db(cluster, "cat_move", "vecstore")
    with cluster.connect(db) as c:
        c.execute("CREATE SCHEMA extensions")
        c.execute("CREATE TABLE t (id int, v vector(3), h halfvec(3))")
        c.execute("INSERT INTO t SELECT i, ARRAY[i, i % 7, 1], ARRAY[i, i % 7, 1] FROM generate_series(1, 300) i")
        c.execute("ALTER EXTENSION vecstore SET SCHEMA extensions")
        c.execute("SET search_path = public")
        assert c.execute("SELECT to_regtype('vector'), to_regtype('extensions.vector')::text").fetchone() == (
            None, "extensions.vector")
        left = c.execute(
            "SELECT count(*) FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'vecstore' "
            "WHERE d.deptype = 'e' AND pg_describe_object(d.classid, d.objid, 0) LIKE '%public.%'").fetchone()[0]
        assert left == 0
        c.execute("CREATE INDEX ON t USING hnsw (v extensions.vector_cosine_ops)")
        c.execute("SET enable_seqscan = off")
        q = "SELECT id FROM t ORDER BY v OPERATOR(extensions.<=>) '[1,1,1]'::extensions.vector LIMIT 3"
        assert "Index Scan" in "\n".join(r[0] for r in c.execute("EXPLAIN " + q))
        assert sorted(r[0] for r in c.execute(q)) == [1, 2, 3]
        assert c.execute("SELECT extensions.l2_distance(h, '[1,1,1]') FROM t WHERE id = 1").fetchone()[0] == 0
