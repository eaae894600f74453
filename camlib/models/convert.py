"""Converters from the original releases of the study's two scene and object networks to the files it reads.

- **SqueezeNet 1.0, Deep Compression** (``compressed_SqueezeNet.net`` of
  songhan/SqueezeNet-Deep-Compression, commit fb13faa): Han et al.'s pruned,
  weight-shared, Huffman-free binary format, decoded without Caffe into a
  ``state_dict`` of ``torchvision.models.squeezenet1_0`` (``squeezenet_from_deep_compression``).
- **SqueezeNet 1.1 with batch normalization, Places365** (``squeezenet_weights_places365.params``
  of urbste/squeezenet_places365, commit edb6ca9): a pickled list of Lasagne parameter
  arrays, read with an unpickler that admits NumPy arrays and nothing else, named by layer
  and flipped from true convolution to cross-correlation (``places_from_lasagne``).

Both were checked against the files of the study's data folder (2026-12-07): every tensor of
``weights/squeezenet1_0-deepcompression-caffe.pth`` and every array of
``places365-squeezenet/squeezenet1_1-bn-places365.npz`` comes out equal, bit for bit (the ``.npz``
written by ``python -m camlib.data convert`` is the same file, sha256 and all; the ``.pth`` holds equal
tensors in ``torch.save``'s own container).
From the command line: ``python -m camlib.data convert squeezenet-weights --from
compressed_SqueezeNet.net --to data`` (or ``places365-squeezenet --from
squeezenet_weights_places365.params``).

The Deep Compression format (``decode.py`` of the same repository): the number of
non-zero weights of every layer (``uint32``), then per layer a codebook of 256
``float32`` (8-bit indices; 16 for 4-bit ones), the bias (``float32``), the codebook
index of every stored weight (one byte each, or two per byte at 4 bits, low nibble
first) and the gaps between stored weights (two 4-bit gaps per byte, low nibble
first): the ``j``-th stored weight sits at ``sum(gap[:j + 1] + 1) - 1`` in the
flattened weight, every other weight takes code 0. The layers come in the order of
the Caffe network's convolutions, which is torchvision's order of ``Conv2d`` modules.
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "PLACES_NAMES",
    "decode_deep_compression",
    "places_from_lasagne",
    "places_names",
    "squeezenet_from_deep_compression",
]


def decode_deep_compression(
    data: bytes, layers: Sequence[tuple[str, tuple[int, ...], int]], bits: int = 8
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Decode Deep Compression's binary format: ``{name: (weight, bias)}`` for ``layers`` in order.

    Args:
        data: the file's bytes.
        layers: ``(name, weight shape, bias length)`` of every compressed layer, in the file's order.
        bits: the codebook index width, 8 (256 shared values) or 4 (16).

    Raises:
        ValueError: ``bits`` is neither 4 nor 8, the data end early or hold bytes after the last layer, or
            a layer's positions run past its weight.
    """
    if bits not in (4, 8):
        raise ValueError(f"`bits` must be 4 or 8, but got {bits!r}.")
    stream = io.BytesIO(data)

    def read(dtype, count: int, what: str) -> np.ndarray:
        size = np.dtype(dtype).itemsize * count
        chunk = stream.read(size)
        if len(chunk) != size:
            raise ValueError(f"`data` must hold {what} ({size} bytes), but it ends after {len(chunk)}.")
        return np.frombuffer(chunk, dtype=dtype)

    counts = read(np.uint32, len(layers), "the non-zero counts")
    out = {}
    for (name, shape, n_bias), count in zip(layers, counts.tolist()):
        codebook = read(np.float32, 2**bits, f"{name}'s codebook")
        bias = read(np.float32, n_bias, f"{name}'s bias")
        codes = read(np.uint8, (count - 1) // (8 // bits) + 1, f"{name}'s codes")
        gaps = read(np.uint8, (count - 1) // 2 + 1, f"{name}'s gaps")
        if bits == 4:
            codes = np.stack([codes % 16, codes // 16], 1).reshape(-1)[:count]
        codes = codes[:count]
        gap = np.stack([gaps % 16, gaps // 16], 1).reshape(-1)[:count].astype(np.int64)
        positions = np.cumsum(gap + 1) - 1
        size = int(np.prod(shape))
        if count and positions[-1] >= size:
            raise ValueError(f"{name}'s stored weights run to position {positions[-1]}, past its {size} weights.")
        code = np.zeros(size, np.uint8)
        code[positions] = codes
        out[name] = (codebook[code].reshape(shape).copy(), bias.copy())
    if stream.read(1):
        raise ValueError("`data` must end after the last layer, but holds more bytes.")
    return out


def squeezenet_from_deep_compression(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The ``state_dict`` of ``torchvision.models.squeezenet1_0`` from ``compressed_SqueezeNet.net``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not the 26-layer SqueezeNet 1.0 in Deep Compression's format.
    """
    from torchvision.models import squeezenet1_0

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`path` must be compressed_SqueezeNet.net, but {str(path)!r} does not exist.")
    convs = [(n, m) for n, m in squeezenet1_0().named_modules() if isinstance(m, torch.nn.Conv2d)]
    layers = [(n, tuple(m.weight.shape), m.out_channels) for n, m in convs]
    decoded = decode_deep_compression(path.read_bytes(), layers, bits=8)
    state = {}
    for name, (weight, bias) in decoded.items():
        state[f"{name}.weight"], state[f"{name}.bias"] = torch.from_numpy(weight), torch.from_numpy(bias)
    return state


def places_names() -> list[str]:
    """The names of the Places network's 152 arrays, in Lasagne's order (``camlib.models.places`` reads them).

    Example:
        >>> names = places_names()
        >>> len(names), names[:3], names[-2:]
        (152, ['conv1.weight', 'conv1.bias', 'conv1.bn_beta'], ['conv10.weight', 'conv10.bias'])
    """
    bn = ("bn_beta", "bn_gamma", "bn_mean", "bn_inv_std")

    def conv(prefix: str, norm: bool = True) -> list[str]:
        return [f"{prefix}.weight", f"{prefix}.bias", *(f"{prefix}.{p}" for p in bn if norm)]

    names = conv("conv1")
    for fire in range(2, 10):
        for part in ("squeeze", "expand1x1", "expand3x3"):
            names += conv(f"fire{fire}.{part}")
    return names + conv("conv10", norm=False)


PLACES_NAMES = tuple(places_names())


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that rebuilds NumPy arrays and refuses every other class (a pickle can run any code)."""

    ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),  # as numpy 1 (and the original file) names it
        ("numpy._core.multiarray", "_reconstruct"),  # as numpy 2 does
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"the weights file may hold NumPy arrays only, but names {module}.{name}")
        if module.endswith("core.multiarray"):  # numpy 2 moved it to numpy._core; old pickles name the old path
            import importlib

            try:
                multiarray = importlib.import_module("numpy._core.multiarray")
            except ImportError:  # numpy 1
                multiarray = importlib.import_module("numpy.core.multiarray")
            return getattr(multiarray, name)
        return getattr(np, name)


def places_from_lasagne(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The Places network's named arrays (``.npz`` layout) from the original Lasagne weights file.

    Each convolution kernel is flipped in both spatial axes: Lasagne's ``Conv2DLayer`` convolves
    (``flip_filters=True``), ``torch.nn.Conv2d`` correlates.

    Raises:
        FileNotFoundError: no such file.
        pickle.UnpicklingError: the file names anything but NumPy arrays.
        ValueError: it holds other than the 152 arrays of the network.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`path` must be the Lasagne weights file, but {str(path)!r} does not exist.")
    with open(path, "rb") as f:
        arrays = _ArraysOnly(f, encoding="latin1").load()
    if not isinstance(arrays, list) or len(arrays) != len(PLACES_NAMES):
        got = len(arrays) if isinstance(arrays, list) else type(arrays).__name__
        raise ValueError(f"The weights file must hold a list of {len(PLACES_NAMES)} arrays, but holds {got}.")
    out = {}
    for name, array in zip(PLACES_NAMES, arrays):
        array = np.asarray(array)
        out[name] = np.ascontiguousarray(array[:, :, ::-1, ::-1]) if name.endswith(".weight") else array
    return out
