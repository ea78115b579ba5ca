#!/usr/bin/env python3
"""vecstore and pgvector side by side on the same data, server and settings.

Loads a texmex dataset (paths as arguments) into one database per extension
(`CREATE EXTENSION vecstore` / `CREATE EXTENSION pgvector`: pgvector installed
under the name `pgvector` so that both live in one cluster), builds both HNSW
indexes with the same m, ef_construction, maintenance_work_mem and
max_parallel_maintenance_workers, and measures, ALTERNATING the sides
(vs, pg, vs, pg, ...) in every round:
  - build time and index size (one build per side per round),
  - recall@k, QPS, p50 and p99 latency per hnsw.ef_search (with --am ivfflat:
    per ivfflat.probes, --ef listing the probes; --lists sets lists) (single client,
    prepared statement, the vector as a binary or text parameter, identical
    for both sides),
  - with --clients2: total QPS of 2 concurrent clients vs 1 at --conc-ef,
  - with --inserts: single-row INSERT throughput into the built index with
    1 and 4 clients (held-out query vectors, then base rows, as new ids),
  - with --perf-sides: a `perf record -g` profile of a side's backend while it
    runs the --perf-ef query loop (top symbols by self time).
Prints the machine, server settings and ONE table (best of the rounds and the
spread, QPS ratio vecstore/pgvector at equal recall interpolated log-linearly
on each side's curve), writes a JSON of every raw figure and a PNG of both
recall/QPS curves into --out.

Needs python3 with numpy, psycopg 3 and matplotlib (Debian: python3-numpy
python3-psycopg python3-matplotlib). Example (throwaway cluster, 4GB buffers):
  D=path/to/minilm-10k/minilm-10k
  /usr/bin/python3 benches/side_by_side.py --pg-config /opt/pg-bench/usr/lib/postgresql/15/bin/pg_config \\
      --base $D.base.fvecs --query $D.query.fvecs --gt $D.gt-l2.ivecs --metric l2 --rounds 2 \\
      --clients2 --inserts --out bench-out/10k-l2
"""
import argparse
import json
import math
import multiprocessing as mp
import os
import re
import signal
import struct
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

def knob(a):
    """The search setting a curve sweeps: hnsw.ef_search, or with --am ivfflat
    ivfflat.probes (--ef then lists probes)."""
    return "probes" if a.am == "ivfflat" else "ef_search"


def index_desc(a):
    return f"ivfflat lists={a.lists}" if a.am == "ivfflat" else f"m={a.m}, ef_construction={a.ef_construction}"


