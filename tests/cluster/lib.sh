# Helpers for the cluster tests: they run against the system cluster 15/main
# (started by scripts/setup.sh) as the invoking superuser role.
set -euo pipefail
PGBIN=/usr/lib/postgresql/15/bin
export PGHOST=/var/run/postgresql
passed=0
failed=0

sql() { psql -X -q -v ON_ERROR_STOP=1 -tA "$@"; }

fresh_db() {
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
  sql -d "$1" -c "CREATE EXTENSION vecstore"
}

check() { # name, expected, actual
  if [[ "$2" == "$3" ]]; then
    echo "ok   - $1"
    passed=$((passed + 1))
  else
    echo "FAIL - $1: expected [$2], got [$3]"
    failed=$((failed + 1))
  fi
}

wait_ready() { # port
  for _ in $(seq 1 120); do
    $PGBIN/pg_isready -q -h "$PGHOST" -p "${1:-5432}" && return 0
    sleep 0.5
  done
  echo "server on port ${1:-5432} did not come up"; return 1
}

# Every row is found by an index scan of its own vector (ef_search 1000).
unreachable_rows() { # db table
  sql -d "$1" -c "SET hnsw.ef_search = 1000; SET enable_seqscan = off;
    SELECT count(*) FROM $2 t WHERE NOT EXISTS (
      SELECT 1 FROM (SELECT id FROM $2 t2 ORDER BY t2.v <-> t.v LIMIT 5) s WHERE s.id = t.id)" | tail -1
}

# Top-10 distances from the index (ef_search 1000) differ from exact search
# for how many of 20 random probe queries?
mismatched_queries() { # db table dims
  sql -d "$1" -c "SET hnsw.ef_search = 1000;
    CREATE TEMP TABLE probes AS SELECT p, ARRAY(SELECT random() + 0 * p FROM generate_series(1, $3) j)::vector AS q FROM generate_series(1, 20) p;
    SELECT count(*) FROM probes WHERE
      (SELECT array_agg(round((v <-> q)::numeric, 6) ORDER BY v <-> q) FROM (SELECT v FROM $2 ORDER BY v <-> q LIMIT 10) a) IS DISTINCT FROM
      (SELECT array_agg(round((v <-> q)::numeric, 6) ORDER BY v <-> q) FROM (SELECT v FROM $2 ORDER BY (v <-> q) + 0 LIMIT 10) b)" | tail -1
}

summary() {
  echo "$passed passed, $failed failed"
  [[ $failed -eq 0 ]]
}

# recall@10 in percent of the index (ef_search 200) against exact search
# over 20 random probes.
recall_pct() { # db table dims
  sql -d "$1" -c "SET hnsw.ef_search = 200;
    CREATE TEMP TABLE probes AS SELECT p, ARRAY(SELECT random() + 0 * p FROM generate_series(1, $3) j)::vector AS q FROM generate_series(1, 20) p;
    SELECT sum((SELECT count(*) FROM (SELECT id FROM $2 ORDER BY v <-> q LIMIT 10) a
                WHERE id IN (SELECT id FROM $2 ORDER BY (v <-> q) + 0 LIMIT 10)))::int / 2 FROM probes" | tail -1
}
