#!/usr/bin/env bash
# The device check (bench/device_check.py, whose docstring says what it measures and how): the studio against a
# plain TRL SFTTrainer script on one GPU (LoRA, QLoRA, packed LoRA) and the memory estimate's error per method.
# Run from anywhere; it works in the repository root.
#
#   bash bench/device_check.sh --dry-run    # here, on the CPU (the test suite runs this): tiny shapes, few steps
#   bash bench/device_check.sh              # on the lent GPU machine: under 8 minutes on one H100
#
# The GPU machine has Python 3.12, torch (CUDA), transformers, peft and accelerate but no network and no trl,
# datasets or bitsandbytes: those travel as wheels in .whl/ (ignored by git; about 45 MB of the 64 MiB a call may
# carry with the working tree). Fetch them here once, for the machine's Python:
#
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_24_x86_64 --platform manylinux2014_x86_64 -d .whl \
#       trl==1.16.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 bitsandbytes==0.50.2
#
# then run it with the device tool: command `bash bench/device_check.sh`, carry [".whl"], timeout_s 540. The
# JSON lands in $OUT (device_check.json), the table at the end of the output.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
for arg in "$@"; do
  if [[ "$arg" == "--dry-run" ]]; then
    python="${PYTHON:-$([[ -x .venv/bin/python ]] && echo .venv/bin/python || echo python3)}"
    exec "$python" bench/device_check.py "$@"
  fi
done
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/device-check-site .whl/*.whl
  export PYTHONPATH="/tmp/device-check-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD:$PYTHONPATH"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
exec python3 bench/device_check.py "$@"
