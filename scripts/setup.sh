#!/usr/bin/env bash
# Idempotent machine setup shared by demo.sh and test.sh (run as root on
# Debian 12 with PostgreSQL 15 installed): build dependencies, cargo-pgrx
# 0.18.1, pgrx's pg_config registration, a running 15/main cluster and a
# superuser role for the invoking OS user.
set -euo pipefail

PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
PGRX_VERSION=0.18.1
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '\033[1m== %s\033[0m\n' "$*"; }

need_pkgs=()
# build: server headers, bindgen's clang, a C toolchain; tests: the server
# binaries (initdb, pg_ctl, pgbench, pg_basebackup for throwaway clusters),
# pg_regress (in the -dev package), python venvs and pip (client, cluster and
# soak tests, the model download), node + npm (Node client test), git
# (tests/cluster/test_repo.py lists the repository's files)
for pkg in postgresql-15 postgresql-server-dev-15 libclang-dev clang build-essential pkg-config sudo \
  python3-numpy python3-psycopg python3-venv python3-pip nodejs npm git curl ca-certificates; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_pkgs+=("$pkg")
done
# a newer nodejs from another repository bundles npm: don't ask for Debian's
if dpkg -s nodejs >/dev/null 2>&1 && command -v npm >/dev/null; then
  need_pkgs=("${need_pkgs[@]/npm/}")
fi
need_pkgs=(${need_pkgs[@]})
if ((${#need_pkgs[@]})); then
  say "installing ${need_pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  say "installing the Rust toolchain (rustup, stable)"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
fi

if [[ "$(cargo pgrx --version 2>/dev/null)" != *"$PGRX_VERSION"* ]]; then
  say "installing cargo-pgrx $PGRX_VERSION"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi

if ! grep -qs "pg15 = \"$PG_CONFIG\"" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
  say "registering PostgreSQL 15 with pgrx"
  cargo pgrx init --pg15="$PG_CONFIG"
fi

if ! pg_lsclusters -h | awk '$1 == 15 && $2 == "main" && $4 == "online"' | grep -q .; then
  say "starting cluster 15/main"
  pg_ctlcluster 15 main start
fi

me=$(id -un)
if [[ "$me" != postgres ]] && ! su postgres -c "psql -XtAc \"SELECT 1 FROM pg_roles WHERE rolname = '$me'\"" | grep -q 1; then
  say "creating superuser role $me"
  su postgres -c "createuser -s $me"
fi
