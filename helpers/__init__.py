"""Shared code of the course "Fine-tuning vs RAG".

Importing this package is cheap: every heavy library (torch, transformers, chromadb,
llama-index) is imported inside the function that needs it. Submodules load on first use::

    import helpers
    helpers.env.report()          # loads helpers.env on first attribute access
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = {
    "env", "models", "generate", "data", "evaluate", "tasks", "rag", "index", "pipeline", "finetune",
    "costs", "decide", "widgets", "workspace", "systems", "speculative", "benchmark", "plots", "security", "check",
}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_SUBMODULES))
