"""The book's machinery: it may import the library and the study; nothing in them imports it.

``paper`` (the paper's numbers, the single source), ``verdicts`` (the one
rule), ``report`` (claim tables and the front page), ``params`` (profiles and
validated parameters), ``runner`` (executes the chapters), ``provenance``
(what a run read and ran on), ``multiplicity`` (Holm's correction over the book's rows), ``prereg`` (the pre-registered
rules and margins), ``realdata`` (a chapter's real part, whose data may be absent) and ``perf`` (timings for the performance
appendix). Submodules load on first use.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = [
    "multiplicity",
    "paper",
    "params",
    "perf",
    "prereg",
    "provenance",
    "realdata",
    "report",
    "runner",
    "verdicts",
]


def __getattr__(name: str) -> ModuleType:
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
