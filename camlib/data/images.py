"""Reading images, and listing the images of a folder, with errors that name the file."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = ["IMAGE_SUFFIXES", "list_images", "read_image"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")  # what `list_images` takes by default, in any letter case


def read_image(path: str | os.PathLike) -> Image.Image:
    """Read an image file as an RGB PIL image, fully loaded.

    A 16-bit image (PIL's modes ``I;16*`` and ``I``, e.g. a 16-bit grey PNG)
    is scaled to 8 bits (``v / 257``, so 65535 is 255) before the conversion;
    PIL's own ``convert("RGB")`` would clip it, turning almost every pixel white.

    Raises:
        FileNotFoundError: no such file.
        OSError: the file is not a readable image, or is larger than PIL
            allows (a decompression bomb); the message names it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`path` must be an image file, but {str(path)!r} does not exist.")
    try:
        with Image.open(path) as image:
            if image.mode.startswith("I;16") or image.mode == "I":
                return _from_16_bits(image).convert("RGB")
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise OSError(f"Could not read the image {str(path)!r}: {err}") from err


def _from_16_bits(image: Image.Image) -> Image.Image:
    """An 8-bit grey image from a 16-bit one (``I;16``, ``I;16B``, ``I`` holding 0..65535): ``round(v / 257)``."""
    values = np.asarray(image, dtype=np.float64)
    if values.size and (values.min() < 0 or values.max() > 65535):
        raise ValueError(f"a 32-bit integer image ({values.min():.0f}..{values.max():.0f}) is not a 16-bit image")
    return Image.fromarray(np.rint(values / 257).astype(np.uint8), mode="L")


def list_images(folder: str | os.PathLike, suffixes: Iterable[str] = IMAGE_SUFFIXES) -> list[Path]:
    """The image files directly inside ``folder``, sorted by name.

    A file counts when its suffix, in lower case, is one of ``suffixes``
    (``".JPG"`` is a ``".jpg"``); sub-folders are not entered, and a folder
    whose name ends in ``.jpg`` is not an image. The order is Python's string
    order of the names (``img10.jpg`` before ``img2.jpg``), the same on every
    machine.

    Args:
        folder: the folder to list.
        suffixes: file suffixes with their dot, e.g. ``(".jpg", ".png")``.

    Returns:
        The paths, at least one.

    Raises:
        TypeError: ``suffixes`` is a single string, not a collection of them.
        ValueError: a suffix does not start with a dot, or there is none.
        FileNotFoundError: ``folder`` is not a folder, or holds no file with
            one of ``suffixes``; the message names the folder and the suffixes.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     for name in ["b.PNG", "a.jpg", "notes.txt"]:
        ...         _ = (Path(folder) / name).write_bytes(b"")
        ...     print([p.name for p in list_images(folder)])
        ['a.jpg', 'b.PNG']
    """
    if isinstance(suffixes, (str, bytes)):
        raise TypeError(f"`suffixes` must be a collection of suffixes such as ('.jpg', '.png'), but got {suffixes!r}.")
    wanted = list(dict.fromkeys(str(s).lower() for s in suffixes))  # in the given order, once each
    if not wanted or not all(s.startswith(".") and len(s) > 1 for s in wanted):
        raise ValueError(f"`suffixes` must hold suffixes with their dot, such as '.jpg', but got {wanted}.")
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"`folder` must be a folder of images, but {str(folder)!r} is not a folder.")
    found = sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in wanted), key=lambda p: p.name)
    if not found:
        raise FileNotFoundError(
            f"The folder {str(folder)!r} holds no image file ({', '.join(wanted)}); put the photos directly in it."
        )
    return found
