#!/usr/bin/env bash
# Node client compatibility test: pinned pg + pgvector from the npm registry.
set -euo pipefail
cd "$(dirname "$0")"
npm install --no-audit --no-fund --silent
node --test
