#!/usr/bin/env bash
# Runs the pg_regress suite (tests/regress/sql + expected) on a temporary
# instance (pg_regress --temp-instance: initdb in a scratch directory, its own
# port), never on the machine's own cluster. Uses the PostgreSQL named by
# $PG_CONFIG (default Debian's 15) and the vecstore installed into it.
# As root, pg_regress runs as the postgres OS user (PostgreSQL refuses root).
# Extra arguments replace the list of tests (e.g. run.sh hnsw_opclasses).
set -euo pipefail
# the server inherits the environment: Rust backtraces would land in DETAIL
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
here="$(cd "$(dirname "$0")" && pwd)"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bindir=$("$PG_CONFIG" --bindir)
pg_regress="$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress"
out=$(mktemp -d "${TMPDIR:-/tmp}/vecstore-regress-XXXXXX")
# the inputs are copied next to the outputs: the postgres OS user may not be
# able to read the checkout (e.g. under /root)
cp -r "$here/sql" "$here/expected" "$out/"
inputdir=$out
as=()
if [[ $(id -u) -eq 0 ]]; then
  chown -R postgres: "$out"
  as=(runuser -u postgres --)
fi
if (($#)); then
  tests="$*"
else
  tests=$(cd "$here/sql" && ls *.sql | sed 's/\.sql$//' | sort)
fi
# a free port (pg_regress would otherwise pick a fixed default)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
status=0
# shellcheck disable=SC2086
(cd "$out" && "${as[@]}" "$pg_regress" \
  --inputdir="$inputdir" --outputdir="$out" \
  --bindir="$bindir" \
  --temp-instance="$out/instance" --port="$port" \
  --dbname=vecstore_regress --load-extension=vecstore \
  $tests) || status=$?
if [[ $status -ne 0 ]]; then
  sed "s|$out/expected|tests/regress/expected|g" "$out/regression.diffs" 2>/dev/null | head -300 || true
  tail -30 "$out/log/postmaster.log" 2>/dev/null || true
  echo "pg_regress output kept in $out"
else
  rm -rf "$out"
fi
exit $status
