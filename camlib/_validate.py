"""Small shared checks for the public entry points.

Every message follows one template: name the argument, say what was expected,
show what came. ``TypeError`` for a wrong type, ``ValueError`` for a wrong
value or shape.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = [
    "check_tensor",
    "check_choice",
    "check_size",
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


def check_choice(name: str, value: object, choices: Sequence[object]) -> object:
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
