"""Caltech-UCSD Birds-200-2011 in its original layout (Wah et al., 2011).

The layout of the official release (also that of
``data/cub-200-2011-50cls/CUB_200_2011``), every file one line per entry::

    images.txt              <image_id> <class folder>/<file>.jpg
    image_class_labels.txt  <image_id> <class_id>           class ids from 1
    train_test_split.txt    <image_id> <is_training_image>  1 = train, 0 = test
    bounding_boxes.txt      <image_id> <x> <y> <width> <height>
    classes.txt             <class_id> <class name>
    images/<class folder>/<file>.jpg
    parts/parts.txt         <part_id> <part name>               (optional: read by ``CUB.parts``)
    parts/part_locs.txt     <image_id> <part_id> <x> <y> <visible>
"""

from __future__ import annotations

import os
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

import torch
from torch import Tensor

from camlib._validate import check_choice
from camlib.data.common import (
    AnnotatedImages,
    Record,
    Transform,
    read_lines,
    require_files,
)
from camlib.data.locate import find_data

__all__ = ["CUB", "cub_box"]

FILES = ("images.txt", "image_class_labels.txt", "train_test_split.txt", "bounding_boxes.txt", "classes.txt")
PART_FILES = ("parts/parts.txt", "parts/part_locs.txt")  # optional: read by CUB.parts
SPLITS = ("train", "test", "all")


Number = Decimal | float | str


def cub_box(x: Number, y: Number, width: Number, height: Number) -> tuple[int, int, int, int]:
    """A box of ``bounding_boxes.txt`` as inclusive pixel indices ``(x1, y1, x2, y2)``.

    CUB gives the top-left corner ``(x, y)`` and the size in pixels, as
    decimals; the box is the region ``[x, x + width) x [y, y + height)`` of
    pixel edges, ``width`` pixels wide. Each edge goes to the nearest pixel
    boundary (halves up), as ``camlib.data.resize_boxes`` does, and the box
    keeps at least one pixel:

        x1 = floor(x + 1/2),   x2 = max(floor(x + width + 1/2) - 1, x1),

    and likewise for y; a reader then clips the box to the image (a few CUB
    boxes pass the border by a pixel or two). The arithmetic is exact on the
    decimal text of the file. wsolevaluation takes ``x + width`` itself as
    the inclusive right edge, a box one pixel wider and taller.

    Example:
        >>> cub_box("60.0", "27.0", "325.0", "304.0")    # 325 pixels wide: columns 60 to 384
        (60, 27, 384, 330)
        >>> cub_box("38.4", "17.2", "208.0", "194.2")    # edges 38.4 -> 38, 246.4 -> 246; 17.2 -> 17, 211.4 -> 211
        (38, 17, 245, 210)
    """
    x, y, width, height = (Decimal(str(v)) for v in (x, y, width, height))

    def edge(v: Decimal) -> int:
        return int((v + Decimal("0.5")).to_integral_value(rounding=ROUND_FLOOR))

    x1, y1 = edge(x), edge(y)
    return x1, y1, max(edge(x + width) - 1, x1), max(edge(y + height) - 1, y1)


