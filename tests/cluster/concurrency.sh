#!/usr/bin/env bash
# Concurrent inserts (4 clients) while other clients query, then a VACUUM
# racing more inserts: no error, no deadlock, no lost neighbour update
# (every row stays reachable and results match exact search).
source "$(dirname "$0")/lib.sh"
DB=vecstore_conc
fresh_db $DB
sql -d $DB -c "CREATE TABLE t (id bigserial PRIMARY KEY, v vector(16));
  INSERT INTO t (v) SELECT ARRAY(SELECT random() + 0 * i FROM generate_series(1, 16)) FROM generate_series(1, 1000) i;
  CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32);"
work=$(mktemp -d)
cat > $work/insert.sql <<'SQL'
INSERT INTO t (v) SELECT ARRAY(SELECT random() FROM generate_series(1, 16));
SQL
cat > $work/query.sql <<'SQL'
SELECT id FROM t ORDER BY v <-> (SELECT ARRAY(SELECT random() FROM generate_series(1, 16))::vector) LIMIT 10;
SQL
pgbench -n -d $DB -c 4 -j 4 -t 1500 -f $work/insert.sql > $work/ins.log 2>&1 &
ins=$!
pgbench -n -d $DB -c 2 -j 2 -t 1000 -f $work/query.sql > $work/q.log 2>&1 &
qry=$!
wait $ins; ins_rc=$?
wait $qry; q_rc=$?
check "4 concurrent inserters finish without error" 0 "$ins_rc"
check "concurrent queries finish without error" 0 "$q_rc"
check "all rows were inserted" 7000 "$(sql -d $DB -c "SELECT count(*) FROM t")"
# Racing inserts can, rarely, prune the last link to an element (about 1 in
# 50,000 inserts measured); VACUUM's cleanup relinks it. Allow 0.05% here,
# require every row after VACUUM below.
stranded=$(unreachable_rows $DB t)
echo "rows unreachable right after concurrent inserts: $stranded of 7000"
check "at most 0.05% of rows stranded by concurrent inserts" yes "$([[ $stranded -le 3 ]] && echo yes || echo no)"
sql -d $DB -c "VACUUM t"
check "every row is reachable after VACUUM" 0 "$(unreachable_rows $DB t)"
check "index results match exact search after concurrent inserts" 0 "$(mismatched_queries $DB t 16)"
sql -d $DB -c "DELETE FROM t WHERE id % 2 = 0"
pgbench -n -d $DB -c 2 -j 2 -t 500 -f $work/insert.sql > $work/ins2.log 2>&1 &
ins=$!
sql -d $DB -c "VACUUM t"
wait $ins; ins_rc=$?
check "inserts racing VACUUM finish without error" 0 "$ins_rc"
sql -d $DB -c "VACUUM t"
check "every row is reachable after VACUUM with concurrent inserts" 0 "$(unreachable_rows $DB t)"
check "index results match exact search after VACUUM" 0 "$(mismatched_queries $DB t 16)"
[[ $failed -eq 0 ]] && { rm -rf $work; psql -X -q -d postgres -c "DROP DATABASE $DB"; }
summary
