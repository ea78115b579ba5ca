#!/usr/bin/env bash
# Builds vecstore in release mode and installs it into PostgreSQL 15
# ($PG_CONFIG, default Debian's /usr/lib/postgresql/15/bin/pg_config).
#
#   scripts/install.sh                      extension "vecstore" (+ old release
#                                           scripts, so ALTER EXTENSION UPDATE works;
#                                           an alias installed earlier is refreshed)
#   scripts/install.sh --as-vector          the same, and the same library and
#                                           objects also under the name "vector",
#                                           so CREATE EXTENSION [IF NOT EXISTS] vector
#                                           (LangChain, LlamaIndex, Django's
#                                           VectorExtension()) creates vecstore
#   ... --as-vector --replace-pgvector      also when a real pgvector owns the name
#                                           "vector": its vector.control and
#                                           vector--*.sql are moved to a backup
#   ... --as-vector --no-build              only (re)writes the alias from the
#                                           vecstore already installed there
#   scripts/install.sh --remove-vector-alias  removes the alias (no build) and
#                                           puts a backed-up pgvector back
#
# The alias is vector.control (default_version 'vecstore-X.Y.Z', comment
# "vecstore X.Y.Z ...", vecstore.control's module_pathname, relocatable like
# pgvector's so ALTER EXTENSION vector SET SCHEMA works) and copies of
# vecstore's install and upgrade scripts named vector--vecstore-*.sql; a
# marker line in vector.control tells it from pgvector's. pgvector's vector.so
# is never touched. Exit status 3: the name "vector" belongs to a real
# pgvector and --replace-pgvector was not given (nothing was changed).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
MARKER="# vecstore alias: installed by vecstore's scripts/install.sh --as-vector"

as_vector=0 replace=0 remove=0 build=1
for arg in "$@"; do
  case $arg in
  --as-vector) as_vector=1 ;;
  --replace-pgvector) replace=1 ;;
  --remove-vector-alias) remove=1 ;;
  --no-build) build=0 ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "install.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
  esac
done
((remove && as_vector)) && { echo "install.sh: --as-vector and --remove-vector-alias exclude each other" >&2; exit 2; }
((replace && !as_vector)) && { echo "install.sh: --replace-pgvector goes with --as-vector" >&2; exit 2; }

extdir="$("$PG_CONFIG" --sharedir)/extension"
backup="$("$PG_CONFIG" --sharedir)/vecstore-pgvector-backup"

