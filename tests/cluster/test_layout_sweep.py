"""Issue item 3: index pages whose element and neighbour tuples have the same
size.

In the first page layout an element tuple (16-byte header + 4 bytes a
dimension) and a neighbour tuple (4-byte header + 6 bytes a slot, (2 + L) * m
slots for level L) were told apart by their length only; they collide at
dims = 3m(2 + L)/2 - 3 (m = 16: 45, 69, 93, 117, ...), and VACUUM or inserts
then read a neighbour list as a vector or the other way round.

The sweep runs every dims 1..200 for m = 2, 4, 16 through build, inserts,
deletes, VACUUM, inserts into the freed space, and an exact-vs-index check;
the pgvector variant is the control that shows the checks are fair.
"""

import numpy as np
import pytest

from helpers_index import copy_rows, distances, ext_db, force_index, run_or_error, vec_text

CLUSTER_CONF = {"maintenance_work_mem": "'256MB'"}

N_BUILD, N_INSERT, N_AFTER = 48, 48, 24

# Per m: lowest share of live rows the index must return at ef_search = 1000,
# lowest top-10 recall per probe, lowest mean top-10 recall. pgvector 0.8.6 on
# this sweep: m=2 reachable min 0.79 (mean 0.93), top10 min 0.70 (mean 0.971);
# m=4 reachable min 0.97, top10 1.00; m=16 reachable 1.00, top10 1.00. Small
# graphs at m=2 do fall apart, so the bars there are loose; the point of the
# sweep is that no (m, dims) errors or returns rubbish.
BARS = {2: (0.70, 0.5, 0.95), 4: (0.95, 0.8, 0.99), 16: (0.98, 1.0, 1.0)}


