#!/usr/bin/env bash
# Runs every test: system packages (installed if missing), a debug build of all targets, and
# the whole suite (unit, tamper, crash-by-SIGKILL, real server process). No benchmarks: they
# are measured separately (Benchmarks/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
swift build --build-tests
swift test --skip-build
# The live server against Schemas/openapi.yaml: a scenario through every route, then
# schemathesis (installed from PyPI into .venv-schemathesis on first use). Uses the debug
# `tally` just built above.
TALLY_ST_SCRATCH=.build TALLY_ST_SKIP_BUILD=1 ./scripts/schemathesis.sh
