"""A cache of trained models (and of computed features), keyed by a hash of everything that determines them.

The key of an entry (``cache_key``) is the sha256 of the canonical JSON of
three things:

- ``parts``: what the caller names: a model's ``TrainConfig`` and data spec
  (``camlib.study.training.fit``), or a notebook's network and data fingerprint
  (``memoize``);
- ``code``: ``code_fingerprint()``, a hash of the source of every camlib
  module whose code determines a cached result (``CODE_MODULES``: training,
  the networks, weight loading, the CAM kernel and extractor, features, SVMs,
  box geometry, boxes, baselines, components and metrics, crops,
  preprocessing, the data readers and the synthetic generators, the checkout
  check and this module). Any edit of them, even of a comment, gives new
  keys: a needless recomputation is cheap, a stale entry read back as the
  result of new code is a wrong number in the book. camlib's
  ``__version__`` is not in the key: it does not change when the code does.
  Outside the scope are the modules that compute nothing cached (the
  packages' ``__init__`` namespaces, ``cam.pipeline``, ``cam.saliency``,
  ``metrics.evaluate``, ``viz``, the study's analyses that train nothing, and
  the whole ``camlib.book`` layer), so that editing a table or a figure does
  not retrain the networks;
  ``tests/test_imports.py`` checks that no module in the scope imports one
  outside it;
- ``torch``: its ``major.minor`` version.

An entry is one file ``<key>.pt`` written by ``torch.save`` under
``cache_dir()`` (``$CAMLIB_CACHE``, the checkout's ``.cache/models/`` or the user's cache folder). It is written to a
temporary file in the same folder and then renamed (``os.replace``, atomic on
POSIX and Windows), so an interrupted write leaves no entry. A file that
exists but cannot be read raises an error naming it (it is never silently
replaced: delete it to retrain).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from camlib._checkout import checkout_root

__all__ = [
    "CODE_MODULES",
    "STALE_SECONDS",
    "cache_dir",
    "cache_key",
    "code_fingerprint",
    "load_entry",
    "memoize",
    "remove_stale",
    "save_entry",
]

# The modules whose code determines a trained model or a memoized value; a package stands for all its modules.
CODE_MODULES = (
    "camlib._checkout",
    "camlib._validate",
    "camlib.boxes.baselines",
    "camlib.boxes.from_maps",
    "camlib.boxes.geometry",
    "camlib.cam.extractor",
    "camlib.cam.kernel",
    "camlib.components.backends",
    "camlib.components.contours",
    "camlib.components.labels",
    "camlib.components.runs",
    "camlib.components.tree",
    "camlib.data.batch",  # the readers and generators; not the manifest, its rebuilds and its command line
    "camlib.data.coco",
    "camlib.data.common",
    "camlib.data.cub",
    "camlib.data.folder",
    "camlib.data.icdar",
    "camlib.data.imagenet",
    "camlib.data.images",
    "camlib.data.locate",
    "camlib.data.subsets",
    "camlib.data.synthetic",
    "camlib.data.transforms",
    "camlib.data.vqa",
    "camlib.data.wsol",
    "camlib.metrics.accuracy",
    "camlib.metrics.masks",
    "camlib.models.heads",
    "camlib.models.preprocess",
    "camlib.models.pretrained",
    "camlib.models.registry",
    "camlib.models.surgery",
    "camlib.models.timm_models",
    "camlib.study.cache",
    "camlib.study.crops",
    "camlib.study.features",
    "camlib.study.svm",
    "camlib.study.training",
)


def cache_dir(root: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``root``, else ``$CAMLIB_CACHE``, else the checkout's ``.cache/models``, else the user's.

    The checkout's folder is used when camlib runs from a source checkout of
    the study; an installed camlib uses the user's cache folder
    (``platformdirs.user_cache_path("camlib") / "models"``), never a folder
    inside site-packages.

    Example:
        >>> cache_dir("/tmp/x").as_posix()
        '/tmp/x'
    """
    if root is not None:
        return Path(root)
    if os.environ.get("CAMLIB_CACHE"):
        return Path(os.environ["CAMLIB_CACHE"])
    checkout = checkout_root()
    if checkout is not None:
        return checkout / ".cache" / "models"
    import platformdirs  # only here: the user's cache folder on each platform

    return platformdirs.user_cache_path("camlib") / "models"


