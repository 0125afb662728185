"""What an export's model card (and its ONNX offer) asks of a task: a capability each task gives."""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable


@runtime_checkable
class ModelCard(Protocol):
    """pipeline_tag: the hub's; model_kind: "text classifier"; metrics_note: what its scores mean; onnx: the
    export also offers ONNX (encoder classifiers); gguf: also GGUF for llama.cpp and Ollama (decoder chat models)."""

    pipeline_tag: str
    model_kind: str
    metrics_note: str
    onnx: bool
    gguf: bool

    def usage(self, is_adapter: bool, labels: Sequence[str]) -> list[str]:
        """Python lines of the card's usage example (PATH_OR_REPO stands for where the export lives)."""
