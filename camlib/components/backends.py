"""The one vocabulary of backends: how connected components (and the boxes built on them) are computed.

Every function of camlib that takes ``backend`` takes a name from
``BACKENDS`` and says which of them it accepts; ``"auto"`` always means the
fastest exact one for the data's device. Every backend gives the same result
where it applies (each fast path is tested against ``scipy.ndimage``).

- ``"torch"``: the batched tensor labelling (min-label propagation with
  hooking and pointer jumping, ``camlib.components.labels``); any device.
- ``"scipy"``: ``scipy.ndimage.label`` with a 3 x 3 structure; CPU.
- ``"opencv"``: ``cv2.connectedComponentsWithStats`` (8-connectivity); CPU.
- ``"runs"``: the largest component's box by a union-find over each row's
  runs (Numba, ``camlib.components.runs``); CPU, boxes only.
- ``"tree"``: every threshold at once by a component tree (Numba,
  ``camlib.components.tree``); CPU, MaxBoxAcc only.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["BACKENDS", "CPU_ONLY", "check_backend"]

BACKENDS = ("auto", "torch", "scipy", "opencv", "runs", "tree")
CPU_ONLY = frozenset({"scipy", "opencv", "runs", "tree"})


def check_backend(backend: object, accepted: Sequence[str], *, device: torch.device | str | None = None) -> str:
    """``backend``, checked against ``BACKENDS``, the ``accepted`` subset of the caller, and the data's device.

    Args:
        backend: the name given by the user.
        accepted: the names the calling function accepts (a subset of ``BACKENDS``).
        device: the data's device; a CPU-only backend on another device is refused.

    Returns:
        ``backend`` unchanged (``"auto"`` is resolved by the caller, which knows its fast paths).

    Raises:
        ValueError: an unknown name, a name the caller does not accept, or a CPU-only backend off the CPU.

    Example:
        >>> check_backend("runs", ("auto", "runs", "scipy"), device="cpu")
        'runs'
        >>> check_backend("tree", ("auto", "runs"))
        Traceback (most recent call last):
        ...
        ValueError: `backend` must be one of ('auto', 'runs') here, but got 'tree' (camlib's backends: ...
    """
    unknown = [name for name in accepted if name not in BACKENDS]
    if unknown:  # a programming error of camlib itself
        raise AssertionError(f"accepted backends {unknown} are not in BACKENDS")
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"`backend` must be one of {BACKENDS}, but got {backend!r}.")
    if backend not in accepted:
        raise ValueError(
            f"`backend` must be one of {tuple(accepted)} here, but got {backend!r} (camlib's backends: "
            f"camlib.components.backends.BACKENDS)."
        )
    if device is not None and backend in CPU_ONLY and torch.device(device).type != "cpu":
        raise ValueError(
            f"`backend` {backend!r} runs on CPU data only, but got data on {device}; use 'torch' or 'auto'."
        )
    return backend
