#!/usr/bin/env bash
# Start the studio on its built-in default (bundled MiniLM, sample data) at http://127.0.0.1:7860
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python launch.py "$@"