@functools.cache
def code_fingerprint(*modules: str) -> str:
    """A short sha256 (16 hex digits) of the source files of ``modules`` (default: ``CODE_MODULES``).

    Each module's name and the bytes of its file enter the hash, in the
    order of the names; a package stands for the files of all its modules
    (``"camlib.data"``: ``camlib/data/**/*.py``). The files are read once per
    process and set of names (``functools.lru_cache``): the fingerprint
    describes the code as it was when the first key was made, so restart a
    kernel after editing camlib, as for any import.

    Raises:
        TypeError: a module name is not a str.
        ValueError: a name has no Python source file.

    Example:
        >>> len(code_fingerprint()), code_fingerprint() == code_fingerprint(*CODE_MODULES)
        (16, True)
        >>> code_fingerprint("camlib.models.heads") == code_fingerprint("camlib.models.surgery")
        False
    """
    if not modules:
        return code_fingerprint(*CODE_MODULES)  # one entry of the lru_cache for both spellings
    files: dict[str, Path] = {}
    for name in modules:
        if not isinstance(name, str):
            raise TypeError(f"`modules` must be module names (str), but got {type(name).__name__}: {name!r}.")
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            raise ValueError(f"`modules` must name Python modules with a source file, but {name!r} has none.")
        origin = Path(spec.origin)
        if spec.submodule_search_locations is None:
            files[name] = origin
            continue
        for path in sorted(origin.parent.rglob("*.py")):
            parts = (name, *path.relative_to(origin.parent).with_suffix("").parts)
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    digest = hashlib.sha256()
    for name in sorted(files):
        source = files[name].read_bytes()
        digest.update(f"{name}\0{len(source)}\0".encode() + source)
    return digest.hexdigest()[:16]


