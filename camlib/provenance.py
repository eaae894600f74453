"""What produced a chapter: commit, parameters, versions, device, wall time."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import torch

from camlib.report import Table

__all__ = ["Provenance", "provenance", "git_commit"]

_PACKAGES = ("camlib", "torch", "torchvision", "numpy", "scipy", "matplotlib", "papermill", "jupyter-book", "myst-nb")


def git_commit(path: str | os.PathLike | None = None) -> str:
    """The commit of the repository holding ``path`` (default: camlib's), ``+dirty`` if files changed.

    Returns ``"unknown (not a git checkout)"`` outside a git checkout.
    """
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where, capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return commit + ("+dirty" if dirty else "")


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _device_name(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        index = torch.device(device).index or 0
        return f"{device} ({torch.cuda.get_device_name(index)}, CUDA {torch.version.cuda})"
    return f"{device} ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads)"


class Provenance:
    """Rows ``(what, value)`` that render as a Markdown table in a notebook."""

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        self.rows = rows

    def as_dict(self) -> dict[str, str]:
        return dict(self.rows)

    def _repr_markdown_(self) -> str:
        return Table([{"what": k, "value": v} for k, v in self.rows])._repr_markdown_()

    def __repr__(self) -> str:
        width = max(len(k) for k, _ in self.rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in self.rows)


def provenance(params: Mapping, *, started: float | None = None) -> Provenance:
    """The provenance of a run with ``params`` (a ``camlib.Params`` or a mapping).

    Args:
        params: the run's parameters; ``profile`` and ``device`` are shown on
            their own rows when present.
        started: ``time.time()`` at the start; default ``params.started``.

    Example:
        >>> p = provenance({"profile": "smoke", "device": "cpu"}, started=time.time())
        >>> p.as_dict()["profile"]
        'smoke'
    """
    started = getattr(params, "started", None) if started is None else started
    values = dict(params)
    given = dict(getattr(params, "given", values))
    device = str(values.get("device", "cpu"))
    rows = [
        ("git commit", git_commit()),
        ("profile", str(values.get("profile", "(none)"))),
        ("parameters", json.dumps(given, default=str)),
        ("device", _device_name(device)),
        ("python", platform.python_version()),
    ]
    rows += [(name, _version(name)) for name in _PACKAGES]
    rows.append(("finished (UTC)", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")))
    if started is not None:
        rows.append(("wall time", f"{time.time() - started:.1f} s"))
    return Provenance(rows)