OPS = {"l2": ("<->", "vector_l2_ops"), "cos": ("<=>", "vector_cosine_ops"), "ip": ("<#>", "vector_ip_ops")}
SHORT = {"vecstore": "vs", "pgvector": "pg"}
TARGETS = (0.95, 0.98, 0.99)
SETTINGS = ("shared_buffers", "maintenance_work_mem", "max_parallel_maintenance_workers", "max_parallel_workers",
            "work_mem", "effective_cache_size", "jit", "fsync", "synchronous_commit", "server_encoding")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Side:
    """One extension's database, loaded with the same rows."""

    def __init__(self, ext, admin_dsn, base, a):
        self.ext, self.db = ext, f"bench_{ext}"
        with benchlib.connect(admin_dsn) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {self.db}")
        self.dsn = benchlib.with_db(admin_dsn, self.db)
        self.conn = benchlib.connect(self.dsn)
        self.conn.execute(f"CREATE EXTENSION {ext}")
        self.version = self.conn.execute("SELECT extversion FROM pg_extension WHERE extname = %s", (ext,)).fetchone()[0]
        self.conn.execute(f"CREATE TABLE items (id int4 PRIMARY KEY, embedding vector({base.shape[1]}))")
        benchlib.copy_vectors(self.conn, base)
        self.conn.execute("VACUUM ANALYZE items")
        self.vector_oid = self.conn.execute("SELECT 'vector'::regtype::oid").fetchone()[0]
        self.postmaster = benchlib.parent_pid(self.conn.info.backend_pid)

    def build(self, a):
        """Builds the index; a failed build is recorded and retried once on a
        new connection (vecstore 0.1.0 can fail with "hnsw build stopped
        without an interrupt")."""
        failures = []
        for attempt in range(2):
            try:
                return dict(self._build(a), failures=failures)
            except Exception as e:  # noqa: BLE001 - recorded, then retried or raised
                failures.append(f"{type(e).__name__}: {str(e).splitlines()[0]}")
                log(f"{self.ext}: build failed: {failures[-1]}")
                self.conn.close()
                self.conn = benchlib.connect(self.dsn)
        raise RuntimeError(f"{self.ext}: index build failed twice: {failures}")

    def extra_options(self, a):
        return f", {a.vecstore_options}" if self.ext == "vecstore" and a.vecstore_options else ""

    def _build(self, a):
        c = self.conn
        c.execute("DROP INDEX IF EXISTS items_idx")
        c.execute("CHECKPOINT")
        c.execute(f"SET maintenance_work_mem = '{a.maintenance_work_mem}'")
        c.execute(f"SET max_parallel_maintenance_workers = {a.build_workers}")
        op, opclass = OPS[a.metric]
        cpu0, t0 = benchlib.cluster_cpu_s(self.postmaster), time.perf_counter()
        if a.am == "ivfflat":
            c.execute(f"CREATE INDEX items_idx ON items USING ivfflat (embedding {opclass}) WITH (lists = {a.lists})")
        else:
            c.execute(f"CREATE INDEX items_idx ON items USING hnsw (embedding {opclass}) "
                      f"WITH (m = {a.m}, ef_construction = {a.ef_construction}{self.extra_options(a)})")
        secs, cpu1 = time.perf_counter() - t0, benchlib.cluster_cpu_s(self.postmaster)
        c.execute("CHECKPOINT")
        size = c.execute("SELECT pg_relation_size('items_idx')").fetchone()[0]
        return {"build_s": secs, "build_cpu_s": None if cpu0 is None else cpu1 - cpu0, "index_bytes": size}


def knn_sql(a):
    return f"SELECT id FROM items ORDER BY embedding {OPS[a.metric][0]} $1 LIMIT {a.k}"


def params_of(queries, fmt):
    if fmt == "binary":
        return [benchlib.vector_binary(q) for q in queries]
    return [benchlib.vector_text(q).encode() for q in queries]


class Querier:
    """A connection with the k-NN query prepared (libpq level, so the client
    costs the same for both sides)."""

    def __init__(self, dsn, vector_oid, a):
        self.conn = benchlib.connect(dsn)
        self.pg = self.conn.pgconn
        self.fmt = 1 if a.param_format == "binary" else 0
        r = self.pg.prepare(b"knn", knn_sql(a).encode(), [vector_oid])
        check(r, self.pg)
        self.pid = self.conn.info.backend_pid
        self.setting = "ivfflat.probes" if a.am == "ivfflat" else "hnsw.ef_search"

    def set_ef(self, ef):
        self.conn.execute(f"SET {self.setting} = {int(ef)}")

    def run(self, param):
        r = self.pg.exec_prepared(b"knn", [param], [self.fmt])
        check(r, self.pg)
        return [int(r.get_value(i, 0)) for i in range(r.ntuples)]


def check(res, pg):
    from psycopg import pq
    if res.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
        raise RuntimeError((res.error_message or pg.error_message).decode(errors="replace"))


def query_round(q, params, gt, a):
    """recall@k, QPS and latency percentiles per ef_search."""
    out = []
    k = a.k
    truth = [set(row[:k].tolist()) for row in gt]
    for ef in a.ef:
        q.set_ef(ef)
        for p in params[: a.warmup]:
            q.run(p)
        lat = np.empty(len(params))
        hits = 0
        cpu0 = benchlib.backend_cpu_ns(q.pid)
        for i, p in enumerate(params):
            t0 = time.perf_counter()
            ids = q.run(p)
            lat[i] = time.perf_counter() - t0
            hits += len(truth[i].intersection(ids))
        cpu = None if cpu0 is None else (benchlib.backend_cpu_ns(q.pid) - cpu0) / 1e9
        out.append({"ef_search": ef, "recall": hits / (k * len(params)), "qps": len(params) / lat.sum(),
                    "cpu_qps": len(params) / cpu if cpu else None,
                    "p50_ms": 1e3 * float(np.percentile(lat, 50)), "p99_ms": 1e3 * float(np.percentile(lat, 99))})
    return out


