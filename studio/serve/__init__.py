"""Serve: finished runs put to use.

    inference    a finished run loaded (base + adapter, or the whole model), cached; predict, stream a chat
    playground   Playground and Chat: what trying a run asks of its task
    label_file   a whole file labelled by a classifier run, written as CSV a spreadsheet cannot run
    openai_api   the OpenAI-compatible endpoint: /v1/models, /v1/chat/completions, requests checked, answers streamed
    shared_bases the endpoint's models: LoRA runs of one base on one copy of it
    vllm_backend `studio serve --backend vllm`: LoRA runs served by vLLM on a GPU

Imports: base, models, methods, data, tasks.
"""