def _canonical(value: Any) -> Any:
    """``value`` as JSON-able content in which different values stay different.

    A float becomes ``{"\\0float": repr(value)}`` (exact, NaN and inf survive JSON, and ``0.1`` never meets
    the string ``"0.1"``); a key that is not a str becomes ``"\\0<type>:<repr>"`` (``1`` never meets ``"1"``).
    """
    if isinstance(value, Mapping):
        return {(k if isinstance(k, str) else f"\0{type(k).__name__}:{k!r}"): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return {"\0float": repr(value)}
    raise TypeError(
        f"A cache key must be built from dicts, lists and plain values, but got {type(value).__name__}: {value!r}."
    )


def cache_key(parts: Mapping[str, Any]) -> str:
    """The sha256 (hex) of the canonical JSON of ``parts``, ``code_fingerprint()`` and torch's version.

    Keys are sorted, tuples are lists and floats are written by ``repr``, so
    equal content gives equal keys. torch enters as ``major.minor``. See the
    module docstring for what the key holds and why.

    Raises:
        TypeError: ``parts`` holds something other than dicts, lists, tuples,
            str, int, float, bool or None.

    Example:
        >>> cache_key({"a": 1, "b": [1.0]}) == cache_key({"b": (1.0,), "a": 1})
        True
    """
    torch_version = ".".join(torch.__version__.split("+")[0].split(".")[:2])
    full = {"parts": _canonical(parts), "code": code_fingerprint(), "torch": torch_version}
    text = json.dumps(full, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


STALE_SECONDS = 24 * 3600  # a temporary file older than this was left by a killed run: removed
_swept: set[Path] = set()  # folders already swept by this process


def remove_stale(folder: str | os.PathLike, *, age: float = STALE_SECONDS) -> list[Path]:
    """Remove the temporary files (``.<entry>.<random>.tmp``) older than ``age`` seconds in ``folder``.

    ``save_entry`` writes each entry to such a file, then renames it; a run
    killed in between (SIGKILL, a power cut) leaves it behind. A younger one
    may belong to a run still writing, and is kept.

    Returns:
        The files removed.
    """
    folder, now, removed = Path(folder), time.time(), []
    if not folder.is_dir():
        return removed
    for tmp in folder.glob(".*.tmp"):
        try:
            if now - tmp.stat().st_mtime > age:
                tmp.unlink()
                removed.append(tmp)
        except OSError:  # gone meanwhile, or not ours to remove
            pass
    return removed


def save_entry(path: str | os.PathLike, entry: Mapping[str, Any]) -> Path:
    """Write ``entry`` (tensors, dicts, lists, plain values) to ``path`` atomically.

    The folder is created if needed, and its stale temporary files removed
    once per process (``remove_stale``). On any error the temporary file is
    removed and the error re-raised; ``path`` is then untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.parent not in _swept:
        _swept.add(path.parent)
        remove_stale(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # as any file written here, not mkstemp's 0600: a shared cache stays readable
        with os.fdopen(fd, "wb") as file:
            torch.save(dict(entry), file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load_entry(
    path: str | os.PathLike, map_location: str = "cpu", *, required: str = "state_dict"
) -> dict[str, Any] | None:
    """Read an entry written by ``save_entry``; None when there is no file.

    Args:
        path: the entry's file.
        map_location: where tensors are loaded.
        required: the key every entry of this kind holds: ``"state_dict"``
            for a model, ``"value"`` for an entry of ``memoize``.

    Raises:
        RuntimeError: the file exists but is not a readable entry of this
            kind (the message names it and says to delete it).
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
    if not isinstance(entry, dict) or required not in entry:
        kind = "a model entry" if required == "state_dict" else "an entry of this kind"
        raise RuntimeError(f"The cache entry {path} is not {kind} (no {required!r}); delete it to retrain.")
    return entry


def memoize(
    parts: Mapping[str, Any],
    compute: Callable[[], Any],
    *,
    enabled: bool = True,
    cache_root: str | os.PathLike | None = None,
) -> tuple[Any, bool]:
    """``compute()``, or its value from the cache entry keyed by ``parts``.

    For results that are costly to compute and cheap to store (features,
    boxes): the value (tensors, dicts, lists, tuples, plain values; what
    ``torch.load(weights_only=True)`` reads back) is written by
    ``save_entry`` under ``cache_dir(cache_root) / (cache_key(parts) + ".pt")``.
    ``parts`` must name everything that determines the value besides
    camlib's code (the key adds ``code_fingerprint()``); a ``compute`` that
    calls camlib code outside ``CODE_MODULES`` must name that code in
    ``parts`` (e.g. ``code_fingerprint("camlib.study.stats")``).

    Args:
        parts: the key's content (see ``cache_key``).
        compute: called without arguments when there is no entry.
        enabled: False: always compute, never read or write the cache.
        cache_root: the cache folder (``cache_dir``).

    Returns:
        ``(value, hit)``: ``hit`` is True when the value came from the cache.

    Raises:
        RuntimeError: an entry exists but is unreadable (delete it).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as root:
        ...     first = memoize({"what": "doc"}, lambda: torch.arange(3), cache_root=root)
        ...     again = memoize({"what": "doc"}, lambda: None, cache_root=root)  # not called: read back
        >>> first, again
        ((tensor([0, 1, 2]), False), (tensor([0, 1, 2]), True))
    """
    if not enabled:
        return compute(), False
    path = cache_dir(cache_root) / f"{cache_key(parts)}.pt"
    entry = load_entry(path, required="value")
    if entry is not None:
        if "parts" in entry and entry["parts"] != _canonical(parts):
            raise RuntimeError(
                f"The cache entry {path} holds another request's value (its parts differ from this key's); "
                "delete it to recompute."
            )
        return entry["value"], True
    value = compute()
    unstorable = _unstorable(value)
    if unstorable is not None:
        warnings.warn(
            f"The value computed for {dict(parts).get('what', 'this entry')!r} was not cached: the cache stores "
            f"tensors, dicts, lists, tuples and plain values, but it holds {unstorable}. It is returned as computed.",
            stacklevel=2,
        )
        return value, False
    try:
        save_entry(path, {"value": value, "parts": _canonical(parts)})
    except OSError as err:  # a full disk or a read-only cache loses the entry, never the value
        warnings.warn(f"The cache entry {path} could not be written ({err}); the value is returned as computed.",
                      stacklevel=2)  # fmt: skip
    return value, False


def _unstorable(value: Any) -> str | None:
    """What in ``value`` the cache's loader (``torch.load(weights_only=True)``) would refuse; None when nothing."""
    if value is None or type(value) in (bool, int, float, str) or isinstance(value, torch.Tensor):
        return None  # exact types: a numpy float64 is a float that the loader refuses
    if isinstance(value, dict) or type(value) in (list, tuple):  # a namedtuple comes back as something else
        for item in value.values() if isinstance(value, dict) else value:
            if (found := _unstorable(item)) is not None:
                return found
        if isinstance(value, dict):
            for key in value:
                if (found := _unstorable(key)) is not None:
                    return found
        return None
    return f"a {type(value).__module__}.{type(value).__qualname__}"
