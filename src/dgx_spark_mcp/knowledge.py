"""Load the packaged knowledge files (``data/*.json``) into typed models.

The files ship inside the wheel as ``dgx_spark_mcp/data`` and are read through
``importlib.resources``, so an installed server never looks at the current directory.
A file that does not match its model fails at load time, naming the file and the key.
"""

from __future__ import annotations

import importlib.resources
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from .errors import CouldNotDoError

__all__ = ["KnowledgeFileError", "load_knowledge"]

M = TypeVar("M", bound=BaseModel)


class KnowledgeFileError(CouldNotDoError):
    """Raised when a packaged knowledge file is missing or does not match its model."""


def load_knowledge(filename: str, model: type[M]) -> M:
    """Parse ``data/<filename>`` into ``model``."""
    resource = importlib.resources.files("dgx_spark_mcp") / "data" / filename
    try:
        text = resource.read_text(encoding="utf-8")
    except OSError as exc:
        raise KnowledgeFileError(
            f"knowledge file data/{filename} is missing from the installed package ({exc}); reinstall dgx-spark-mcp"
        ) from exc
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise KnowledgeFileError(f"knowledge file data/{filename} is invalid: {problems}") from exc
