"""Export: a finished run as something to use elsewhere.

    bundle        adapter or merged model folders and zips with a model card, pushing to the hub
    worker        the same zip and push in a process of their own, for the page (the model never in the server)
    card          ModelCard: what every task gives for its model card (and its ONNX offer)
    onnx_export   ONNX and ONNX int8 for encoder classifiers, with their size and accuracy beside the original's
    gguf_export   GGUF (f16, bf16, q8_0) and an Ollama Modelfile for chat models, read back and measured
    reproduce     a standalone script (plain transformers + peft) made of the studio's own code, with the splits
    reproduce_main  the script's main: the recipe without the run folder
    script_source the copier that builds scripts from the studio's functions

Imports: base, models, methods, tasks, serve, augment, config, training, runs, evals.
"""

from studio.export.bundle import (
                                  KINDS,
                                  build_folder,
                                  build_zip,
                                  describe_trade,
                                  export_kinds,
                                  model_card,
                                  push_to_hub,
                                  read_from_zip,
                                  split_front_matter,
)
from studio.export.card import ModelCard
from studio.export.gguf_export import QUANTS as GGUF_QUANTS

__all__ = ["GGUF_QUANTS", "KINDS", "ModelCard", "build_folder", "build_zip", "describe_trade", "export_kinds",
           "model_card", "push_to_hub", "read_from_zip", "split_front_matter"]