def _client(dsn, oid, a, params, ef, barrier, results, seconds):
    q = Querier(dsn, oid, a)
    q.set_ef(ef)
    for p in params[: a.warmup]:
        q.run(p)
    barrier.wait()
    cpu0 = benchlib.backend_cpu_ns(q.pid)
    t0, n, deadline = time.perf_counter(), 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for p in params[n % len(params):] + params[: n % len(params)]:
            q.run(p)
            n += 1
            if n % 16 == 0 and time.perf_counter() >= deadline:
                break
    t1 = time.perf_counter()
    results.put((t0, t1, n, None if cpu0 is None else (benchlib.backend_cpu_ns(q.pid) - cpu0) / 1e9))


def concurrent_qps(side, params, a, clients):
    """Total QPS of `clients` processes, each with its own connection, running
    the query loop for --conc-seconds (client i starts at query i*n/clients)."""
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(clients), ctx.Queue()
    step = len(params) // clients
    procs = [ctx.Process(target=_client, args=(side.dsn, side.vector_oid, a, params[i * step:] + params[:i * step],
                                              a.conc_ef, barrier, results, a.conc_seconds)) for i in range(clients)]
    for p in procs:
        p.start()
    got = [results.get(timeout=a.conc_seconds + 600) for _ in procs]
    for p in procs:
        p.join()
    cpu = None if any(g[3] is None for g in got) else sum(g[3] for g in got)
    wall = max(g[1] for g in got) - min(g[0] for g in got)
    n = sum(g[2] for g in got)
    return {"qps": n / wall, "queries": n, "backend_cpu_s": cpu}


def _inserter(dsn, oid, rows, barrier, results):
    conn = benchlib.connect(dsn)
    conn.execute("SET synchronous_commit = off")
    pg = conn.pgconn
    check(pg.prepare(b"ins", b"INSERT INTO items (id, embedding) VALUES ($1, $2)", [23, oid]), pg)
    barrier.wait()
    pid = conn.info.backend_pid
    cpu0, t0 = benchlib.backend_cpu_ns(pid), time.perf_counter()
    for rid, vec in rows:
        check(pg.exec_prepared(b"ins", [struct.pack("!i", rid), vec], [1, 1]), pg)
    t1 = time.perf_counter()
    results.put((t0, t1, len(rows), None if cpu0 is None else (benchlib.backend_cpu_ns(pid) - cpu0) / 1e9))
    conn.close()


