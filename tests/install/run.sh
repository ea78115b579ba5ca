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

echo "$passed passed, $failed failed"
((failed == 0))
