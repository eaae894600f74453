"""Whether camlib runs from a source checkout of the study, and where that checkout is.

An installed camlib (a wheel in site-packages) has no checkout: the data and
the cache then never default to a folder inside the installation.
"""

from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["checkout_root"]


@functools.lru_cache(maxsize=1)
def checkout_root() -> Path | None:
    """The repository that holds this camlib package, or None when camlib is installed, not checked out.

    A checkout is the folder above the package when it holds the study's
    ``pyproject.toml`` (project name ``camlib``) and its ``notebooks/``.
    """
    root = Path(__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    if not (pyproject.is_file() and (root / "notebooks").is_dir()):
        return None
    text = pyproject.read_text(encoding="utf-8", errors="replace")
    return root if 'name = "camlib"' in text else None
