#!/usr/bin/env bash
# Rust client compatibility tests: the pgvector crate with postgres and sqlx.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$HOME/.cargo/bin:$PATH"
cargo test --quiet
