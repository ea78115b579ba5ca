#!/usr/bin/env bash
# Crash safety: an insert workload is killed by an immediate shutdown; after
# restart no committed row is lost and the index is consistent.
source "$(dirname "$0")/lib.sh"
DB=vecstore_crash
fresh_db $DB
sql -d $DB -c "CREATE TABLE t (id int PRIMARY KEY, v vector(16));
  INSERT INTO t SELECT i, ARRAY(SELECT random() + 0 * i FROM generate_series(1, 16) j) FROM generate_series(1, 2000) i;
  CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops);"
log=$(mktemp)
# one transaction per row; the NOTICE is sent only after the COMMIT
psql -X -d $DB -c "DO \$\$ BEGIN
  FOR i IN 2001..1000000 LOOP
    INSERT INTO t SELECT i, ARRAY(SELECT random() + 0 * i FROM generate_series(1, 16) j);
    COMMIT;
    RAISE NOTICE 'committed %', i;
  END LOOP; END \$\$" > /dev/null 2> "$log" &
loader=$!
sleep 4
pg_ctlcluster 15 main stop -m immediate
wait $loader || true
pg_ctlcluster 15 main start
wait_ready
committed=$(grep -c 'committed' "$log" || true)
echo "inserts acknowledged before the crash: $committed"
check "the workload committed rows before the crash" yes "$([[ $committed -gt 50 ]] && echo yes || echo no)"
last=$(grep -o 'committed [0-9]*' "$log" | tail -1 | awk '{print $2}')
check "no acknowledged row is lost" 0 "$(sql -d $DB -c "SELECT count(*) FROM generate_series(2001, $last) i WHERE NOT EXISTS (SELECT 1 FROM t WHERE id = i)")"
stranded=$(unreachable_rows $DB t)
echo "rows not found through the index after recovery: $stranded"
check "at most 0.05% of rows unreachable after recovery (pruning, not the crash)" yes "$([[ $stranded -le $((committed / 2000 + 1)) ]] && echo yes || echo no)"
sql -d $DB -c "VACUUM t"
check "every row is reachable through the index after recovery and VACUUM" 0 "$(unreachable_rows $DB t)"
check "index results match exact search after recovery" 0 "$(mismatched_queries $DB t 16)"
sql -d $DB -c "INSERT INTO t SELECT i, ARRAY(SELECT random() * 2 + 0 * i FROM generate_series(1, 16) j) FROM generate_series(2000001, 2000500) i" -c "DELETE FROM t WHERE id % 3 = 0" -c "VACUUM t"
check "inserts and VACUUM work after recovery" 0 "$(unreachable_rows $DB t)"
rm -f "$log"
[[ $failed -eq 0 ]] && psql -X -q -d postgres -c "DROP DATABASE $DB"
summary
