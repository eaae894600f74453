"""Reading images, and listing the images of a folder, with errors that name the file."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from PIL import Image, UnidentifiedImageError

__all__ = ["IMAGE_SUFFIXES", "list_images", "read_image"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")  # what `list_images` takes by default, in any letter case


def read_image(path: str | os.PathLike) -> Image.Image:
    """Read an image file as an RGB PIL image, fully loaded.

    Raises:
        FileNotFoundError: no such file.
        OSError: the file is not a readable image; the message names it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`path` must be an image file, but {str(path)!r} does not exist.")
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise OSError(f"Could not read the image {str(path)!r}: {err}") from err


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
