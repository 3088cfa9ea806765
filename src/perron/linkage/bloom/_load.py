"""Importing anonlink, shared by :mod:`.blocking` and :mod:`.matching`."""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType


def _anonlink(module: str) -> ModuleType:
    """Import a part of anonlink; it warns on import about its own typing helpers."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="mypy_extensions.TypedDict is deprecated", category=DeprecationWarning
        )
        return importlib.import_module(module)
