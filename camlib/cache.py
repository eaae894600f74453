"""A cache of trained models, keyed by a hash of everything that determines them.

An entry is one file ``<key>.pt`` written by ``torch.save`` under
``$CAMLIB_CACHE`` or ``<repository>/.cache/models/``. It is written to a
temporary file in the same folder and then renamed (``os.replace``, atomic on
POSIX and Windows), so an interrupted write leaves no entry. A file that
exists but cannot be read raises an error naming it (it is never silently
replaced: delete it to retrain).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

__all__ = ["cache_dir", "cache_key", "load_entry", "save_entry"]


def cache_dir(root: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``root``, else ``$CAMLIB_CACHE``, else ``<repository>/.cache/models``.

    Example:
        >>> cache_dir("/tmp/x").as_posix()
        '/tmp/x'
    """
    if root is not None:
        return Path(root)
    if os.environ.get("CAMLIB_CACHE"):
        return Path(os.environ["CAMLIB_CACHE"])
    return Path(__file__).resolve().parent.parent / ".cache" / "models"


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return repr(value)  # exact, and NaN / inf survive JSON
    raise TypeError(
        f"A cache key must be built from dicts, lists and plain values, but got {type(value).__name__}: {value!r}."
    )


def cache_key(parts: Mapping[str, Any]) -> str:
    """The sha256 (hex) of the canonical JSON of ``parts``, plus camlib's and torch's versions.

    Keys are sorted, tuples are lists and floats are written by ``repr``, so
    equal content gives equal keys. torch enters as ``major.minor``.

    Raises:
        TypeError: ``parts`` holds something other than dicts, lists, tuples,
            str, int, float, bool or None.

    Example:
        >>> cache_key({"a": 1, "b": [1.0]}) == cache_key({"b": (1.0,), "a": 1})
        True
    """
    from camlib import __version__

    torch_version = ".".join(torch.__version__.split("+")[0].split(".")[:2])
    full = {"parts": _canonical(parts), "camlib": __version__, "torch": torch_version}
    text = json.dumps(full, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def save_entry(path: str | os.PathLike, entry: Mapping[str, Any]) -> Path:
    """Write ``entry`` (tensors, dicts, lists, plain values) to ``path`` atomically.

    The folder is created if needed. On any error the temporary file is
    removed and the error re-raised; ``path`` is then untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            torch.save(dict(entry), file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_entry(path: str | os.PathLike, map_location: str = "cpu") -> dict[str, Any] | None:
    """Read an entry written by ``save_entry``; None when there is no file.

    Raises:
        RuntimeError: the file exists but is not a readable entry (the
            message names it and says to delete it).
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        entry = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        why = f"{type(err).__name__}: {first}"
        raise RuntimeError(f"The cache entry {path} is unreadable ({why}); delete it to retrain.") from err
    if not isinstance(entry, dict) or "state_dict" not in entry:
        raise RuntimeError(f"The cache entry {path} is not a model entry (no 'state_dict'); delete it to retrain.")
    return entry
