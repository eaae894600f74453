"""Small shared checks for the public entry points.

Every message follows one template: name the argument, say what was expected,
show what came. ``TypeError`` for a wrong type, ``ValueError`` for a wrong
value or shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import torch

__all__ = [
    "check_tensor",
    "check_choice",
    "check_size",
    "check_maps",
    "check_masks",
    "check_fraction",
]


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


def check_tensor(
    name: str,
    value: object,
    *,
    ndim: int | None = None,
    dims: str | None = None,
    floating: bool = False,
    integer: bool = False,
) -> torch.Tensor:
    """Check that ``value`` is a tensor of the expected rank and dtype kind.

    Args:
        name: the argument's name, as the caller's signature spells it.
        value: what the caller passed.
        ndim: the required number of dimensions, or None for any.
        dims: the dimension names for the message, e.g. ``"(N, K, h, w)"``.
        floating: require a floating-point dtype.
        integer: require an integer dtype (bool excluded).

    Returns:
        ``value``, unchanged.

    Raises:
        TypeError: ``value`` is not a tensor or has the wrong dtype kind.
        ValueError: ``value`` has the wrong number of dimensions.
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor, but got {type(value).__name__}.")
    if ndim is not None and value.ndim != ndim:
        what = f"a {ndim}-D tensor" + (f" {dims}" if dims else "")
        raise ValueError(f"`{name}` must be {what}, but got shape {_shape(value)}.")
    if floating and not value.is_floating_point():
        raise TypeError(f"`{name}` must have a floating-point dtype, but got {value.dtype}.")
    if integer and (value.is_floating_point() or value.is_complex() or value.dtype == torch.bool):
        raise TypeError(f"`{name}` must have an integer dtype, but got {value.dtype}.")
    return value


_T = TypeVar("_T")


def check_choice(name: str, value: _T, choices: Sequence[object]) -> _T:
    """Check that ``value`` is one of ``choices``.

    Raises:
        ValueError: ``value`` is not among ``choices``.
    """
    if value not in choices:
        shown = ", ".join(repr(c) for c in choices)
        raise ValueError(f"`{name}` must be one of {shown}, but got {value!r}.")
    return value


def check_size(name: str, value: object) -> tuple[int, int] | None:
    """Check an output size: None, an int ``S`` (for ``(S, S)``) or ``(H, W)``.

    Returns:
        None or the size as a tuple ``(H, W)`` of positive ints.

    Raises:
        TypeError: ``value`` is neither None, an int nor a pair of ints.
        ValueError: a side is not positive.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"`{name}` must be None, an int or a pair (H, W) of ints, but got {value!r}.")
    if isinstance(value, int):
        value = (value, value)
    if (
        not isinstance(value, (tuple, list, torch.Size))
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise TypeError(f"`{name}` must be None, an int or a pair (H, W) of ints, but got {value!r}.")
    if min(value) <= 0:
        raise ValueError(f"`{name}` must have positive sides, but got {tuple(value)}.")
    return (int(value[0]), int(value[1]))


def check_maps(name: str, value: object) -> torch.Tensor:
    """Check a batch of maps ``(..., H, W)``: floating point, ``H, W >= 1``, finite.

    Returns:
        ``value``, unchanged.

    Raises:
        TypeError: ``value`` is not a floating-point tensor.
        ValueError: fewer than 2 dimensions, an empty side, or a NaN or
            infinite value; the message names the first such map by its index
            in the leading dimensions.
    """
    value = check_tensor(name, value, floating=True)
    if value.ndim < 2:
        raise ValueError(f"`{name}` must have at least 2 dimensions (..., H, W), but got shape {_shape(value)}.")
    if value.shape[-1] == 0 or value.shape[-2] == 0:
        raise ValueError(f"`{name}` must have maps of at least 1 x 1 pixels, but got shape {_shape(value)}.")
    bad = ~torch.isfinite(value).flatten(-2).all(-1)  # (...)
    if bad.any():
        where = tuple(int(i) for i in bad.nonzero()[0]) if bad.ndim else ()
        kind = "NaN" if value[where].isnan().any() else "an infinite value"
        which = "the map" if not where else f"map {where[0] if len(where) == 1 else where}"
        raise ValueError(f"`{name}` must hold finite values, but {which} holds {kind}.")
    return value


def check_masks(name: str, value: object) -> torch.Tensor:
    """Check a batch of boolean masks ``(..., H, W)``; returns ``value``, unchanged.

    Raises:
        TypeError: ``value`` is not a bool tensor.
        ValueError: fewer than 2 dimensions.
    """
    value = check_tensor(name, value)
    if value.dtype != torch.bool:
        raise TypeError(f"`{name}` must be a bool tensor, but got {value.dtype}.")
    if value.ndim < 2:
        raise ValueError(f"`{name}` must have at least 2 dimensions (..., H, W), but got shape {tuple(value.shape)}.")
    return value


def check_fraction(name: str, value: object, *, closed: bool = True) -> float:
    """Check a real number in ``[0, 1]`` (``[0, 1)`` when ``closed`` is False).

    Returns:
        ``value`` as a float.

    Raises:
        TypeError: ``value`` is not a real number (bools are refused).
        ValueError: ``value`` is outside the interval or NaN.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"`{name}` must be a real number, but got {value!r}.")
    value = float(value)
    if not (0.0 <= value <= 1.0) or (not closed and value == 1.0):
        raise ValueError(f"`{name}` must be in [0, {'1]' if closed else '1)'}, but got {value!r}.")
    return value
