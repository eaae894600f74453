"""The study's science: one chapter's analysis per module, on the library (never on ``camlib.book``).

``training`` (one training loop with early stopping, the cache of trained
models), ``experiments`` (seeds, learning-rate searches, GAP vs GMP heads),
``features`` and ``svm`` (GAP features, linear SVMs), ``supervision`` (weak
vs full supervision on cached maps), ``heldout`` (baselines fitted on
held-out images, chapter 02), ``crops`` and ``finegrained`` (chapter 03),
``pointing``, ``concepts`` and ``discovery`` (chapter 04), ``text`` (05), ``vqa`` (06), ``units`` (07), ``diagnostics``
(why a localization fails), ``stats`` (intervals), ``controls`` (negative controls), ``cache`` (content-keyed
results) and ``figures`` (figures of numbers). Submodules load on first use.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = [
    "cache",
    "concepts",
    "controls",
    "crops",
    "diagnostics",
    "discovery",
    "experiments",
    "features",
    "figures",
    "finegrained",
    "heldout",
    "pointing",
    "stats",
    "supervision",
    "svm",
    "text",
    "training",
    "units",
    "vqa",
]


def __getattr__(name: str) -> ModuleType:
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
