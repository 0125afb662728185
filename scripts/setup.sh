#!/usr/bin/env bash
# Create .venv and install the studio into it; safe to run again (installs only what is missing).
#   bash scripts/setup.sh          the app
#   bash scripts/setup.sh --test   the app plus test tools and Debian's Chromium for browser tests
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
# torch first: a bare `torch` requirement would pull a multi-GB CUDA build. 2.13.0 is the CPU
# build on this kind of machine; on a GPU box install the CUDA build of torch before this script.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/python -m pip install -q "torch==${STUDIO_TORCH_VERSION:-2.13.0}"
fi
extras=""
[ "${1:-}" = "--test" ] && extras="[test]"
stamp=".venv/.studio-installed${extras}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q -e ".${extras}"
  touch "$stamp"
fi
if [ "${1:-}" = "--test" ] && [ ! -x /usr/bin/chromium ]; then
  # Browser tests drive Debian's Chromium; playwright cannot download its own browser offline.
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
      || echo "warning: could not install chromium; browser tests will be skipped" >&2
  else
    echo "warning: /usr/bin/chromium missing (sudo apt-get install chromium); browser tests will be skipped" >&2
  fi
fi
