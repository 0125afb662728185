#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs, then runs pytest offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# Lint first (pyproject's [tool.ruff]): a second, and a failure names the file and line.
.venv/bin/ruff check --quiet .
# Three test processes, one thread each (tests/conftest.py): most tests wait on worker subprocesses, browsers and
# imports, so three share the two cores of a small machine better than two (here 804 s with two, 725 s with three
# and a few more tests; bench/RESULTS.md). A file's tests stay in one process (their fixtures are per file).
# STUDIO_TEST_PROCESSES=0 runs them in this process; arguments after it win.
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n "${STUDIO_TEST_PROCESSES:-3}" --dist loadfile --no-loadscope-reorder "$@"
