#!/usr/bin/env bash
# scripts/install.sh's alias mode on a fake PostgreSQL share directory (no
# build, no server; a stub pg_config prints it): --as-vector next to no
# pgvector, refusal next to a real pgvector (exit 3, nothing changed),
# --replace-pgvector backs pgvector's files up, --remove-vector-alias puts
# them back byte for byte. The vecstore files come from the installed
# vecstore ($PG_CONFIG, default Debian's PostgreSQL 15).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
install="$here/../../scripts/install.sh"
real_ext="$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --sharedir)/extension"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$here/../../Cargo.toml" | head -1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
share=$tmp/share
ext=$share/extension
mkdir -p "$ext"
cat >"$tmp/pg_config" <<EOF
#!/bin/sh
[ "\$1" = --sharedir ] && echo "$share" && exit 0
echo "stub pg_config: \$*" >&2; exit 1
EOF
chmod +x "$tmp/pg_config"
cp "$real_ext/vecstore.control" "$real_ext/vecstore--$version.sql" "$ext"/
for f in "$real_ext"/vecstore--*--*.sql; do [[ -e $f ]] && cp "$f" "$ext"/; done

passed=0 failed=0
check() { # description, command...
  local what=$1
  shift
  if "$@"; then passed=$((passed + 1)); echo "ok - $what"; else failed=$((failed + 1)); echo "not ok - $what"; fi
}
run() { PG_CONFIG=$tmp/pg_config bash "$install" "$@" 2>"$tmp/err"; }
listing() { (cd "$share" && find . -type f -exec md5sum {} + | sort -k2); }

# 1. no pgvector: the alias appears
run --as-vector --no-build
check "alias: vector.control is vecstore's" grep -q "^default_version = 'vecstore-$version'$" "$ext/vector.control"
check "alias: comment says vecstore" grep -q "^comment = 'vecstore $version under the name vector: " "$ext/vector.control"
check "alias: same library" grep -qxF "$(grep '^module_pathname' "$ext/vecstore.control")" "$ext/vector.control"
check "alias: install script is vecstore's plus a guard" \
  cmp -s <(tail -n +"$(($(grep -n '^\$guard\$;$' "$ext/vector--vecstore-$version.sql" | cut -d: -f1) + 1))" "$ext/vector--vecstore-$version.sql") "$ext/vecstore--$version.sql"
