"""A model tuned with rewards is a causal LM with a chat template: the chat tasks' shared loading
(studio.tasks.chat)."""

from studio.tasks.chat import load_model, load_tokenizer

__all__ = ["load_model", "load_tokenizer"]
