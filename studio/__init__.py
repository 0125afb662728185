"""The studio engine: data, models, methods, training runs and inference. Never imports gradio."""

__version__ = "0.1.0"
