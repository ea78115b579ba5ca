#!/usr/bin/env bash
# Builds vecstore in release mode and installs it into the system PostgreSQL 15.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
cargo pgrx install --release --pg-config /usr/lib/postgresql/15/bin/pg_config
