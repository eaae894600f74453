"""ILSVRC2012 validation images with their labels and boxes, in Kaggle's layout.

The layout of Kaggle's "ImageNet Object Localization Challenge" (also that of
``data/imagenet-val-1300``)::

    LOC_synset_mapping.txt                 "wnid names", one line per class
    LOC_val_solution.csv                   ImageId,PredictionString ("wnid x1 y1 x2 y2" per box)
    ILSVRC/Data/CLS-LOC/val/<id>.JPEG      the images
    ILSVRC/Annotations/CLS-LOC/val/<id>.xml  PASCAL VOC style, one <object> per box

Both annotation sources hold the official boxes as inclusive pixel corners,
the CSV with the same numbers as the XML; they give the same labels and boxes.
"""

from __future__ import annotations

import csv
import io
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from camlib._validate import check_choice
from camlib.data.common import AnnotatedImages, Line, Record, Transform, read_text, require_files
from camlib.data.locate import find_data

__all__ = ["ImageNetVal", "read_synsets"]

SYNSETS = "LOC_synset_mapping.txt"
SOLUTION = "LOC_val_solution.csv"
IMAGES = "ILSVRC/Data/CLS-LOC/val"
XMLS = "ILSVRC/Annotations/CLS-LOC/val"
_BOX = "`wnid x1 y1 x2 y2` repeated"


