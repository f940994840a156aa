#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, then every test of the workspace.
# The tests run with a throw-away PostgreSQL server (scripts/pg.sh: installed from Debian's
# packages when missing, started on a free loopback port in a temporary folder, removed
# afterwards), so that the store's contract tests run on both backends.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
./scripts/pg.sh cargo test --workspace