def collision_dims(m, top=200):
    return [d for d in (3 * m * (2 + level) // 2 - 3 for level in range(40)) if 1 <= d <= top]


class Case:
    def __init__(self, m, dims):
        self.m, self.dims = m, dims
        self.table = f"s_m{m}_d{dims}"
        self.rng = np.random.default_rng(m * 1000 + dims)
        self.rows = {}  # id -> vector of live rows
        self.next_id = 1
        self.error = None

    def new_rows(self, n):
        vecs = self.rng.random((n, self.dims), dtype=np.float32)
        # A few exact duplicates and a shared point, as real tables have.
        vecs[n // 2] = vecs[0]
        ids = np.arange(self.next_id, self.next_id + n)
        self.next_id += n
        return ids, vecs

    def add(self, conn, n):
        ids, vecs = self.new_rows(n)
        copy_rows(conn, self.table, ids, vecs)
        return ids, vecs

    def commit_rows(self, ids, vecs):
        self.rows.update(zip(ids.tolist(), vecs))


def run_step(cluster, conn, db, cases, step, name, after=None):
    """Runs `step(conn, case)` for every live case, batched in one
    transaction; when the batch fails, case by case to pin the failure.
    `after(case, result)` records what a successful step did."""
    live = [c for c in cases if c.error is None]
    results = {}

    def batch(cn):
        for c in live:
            results[c] = step(cn, c)

    conn, err = run_or_error(cluster, conn, batch, db)
    if err is None:
        for c in live:
            if after:
                after(c, results[c])
        return conn
    for c in live:
        results.clear()
        conn, err = run_or_error(cluster, conn, lambda cn: results.__setitem__(c, step(cn, c)), db)
        if err is None:
            if after:
                after(c, results[c])
        else:
            c.error = f"{name}: {err}"
    return conn


def vacuum(cluster, conn, db, cases):
    import psycopg

    live = [c for c in cases if c.error is None]
    try:
        conn.execute("VACUUM " + ", ".join(c.table for c in live))
        return conn
    except psycopg.Error:
        pass
    for c in live:
        try:
            conn.execute(f"VACUUM {c.table}")
        except psycopg.OperationalError as e:
            c.error = f"vacuum: connection lost: {e}"
            conn = cluster.connect(db)
        except psycopg.Error as e:
            c.error = f"vacuum: {str(e).splitlines()[0]}"
    return conn


def check(conn, c):
    """The index, at ef_search = 1000, returns its rows in exact distance
    order, finds a live row's own vector first, misses few live rows and
    gets the exact top 10 (ties count), for a live row's vector and a random
    point."""
    force_index(conn)
    conn.execute("SET hnsw.ef_search = 1000")
    ids = np.array(list(c.rows))
    data = np.array([c.rows[i] for i in ids.tolist()])
    c.stats = []
    for q in (data[len(data) // 3], c.rng.random(c.dims, dtype=np.float32)):
        got = [r[0] for r in conn.execute(
            f"SELECT id FROM {c.table} ORDER BY v <-> %s::vector LIMIT 1000", (vec_text(q),)).fetchall()]
        if len(set(got)) != len(got) or not set(got) <= set(ids.tolist()):
            return f"check: index returned duplicate or dead rows"
        if not got:
            return "check: index returned no row"
        d = distances(np.array([c.rows[i] for i in got]), q)
        exact = np.sort(distances(data, q))
        top = min(10, len(exact))
        top_hits = int((d[:top] <= exact[top - 1] * (1 + 1e-5) + 1e-6).sum())
        c.stats.append((len(got) / len(ids), top_hits / top))
        reach_min, top_min, _ = BARS[c.m]
        if len(got) < reach_min * len(ids):
            return f"check: index returned {len(got)} of {len(ids)} live rows"
        if top_hits < top_min * top:
            return f"check: exact top {top} has only {top_hits} of the index's first {top}"
        if np.any(np.diff(d) < -1e-5 * max(1.0, float(d.max()))):
            return "check: rows out of distance order"
    return None


def sweep(cluster, db, ms, dims_list):
    conn = cluster.connect(db)
    cases = [Case(m, d) for m in ms for d in dims_list]
    batches = [cases[i:i + 25] for i in range(0, len(cases), 25)]
    for b in batches:
        conn = run_step(cluster, conn, db, b,
                        lambda cn, c: cn.execute(f"CREATE TABLE {c.table} (id int, v vector({c.dims}))"), "create")
        conn = run_step(cluster, conn, db, b, lambda cn, c: c.add(cn, N_BUILD), "load",
                        after=lambda c, r: c.commit_rows(*r))
        conn = run_step(cluster, conn, db, b, lambda cn, c: cn.execute(
            f"CREATE INDEX ON {c.table} USING hnsw (v vector_l2_ops) WITH (m = {c.m}, ef_construction = 32)"),
            "build")
        conn = run_step(cluster, conn, db, b, lambda cn, c: c.add(cn, N_INSERT), "insert",
                        after=lambda c, r: c.commit_rows(*r))

        def delete(cn, c):
            return [r[0] for r in cn.execute(f"DELETE FROM {c.table} WHERE id % 2 = 0 RETURNING id").fetchall()]

        conn = run_step(cluster, conn, db, b, delete, "delete",
                        after=lambda c, gone: [c.rows.pop(i) for i in gone])
        conn = vacuum(cluster, conn, db, b)
        conn = run_step(cluster, conn, db, b, lambda cn, c: c.add(cn, N_AFTER), "insert after vacuum",
                        after=lambda c, r: c.commit_rows(*r))
        for c in b:
            if c.error is None:
                conn, err = run_or_error(cluster, conn, lambda cn: setattr(c, "error", check(cn, c)), db)
                if err:
                    c.error = f"check: {err}"
        conn.execute("DROP TABLE " + ", ".join(c.table for c in b))
    conn.close()
    return cases


def report(cases):
    bad = [c for c in cases if c.error]
    for c in bad:
        print(f"FAILED m={c.m} dims={c.dims}: {c.error}")
    return [(c.m, c.dims) for c in bad]


@pytest.mark.parametrize("ext", ["vecstore", "pgvector"])
def test_sweep_dims_1_to_200(cluster, ext):
    """Build / insert / delete / VACUUM / insert / exact check for every dims
    1..200 at m = 2, 4, 16."""
    db = ext_db(cluster, f"sweep_{ext}", ext)
    cases = sweep(cluster, db, [2, 4, 16], list(range(1, 201)))
    bad = report(cases)
    for m in (2, 4, 16):
        st = [s for c in cases if c.m == m and not c.error for s in c.stats]
        if st:
            fr = np.array(st)
            print(f"{ext} m={m}: reachable min {fr[:, 0].min():.3f} mean {fr[:, 0].mean():.4f} p1 {np.percentile(fr[:, 0], 1):.3f}; "
                  f"top10 min {fr[:, 1].min():.2f} mean {fr[:, 1].mean():.4f}")
            if fr[:, 1].mean() < BARS[m][2]:
                bad.append((m, "mean top-10 recall", round(float(fr[:, 1].mean()), 4)))
    colliding = {(m, d) for m in (2, 4, 16) for d in collision_dims(m)}
    print(f"{ext}: {len(bad)} failing (m, dims) cases of {len(cases)}; "
          f"{len(set(bad) & colliding)} of them at colliding sizes")
    assert not bad, f"failing (m, dims): {bad}"
    assert not cluster.log_problems(), cluster.log_problems()[:5]


@pytest.mark.parametrize("ext", ["vecstore", "pgvector"])
def test_vacuum_after_half_deleted_dims_45(cluster, ext):
    """vector(45), m = 16 (every level-0 element collides), 5,000 rows, build,
    delete half, VACUUM: no error and every live row still found."""
    db = ext_db(cluster, f"d45_{ext}", ext)
    rng = np.random.default_rng(45)
    data = rng.random((5000, 45), dtype=np.float32)
    with cluster.connect(db) as conn:
        conn.execute("CREATE TABLE t (id int, v vector(45))")
        copy_rows(conn, "t", np.arange(1, 5001), data)
        conn.execute("CREATE INDEX ON t USING hnsw (v vector_l2_ops)")
        conn.execute("DELETE FROM t WHERE id % 2 = 0")
        conn.execute("VACUUM t")
        force_index(conn)
        conn.execute("SET hnsw.ef_search = 100")
        sample = range(1, 5001, 26)  # odd ids: the live ones
        found = sum(
            conn.execute("SELECT id FROM t ORDER BY v <-> %s::vector LIMIT 1", (vec_text(data[i - 1]),)).fetchone()[0] == i
            for i in sample)
    print(f"{ext}: self-query found {found} of {len(sample)} live rows")
    assert found >= 0.99 * len(sample)


@pytest.mark.parametrize("ext", ["vecstore", "pgvector"])
def test_single_row_inserts_dims_93(cluster, ext):
    """vector(93), m = 16 (level-2 elements collide), empty index, 8,000
    single-row INSERT statements (the issue used 20,000; 8,000 gives ~31
    level-2 elements, p(none) ~ 1e-14, at a third of the time): none fails
    and the rows are reachable."""
    db = ext_db(cluster, f"d93_{ext}", ext)
    rng = np.random.default_rng(93)
    data = rng.random((8000, 93), dtype=np.float32)
    errors = []
    with cluster.connect(db) as conn:
        conn.execute("CREATE TABLE t (id int, v vector(93))")
        conn.execute("CREATE INDEX ON t USING hnsw (v vector_l2_ops)")
        import psycopg

        for i, v in enumerate(data, start=1):
            try:
                conn.execute("INSERT INTO t VALUES (%s, %s::vector)", (i, vec_text(v)))
            except psycopg.Error as e:
                errors.append((i, str(e).splitlines()[0]))
                if len(errors) >= 20:
                    break
        inserted = conn.execute("SELECT count(*) FROM t").fetchone()[0]
        force_index(conn)
        conn.execute("SET hnsw.ef_search = 100")
        present = [r[0] for r in conn.execute("SELECT id FROM t ORDER BY id").fetchall()]
        sample = present[::max(1, len(present) // 400)]
        found = 0
        try:
            for i in sample:
                r = conn.execute("SELECT id FROM t ORDER BY v <-> %s::vector LIMIT 1", (vec_text(data[i - 1]),)).fetchone()
                found += r is not None and r[0] == i
        except psycopg.Error as e:
            errors.append(("scan", str(e).splitlines()[0]))
    print(f"{ext}: {len(errors)} failed inserts (first: {errors[:1]}); {inserted} rows; "
          f"self-query found {found} of {len(sample)}")
    assert not errors, errors[:3]
    assert found >= 0.99 * len(sample)
