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

Boxes are checked against their image when it is read, never moved
silently (``place_boxes``): a box wholly outside the image, or one that
crosses its edge by more than ``EDGE_TOLERANCE`` of the image's side (and
more than ``EDGE_TOLERANCE_PX`` pixels), raises an error naming the image, the
annotation, the box and the size; a box that crosses by less is clipped, and
``AnnotatedImages.box_report`` counts those. Real annotations do cross a
little: in CUB-200-2011, 14 of the first 50 classes' 2,889 boxes pass the
border, 13 of them by 1-3 pixels and one (a Chuck-will's-widow) by 21 pixels
of a 320-pixel-wide photo.
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

__all__ = [
    "EDGE_TOLERANCE",
    "EDGE_TOLERANCE_PX",
    "AnnotatedImages",
    "BoxReport",
    "Item",
    "Line",
    "Record",
    "entry_field",
    "place_boxes",
    "read_lines",
    "read_text",
    "require_files",
]

Box = tuple[int, int, int, int]

EDGE_TOLERANCE = 0.1  # a box may cross its image's edge by this share of the image's side (then it is clipped) ...
EDGE_TOLERANCE_PX = 2  # ... or by this many pixels, whichever is more; beyond both, the reader raises


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
            ``image_sizes.txt``, COCO's ``height`` and ``width``); None for the
            image file's own size. When the file has another size, the boxes
            are rescaled to it, unless ``exact_size``.
        source: where the boxes were read (``"line 12 of '.../bounding_boxes.txt'"``), for error messages.
        exact_size: the image file must have ``box_size`` (COCO's masks are
            drawn in the JSON's frame): another size raises instead of rescaling.
    """

    path: Path
    label: int
    boxes: tuple[Box, ...]
    image_id: str
    box_size: tuple[int, int] | None = None
    source: str = ""
    exact_size: bool = False


class BoxReport(NamedTuple):
    """What ``AnnotatedImages.box_report`` found: boxes checked, and those clipped at the image's edge."""

    images: int
    boxes: int
    clipped: int
    max_crossing: int  # pixels by which the worst clipped box crossed the edge (0 when none)

    def __str__(self) -> str:
        if not self.clipped:
            return f"{self.boxes:,} boxes of {self.images:,} images, all inside their image"
        return (
            f"{self.boxes:,} boxes of {self.images:,} images; {self.clipped:,} crossed the image's edge "
            f"(by at most {self.max_crossing} px) and were clipped to it"
        )


def _crossing(box: Sequence[int], size: tuple[int, int]) -> tuple[int, int]:
    """How far ``box`` passes the edges of an image of ``size``, along x and along y (0: inside)."""
    H, W = size
    x1, y1, x2, y2 = box
    return max(-x1, x2 - (W - 1), 0), max(-y1, y2 - (H - 1), 0)


def place_boxes(boxes: Tensor, size: tuple[int, int], *, image: str | os.PathLike = "", source: str = "") -> Tensor:
    """``boxes`` clipped to an image of ``size = (H, W)``, after checking that they belong to it.

    A box that crosses the edge by at most ``EDGE_TOLERANCE`` of the image's
    side along an axis (or ``EDGE_TOLERANCE_PX`` pixels, whichever is more)
    is clipped; a box wholly outside the image, or crossing by more, raises.

    Raises:
        ValueError: a box that does not belong to the image; the message names
            the image, where the box was read, the box and the image's size.

    Example:
        >>> place_boxes(torch.tensor([[-1, 0, 330, 99]]), (100, 320))   # 11 px past a 320 px side: clipped
        tensor([[  0,   0, 319,  99]])
        >>> place_boxes(torch.tensor([[400, 0, 420, 9]]), (100, 320), image="a.jpg", source="line 3 of 'b.txt'")
        Traceback (most recent call last):
        ...
        ValueError: The box (400, 0, 420, 9) of 'a.jpg' (line 3 of 'b.txt') lies wholly outside the image (320 x 100): a box must overlap its image.
    """
    H, W = size
    limit = (max(EDGE_TOLERANCE_PX, EDGE_TOLERANCE * W), max(EDGE_TOLERANCE_PX, EDGE_TOLERANCE * H))
    for box in boxes.tolist():
        x1, y1, x2, y2 = box
        where = f"{str(image)!r}" + (f" ({source})" if source else "")
        if x1 > W - 1 or y1 > H - 1 or x2 < 0 or y2 < 0:
            raise ValueError(
                f"The box {tuple(box)} of {where} lies wholly outside the image ({W} x {H}): a box must overlap its image."
            )
        cx, cy = _crossing(box, size)
        if cx > limit[0] or cy > limit[1]:
            raise ValueError(
                f"The box {tuple(box)} of {where} crosses the edge of the image ({W} x {H}) by {max(cx, cy)} px: "
                f"a box may cross it by at most {EDGE_TOLERANCE:.0%} of the side or {EDGE_TOLERANCE_PX} px "
                "(then it is clipped). Are the boxes in the coordinates of another image size?"
            )
    return clip_boxes(boxes, size)


Transform = Callable[[Image.Image, Tensor], tuple[Any, Tensor]]


class AnnotatedImages(Dataset):
    """A map-style dataset over ``records``: ``dataset[i]`` is an ``Item``.

    ``dataset[i]`` reads ``records[i].path``, brings the boxes to the file's
    own size (see ``Record.box_size``), checks and clips them (``place_boxes``),
    then applies ``transform(image, boxes)``.

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
        boxes = self._boxes_in(record, size)
        if self.transform is not None:
            image, boxes = self.transform(image, boxes)
        return Item(image, record.label, boxes, record.image_id, size)

    @staticmethod
    def _boxes_in(record: Record, size: tuple[int, int]) -> Tensor:
        """``record``'s boxes in an image file of ``size``: rescaled if need be, checked and clipped."""
        boxes = torch.tensor(record.boxes, dtype=torch.long).reshape(-1, 4)  # (m, 4)
        if record.box_size is not None and record.box_size != size:
            if record.exact_size:
                (h, w), (H, W) = record.box_size, size
                raise ValueError(
                    f"The image {str(record.path)!r} is {W} x {H}, but its annotation ({record.source or 'its entry'}) "
                    f"says {w} x {h}: the file and its annotations must describe the same image."
                )
            boxes = resize_boxes(boxes, record.box_size, size)
        return place_boxes(boxes, size, image=record.path, source=record.source)

    def box_report(self) -> BoxReport:
        """Check every box against its image (the files' headers only) and count those clipped at the edge.

        Raises:
            ValueError: a box that does not belong to its image (see ``place_boxes``).
        """
        boxes = clipped = worst = 0
        for record in self.records:
            try:
                with Image.open(record.path) as image:  # the header only
                    size = (image.height, image.width)
            except (OSError, Image.DecompressionBombError) as err:
                raise OSError(f"Could not read the image {str(record.path)!r}: {err}") from err
            placed = self._boxes_in(record, size)
            raw = torch.tensor(record.boxes, dtype=torch.long).reshape(-1, 4)
            if record.box_size is not None and record.box_size != size:
                raw = resize_boxes(raw, record.box_size, size)
            for box in raw.tolist():
                crossing = max(_crossing(box, size))
                clipped += crossing > 0
                worst = max(worst, crossing)
            boxes += len(placed)
        return BoxReport(len(self.records), boxes, clipped, worst)

    @property
    def labels(self) -> list[int]:
        """The label of every image, in order, without reading the images."""
        return [record.label for record in self.records]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} images, {len(self.classes)} classes)"


