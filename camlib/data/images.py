"""Reading images with errors that name the file."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image, UnidentifiedImageError

__all__ = ["read_image"]


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