# pgvector's own files: vector.control unless it is ours, and every
# vector--*.sql but the alias's vector--vecstore-*.sql
pgvector_files() {
  local f
  if [[ -e $extdir/vector.control ]] && ! grep -qxF "$MARKER" "$extdir/vector.control"; then
    echo "$extdir/vector.control"
  fi
  for f in "$extdir"/vector--*.sql; do
    if [[ -e $f && ${f##*/} != vector--vecstore-* ]]; then echo "$f"; fi
  done
}
# the name "vector" is taken by something not ours: a real pgvector's
# vector.control, or only some of its scripts (a half-removed package)
foreign_vector() { [[ -n $(pgvector_files) ]]; }

remove_alias() {
  if [[ -e $extdir/vector.control ]] && ! grep -qxF "$MARKER" "$extdir/vector.control"; then
    echo "install.sh: $extdir/vector.control is not vecstore's alias; left alone" >&2
    return 0
  fi
  rm -f "$extdir/vector.control" "$extdir"/vector--vecstore-*.sql
  if [[ -d $backup ]]; then
    cp -a "$backup"/. "$extdir"/
    rm -rf "$backup"
    echo "install.sh: alias \"vector\" removed; pgvector's files restored into $extdir" >&2
  else
    echo "install.sh: alias \"vector\" removed" >&2
  fi
}

if ((remove)); then
  remove_alias
  exit 0
fi

if ((as_vector)) && foreign_vector && ((!replace)); then
  cat >&2 <<EOF
install.sh: the extension name "vector" is taken: $(pgvector_files | head -1)
is not vecstore's (a real pgvector?). Nothing was changed. To install vecstore
under the name "vector" anyway, pass --as-vector --replace-pgvector: pgvector's
vector.control and vector--*.sql are then moved to $backup
and --remove-vector-alias puts them back. Or keep pgvector and use
CREATE EXTENSION vecstore.
EOF
  exit 3
fi

if ((build)); then
  cargo pgrx install --release --pg-config "$PG_CONFIG"
  # earlier releases' full scripts (CREATE EXTENSION vecstore VERSION '0.1.0')
  install -m 644 sql/releases/vecstore--*.sql "$extdir"/
fi

# an alias installed earlier follows the new build (never left pointing at
# an older version's scripts)
if ((!as_vector)); then
  grep -qxsF "$MARKER" "$extdir/vector.control" && ! foreign_vector || exit 0
  echo "install.sh: refreshing the alias \"vector\" installed earlier" >&2
fi

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
[[ -f $extdir/vecstore--$version.sql ]] || { echo "install.sh: $extdir/vecstore--$version.sql missing" >&2; exit 1; }
# The alias is written into a temporary directory beside the extension
# directory and moved into place at the end, vector.control last: an
# interrupted run (a full disk, ^C) never leaves vector.control naming a
# missing or truncated install script.
tmpd=$(mktemp -d "$extdir/../.vecstore-alias.XXXXXX")
trap 'rm -rf "$tmpd"' EXIT
{
  echo "-- vecstore $version installed under the extension name \"vector\" (scripts/install.sh --as-vector)"
  cat <<'SQL'
DO $guard$
BEGIN
  IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'vecstore') THEN
    RAISE EXCEPTION 'vecstore is already installed in this database as extension "vecstore"'
      USING HINT = 'The extension "vector" is vecstore under its pgvector name: the database has it already; '
                   'skip CREATE EXTENSION (create_extension=False), or DROP EXTENSION vecstore and use the name vector.';
  END IF;
END
$guard$;
SQL
  cat "$extdir/vecstore--$version.sql"
} >"$tmpd/vector--vecstore-$version.sql"
# upgrade paths follow vecstore's: vector--vecstore-A--vecstore-B.sql
for f in "$extdir"/vecstore--*--*.sql; do
  [[ -e $f ]] || continue
  pair=${f##*/vecstore--}
  pair=${pair%.sql}
  cp "$f" "$tmpd/vector--vecstore-${pair%%--*}--vecstore-${pair##*--}.sql"
done
comment=$(sed -n "s/^comment = '\(.*\)'$/\1/p" "$extdir/vecstore.control")
library=$(sed -n "s/^module_pathname = '\(.*\)'$/\1/p" "$extdir/vecstore.control")
cat >"$tmpd/vector.control" <<EOF
$MARKER
# (scripts/install.sh --remove-vector-alias removes it and restores a backed-up pgvector)
comment = 'vecstore $version under the name vector: $comment'
default_version = 'vecstore-$version'
module_pathname = '$library'
relocatable = true
superuser = true
trusted = false
EOF
chmod 644 "$tmpd/vector.control" "$tmpd"/vector--vecstore-*.sql
if foreign_vector; then
  mkdir -p "$backup"
  pgvector_files | while read -r f; do mv "$f" "$backup"/; done
  echo "install.sh: pgvector's vector.control and vector--*.sql moved to $backup" >&2
fi
# scripts of an earlier alias that this one has not
for f in "$extdir"/vector--vecstore-*.sql; do
  if [[ -e $f && ! -e $tmpd/${f##*/} ]]; then rm -f "$f"; fi
done
mv "$tmpd"/vector--vecstore-*.sql "$extdir"/
mv "$tmpd/vector.control" "$extdir"/
echo "install.sh: vecstore $version is also available as CREATE EXTENSION vector (version vecstore-$version)" >&2
