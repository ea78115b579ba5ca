"""Shared pieces of the benchmark scripts: texmex readers, binary COPY of
vectors, a throwaway PostgreSQL cluster and the machine description.

Nothing here has a default data path: every script takes its files as
arguments. Servers are throwaway clusters (initdb into a private temporary
directory, own port, unix socket only, no TCP listener) started from a given
pg_config, or whatever server a DSN names.
"""
import contextlib
import os
import platform
import shutil
import socket
import struct
import subprocess
import tempfile

import numpy as np
import psycopg

IS_ROOT = os.geteuid() == 0


def read_vecs(path, dtype=np.float32):
    """A texmex .fvecs (float32) or .ivecs (int32) file as a 2-d array."""
    raw = np.fromfile(path, dtype=np.int32)
    arr = raw.reshape(-1, raw[0] + 1)[:, 1:]
    return arr.view(np.float32) if dtype == np.float32 else arr


def vector_binary(v):
    """pgvector's binary send/receive form: int16 dim, int16 0, big-endian float4s."""
    return struct.pack("!hh", len(v), 0) + np.asarray(v, dtype=">f4").tobytes()


def vector_text(v):
    return "[" + ",".join(repr(float(x)) for x in v) + "]"


def copy_vectors(conn, vectors, first_id=0):
    """Loads `items (id, embedding)` with binary COPY."""
    with conn.cursor().copy("COPY items (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as cp:
        cp.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0))
        for i, v in enumerate(vectors):
            payload = vector_binary(v)
            cp.write(struct.pack("!hii", 2, 4, first_id + i) + struct.pack("!i", len(payload)) + payload)
        cp.write(struct.pack("!h", -1))


def _free_port():
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A private PostgreSQL instance in a temporary directory; as root the
    server runs as the `postgres` OS user and clients connect as `root`."""

    def __init__(self, pg_config, conf=None, prefix="sbs-pgdata-", parent="/var/tmp"):
        self.bindir = subprocess.check_output([pg_config, "--bindir"], text=True).strip()
        self.user = "root" if IS_ROOT else os.environ.get("USER", "postgres")
        self.dir = tempfile.mkdtemp(prefix=prefix, dir=parent)  # away from the test harness's /tmp/vecstore-* dirs
        os.chmod(self.dir, 0o755)
        if IS_ROOT:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = os.path.join(self.dir, "data")
        self.logfile = os.path.join(self.dir, "server.log")
        self.port = _free_port()
        self._run([f"{self.bindir}/initdb", "-D", self.data, "-A", "trust", "-U", self.user, "--no-sync",
                   "-E", "UTF8", "--locale=C"])
        settings = {"listen_addresses": "''", "port": str(self.port), "unix_socket_directories": f"'{self.dir}'",
                    "max_connections": "40", "log_min_messages": "warning"}
        settings.update(conf or {})
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("".join(f"{k} = {v}\n" for k, v in settings.items()))
        r = self._run([f"{self.bindir}/pg_ctl", "-D", self.data, "-l", self.logfile, "-w", "-t", "120", "start"],
                      check=False)
        if r.returncode != 0:
            raise RuntimeError(f"cluster did not start:\n{r.stdout}{r.stderr}\n{self.log()[-3000:]}")

    def _run(self, cmd, check=True):
        cmd = ["runuser", "-u", "postgres", "--", *cmd] if IS_ROOT else cmd
        return subprocess.run(cmd, check=check, capture_output=True, text=True)

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def dsn(self, db="postgres"):
        return f"host={self.dir} port={self.port} user={self.user} dbname={db}"

    def destroy(self):
        self._run([f"{self.bindir}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "120", "stop"], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def with_db(dsn, db):
    """`dsn` with its dbname replaced (or added)."""
    parts = [p for p in dsn.split() if not p.startswith("dbname=")]
    return " ".join(parts + [f"dbname={db}"])


def server(args, conf):
    """(admin DSN, cluster or None) from --pg-config (throwaway cluster) or --dsn."""
    if args.dsn:
        return args.dsn, None
    c = Cluster(args.pg_config, conf)
    return c.dsn(), c


def add_server_args(p):
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--pg-config", help="start a throwaway cluster from this PostgreSQL's binaries")
    g.add_argument("--dsn", help="use this server instead (e.g. 'host=/tmp port=5433 dbname=postgres')")


def machine():
    """CPU model, cores, memory, kernel and load average."""
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem_kb = int(line.split()[1])
    flags = open("/proc/cpuinfo").read()
    simd = [x for x in ("avx512f", "avx2", "fma") if f" {x}" in flags]
    return {"cpu": cpu, "cores": os.cpu_count(), "mem_gib": round(mem_kb / 2**20, 1), "simd": simd,
            "kernel": platform.release(), "loadavg": os.getloadavg()}


def pg_facts(conn, names):
    """version() and the named settings of a connection."""
    facts = {"version": conn.execute("SELECT version()").fetchone()[0]}
    for n in names:
        facts[n] = conn.execute("SELECT current_setting(%s, true)", (n,)).fetchone()[0]
    return facts


def connect(dsn, **kw):
    return psycopg.connect(dsn, autocommit=True, **kw)


def backend_cpu_ns(pid):
    """On-CPU time of a (single-threaded) local process's main thread in ns,
    from /proc/PID/schedstat; None when the server is not local. Unlike wall
    time it barely moves when other work competes for the cores."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0])
    except OSError:
        return None


def _stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[1]), [int(x) for x in fields[11:15]]  # ppid, utime stime cutime cstime


def parent_pid(pid):
    try:
        return _stat(pid)[0]
    except OSError:
        return None


def cluster_cpu_s(postmaster):
    """CPU seconds used so far by a local cluster: the postmaster and its live
    children (backends, parallel workers, background processes: all threads)
    plus what exited children left in the postmaster's cutime/cstime."""
    if postmaster is None:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    try:
        _, t = _stat(postmaster)
    except OSError:
        return None
    total = sum(t)
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid, ct = _stat(d)
            except OSError:
                continue
            if ppid == postmaster:
                total += ct[0] + ct[1]
    return total / tick
