"""Extractive QA's predictions: the best answer span of each question and context, the line `studio predict`
prints, and the usage lines of the model card."""

from __future__ import annotations

from typing import Any

from studio.tasks.extractive_qa.tokens import encode
from studio.tasks.extractive_qa.training import best_spans


def predict(model, tokenizer, inputs: list[dict], max_length: int = 384, batch_size: int = 16,
            max_answer_length: int = 30, doc_stride: int = 64, **_) -> list[dict[str, Any]]:
    """The best answer span of each {"question", "context"}: its text, character offsets and probability."""
    import torch

    questions = [str(i.get("question", "")) for i in inputs]
    contexts = [str(i.get("context", "")) for i in inputs]
    enc = encode(tokenizer, questions, contexts, max_length, doc_stride)
    device = next(model.parameters()).device
    model.eval()
    starts, ends = [], []
    with torch.inference_mode():
        for i in range(0, len(enc["input_ids"]), batch_size):
            batch = tokenizer.pad({k: enc[k][i:i + batch_size]
                                   for k in ("input_ids", "attention_mask", "token_type_ids")
                                   if k in enc}, return_tensors="pt").to(device)
            out = model(**batch)
            starts += [row.float().cpu().numpy() for row in out.start_logits]
            ends += [row.float().cpu().numpy() for row in out.end_logits]
    return best_spans(starts, ends, enc["example_id"], enc["offset_mapping"], contexts, max_answer_length)


def format_prediction(text: str, pred: dict[str, Any]) -> str:
    """One line of `studio predict`: the answer, its probability, the question."""
    return f"{pred['answer']}\t{pred['score']:.3f}\t{text}"


def card_usage(is_adapter: bool, labels=()) -> list[str]:
    if is_adapter:
        return ["from peft import AutoPeftModelForQuestionAnswering",
                "from transformers import AutoTokenizer, pipeline",
                "", 'model = AutoPeftModelForQuestionAnswering.from_pretrained("PATH_OR_REPO").merge_and_unload()',
                'tokenizer = AutoTokenizer.from_pretrained("PATH_OR_REPO")',
                'answer = pipeline("question-answering", model=model, tokenizer=tokenizer)',
                'print(answer(question="How long is the warranty?", '
                'context="The kettle comes with a two-year warranty."))']
    return ["from transformers import pipeline", "",
            'answer = pipeline("question-answering", model="PATH_OR_REPO")',
            'print(answer(question="How long is the warranty?", context="The kettle comes with a two-year warranty."))']