def read_synsets(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """The wnids and class names of ``LOC_synset_mapping.txt``, in its line order.

    Line ``i`` (from 0) is class ``i``; in the official file the wnids are
    sorted, which is torchvision's class order.

    Returns:
        ``(wnids, names)``, e.g. ``"n01440764"`` and ``"tench, Tinca tinca"``.

    Raises:
        ValueError: a line has no name, or a wnid appears twice; the message
            names the file and the line.
    """
    wnids: list[str] = []
    names: list[str] = []
    seen: dict[str, int] = {}
    for number, text in enumerate(read_text(path).splitlines(), start=1):
        if not text.strip():
            continue
        line = Line(Path(path), number, text, text.split(maxsplit=1), "`<wnid> <names>`")
        if len(line.fields) != 2:
            raise line.error()
        wnid, name = line.fields
        if wnid in seen:
            raise line.error(f"{wnid} is already on line {seen[wnid]}")
        seen[wnid] = number
        wnids.append(wnid)
        names.append(name.strip())
    return wnids, names


class ImageNetVal(AnnotatedImages):
    """The ILSVRC2012 validation images in Kaggle's layout (see the module docstring).

    Item ``i`` is the image with the ``i``-th smallest id (``ILSVRC2012_val_00000001``,
    ...): its label is the line of its wnid in ``LOC_synset_mapping.txt``
    (torchvision's class index), its boxes all the official boxes of the image
    (all of one class in ILSVRC's validation set). The annotations are parsed
    once: the CSV (fast, 50,000 lines), or the XML files when asked.

    Args:
        root: the folder of the layout: a name under the data root (default
            ``"imagenet-val-1300"``, the study's subset) or an absolute path,
            e.g. the folder where Kaggle's archive was unpacked.
        annotations: ``"csv"`` (``LOC_val_solution.csv``) or ``"xml"`` (one
            file per image; boxes are rescaled when the image's size differs
            from the XML ``<size>``).
        transform: None, or ``(image, boxes) -> (image, boxes)`` such as
            ``PreprocessWithBoxes(224)``.
        data_root: the data root for a relative ``root`` (see ``camlib.data.data_roots``).

    Attributes:
        wnids, classes: the wnid and the names of each class, by label.

    Raises:
        FileNotFoundError: ``root``, a file of the layout or an image is
            missing; the message names the paths looked at and the layout.
        ValueError: a malformed line (file and line named), a wnid that is not
            in the synset mapping, or an image whose boxes name two classes.
    """

    def __init__(
        self,
        root: str | os.PathLike = "imagenet-val-1300",
        *,
        annotations: str = "csv",
        transform: Transform | None = None,
        data_root: str | os.PathLike | None = None,
    ) -> None:
        check_choice("annotations", annotations, ("csv", "xml"))
        source = SOLUTION if annotations == "csv" else XMLS
        self.root = find_data(
            root,
            root=data_root,
            expect=[SYNSETS, source, IMAGES],
            layout=f"Kaggle's ImageNet localization layout: {SYNSETS}, {source}, {IMAGES}/*.JPEG",
        )
        self.wnids, names = read_synsets(self.root / SYNSETS)
        self.annotations = annotations
        read = _read_csv if annotations == "csv" else _read_xmls
        labels = {wnid: i for i, wnid in enumerate(self.wnids)}
        records = sorted(read(self.root, labels), key=lambda r: r.image_id)
        require_files(records, listed_in=self.root / source)
        super().__init__(records, names, transform)


def _label(labels: dict[str, int], wnids: list[str], error: Callable[[str], ValueError]) -> int:
    """The label of an image whose boxes name ``wnids``; ``error(why)`` makes the error to raise."""
    if not wnids:
        raise error("at least one box")
    if len(set(wnids)) > 1:
        raise error(f"the boxes of one image to name one class, not {', '.join(sorted(set(wnids)))}")
    if wnids[0] not in labels:
        raise error(f"a class listed in {SYNSETS}, not {wnids[0]!r}")
    return labels[wnids[0]]


def _read_csv(root: Path, labels: dict[str, int]) -> list[Record]:
    path = root / SOLUTION
    expected = f"`ImageId,PredictionString` with {_BOX}"
    records: dict[str, Record] = {}
    lines: dict[str, int] = {}
    with io.StringIO(read_text(path, "utf-8-sig"), newline="") as f:
        for number, row in enumerate(csv.reader(f), start=1):
            text = ",".join(row)
            if number == 1:
                if [field.strip() for field in row] != ["ImageId", "PredictionString"]:
                    raise Line(path, number, text, row, expected).error("this header")
                continue
            if not text.strip():
                continue
            if len(row) != 2:
                raise Line(path, number, text, row, expected).error()
            image_id = row[0].strip()
            line = Line(path, number, text, row[1].split(), expected)  # fields: wnid x1 y1 x2 y2 wnid ...
            if len(line.fields) % 5 != 0:
                raise line.error("five fields per box")
            if image_id in records:
                raise line.error(f"each image on one line; {image_id} is also on line {lines[image_id]}")
            wnids = line.fields[0::5]
            boxes = tuple(line.box([line.integer(i + j) for j in range(1, 5)]) for i in range(0, len(line.fields), 5))
            label = _label(labels, wnids, line.error)
            source = f"line {number} of {str(path)!r}"
            records[image_id] = Record(root / IMAGES / f"{image_id}.JPEG", label, boxes, image_id, source=source)
            lines[image_id] = number
    return list(records.values())


def _read_xmls(root: Path, labels: dict[str, int]) -> list[Record]:
    return [_read_xml(path, root, labels) for path in sorted((root / XMLS).glob("*.xml"))]


def _read_xml(path: Path, root: Path, labels: dict[str, int]) -> Record:
    def error(why: str) -> ValueError:
        return ValueError(f"Malformed XML file {str(path)!r}: expected {why}.")

    try:
        tree = ET.parse(path).getroot()
    except ET.ParseError as err:  # its message gives the line and column
        raise ValueError(f"Malformed XML file {str(path)!r}: {err}.") from err

    def number(element: ET.Element | None, tag: str) -> int:
        text = None if element is None else element.findtext(tag)
        try:
            value = float(text)  # type: ignore[arg-type]  # None (no such tag) raises the TypeError caught below
        except (TypeError, ValueError):
            raise error(f"a number in <{tag}>, not {text!r}") from None
        if not value.is_integer():
            raise error(f"an integer in <{tag}>, not {text!r}")
        return int(value)

    size = tree.find("size")
    box_size = None if size is None else (number(size, "height"), number(size, "width"))
    if box_size is not None and min(box_size) <= 0:
        raise error(f"a positive <width> and <height> in <size>, not {box_size[1]} x {box_size[0]}")
    wnids, boxes = [], []
    for obj in tree.iter("object"):
        box = obj.find("bndbox")
        x1, y1, x2, y2 = (number(box, tag) for tag in ("xmin", "ymin", "xmax", "ymax"))
        if not (0 <= x1 <= x2 and 0 <= y1 <= y2):
            raise error(f"a box with 0 <= xmin <= xmax and 0 <= ymin <= ymax, not {(x1, y1, x2, y2)}")
        wnids.append((obj.findtext("name") or "").strip())
        boxes.append((x1, y1, x2, y2))
    image_id = path.stem
    label = _label(labels, wnids, error)
    return Record(root / IMAGES / f"{image_id}.JPEG", label, tuple(boxes), image_id, box_size, source=repr(str(path)))
