"""Where the real data lives.

Real data is never part of the repository. ``find_data`` looks, in order, at
an explicit ``root``, else at ``$CAMLIB_DATA``, else at ``data/`` in the
study's checkout when camlib runs from one (typically a link to a shared copy:
``ln -s ../shared/data data``) and at ``data/`` in the current directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from camlib._checkout import checkout_root

__all__ = ["DATA_ENV", "data_roots", "find_data"]

DATA_ENV = "CAMLIB_DATA"


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
        return [Path(os.environ[DATA_ENV]).expanduser()]
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
        FileNotFoundError: nothing complete was found; the message names every
            path looked at, what was missing and how to provide the data.
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
            f"Provide the study's data as a `data/` folder in the repository (e.g. `ln -s ../shared/data data`), "
            f"set ${DATA_ENV} to its folder, or pass the notebook parameter `data_root`."
        )
    raise FileNotFoundError(
        f"Could not find the data {str(relative)!r}{wanted}: " + "; ".join(problems) + ". " + advice
    )
