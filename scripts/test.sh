#!/usr/bin/env bash
# Runs every test from a fresh clone: machine setup, the pure-Rust unit tests
# and #[pg_test]s (cargo pgrx test), then installs the release build into the
# system PostgreSQL 15 (also as extension "vector") and runs the pg_regress
# suite, the alias install modes, the framework tests (LangChain, LlamaIndex,
# Django as a pgvector user writes them), the client-library tests, the
# feature-store pipeline, the cluster tests and a short soak test.
# No test uses the machine's own cluster: pg_regress runs on a temporary
# instance, the others on throwaway clusters (tests/tmp-cluster.sh and the
# pytest harness in tests/cluster), each initdb'ed in a temporary directory on
# a free port. The suites after the install all run even if one fails; the
# exit status says whether everything passed.
#
# VECSTORE_SOAK_MINUTES sets the soak test's length (default 1.5; 0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

echo "== cargo test -p vecstore-core (pure core: kernels, HNSW, no PostgreSQL)"
cargo test -p vecstore-core --release

echo "== cargo pgrx test (extension unit tests + pg_tests, pgrx's own temporary cluster)"
rm -rf /tmp/vecstore-pgrx-pgdata
cargo pgrx test --release pg15 --runas postgres --pgdata /tmp/vecstore-pgrx-pgdata

echo "== installing the release build, also under the extension name vector (scripts/install.sh --as-vector)"
alias_rc=0
bash scripts/install.sh --as-vector || alias_rc=$?
if ((alias_rc == 3)); then # a real pgvector owns the name: vecstore only; the framework suite will say so
  bash scripts/install.sh
elif ((alias_rc)); then
  exit "$alias_rc"
fi

failed=()
suite() { # name, command...
  local name=$1
  shift
  echo "== $name"
  local start=$SECONDS
  if "$@"; then
    echo "-- $name: passed ($((SECONDS - start)) s)"
  else
    echo "-- $name: FAILED ($((SECONDS - start)) s)"
    failed+=("$name")
  fi
}

suite "pg_regress (temporary instance)" bash tests/regress/run.sh
suite "install modes (alias vector: install, refuse next to pgvector, replace, restore)" bash tests/install/run.sh
suite "frameworks as extension vector (LangChain PGVector, LlamaIndex PGVectorStore, Django VectorExtension)" bash tests/frameworks/run.sh
suite "client libraries (Python: psycopg 3, psycopg2, asyncpg, SQLAlchemy, Django)" bash tests/clients/python/run.sh
suite "client libraries (Node: pg + pgvector)" bash tests/clients/node/run.sh
suite "client libraries (Rust: pgvector crate with postgres and sqlx)" bash tests/clients/rust/run.sh
suite "feature-store pipeline (embedding model, binary COPY, HNSW search, Iris kNN)" bash tests/pipeline/run.sh
suite "cluster tests (builds, interrupts, memory, concurrency, crash, replica, WAL, VACUUM)" bash tests/cluster/run.sh
soak=${VECSTORE_SOAK_MINUTES:-1.5}
if [[ $soak != 0 ]]; then
  suite "soak test ($soak minutes: writers, readers, VACUUM, a crash)" bash tests/soak/run.sh --minutes "$soak"
fi

if ((${#failed[@]})); then
  echo "FAILED suites:"
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
echo "all test suites passed"
