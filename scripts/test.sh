#!/usr/bin/env bash
# Runs every test: pure-Rust unit tests and #[pg_test]s (cargo pgrx test),
# then installs the release build and runs the pg_regress suite and the
# cluster-level scripts (crash, replica, concurrency, builds) against the
# system cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

echo "== cargo test -p vecstore-core (pure core: kernels, HNSW, no PostgreSQL)"
cargo test -p vecstore-core --release

echo "== cargo pgrx test (extension unit tests + pg_tests)"
rm -rf /tmp/vecstore-pgrx-pgdata
cargo pgrx test --release pg15 --runas postgres --pgdata /tmp/vecstore-pgrx-pgdata

echo "== installing the release build"
bash scripts/install.sh

echo "== pg_regress"
bash tests/regress/run.sh

echo "== client libraries (Python: psycopg 3, psycopg2, asyncpg, SQLAlchemy, Django)"
bash tests/clients/python/run.sh
echo "== client libraries (Node: pg + pgvector)"
bash tests/clients/node/run.sh
echo "== client libraries (Rust: pgvector crate with postgres and sqlx)"
bash tests/clients/rust/run.sh

echo "== feature-store pipeline (embedding model, binary COPY, HNSW search, Iris kNN)"
bash tests/pipeline/run.sh

echo "== cluster tests (crash recovery, streaming replica, concurrency, builds)"
bash tests/cluster/run.sh