for f in "$ext"/vecstore--*--*.sql; do
  [[ -e $f ]] || continue
  p=${f##*/vecstore--}
  p=${p%.sql}
  check "alias: upgrade ${p/--/ -> }" cmp -s "$f" "$ext/vector--vecstore-${p%%--*}--vecstore-${p##*--}.sql"
done
run --as-vector --no-build
check "alias: rerun keeps one copy" test "$(grep -c 'vecstore alias' "$ext/vector.control")" = 1
echo "-- a newer build" >>"$ext/vecstore--$version.sql"
run --no-build
check "plain install refreshes an existing alias" grep -qx -- "-- a newer build" "$ext/vector--vecstore-$version.sql"
run --remove-vector-alias
run --no-build
check "plain install adds no alias" test ! -e "$ext/vector.control"
run --as-vector --no-build
run --remove-vector-alias
check "remove: no vector files left" test -z "$(find "$ext" -name 'vector*')"

# 2. a real pgvector owns the name: refused, nothing changed
printf "comment = 'vector data type and ivfflat and hnsw access methods'\ndefault_version = '0.8.0'\nmodule_pathname = '\$libdir/vector'\nrelocatable = true\n" >"$ext/vector.control"
echo "-- pgvector 0.8.0" >"$ext/vector--0.8.0.sql"
echo "-- pgvector 0.7.4 -> 0.8.0" >"$ext/vector--0.7.4--0.8.0.sql"
before=$(listing)
rc=0
run --as-vector --no-build || rc=$?
check "refuse: exit status 3" test "$rc" = 3
check "refuse: says why and how" grep -q -- "--replace-pgvector" "$tmp/err"
check "refuse: nothing changed" test "$before" = "$(listing)"

# 3. --replace-pgvector: backed up, alias in place; removal restores
run --as-vector --replace-pgvector --no-build
check "replace: alias in place" grep -q "^default_version = 'vecstore-$version'$" "$ext/vector.control"
check "replace: pgvector's scripts moved away" test ! -e "$ext/vector--0.8.0.sql" -a ! -e "$ext/vector--0.7.4--0.8.0.sql"
check "replace: backup holds them" test -f "$share/vecstore-pgvector-backup/vector.control" -a -f "$share/vecstore-pgvector-backup/vector--0.8.0.sql"
run --as-vector --no-build
check "replace: a rerun sees its own alias" grep -q "vecstore alias" "$ext/vector.control"
run --remove-vector-alias
check "remove: pgvector restored byte for byte" test "$before" = "$(listing)"
check "remove: backup gone" test ! -e "$share/vecstore-pgvector-backup"
run --remove-vector-alias
check "remove: leaves a foreign vector.control alone" test "$before" = "$(listing)"

# 4. interrupted midway (a full disk while the alias is refreshed): the alias
# never points at a truncated install script, and no temporary file is left
rm -f "$ext"/vector.control "$ext"/vector--*.sql
run --as-vector --no-build
rc=0
(ulimit -f 20; run --as-vector --no-build) || rc=$?
check "interrupted: the run failed" test "$rc" != 0
alias_intact() { # vector.control absent, or its install script whole
  [[ ! -e $ext/vector.control ]] && return 0
  local s=$ext/vector--vecstore-$version.sql
  [[ -f $s ]] && cmp -s <(tail -n +"$(($(grep -n '^\$guard\$;$' "$s" | cut -d: -f1) + 1))" "$s") "$ext/vecstore--$version.sql"
}
check "interrupted: the alias is whole or absent" alias_intact
check "interrupted: no temporary files left" test -z "$(find "$share" -name '*.tmp*' -o -name '.vecstore-alias*')"
run --remove-vector-alias

# 5. only some of pgvector's files: vector--*.sql without vector.control (a
# half-removed package) also mean the name is taken; the scripts are backed
# up with --replace-pgvector and restored byte for byte
echo "-- pgvector 0.8.0 (stray)" >"$ext/vector--0.8.0.sql"
before=$(listing)
rc=0
run --as-vector --no-build || rc=$?
check "stray scripts: refused (exit 3)" test "$rc" = 3
check "stray scripts: nothing changed" test "$before" = "$(listing)"
run --as-vector --replace-pgvector --no-build
check "stray scripts: moved to the backup" test ! -e "$ext/vector--0.8.0.sql" -a -f "$share/vecstore-pgvector-backup/vector--0.8.0.sql"
run --remove-vector-alias
check "stray scripts: restored byte for byte" test "$before" = "$(listing)"
rm -f "$ext/vector--0.8.0.sql"

# 6. pgvector reinstalled over the alias (its package rewrote vector.control;
# the alias's scripts are still there): --replace-pgvector backs up only
# pgvector's files, and removal leaves pgvector's files only
run --as-vector --no-build
printf "comment = 'vector data type and ivfflat and hnsw access methods'\ndefault_version = '0.8.0'\nmodule_pathname = '\$libdir/vector'\nrelocatable = true\n" >"$ext/vector.control"
echo "-- pgvector 0.8.0" >"$ext/vector--0.8.0.sql"
run --as-vector --replace-pgvector --no-build
check "reinstalled pgvector: backup holds pgvector's files only" \
  test -z "$(find "$share/vecstore-pgvector-backup" -name 'vector--vecstore-*')"
run --remove-vector-alias
check "reinstalled pgvector: removal leaves no alias scripts" test -z "$(find "$ext" -name 'vector--vecstore-*')"
check "reinstalled pgvector: pgvector's control back" grep -q "^default_version = '0.8.0'$" "$ext/vector.control"

echo "$passed passed, $failed failed"
((failed == 0))
