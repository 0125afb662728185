"""Answers: each text sent as one user message (the chat tasks' shared generation)."""

from studio.tasks.chat import predict

__all__ = ["predict"]