def insert_rate(side, rows, clients):
    """Rows per second of single-row autocommit INSERTs (synchronous_commit
    off, so the index insert rather than the WAL flush is measured), and the
    backends' CPU seconds."""
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(clients), ctx.Queue()
    procs = [ctx.Process(target=_inserter, args=(side.dsn, side.vector_oid, rows[i::clients], barrier, results))
             for i in range(clients)]
    for p in procs:
        p.start()
    got = [results.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join()
    cpu = None if any(g[3] is None for g in got) else sum(g[3] for g in got)
    n = sum(g[2] for g in got)
    return {"rows_s": n / (max(g[1] for g in got) - min(g[0] for g in got)), "rows": n, "backend_cpu_s": cpu}


def perf_profile(side, params, a, out_dir):
    """perf record -g of one backend running the query loop at --perf-ef."""
    q = Querier(side.dsn, side.vector_oid, a)
    q.set_ef(a.perf_ef)
    for p in params[: a.warmup]:
        q.run(p)
    data = os.path.join(out_dir, f"perf-{side.ext}.data")
    rec = subprocess.Popen(["perf", "record", "-g", "-p", str(q.pid), "-o", data], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    deadline, n = time.perf_counter() + a.perf_seconds, 0
    while time.perf_counter() < deadline:
        q.run(params[n % len(params)])
        n += 1
    rec.send_signal(signal.SIGINT)
    rec.wait()
    report = subprocess.run(["perf", "report", "--no-children", "--stdio", "-i", data, "-F", "overhead,dso,sym",
                             "-g", "none", "--percent-limit", "0.2"], capture_output=True, text=True).stdout
    with open(os.path.join(out_dir, f"perf-{side.ext}.txt"), "w") as f:
        f.write(report)
    top = []
    for line in report.splitlines():
        m = re.match(r"^\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*?)\s*$", line)
        if m and len(top) < 15:
            top.append({"self_pct": float(m.group(1)), "dso": m.group(2), "symbol": m.group(4)})
    q.conn.close()
    return {"queries": n, "seconds": a.perf_seconds, "qps": n / a.perf_seconds, "top": top,
            "report": os.path.join(out_dir, f"perf-{side.ext}.txt")}


def interp(curve, target, key="qps"):
    """`key` (QPS) at `target` recall, log-linear between the two ef_search
    points that bracket it (curve in ef_search order); None outside the
    measured range."""
    for lo, hi in zip(curve, curve[1:]):
        if lo[key] is None or hi[key] is None:
            return None
        if lo["recall"] <= target <= hi["recall"] and hi["recall"] > lo["recall"]:
            f = (target - lo["recall"]) / (hi["recall"] - lo["recall"])
            return math.exp(math.log(lo[key]) + f * (math.log(hi[key]) - math.log(lo[key])))
        if lo["recall"] == target:
            return lo[key]
    if curve and curve[-1]["recall"] == target:
        return curve[-1][key]
    return None


def best_spread(values, higher=True):
    """(best, spread): spread = (max - min) / best over the rounds."""
    vals = [v for v in values if v is not None]
    if not vals:
        return None, None
    best = max(vals) if higher else min(vals)
    return best, (max(vals) - min(vals)) / best


def per_cpu(count, cpu):
    return count / cpu if cpu else None


def summarize(raw, a):
    s = {}
    for ext in raw["sides"]:
        r = raw["rounds"]
        builds = [x[ext]["build"] for x in r]
        curves = [x[ext]["curve"] for x in r]
        side = {"build_s": best_spread([b["build_s"] for b in builds], higher=False),
                "build_cpu_s": best_spread([b["build_cpu_s"] for b in builds], higher=False),
                "index_mb": best_spread([b["index_bytes"] / 2**20 for b in builds], higher=False),
                "failed_builds": sum(len(b["failures"]) for b in builds), "ef": {}}
        for i, ef in enumerate(a.ef):
            pts = [c[i] for c in curves]
            side["ef"][ef] = {"recall": float(np.mean([p["recall"] for p in pts])),
                              "recall_range": (min(p["recall"] for p in pts), max(p["recall"] for p in pts)),
                              "qps": best_spread([p["qps"] for p in pts]),
                              "cpu_qps": best_spread([p["cpu_qps"] for p in pts]),
                              "p50_ms": min(p["p50_ms"] for p in pts), "p99_ms": min(p["p99_ms"] for p in pts)}
        side["at_recall"] = {t: best_spread([interp(c, t) for c in curves]) for t in TARGETS}
        side["at_recall_cpu"] = {t: best_spread([interp(c, t, "cpu_qps") for c in curves]) for t in TARGETS}
        for key, flag, field, count in (("conc", a.clients2, "qps", "queries"), ("inserts", a.inserts, "rows_s", "rows")):
            if not flag:
                continue
            for n in (("1", "2") if key == "conc" else ("1", "4")):
                runs = [x[ext][key][n] for x in r]
                side[f"{key}{n}"] = best_spread([x[field] for x in runs])
                side[f"{key}{n}_cpu"] = best_spread([per_cpu(x[count], x["backend_cpu_s"]) for x in runs])
        s[ext] = side
    return s


def fmt_bs(bs, digits=0):
    best, spread = bs
    if best is None:
        return "n/a"
    return f"{best:,.{digits}f} ±{100 * spread / 2:.0f}%" if spread else f"{best:,.{digits}f}"


def ratio(x, y, higher_better=True):
    return f"{x / y:.2f}x" if x and y else "n/a"


def table(summary, raw, a):
    sides = raw["sides"]
    two = len(sides) == 2
    head = "| | " + " | ".join(f"{e} {raw['versions'][e]}" for e in sides) + " | " + \
        (f"{sides[0]}/{sides[1]}" if two else "") + " |"
    lines = [head, "|---" * (len(sides) + 2) + "|"]
    S = [summary[e] for e in sides]

    def row(label, key_cells, rat=""):
        lines.append(f"| {label} | " + " | ".join(key_cells) + f" | {rat} |")

    def rat(k1, k2=None, sub=None):
        if not two:
            return ""
        x, y = (S[0][k1], S[1][k1]) if sub is None else (S[0][k1][sub], S[1][k1][sub])
        return ratio(x[0], y[0])

    row("build: wall s / cluster CPU s", [f"{fmt_bs(x['build_s'], 2)} / {fmt_bs(x['build_cpu_s'], 1)}" for x in S],
        f"{rat('build_s')} / {rat('build_cpu_s')}")
    if any(x["failed_builds"] for x in S):
        row("failed builds (retried on a new connection)", [str(x["failed_builds"]) for x in S])
    row("index MB", [fmt_bs(x["index_mb"], 1) for x in S], rat("index_mb"))
    for ef in a.ef:
        cells = []
        for x in S:
            e = x["ef"][ef]
            lo, hi = e["recall_range"]
            rec = f"{e['recall']:.4f}" + (f" ({lo:.3f}-{hi:.3f})" if hi - lo >= 0.0005 else "")
            cells.append(f"{rec} / {fmt_bs(e['qps'])} / {fmt_bs(e['cpu_qps'])} / {e['p50_ms']:.2f} / {e['p99_ms']:.2f}")
        row(f"{knob(a)} {ef}: recall@{a.k} / QPS / QPS per CPU-s / p50 ms / p99 ms", cells)
    for t in TARGETS:
        row(f"at recall {t} (log-linear interp.): QPS / QPS per CPU-s",
            [f"{fmt_bs(x['at_recall'][t])} / {fmt_bs(x['at_recall_cpu'][t])}" for x in S],
            f"{rat('at_recall', sub=t)} / {rat('at_recall_cpu', sub=t)}")
    if a.clients2:
        cells = [f"{fmt_bs(x['conc1'])} -> {fmt_bs(x['conc2'])} ({ratio(x['conc2'][0], x['conc1'][0])}); "
                 f"per CPU-s {fmt_bs(x['conc1_cpu'])} -> {fmt_bs(x['conc2_cpu'])}" for x in S]
        row(f"total QPS 1 -> 2 clients, {knob(a)} {a.conc_ef}", cells, f"{rat('conc1')} -> {rat('conc2')}")
    if a.inserts:
        cells = [f"{fmt_bs(x['inserts1'])} / {fmt_bs(x['inserts4'])}; per CPU-s {fmt_bs(x['inserts1_cpu'])} / "
                 f"{fmt_bs(x['inserts4_cpu'])}" for x in S]
        row(f"INSERT rows/s, 1 / 4 clients ({a.insert_rows} rows each)", cells,
            f"{rat('inserts1')} / {rat('inserts4')}; CPU {rat('inserts1_cpu')} / {rat('inserts4_cpu')}")
    return "\n".join(lines)


def plot(summary, raw, a, path):
    try:
        import matplotlib
    except ImportError:
        # the measurements are worth more than the picture: the table
        # and the JSON still get written
        print(f"matplotlib is missing (Debian: python3-matplotlib): no {path}", file=sys.stderr)
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    for ax, key, label in ((axes[0], "qps", "queries per second (1 client, wall clock)"),
                           (axes[1], "cpu_qps", "queries per backend CPU-second")):
        for ext in raw["sides"]:
            pts = [(summary[ext]["ef"][ef]["recall"], summary[ext]["ef"][ef][key][0], ef) for ef in a.ef]
            pts = [p for p in pts if p[1]]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=f"{ext} {raw['versions'][ext]}")
            for x, y, ef in pts:
                ax.annotate(str(ef), (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
        for t in TARGETS:
            ax.axvline(t, color="grey", lw=0.6, ls=":")
        ax.set_yscale("log")
        ax.set_xlabel(f"recall@{a.k} (mean of rounds)")
        ax.set_ylabel(label + ", best of rounds")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(f"{raw['dataset']} {a.metric}: n={raw['n']:,} d={raw['d']}, {index_desc(a)}, "
                 f"{a.rounds} rounds", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", required=True, help="base vectors (.fvecs)")
    p.add_argument("--query", required=True, help="query vectors (.fvecs)")
    p.add_argument("--gt", required=True, help="ground truth for --metric (.ivecs, ids into --base)")
    benchlib.add_server_args(p)
    p.add_argument("--metric", default="l2", choices=sorted(OPS))
    p.add_argument("--sides", default="vecstore,pgvector", help="extensions to compare, in alternation order")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--ef", type=int, nargs="+", default=[10, 20, 40, 60, 80, 120, 160, 240, 320, 400])
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--am", default="hnsw", choices=["hnsw", "ivfflat"],
                   help="index access method; with ivfflat, --ef lists ivfflat.probes values")
    p.add_argument("--lists", type=int, default=100, help="ivfflat lists")
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=64)
    p.add_argument("--vecstore-options", default="",
                   help="extra index options for the vecstore side only, e.g. \"vecstore_quantize = sq8\"")
    p.add_argument("--build-workers", type=int, default=1, help="max_parallel_maintenance_workers for both builds")
    p.add_argument("--maintenance-work-mem", default="2GB")
    p.add_argument("--shared-buffers", default="4GB", help="for the throwaway cluster")
    p.add_argument("--param-format", default="binary", choices=["binary", "text"])
    p.add_argument("--queries", type=int, help="use only the first N queries")
    p.add_argument("--warmup", type=int, default=100, help="untimed queries before each timed pass")
    p.add_argument("--clients2", action="store_true", help="also total QPS of 2 concurrent clients vs 1")
    p.add_argument("--conc-ef", type=int, default=40)
    p.add_argument("--conc-seconds", type=float, default=10.0)
    p.add_argument("--inserts", action="store_true", help="also single-row INSERT throughput, 1 and 4 clients")
    p.add_argument("--insert-rows", type=int, default=1000)
    p.add_argument("--perf-sides", default="", help="comma list of sides to profile with perf record -g")
    p.add_argument("--perf-ef", type=int, default=40)
    p.add_argument("--perf-seconds", type=float, default=20.0)
    p.add_argument("--out", default="bench-out")
    a = p.parse_args()
    sides = [s for s in a.sides.split(",") if s]
    os.makedirs(a.out, exist_ok=True)
    base = benchlib.read_vecs(a.base)
    queries = benchlib.read_vecs(a.query)[: a.queries]
    gt = benchlib.read_vecs(a.gt, np.int32)[: len(queries)]
    if gt.shape[1] < a.k or gt.max() >= len(base):
        sys.exit("ground truth does not fit the base file or k")
    dataset = os.path.basename(a.base).split(".")[0]
    conf = {"shared_buffers": a.shared_buffers, "max_worker_processes": "8", "max_parallel_workers": "8",
            "checkpoint_timeout": "30min", "max_wal_size": "8GB", "fsync": "on"}
    signal.signal(signal.SIGTERM, _terminate)
    admin_dsn, cluster = benchlib.server(a, conf)
    try:
        raw = run(a, sides, base, queries, gt, admin_dsn, dataset)
    finally:
        if cluster:
            cluster.destroy()
    summary = summarize(raw, a)
    raw["summary"] = json.loads(json.dumps(summary, default=str))
    tag = f"{dataset}-{a.metric}" + ("-ivfflat" if a.am == "ivfflat" else "") + ("-" + re.sub(r"[^a-z0-9]+", "-", a.vecstore_options.lower()).strip("-") if a.vecstore_options else "")
    png = os.path.join(a.out, f"side_by_side-{tag}.png")
    plot(summary, raw, a, png)
    m, pg = raw["machine"], raw["server"]
    print(f"## {dataset} ({raw['n']:,} x {raw['d']}, {len(queries)} queries), metric {a.metric}, k={a.k}, "
          f"{index_desc(a)}, {a.rounds} rounds alternating {'/'.join(sides)}"
          + (f"; vecstore index WITH ({a.vecstore_options})" if a.vecstore_options else ""))
    print(f"machine: {m['cpu']}, {m['cores']} cores ({','.join(m['simd'])}), {m['mem_gib']} GiB, Linux {m['kernel']}, "
          f"load avg at start {m['loadavg'][0]:.2f}, at end {raw['loadavg_end'][0]:.2f}")
    print(f"server: {pg['version']}")
    print("settings: " + ", ".join(f"{k}={v}" for k, v in pg.items() if k != "version") +
          f"; builds: maintenance_work_mem={a.maintenance_work_mem}, max_parallel_maintenance_workers={a.build_workers}; "
          f"queries: prepared, {a.param_format} vector parameter, {a.warmup} warm-up queries per ef")
    print()
    print(table(summary, raw, a))
    for ext, prof in raw.get("perf", {}).items():
        print(f"\nperf record -g, {ext} backend, ef_search {a.perf_ef}, {prof['qps']:.0f} QPS "
              f"(perf report --no-children, self time):")
        for t in prof["top"]:
            print(f"  {t['self_pct']:6.2f}%  {t['dso']:<18} {t['symbol']}")
    js = os.path.join(a.out, f"side_by_side-{tag}.json")
    with open(js, "w") as f:
        json.dump(raw, f, indent=1, default=str)
    print(f"\nwrote {js} and {png}")


def _terminate(signum, frame):
    raise KeyboardInterrupt  # so that the throwaway cluster is removed


def run(a, sides, base, queries, gt, admin_dsn, dataset):
    raw = {"dataset": dataset, "metric": a.metric, "n": int(base.shape[0]), "d": int(base.shape[1]),
           "queries": len(queries), "args": vars(a), "sides": sides, "machine": benchlib.machine(), "rounds": []}
    with benchlib.connect(admin_dsn) as admin:
        raw["server"] = benchlib.pg_facts(admin, SETTINGS)
    log(f"loading {len(base)} rows into {len(sides)} databases")
    S = {e: Side(e, admin_dsn, base, a) for e in sides}
    raw["versions"] = {e: S[e].version for e in sides}
    params = params_of(queries, a.param_format)
    Q = {}
    for r in range(a.rounds):
        rnd = {e: {} for e in sides}
        for e in sides:
            rnd[e]["build"] = S[e].build(a)
            log(f"round {r + 1} {e}: build {rnd[e]['build']['build_s']:.1f} s, "
                f"{rnd[e]['build']['index_bytes'] / 2**20:.1f} MB")
        for e in sides:
            if e not in Q:
                Q[e] = Querier(S[e].dsn, S[e].vector_oid, a)
                plan = "\n".join(x[0] for x in Q[e].conn.execute(
                    f"EXPLAIN {knn_sql(a).replace('$1', '%s::vector')}", (benchlib.vector_text(queries[0]),)))
                if "items_idx" not in plan:
                    sys.exit(f"{e}: the k-NN query does not use the index:\n{plan}")
            rnd[e]["curve"] = query_round(Q[e], params, gt, a)
            log(f"round {r + 1} {e}: " + ", ".join(f"ef {c['ef_search']} {c['recall']:.3f}/{c['qps']:.0f}"
                                                   f"/{c['cpu_qps'] or 0:.0f}" for c in rnd[e]["curve"]))
        if a.clients2:
            for n in (1, 2):
                for e in sides:
                    rnd[e].setdefault("conc", {})[str(n)] = concurrent_qps(S[e], params, a, n)
                    log(f"round {r + 1} {e}: {n} client(s) {rnd[e]['conc'][str(n)]['qps']:.0f} QPS")
        raw["rounds"].append(rnd)
    if a.perf_sides:
        raw["perf"] = {}
        for e in [x for x in a.perf_sides.split(",") if x]:
            raw["perf"][e] = perf_profile(S[e], params, a, a.out)
            log(f"perf {e}: {raw['perf'][e]['qps']:.0f} QPS while recording")
    if a.inserts:
        pool = np.concatenate([queries, base])
        next_id = 10 ** 8
        for r in range(a.rounds):
            for n in (1, 4):
                for e in sides:
                    k0 = next_id - 10 ** 8  # held-out queries first, then base rows, as new ids
                    rows = [(next_id + i, benchlib.vector_binary(pool[(k0 + i) % len(pool)]))
                            for i in range(a.insert_rows)]
                    raw["rounds"][r][e].setdefault("inserts", {})[str(n)] = insert_rate(S[e], rows, n)
                    log(f"round {r + 1} {e}: INSERT {n} client(s) {raw['rounds'][r][e]['inserts'][str(n)]['rows_s']:.0f} rows/s")
                next_id += a.insert_rows
    for q in Q.values():
        q.conn.close()
    for s in S.values():
        s.conn.close()
    raw["loadavg_end"] = os.getloadavg()
    return raw


if __name__ == "__main__":
    main()
