"""Deterministic generator of the course data (corpus v1/v2, task sets, analytics database).

Run ``python -m helpers.datagen`` to regenerate everything under ``data/`` from the
hand-written facts files in ``data/facts/``. See ``data/README.md`` for the data card.
"""

from .build import SPLITS, TASKS, generate

__all__ = ["generate", "TASKS", "SPLITS"]
