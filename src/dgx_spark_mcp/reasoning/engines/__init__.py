"""Local LLM engines: an OpenAI-compatible HTTP server, in-process transformers, or TensorRT-LLM.

Import the concrete engines from their modules; this package imports nothing heavy.
"""

from .base import ChatMessage, Engine, EngineError, GenerationStats

__all__ = ["ChatMessage", "Engine", "EngineError", "GenerationStats"]
