#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the client and pipeline tests, so that no
# test touches the machine's own clusters.
#
#   eval "$(bash tests/tmp-cluster.sh start [name])"   # exports PGHOST PGPORT PGUSER VECSTORE_TMP_CLUSTER
#   bash tests/tmp-cluster.sh stop "$VECSTORE_TMP_CLUSTER"
#
# start: initdb into a private temporary directory, a free port, the unix
# socket in that directory and no TCP listener; prints the shell exports.
# stop: immediate shutdown and removal of the directory. Binaries come from
# $PG_CONFIG (default Debian's PostgreSQL 15) and the vecstore installed
# into it. As root the server runs as the postgres OS user and the bootstrap
# superuser is called root, so clients connect as the invoking OS user.
set -euo pipefail
# the server inherits the environment: keep Rust backtraces out of messages
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bindir=$("$PG_CONFIG" --bindir)
as=()
[[ $(id -u) -eq 0 ]] && as=(runuser -u postgres --)

case "${1:-}" in
start)
  name=${2:-tmp}
  dir=$(mktemp -d "${VECSTORE_TEST_TMP:-${TMPDIR:-/tmp}}/vecstore-$name-XXXXXX")
  chmod 755 "$dir"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  user=$(id -un)
  "${as[@]}" "$bindir/initdb" -D "$dir/data" -A trust -U "$user" --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
port = $port
unix_socket_directories = '$dir'
fsync = off
shared_buffers = 128MB
max_connections = 40
log_line_prefix = '%m [%p] '
CONF
  if ! "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 120 start >/dev/null; then
    tail -30 "$dir/server.log" >&2
    exit 1
  fi
  echo "export PGHOST='$dir' PGPORT=$port PGUSER='$user' VECSTORE_TMP_CLUSTER='$dir'"
  ;;
stop)
  dir=${2:?usage: tmp-cluster.sh stop DIR}
  [[ -f $dir/data/PG_VERSION ]] || { echo "not a tmp-cluster directory: $dir" >&2; exit 1; }
  "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*)
  echo "usage: tmp-cluster.sh start [name] | stop DIR" >&2
  exit 2
  ;;
esac
