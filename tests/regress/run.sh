#!/usr/bin/env bash
# Runs the pg_regress suite (tests/regress/sql + expected) against the system
# cluster, in a fresh database with vecstore loaded.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out=$(mktemp -d)
chmod 777 "$out"
tests=$(cd "$here/sql" && ls *.sql | sed 's/\.sql$//' | sort)
status=0
/usr/lib/postgresql/15/lib/pgxs/src/test/regress/pg_regress \
  --inputdir="$here" --outputdir="$out" \
  --bindir=/usr/lib/postgresql/15/bin \
  --host=/var/run/postgresql --port=5432 \
  --dbname=vecstore_regress --load-extension=vecstore \
  $tests || status=$?
if [[ $status -ne 0 ]]; then
  cat "$out/regression.diffs" 2>/dev/null | head -200
fi
exit $status
