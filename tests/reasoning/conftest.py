"""Fixtures for the reasoning tests: the tiny Mistral checkpoint, built once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .tiny_mistral import build_tiny_mistral


@pytest.fixture(scope="session", autouse=True)
def _hf_offline() -> Iterator[None]:
    # No test may reach the Hugging Face Hub: everything loads from local directories.
    old = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    yield
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, _hf_offline: None) -> Path:
    """A directory holding a tiny random-weight Mistral (tokenizer, weights, chat template)."""
    return build_tiny_mistral(tmp_path_factory.mktemp("tiny-mistral") / "model")