class CUB(AnnotatedImages):
    """CUB-200-2011 in its original layout (see the module docstring), one split.

    Items come in the order of CUB's image ids. An item's ``image_id`` is its
    path under ``images/`` (``"001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg"``,
    as in wsolevaluation), its label the position of its class among the
    ids of ``classes.txt`` (class id - 1 for the full dataset and for the
    study's first 50 classes), its one box converted by ``cub_box``.

    Args:
        root: the ``CUB_200_2011`` folder: a name under the data root (default
            the study's subset ``"cub-200-2011-50cls/CUB_200_2011"``) or an
            absolute path.
        split: ``"train"``, ``"test"`` (the official split) or ``"all"``.
        transform: None, or ``(image, boxes) -> (image, boxes)`` such as
            ``PreprocessWithBoxes(224)``.
        data_root: the data root for a relative ``root`` (see ``camlib.data.data_roots``).

    Attributes:
        classes: the class names of ``classes.txt`` (``"001.Black_footed_Albatross"``), by label.

    Raises:
        FileNotFoundError: ``root``, a file of the layout or an image is missing.
        ValueError: a malformed line (file and line named), an image missing
            from a file, or a class id not in ``classes.txt``.
    """

    def __init__(
        self,
        root: str | os.PathLike = "cub-200-2011-50cls/CUB_200_2011",
        *,
        split: str,
        transform: Transform | None = None,
        data_root: str | os.PathLike | None = None,
    ) -> None:
        check_choice("split", split, SPLITS)
        layout = "the CUB-200-2011 layout: " + ", ".join(FILES) + ", images/<class>/<file>.jpg"
        self.root = find_data(root, root=data_root, expect=[*FILES, "images"], layout=layout)
        self.split = split

        class_ids: dict[int, str] = {}
        for line in read_lines(self.root / "classes.txt", sep=None, count=2, expected="`<class_id> <class name>`"):
            class_ids[line.integer(0)] = line.fields[1]
        labels_of_class = {class_id: i for i, class_id in enumerate(sorted(class_ids))}

        paths = self._table("images.txt", "`<image_id> <image path>`", lambda line: line.fields[1])
        classes = self._table("image_class_labels.txt", "`<image_id> <class_id>`", lambda line: line.integer(1))
        training = self._table("train_test_split.txt", "`<image_id> <is_training_image>` (0 or 1)", _flag)
        boxes = self._table(
            "bounding_boxes.txt",
            "`<image_id> <x> <y> <width> <height>` with a positive width and height",
            _box,
            count=5,
        )
        tables = {"image_class_labels.txt": classes, "train_test_split.txt": training, "bounding_boxes.txt": boxes}
        records, self._image_ids = [], []
        for image_id in sorted(paths):
            for name, table in tables.items():
                if image_id not in table:
                    raise ValueError(
                        f"{str(self.root / name)!r} must have a line for every image of images.txt, "
                        f"but it has none for image {image_id} ({paths[image_id]})."
                    )
            if classes[image_id] not in labels_of_class:
                raise ValueError(
                    f"{str(self.root / 'image_class_labels.txt')!r} gives image {image_id} the class "
                    f"{classes[image_id]}, which {str(self.root / 'classes.txt')!r} does not list."
                )
            if split == "all" or training[image_id] == (split == "train"):
                path, label = paths[image_id], labels_of_class[classes[image_id]]
                box, number = boxes[image_id]
                source = f"line {number} of {str(self.root / 'bounding_boxes.txt')!r}"
                records.append(Record(self.root / "images" / path, label, (box,), path, source=source))
                self._image_ids.append(image_id)
        require_files(records, listed_in=self.root / "images.txt")
        super().__init__(records, [class_ids[c] for c in sorted(class_ids)], transform)
        self._parts: tuple[list[str], dict[int, Tensor]] | None = None

    @property
    def part_names(self) -> list[str]:
        """The part names of ``parts/parts.txt`` (``"back"``, ``"beak"``, ...), by part id - 1."""
        return self._read_parts()[0]

    def parts(self, index: int, size: tuple[int, int] | None = None) -> Tensor:
        """``Tensor[P, 3]``: each part's ``(x, y, visible)`` in image ``index``, by part id - 1.

        ``x`` (the column) and ``y`` (the row) are CUB's pixel coordinates,
        in the frame of the image file as it is, or, with ``size = (H, W)``,
        scaled to an image resized to it (what ``PreprocessWithBoxes(size)``
        does to the photograph). An invisible part is ``(0, 0, 0)``, as in
        the file. A part the file does not list for the image is invisible too.

        Raises:
            FileNotFoundError: the copy has no ``parts/`` folder.
            ValueError: a malformed line of ``part_locs.txt`` (file and line named), a
                part id that ``parts.txt`` does not list, or a part listed twice for an image.
        """
        names, locations = self._read_parts()
        out = locations.get(self._image_ids[index], torch.zeros(len(names), 3)).clone()
        if size is not None:
            from PIL import Image

            with Image.open(self.records[index].path) as image:  # the header only
                W, H = image.size
            out[:, 0] *= size[1] / W
            out[:, 1] *= size[0] / H
        return out

    def _read_parts(self) -> tuple[list[str], dict[int, Tensor]]:
        if self._parts is not None:
            return self._parts
        folder = self.root / "parts"
        for name in (Path(f).name for f in PART_FILES):
            if not (folder / name).is_file():
                raise FileNotFoundError(
                    f"The CUB copy at {str(self.root)!r} has no {name} under parts/ "
                    "(the official release's part locations)."
                )
        names: dict[int, str] = {}
        with open(folder / "parts.txt", encoding="utf-8") as f:
            for number, text in enumerate(f, start=1):
                fields = text.split(None, 1)
                if not text.strip():
                    continue
                if len(fields) != 2 or not fields[0].isdigit():
                    raise ValueError(
                        f"Malformed line {number} of {str(folder / 'parts.txt')!r}: expected "
                        f"`<part_id> <part name>`, but got {text.rstrip()!r}."
                    )
                names[int(fields[0])] = fields[1].strip()
        ids = sorted(names)
        slot = {part: i for i, part in enumerate(ids)}
        wanted = set(self._image_ids)
        locations: dict[int, Tensor] = {}
        seen: set[tuple[int, int]] = set()
        expected = "`<image_id> <part_id> <x> <y> <visible>` (visible 0 or 1)"
        for line in read_lines(folder / "part_locs.txt", sep=None, count=5, expected=expected):
            image_id, part = line.integer(0), line.integer(1)
            if part not in slot:
                raise line.error(f"a part id of parts.txt, not {part}")
            if line.fields[4] not in ("0", "1"):
                raise line.error("visible 0 or 1")
            if image_id not in wanted:
                continue
            if (image_id, part) in seen:
                raise line.error(f"each part once per image; part {part} of image {image_id} is on an earlier line")
            seen.add((image_id, part))
            table = locations.setdefault(image_id, torch.zeros(len(ids), 3))
            table[slot[part]] = torch.tensor([float(line.decimal(2)), float(line.decimal(3)), float(line.fields[4])])
        self._parts = ([names[i] for i in ids], locations)
        return self._parts

    def _table(self, name: str, expected: str, parse, count: int = 2) -> dict:
        """``{image id: parse(line)}`` from one of the layout's files, one line per image."""
        table: dict = {}
        for line in read_lines(self.root / name, sep=None, count=count, expected=expected):
            image_id = line.integer(0)
            if image_id in table:
                raise line.error(f"each image once; image {image_id} is on an earlier line too")
            table[image_id] = parse(line)
        return table


def _flag(line) -> bool:
    if line.fields[1] not in ("0", "1"):
        raise line.error()
    return line.fields[1] == "1"


def _box(line) -> tuple[tuple[int, int, int, int], int]:
    x, y, width, height = (line.decimal(i) for i in range(1, 5))
    if width <= 0 or height <= 0:
        raise line.error()
    return cub_box(x, y, width, height), line.number
