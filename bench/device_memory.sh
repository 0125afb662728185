#!/usr/bin/env bash
# The memory bench on a GPU machine that has torch and transformers but not the studio's other packages and no
# network: wheels from .whl/, the catalog models' configs and tokenizers from .devmodels/ with random weights
# (the estimate and the peak depend on the shapes, not the values). Run from the repository root.
set -euo pipefail
python3 -m pip show pyarrow huggingface-hub 2>/dev/null | grep -E "^(Name|Version)" || true
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 STUDIO_CACHE=/tmp/studio-cache
python3 - <<'PY'
import transformers
for name, auto in (("minilm", transformers.AutoModel), ("smollm2", transformers.AutoModelForCausalLM)):
    folder = f".devmodels/{name}"
    auto.from_config(transformers.AutoConfig.from_pretrained(folder)).save_pretrained(folder)
PY
python3 bench/memory_estimate.py --device cuda --minilm "$PWD/.devmodels/minilm" --smollm "$PWD/.devmodels/smollm2" "$@"
