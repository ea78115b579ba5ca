#!/usr/bin/env bash
# Streaming replication: a standby made with pg_basebackup replays index
# builds, inserts and VACUUM from WAL and answers ANN queries like the primary.
source "$(dirname "$0")/lib.sh"
DB=vecstore_repl
PORT=5439
DIR=/tmp/vecstore-standby
cleanup() {
  su postgres -c "$PGBIN/pg_ctl -D $DIR -m immediate stop" >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT
cleanup
fresh_db $DB
su postgres -c "$PGBIN/pg_basebackup -h $PGHOST -D $DIR -R -X stream -c fast"
# Debian keeps the primary's configuration outside its data directory
cat > $DIR/postgresql.conf <<CONF
port = $PORT
listen_addresses = ''
unix_socket_directories = '/tmp'
hot_standby = on
shared_buffers = 256MB
CONF
sed -i '/shared_buffers/d' $DIR/postgresql.auto.conf
echo "local all all trust" > $DIR/pg_hba.conf
: > $DIR/pg_ident.conf
chown postgres: $DIR/postgresql.conf $DIR/pg_hba.conf $DIR/pg_ident.conf
su postgres -c "$PGBIN/pg_ctl -D $DIR -l /tmp/vecstore-standby.log start -w" >/dev/null || { tail -20 /tmp/vecstore-standby.log; exit 1; }
PGHOST=/tmp wait_ready $PORT
sql -d $DB -c "CREATE TABLE t (id int PRIMARY KEY, v vector(8));
  INSERT INTO t SELECT i, ARRAY(SELECT random() + 0 * i FROM generate_series(1, 8) j) FROM generate_series(1, 3000) i;
  CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops);
  INSERT INTO t SELECT i, ARRAY(SELECT random() + 0 * i FROM generate_series(1, 8) j) FROM generate_series(3001, 4000) i;
  DELETE FROM t WHERE id % 5 = 0;
" -c "VACUUM t" -c "
  INSERT INTO t SELECT i, ARRAY(SELECT random() + 0 * i FROM generate_series(1, 8) j) FROM generate_series(4001, 4500) i;"
lsn=$(sql -d $DB -c "SELECT pg_current_wal_lsn()")
for _ in $(seq 1 120); do
  caught=$(PGHOST=/tmp sql -p $PORT -d $DB -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn" 2>/dev/null || echo f)
  [[ "$caught" == t ]] && break
  sleep 0.5
done
check "standby replayed up to the primary's LSN" t "$caught"
query="SET enable_seqscan = off; SET hnsw.ef_search = 40;
  SELECT string_agg(id::text, ',') FROM (SELECT p, (SELECT string_agg(id::text, ',') FROM (SELECT id FROM t ORDER BY v <-> ARRAY(SELECT sin(p * 7.3 + j * 1.1) FROM generate_series(1, 8) j)::vector LIMIT 10) s) AS id FROM generate_series(1, 30) p) r"
primary=$(sql -d $DB -c "$query" | tail -1)
standby=$(PGHOST=/tmp sql -p $PORT -d $DB -c "$query" | tail -1)
check "the primary answers all 30 probes with 10 rows" 299 "$(tr -cd ',' <<< "$primary" | wc -c)"
check "standby returns the same ANN results as the primary" "$primary" "$standby"
plan=$(PGHOST=/tmp sql -p $PORT -d $DB -c "SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 3" | grep -c "Index Scan using t_v")
check "standby uses the hnsw index" 1 "$plan"
check "the standby finds as many rows through the index as the primary" "$(unreachable_rows $DB t)" "$(PGHOST=/tmp PGPORT=$PORT unreachable_rows $DB t)"
cleanup
psql -X -q -d postgres -c "DROP DATABASE $DB"
summary
