#!/usr/bin/env bash
# Regenerates sql/vecstore--FROM--TO.sql, the upgrade from the last release
# (FROM: the newest sql/releases/vecstore--*.sql) to the version in
# Cargo.toml (TO), from this source's schema (cargo pgrx schema) and the
# release's committed script (scripts/upgrade_sql.py says how). Rerun it
# whenever the SQL surface changes (after a merge that adds types,
# functions, operators or access methods) and commit the result;
# tests/upgrade fails while the committed script is stale. Objects removed or
# redefined need a hand-written sql/upgrade-manual/vecstore--FROM--TO.sql.
#
#   scripts/upgrade-sql.sh [--schema FILE]   (FILE: a full script to use
#                                             instead of running cargo pgrx schema)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
to=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
from=$(ls sql/releases/ | sed -n 's/^vecstore--\([^-]*\)\.sql$/\1/p' | sort -V | tail -1)
[[ -n $from && $from != "$to" ]] || { echo "upgrade-sql.sh: no release older than $to in sql/releases" >&2; exit 1; }
schema=
if [[ ${1:-} == --schema ]]; then
  schema=${2:?--schema FILE}
else
  schema=$(mktemp)
  trap 'rm -f "$schema"' EXIT
  cargo pgrx schema --release --pg-config "$PG_CONFIG" -o "$schema" >&2
fi
manual=()
[[ -f sql/upgrade-manual/vecstore--$from--$to.sql ]] && manual=("sql/upgrade-manual/vecstore--$from--$to.sql")
out=sql/vecstore--$from--$to.sql
python3 scripts/upgrade_sql.py "sql/releases/vecstore--$from.sql" "$schema" "$from" "$to" "${manual[@]}" >"$out.tmp"
mv "$out.tmp" "$out"
echo "upgrade-sql.sh: wrote $out ($(grep -c ';$' "$out") statement ends)" >&2