def require_files(records: Sequence[Record], *, listed_in: str | os.PathLike) -> None:
    """Check that every record's image file exists, listing each folder once.

    Raises:
        ValueError: ``records`` is empty (an empty or truncated annotation file).
        FileNotFoundError: some images listed in ``listed_in`` are missing; the
            message names the folder, the count and the first few.
    """
    if not records:
        raise ValueError(
            f"{str(listed_in)!r} must list at least one image of the split, but it lists none: "
            "an empty or truncated annotation file?"
        )
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
        ValueError: a line has another number of fields, or the file is not
            UTF-8 text; the message names the file and the line number.
    """
    for number, text in enumerate(read_text(path).splitlines(), start=1):
        if not text.strip():
            continue
        line = Line(Path(path), number, text, [field.strip() for field in text.split(sep)], expected)
        if len(line.fields) != count:
            raise line.error()
        yield line


def entry_field(entry: Any, key: str, *, what: str, path: str | os.PathLike, kind: type | tuple = object) -> Any:
    """``entry[key]`` of a JSON annotation, or an error that names the file, the entry and the key.

    Args:
        entry: one JSON object (a dict) of an annotation file.
        key: the key it must have.
        what: the entry for the message (``"annotation 17"``, ``"image 3 (position 2)"``).
        path: the file, for the message.
        kind: the type(s) the value must have.

    Raises:
        ValueError: ``entry`` is not an object, lacks ``key``, or its value has another type.

    Example:
        >>> entry_field({"id": 3}, "bbox", what="annotation 3", path="instances.json")
        Traceback (most recent call last):
        ...
        ValueError: 'instances.json': annotation 3 must have the key 'bbox', but it has only ['id'].
    """
    if not isinstance(entry, dict):
        raise ValueError(
            f"{str(path)!r}: {what} must be a JSON object, but it is {type(entry).__name__} {entry!r:.80}."
        )
    if key not in entry:
        raise ValueError(f"{str(path)!r}: {what} must have the key {key!r}, but it has only {sorted(entry)}.")
    value = entry[key]
    if not isinstance(value, kind) or (kind is not object and isinstance(value, bool) and bool not in _types(kind)):
        names = " or ".join(t.__name__ for t in _types(kind))
        raise ValueError(f"{str(path)!r}: {what}'s {key!r} must be {names}, but it is {value!r:.80}.")
    return value


def _types(kind: type | tuple) -> tuple:
    return kind if isinstance(kind, tuple) else (kind,)


def read_text(path: str | os.PathLike, encoding: str = "utf-8") -> str:
    """The text of an annotation file; a byte that is not ``encoding`` raises an error naming the file and line.

    Raises:
        ValueError: the file is not ``encoding`` text (file, line and byte named).
    """
    data = Path(path).read_bytes()
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ValueError(
            f"{str(path)!r} must be {encoding.upper()} text, but line {line} is not "
            f"({err.reason}: byte {data[err.start : err.start + 1]!r} at offset {err.start})."
        ) from None


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
