"""Notebook parameters: declared, checked, and resolved before any work starts.

Each notebook's ``parameters`` cell holds plain values; the next cell checks
them against a spec::

    params = camlib.book.params.check_params(globals(), {
        "device": camlib.book.params.Device(),
        "top_k": camlib.book.params.Int(min=1, max=1000),
    })

An unknown name (a typo in ``papermill -p`` or in a profile: papermill itself
only warns), a wrong type or a value out of range raises a ``ValueError`` or
``TypeError`` that names the parameter and what was expected. So does an
absolute path that does not exist (``DataPath``, ``DataRoot``): a path the
user typed is checked at once, while a name under the data root is left to
the reader, where absent data make the chapter say so instead of failing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch

__all__ = [
    "Spec",
    "Int",
    "Float",
    "Bool",
    "Str",
    "Device",
    "List",
    "DataPath",
    "DataRoot",
    "Params",
    "check_params",
    "resolve_device",
]

_PLAIN = (type(None), bool, int, float, str, list, tuple, dict)


class Spec:
    """A parameter's expected type and range; ``check`` returns the value to use."""

    def describe(self) -> str:
        raise NotImplementedError

    def check(self, name: str, value: Any) -> Any:
        raise NotImplementedError

    def _fail(self, name: str, value: Any, error: type[Exception] = ValueError) -> Exception:
        return error(f"Parameter `{name}` must be {self.describe()}, but got {value!r}.")


