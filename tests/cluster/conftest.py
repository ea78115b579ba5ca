"""Throwaway PostgreSQL clusters for cluster-level tests.

Every test module gets its own cluster: `initdb` into a private temporary
directory, a free port, a unix socket in that directory and no TCP listener,
so nothing here touches the machine's own clusters. Binaries come from
`$PG_CONFIG --bindir` (default: Debian's PostgreSQL 15); the extension is
whatever is installed into that PostgreSQL. When run as root the server runs
as the `postgres` OS user, which PostgreSQL requires.

Fixtures:
- `cluster`: the module's running cluster (settings from the module-level
  dict `CLUSTER_CONF`, if any).
- `db`: a fresh database in it with `CREATE EXTENSION vecstore`, per test.
- `make_cluster`: a factory for extra clusters (standbys, other settings).
"""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time

import psycopg
import pytest

PG_CONFIG = os.environ.get("PG_CONFIG", "/usr/lib/postgresql/15/bin/pg_config")
BINDIR = subprocess.check_output([PG_CONFIG, "--bindir"], text=True).strip()
TMP_ROOT = os.environ.get("VECSTORE_TEST_TMP", tempfile.gettempdir())
IS_ROOT = os.geteuid() == 0
SUPERUSER = "root" if IS_ROOT else os.environ.get("USER", "postgres")

# Settings every test cluster gets (fsync off: an immediate stop keeps the
# OS page cache, so crash tests still see exactly what the server wrote).
BASE_CONF = {
    "listen_addresses": "''",
    "fsync": "off",
    "shared_buffers": "256MB",
    "max_connections": "60",
    "log_min_messages": "warning",
    "log_line_prefix": "'%m [%p] '",
}


# The server inherits this environment: keep Rust backtraces out of error
# DETAILs (a developer's RUST_BACKTRACE=1 would change every message).
SERVER_ENV = {k: v for k, v in os.environ.items() if k not in ("RUST_BACKTRACE", "RUST_LIB_BACKTRACE")}


def _owner_cmd(cmd):
    """Runs server-side binaries as the data directory's owner."""
    return ["runuser", "-u", "postgres", "--", *cmd] if IS_ROOT else cmd


def _free_port():
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A private PostgreSQL instance in a temporary directory."""

    def __init__(self, name, conf=None, data_from_backup_of=None):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix=f"vecstore-{name}-", dir=TMP_ROOT)
        os.chmod(self.dir, 0o755)
        if IS_ROOT:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = os.path.join(self.dir, "data")
        self.logfile = os.path.join(self.dir, "server.log")
        self.port = _free_port()
        self.running = False
        if data_from_backup_of is None:
            self._run(
                [f"{BINDIR}/initdb", "-D", self.data, "-A", "trust", "-U", SUPERUSER, "--no-sync", "-E", "UTF8", "--locale=C"]
            )
        else:
            self._run(
                [f"{BINDIR}/pg_basebackup", "-D", self.data, "-h", data_from_backup_of.host, "-p",
                 str(data_from_backup_of.port), "-U", SUPERUSER, "-R", "-X", "stream", "-c", "fast"]
            )
        settings = dict(BASE_CONF)
        settings.update({"port": str(self.port), "unix_socket_directories": f"'{self.dir}'"})
        settings.update(conf or {})
        self.set_conf(settings)

    @property
    def host(self):
        return self.dir

    def _run(self, cmd, check=True):
        return subprocess.run(_owner_cmd(cmd), check=check, capture_output=True, text=True, env=SERVER_ENV)

    def set_conf(self, settings):
        """Appends settings to postgresql.conf (restart or reload to apply)."""
        lines = "".join(f"{k} = {v}\n" for k, v in settings.items())
        path = os.path.join(self.data, "postgresql.conf")
        with open(path, "a") as f:
            f.write(lines)

    def start(self):
        r = self._run([f"{BINDIR}/pg_ctl", "-D", self.data, "-l", self.logfile, "-w", "-t", "120", "start"], check=False)
        if r.returncode != 0:
            raise RuntimeError(f"cluster {self.name} did not start:\n{r.stdout}{r.stderr}\n{self.log()[-3000:]}")
        self.running = True
        return self

    def stop(self, mode="fast"):
        """Stops the server; mode "immediate" is a crash (no checkpoint)."""
        if self.running:
            self._run([f"{BINDIR}/pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "120", "stop"], check=False)
            self.running = False

    def crash(self):
        """Immediate shutdown: on restart the server runs crash recovery."""
        self.stop("immediate")

    def restart(self, mode="fast"):
        self.stop(mode)
        return self.start()

    def dsn(self, db="postgres"):
        return f"host={self.host} port={self.port} user={SUPERUSER} dbname={db}"

    def connect(self, db="postgres", autocommit=True, **kw):
        return psycopg.connect(self.dsn(db), autocommit=autocommit, **kw)

    def sql(self, query, db="postgres", params=None):
        """Runs one statement; returns all rows (or None without a result)."""
        with self.connect(db) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else None

    def scalar(self, query, db="postgres", params=None):
        rows = self.sql(query, db, params)
        return rows[0][0] if rows else None

    def psql(self, script, db="postgres", check=True):
        """Runs a script through psql (for \\copy and multi-statement input)."""
        r = subprocess.run(
            [f"{BINDIR}/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA", "-h", self.host, "-p", str(self.port),
             "-U", SUPERUSER, "-d", db],
            input=script, capture_output=True, text=True,
        )
        if check and r.returncode != 0:
            raise RuntimeError(f"psql failed ({r.returncode}):\n{r.stderr}")
        return r

    def create_db(self, name, extension="vecstore"):
        with self.connect() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
        if extension:
            with self.connect(name) as conn:
                conn.execute(f"CREATE EXTENSION {extension}")
        return name

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_problems(self, allow=()):
        """Lines of the server log that report a crash or an unexpected error."""
        bad = []
        for line in self.log().splitlines():
            if any(w in line for w in ("PANIC", "TRAP", "terminated by signal", "server process (PID")) or (
                ("ERROR" in line or "FATAL" in line) and not any(a in line for a in allow)
            ):
                bad.append(line)
        return bad

    def standby(self, name="standby", conf=None):
        """A streaming standby of this cluster, started."""
        s = Cluster(name, conf=conf, data_from_backup_of=self)
        return s.start()

    def wait_replay(self, standby, timeout=60):
        """Waits until `standby` has replayed everything this primary wrote."""
        lsn = self.scalar("SELECT pg_current_wal_lsn()")
        deadline = time.time() + timeout
        while time.time() < deadline:
            if standby.scalar("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", params=(lsn,)):
                return
            time.sleep(0.1)
        raise TimeoutError(f"standby did not replay up to {lsn}")

    def destroy(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def make_cluster(request):
    """Factory for clusters that live as long as the test module."""
    made = []

    def make(name=None, conf=None, start=True):
        c = Cluster(name or request.module.__name__.rsplit(".", 1)[-1], conf=conf)
        made.append(c)
        return c.start() if start else c

    yield make
    for c in made:
        c.destroy()


@pytest.fixture(scope="module")
def cluster(make_cluster, request):
    """The module's cluster, with the module's `CLUSTER_CONF` settings."""
    return make_cluster(conf=getattr(request.module, "CLUSTER_CONF", None))


@pytest.fixture
def db(cluster, request):
    """A fresh database with vecstore, named after the test."""
    name = "t_" + request.node.name.lower().replace("[", "_").replace("]", "").replace("-", "_")[:50]
    cluster.create_db(name)
    return name
