"""What every reader returns, and how annotation files are read.

Every reader of ``camlib.data`` is an ``AnnotatedImages``: a plain map-style
``torch.utils.data.Dataset`` over a fixed, ordered list of ``Record``s (an
image file, its label, all its boxes, its id), parsed once when the reader is
built. ``dataset[i]`` reads image ``i`` and returns an ``Item``;
``camlib.data.collate`` (``camlib.data.batch``) makes a ``Batch`` of items
whose box counts differ. Having no state beyond its
records, a reader can be split across processes by
``torch.utils.data.DistributedSampler`` (``torchrun``) as it is.

Boxes are ``(x1, y1, x2, y2)`` inclusive pixel indices, ``x`` the column and
``y`` the row, as in the ILSVRC XML files: the box covers the pixels
``x1 <= x <= x2``, ``y1 <= y <= y2``, ``(x2 - x1 + 1) * (y2 - y1 + 1)`` of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple

import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from camlib.data.images import read_image
from camlib.data.transforms import clip_boxes, resize_boxes
from camlib.models.preprocess import Preprocess

__all__ = ["AnnotatedImages", "Item", "Line", "Record", "read_lines", "require_files"]

Box = tuple[int, int, int, int]


class Item(NamedTuple):
    """One image with its label and all its boxes, as every reader returns it.

    Attributes:
        image: a PIL RGB image when the reader has no transform, else what the
            transform made of it (``Tensor[3, H, W]`` for ``PreprocessWithBoxes``).
        label: the class index, from 0.
        boxes (LongTensor[m, 4]): every box of the image, ``(x1, y1, x2, y2)``
            inclusive pixel indices in the coordinates of ``image`` as returned
            (rescaled with it by a transform); ``m`` may be 0.
        image_id: the image's id in its dataset (see each reader).
        size: ``(H, W)`` of the image file, before any transform.
    """

    image: Any
    label: int
    boxes: Tensor
    image_id: str
    size: tuple[int, int]


@dataclass(frozen=True)
class Record:
    """One image of a dataset, as parsed from its annotation files.

    Attributes:
        path: the image file.
        label: the class index.
        boxes: ``(x1, y1, x2, y2)`` inclusive boxes, in the coordinates of an
            image of ``box_size`` (of the image file when it is None).
        image_id: the image's id.
        box_size: ``(H, W)`` of the image the boxes refer to, when the
            annotations say so (ILSVRC XML ``<size>``, wsolevaluation's
            ``image_sizes.txt``); None for the image file's own size. When the
            file has another size, the boxes are rescaled to it.
    """

    path: Path
    label: int
    boxes: tuple[Box, ...]
    image_id: str
    box_size: tuple[int, int] | None = None


Transform = Callable[[Image.Image, Tensor], tuple[Any, Tensor]]


class AnnotatedImages(Dataset):
    """A map-style dataset over ``records``: ``dataset[i]`` is an ``Item``.

    ``dataset[i]`` reads ``records[i].path``, brings the boxes to the file's
    own size (see ``Record.box_size``), clips them to the image, then applies
    ``transform(image, boxes)``.

    Args:
        records: the images, in the dataset's order.
        classes: the class names, indexed by label.
        transform: None (items hold the PIL image and its boxes), or a callable
            ``(image, boxes) -> (image, boxes)`` that keeps the boxes right,
            such as ``PreprocessWithBoxes``.

    Raises:
        TypeError: ``transform`` is neither None nor such a callable.
    """

    def __init__(self, records: Sequence[Record], classes: Sequence[str], transform: Transform | None = None) -> None:
        if isinstance(transform, Preprocess):
            raise TypeError(
                "`transform` must take (image, boxes) and return both, but got camlib.Preprocess, which "
                "resizes the image only; use camlib.data.PreprocessWithBoxes(size, convention)."
            )
        if transform is not None and not callable(transform):
            raise TypeError(
                f"`transform` must be None or a callable (image, boxes), but got {type(transform).__name__}."
            )
        self.records = tuple(records)
        self.classes = list(classes)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> Item:
        record = self.records[index]
        image = read_image(record.path)
        size = (image.height, image.width)
        boxes = torch.tensor(record.boxes, dtype=torch.long).reshape(-1, 4)  # (m, 4)
        if record.box_size is not None and record.box_size != size:
            boxes = resize_boxes(boxes, record.box_size, size)
        boxes = clip_boxes(boxes, size)
        if self.transform is not None:
            image, boxes = self.transform(image, boxes)
        return Item(image, record.label, boxes, record.image_id, size)

    @property
    def labels(self) -> list[int]:
        """The label of every image, in order, without reading the images."""
        return [record.label for record in self.records]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} images, {len(self.classes)} classes)"


def require_files(records: Sequence[Record], *, listed_in: str | os.PathLike) -> None:
    """Check that every record's image file exists, listing each folder once.

    Raises:
        FileNotFoundError: some images listed in ``listed_in`` are missing; the
            message names the folder, the count and the first few.
    """
    by_folder: dict[Path, list[Path]] = {}
    for record in records:
        by_folder.setdefault(record.path.parent, []).append(record.path)
    for folder, paths in by_folder.items():
        present = set(os.listdir(folder)) if folder.is_dir() else set()
        missing = [p.name for p in paths if p.name not in present]
        if missing:
            shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
            raise FileNotFoundError(
                f"Missing images: {folder} lacks {len(missing)} of the {len(paths)} images that "
                f"{str(listed_in)!r} lists for it ({shown})."
            )


def read_lines(path: str | os.PathLike, *, sep: str | None, count: int, expected: str) -> Iterator[Line]:
    """The non-blank lines of a text file, each split into ``count`` fields.

    Args:
        path: the file.
        sep: the separator (``","``), or None for runs of whitespace.
        count: the number of fields every line must have.
        expected: the line's layout for error messages, e.g. ``"`<image_id> <label>`"``.

    Yields:
        ``Line``s, numbered from 1; their fields are stripped of spaces.

    Raises:
        ValueError: a line has another number of fields; the message names
            the file and the line number.
    """
    with open(path, encoding="utf-8") as f:
        for number, text in enumerate(f, start=1):
            text = text.rstrip("\r\n")
            if not text.strip():
                continue
            line = Line(Path(path), number, text, [field.strip() for field in text.split(sep)], expected)
            if len(line.fields) != count:
                raise line.error()
            yield line


@dataclass(frozen=True)
class Line:
    """One line of an annotation file, for parsing with errors that name the file and line."""

    path: Path
    number: int
    text: str
    fields: list[str]
    expected: str

    def error(self, why: str = "") -> ValueError:
        """``ValueError("Malformed line 3 of 'f.txt': expected <layout> (<why>), but got '<the line>'.")``."""
        why = f" ({why})" if why else ""
        return ValueError(
            f"Malformed line {self.number} of {str(self.path)!r}: expected {self.expected}{why}, but got {self.text!r}."
        )

    def integer(self, index: int) -> int:
        """Field ``index`` as an int."""
        try:
            return int(self.fields[index])
        except ValueError:
            raise self.error(f"{self.fields[index]!r} is not an integer") from None

    def decimal(self, index: int) -> Decimal:
        """Field ``index`` as an exact decimal number (no binary rounding)."""
        try:
            value = Decimal(self.fields[index])
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite():
            raise self.error(f"{self.fields[index]!r} is not a finite number")
        return value

    def box(self, box: Sequence[int]) -> Box:
        """``box`` as a tuple, checked to be ``0 <= x1 <= x2`` and ``0 <= y1 <= y2``."""
        x1, y1, x2, y2 = box
        if not (0 <= x1 <= x2 and 0 <= y1 <= y2):
            raise self.error(f"a box with 0 <= x1 <= x2 and 0 <= y1 <= y2, not {tuple(box)}")
        return (x1, y1, x2, y2)