class Int(Spec):
    """An int (not a bool) in ``[min, max]``."""

    def __init__(self, min: int | None = None, max: int | None = None) -> None:
        self.min, self.max = min, max

    def describe(self) -> str:
        return "an int" + _range(self.min, self.max)

    def check(self, name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(name, value, TypeError)
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            raise self._fail(name, value)
        return value


class Float(Spec):
    """A real number (an int is accepted) in ``[min, max]``."""

    def __init__(self, min: float | None = None, max: float | None = None) -> None:
        self.min, self.max = min, max

    def describe(self) -> str:
        return "a number" + _range(self.min, self.max)

    def check(self, name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._fail(name, value, TypeError)
        if value != value or (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            raise self._fail(name, value)
        return float(value)


class Bool(Spec):
    """True or False."""

    def describe(self) -> str:
        return "True or False"

    def check(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self._fail(name, value, TypeError)
        return value


class Str(Spec):
    """A string, optionally one of ``choices``."""

    def __init__(self, choices: Sequence[str] | None = None) -> None:
        self.choices = None if choices is None else tuple(choices)

    def describe(self) -> str:
        if self.choices is None:
            return "a string"
        return "one of " + ", ".join(repr(c) for c in self.choices)

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise self._fail(name, value, TypeError)
        if self.choices is not None and value not in self.choices:
            raise self._fail(name, value)
        return value


class Device(Spec):
    """``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``."""

    _PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")

    def describe(self) -> str:
        return "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise self._fail(name, value, TypeError)
        if not self._PATTERN.match(value):
            raise self._fail(name, value)
        return resolve_device(value, name=name)


class List(Spec):
    """A list (or tuple) whose items all satisfy ``item``, with at least ``min_len`` (and at most ``max_len``) of them."""

    def __init__(self, item: Spec, min_len: int = 0, max_len: int | None = None) -> None:
        self.item, self.min_len, self.max_len = item, min_len, max_len

    def describe(self) -> str:
        if self.max_len == self.min_len:
            count = f"exactly {self.min_len}"
        elif self.max_len is not None:
            count = f"{self.min_len} to {self.max_len}"
        else:
            count = f"at least {self.min_len}"
        return f"a list of {count} items, each {self.item.describe()}"

    def check(self, name: str, value: Any) -> list:
        if not isinstance(value, (list, tuple)):
            raise self._fail(name, value, TypeError)
        if len(value) < self.min_len or (self.max_len is not None and len(value) > self.max_len):
            raise self._fail(name, value)
        return [self.item.check(f"{name}[{i}]", v) for i, v in enumerate(value)]


class DataPath(Spec):
    """Data named under the data root (a relative path), or a location of the user's own (an absolute path).

    A relative path (``"cam-samples"``) is looked up under the data root by
    ``camlib.data.find_data`` when the data are read; a chapter whose data are
    not there says so and shows no results, so that the book builds without
    data. An absolute path (``~`` expanded, as ``find_data`` does) names a
    location the user chose: it must exist now, as a folder (``folder=True``)
    or a file, so that a mistyped path stops the run before any work instead
    of reading as absent data.

    Args:
        what: what the path holds, for the message: ``"folder of photos"``.
        folder: a folder is expected (else a file).
        under: what a relative path is relative to, for the message.
    """

    def __init__(self, what: str = "folder", *, folder: bool = True, under: str = "the data root") -> None:
        self.what, self.folder, self.under = what, folder, under

    def describe(self) -> str:
        return f"a path under {self.under} or an existing {self.what}"

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise self._fail(name, value, TypeError)
        path = Path(value).expanduser()
        if not path.is_absolute():
            return value
        if not path.exists():
            problem = "does not exist"
        elif self.folder and not path.is_dir():
            problem = "is not a folder"
        elif not self.folder and path.is_dir():
            problem = "is a folder, not a file"
        else:
            return value
        raise ValueError(f"Parameter `{name}` must be {self.describe()}, but {value} {problem}.")


class DataRoot(Spec):
    """The data root: ``""`` for the default (``data/`` in the repository, or ``$CAMLIB_DATA``), else an existing folder.

    ``$CAMLIB_DATA``, when set, is checked the same way: a folder that does not exist is an error, not absent data.
    """

    def describe(self) -> str:
        return "empty (data/ in the repository, or $CAMLIB_DATA) or an existing folder"

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise self._fail(name, value, TypeError)
        if value and not Path(value).expanduser().is_dir():
            problem = "is not a folder" if Path(value).expanduser().exists() else "does not exist"
            raise ValueError(f"Parameter `{name}` must be {self.describe()}, but {value} {problem}.")
        if not value:  # the default roots: a $CAMLIB_DATA that names no folder stops the run now
            from camlib.data.locate import data_roots

            data_roots()
        return value


def _range(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f" in [{lo}, {hi}]"
    if lo is not None:
        return f" >= {lo}"
    if hi is not None:
        return f" <= {hi}"
    return ""


def resolve_device(device: str, *, name: str = "device") -> str:
    """The torch device string for ``"auto"``, ``"cpu"``, ``"cuda[:N]"`` or ``"mps"``.

    Raises:
        ValueError: the device asked for is not available here.

    Example:
        >>> resolve_device("cpu")
        'cpu'
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"Parameter `{name}` asks for {device!r}, but CUDA is not available here; use 'auto' or 'cpu'."
            )
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"Parameter `{name}` asks for {device!r}, but only {torch.cuda.device_count()} CUDA device(s) exist."
            )
    if device == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError(f"Parameter `{name}` asks for 'mps', but MPS is not available here; use 'auto' or 'cpu'.")
    return device


class Params(Mapping):
    """Checked parameters: a read-only mapping with attribute access.

    Attributes:
        given: the values as they came (e.g. ``device="auto"``), before
            resolution (``device="cpu"``).
        started: ``time.time()`` when they were checked; the provenance cell
            reports the wall time from there.
    """

    def __init__(self, values: Mapping[str, Any], given: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_values", MappingProxyType(dict(values)))
        object.__setattr__(self, "given", MappingProxyType(dict(given)))
        object.__setattr__(self, "started", time.time())

    def __setattr__(self, key: str, value: Any) -> None:
        # Without this, `p.top_k = 7` would add an attribute that shadows the parameter.
        raise AttributeError(f"Params are read-only; cannot set {key!r}.")

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, key: str) -> Any:
        try:
            return self.__dict__["_values"][key]
        except KeyError:
            raise AttributeError(
                f"There is no parameter {key!r}; the parameters are: {', '.join(self._values)}."
            ) from None

    def __repr__(self) -> str:
        return "Params(" + ", ".join(f"{k}={v!r}" for k, v in self._values.items()) + ")"

    def _repr_markdown_(self) -> str:
        """A folded table of the run's parameters, one row each (what a chapter's page shows).

        Example:
            >>> print(Params({"profile": "smoke", "device": "cpu"}, {"device": "auto"})._repr_markdown_())
            ```{dropdown} The parameters of this run (profile smoke)
            | parameter | value |
            |---|---|
            | `profile` | `'smoke'` |
            | `device` | `'cpu'` (given `'auto'`) |
            ```
        """
        rows = []
        for key, value in self._values.items():
            shown = f"`{value!r}`"
            if key in self.given and self.given[key] != value:
                shown += f" (given `{self.given[key]!r}`)"
            rows.append(f"| `{key}` | {shown.replace('|', '&#124;')} |")
        title = f"The parameters of this run (profile {self._values.get('profile', '?')})"
        return "\n".join([f"```{{dropdown}} {title}", "| parameter | value |", "|---|---|", *rows, "```"])


def check_params(
    namespace: Mapping[str, Any], spec: Mapping[str, Spec], *, same_length: Sequence[Sequence[str]] = ()
) -> Params:
    """Check a notebook's parameters against ``spec`` and return them resolved.

    Args:
        namespace: where the parameters live: ``globals()`` in a notebook
            (IPython's own names are ignored), or any mapping.
        spec: parameter name -> ``Spec``; must name every parameter of the
            notebook's ``parameters`` cell.
        same_length: groups of list parameters read in parallel (one entry
            per probe, say), which must have as many entries each.

    Returns:
        ``Params`` holding the checked (and resolved) values of ``spec``'s names.

    Raises:
        ValueError: an unknown parameter (a plain value in ``namespace`` that
            ``spec`` does not name), a missing one, or a value out of range.
        TypeError: a value of the wrong type.

    Example:
        >>> p = check_params({"top_k": 5, "device": "cpu"}, {"top_k": Int(min=1), "device": Device()})
        >>> p.top_k, p.device
        (5, 'cpu')
        >>> check_params({"top_k": 0}, {"top_k": Int(min=1)})
        Traceback (most recent call last):
        ...
        ValueError: Parameter `top_k` must be an int >= 1, but got 0.
    """
    hidden = _ipython_hidden(namespace)
    unknown = [
        name
        for name, value in namespace.items()
        if not name.startswith("_") and name not in hidden and name not in spec and type(value) in _PLAIN
    ]
    if unknown:
        raise ValueError(
            f"Unknown parameter(s) {', '.join(repr(n) for n in sorted(unknown))}; "
            f"this notebook's parameters are: {', '.join(spec)}."
        )
    missing = [name for name in spec if name not in namespace]
    if missing:
        raise ValueError(f"Parameter(s) {', '.join(repr(n) for n in missing)} must be set in the parameters cell.")
    given = {name: namespace[name] for name in spec}
    values = {name: rule.check(name, given[name]) for name, rule in spec.items()}
    for group in same_length:
        lengths = [len(values[name]) for name in group]
        if len(set(lengths)) > 1:
            named = " and ".join(f"`{n}`" for n in group)
            raise ValueError(
                f"Parameters {named} must have one entry each per item (the same length), but got "
                f"{' and '.join(map(str, lengths))} entries."
            )
    return Params(values, given)


def _ipython_hidden(namespace: Mapping[str, Any]) -> set[str]:
    """IPython's own names (In, Out, exit, ...) when ``namespace`` is its user namespace."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the book extra
        return set()
    shell = get_ipython()
    if shell is None or namespace is not shell.user_ns:
        return set()
    return set(shell.user_ns_hidden)
