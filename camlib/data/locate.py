"""Where the real data lives.

Real data is never part of the repository. ``find_data`` looks, in order, at
an explicit ``root``, else at ``$CAMLIB_DATA``, else at ``data/`` in the
study's checkout when camlib runs from one (a folder, or a link to wherever the copy
lies: ``ln -s /path/to/data data``) and at ``data/`` in the current directory.

Absent is not partial. ``find_data`` raises ``DataAbsent`` (a
``FileNotFoundError``) only when the path exists under none of the roots: the
data were never provided, and a chapter may say so and go on. A folder that
exists but lacks a file of its layout, a missing image, or a ``$CAMLIB_DATA``
that names no folder raise other errors, which stop the chapter.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from camlib._checkout import checkout_root

__all__ = ["DATA_ENV", "REQUIRE_ENV", "DataAbsent", "data_roots", "find_data", "require_data"]

DATA_ENV = "CAMLIB_DATA"
REQUIRE_ENV = "CAMLIB_REQUIRE_DATA"  # "1": absent real data is an error, not a note (``--require-data``)


class DataAbsent(FileNotFoundError):
    """The data were not found at all: no root holds the path asked for (partial data raise other errors)."""


def require_data() -> bool:
    """Whether this run must have its real data (``$CAMLIB_REQUIRE_DATA`` is ``1``, set by ``--require-data``).

    Raises:
        ValueError: the variable holds something other than ``""``, ``0`` or ``1``.
    """
    value = os.environ.get(REQUIRE_ENV, "").strip()
    if value not in ("", "0", "1"):
        raise ValueError(f"${REQUIRE_ENV} must be 1 (require the real data), 0 or empty, but it is {value!r}.")
    return value == "1"


def data_roots(root: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for data, in order.

    Args:
        root: an explicit data root; None or ``""`` for the defaults.

    Example:
        >>> data_roots("/datasets")
        [PosixPath('/datasets')]
    """
    if root not in (None, ""):
        return [Path(root).expanduser()]
    if os.environ.get(DATA_ENV):
        folder = Path(os.environ[DATA_ENV]).expanduser()
        if not folder.is_dir():  # checked like the `data_root` parameter: a typo is not absent data
            problem = "is not a folder" if folder.exists() else "does not exist"
            raise ValueError(f"${DATA_ENV} must name the data folder (or be unset), but {str(folder)!r} {problem}.")
        return [folder]
    checkout = checkout_root()
    roots = ([checkout / "data"] if checkout is not None else []) + [Path.cwd() / "data"]
    return list(dict.fromkeys(r.absolute() for r in roots))


def find_data(
    relative: str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    expect: Iterable[str] = (),
    layout: str = "",
) -> Path:
    """The path of a data file or folder, checked to exist with the files expected.

    Args:
        relative: the path under the data root, e.g. ``"cam-samples"``; an
            absolute path is taken as it is.
        root: an explicit data root (see ``data_roots``).
        expect: files that must exist inside ``relative`` when it is a folder.
        layout: a short description of the expected layout for the message.

    Returns:
        The absolute path.

    Raises:
        DataAbsent: the path exists under no root; the message names every
            path looked at and how to provide the data.
        FileNotFoundError: the path exists but lacks files of ``expect``
            (partial data); the message names what is missing.
        ValueError: ``$CAMLIB_DATA`` names no folder.
    """
    relative = Path(relative).expanduser()
    expect = list(expect)
    candidates = [relative] if relative.is_absolute() else [r / relative for r in data_roots(root)]
    problems = []
    for path in candidates:
        if not path.exists():
            problems.append(f"{path} does not exist")
            continue
        missing = [name for name in expect if not (path / name).exists()]
        if missing:
            problems.append(f"{path} lacks {', '.join(missing)}")
            continue
        return path.absolute()
    wanted = f" ({layout})" if layout else (f" (with {', '.join(expect)})" if expect else "")
    if relative.is_absolute():  # the caller's own path: the data roots play no part
        advice = "An absolute path is taken as it is, not looked up under the data roots: check it."
    elif root not in (None, ""):
        advice = f"Put the data under the data root given, {data_roots(root)[0]}, or give another root."
    else:
        advice = (
            f"Provide the study's data as a `data/` folder in the repository (e.g. `ln -s /path/to/data data`), "
            f"set ${DATA_ENV} to its folder, or pass the notebook parameter `data_root`; "
            "`python -m camlib.data verify` checks a copy against the study's manifest."
        )
    message = f"Could not find the data {str(relative)!r}{wanted}: " + "; ".join(problems) + ". "
    if any(path.exists() for path in candidates):  # there, but incomplete: a broken copy, never "absent"
        raise FileNotFoundError(message + "The data are there but incomplete: restore the missing files.")
    raise DataAbsent(message + advice)
