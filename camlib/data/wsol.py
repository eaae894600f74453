"""Images listed by wsolevaluation's metadata (Choe et al., CVPR 2020).

wsolevaluation describes each split of CUB and ILSVRC by four text files in
one folder (e.g. ``metadata/CUB/test``), with image ids that are paths
relative to an image folder::

    image_ids.txt      <path>                      one line per image, in the split's order
    class_labels.txt   <path>,<label>              the class index, from 0
    image_sizes.txt    <path>,<w>,<h>              the size the boxes refer to
    localization.txt   <path>,<x1>,<y1>,<x2>,<y2>  one line per box, inclusive corners

Its CUB boxes are CUB's ``x, y, x + w, y + h``: one pixel wider and taller
than ``camlib.data.CUB`` reads the same boxes (see ``cub_box``).
"""

from __future__ import annotations

import os

from camlib.data.common import AnnotatedImages, Record, Transform, read_lines, require_files
from camlib.data.locate import find_data

__all__ = ["WSOLDataset"]

FILES = ("image_ids.txt", "class_labels.txt", "image_sizes.txt", "localization.txt")


class WSOLDataset(AnnotatedImages):
    """A split described by wsolevaluation's metadata files (see the module docstring).

    Item ``i`` is the ``i``-th image of ``image_ids.txt``, with its label from
    ``class_labels.txt`` and all its boxes from ``localization.txt``. The boxes
    refer to the size in ``image_sizes.txt``; when the image file has another
    size (a downscaled copy), they are rescaled to it by ``resize_boxes``. An
    image with no line in ``localization.txt`` has no boxes.

    Args:
        metadata: the folder of the four files, e.g. ``"wsolevaluation/metadata/CUB/test"``
            under the data root, or an absolute path.
        images: the folder the image ids are relative to, e.g. ``"CUB_200_2011/images"``.
        transform: None, or ``(image, boxes) -> (image, boxes)`` such as
            ``PreprocessWithBoxes(224)``.
        data_root: the data root for relative folders (see ``camlib.data.data_roots``).

    Attributes:
        classes: ``"0"``, ``"1"``, ...: the metadata has no class names.

    Raises:
        FileNotFoundError: a folder, a metadata file or an image is missing.
        ValueError: a malformed line (file and line named), or an image id
            that is not in ``image_ids.txt`` or has no label.
    """

    def __init__(
        self,
        metadata: str | os.PathLike,
        images: str | os.PathLike,
        *,
        transform: Transform | None = None,
        data_root: str | os.PathLike | None = None,
    ) -> None:
        layout = "wsolevaluation's metadata: " + ", ".join(FILES)
        self.metadata = find_data(metadata, root=data_root, expect=FILES, layout=layout)
        self.images = find_data(images, root=data_root, layout="the folder the ids of image_ids.txt are relative to")
        ids_path, labels_path, sizes_path, boxes_path = (self.metadata / name for name in FILES)

        ids: dict[str, int] = {}
        for line in read_lines(ids_path, sep=",", count=1, expected="`<path>`"):
            if line.fields[0] in ids:
                raise line.error(f"each image once; it is also on line {ids[line.fields[0]]}")
            ids[line.fields[0]] = line.number

        def known(line, what: str) -> str:
            if line.fields[0] not in ids:
                raise line.error(f"{what} of an image listed in image_ids.txt")
            return line.fields[0]

        def once(line, table: dict, lines: dict, what: str) -> str:
            image_id = known(line, what)
            if image_id in table:
                raise line.error(f"one line per image; {image_id!r} is also on line {lines[image_id]}")
            lines[image_id] = line.number
            return image_id

        labels: dict[str, int] = {}
        label_lines: dict[str, int] = {}
        for line in read_lines(labels_path, sep=",", count=2, expected="`<path>,<label>`"):
            label = line.integer(1)
            if label < 0:
                raise line.error("a label >= 0")
            labels[once(line, labels, label_lines, "the label")] = label
        sizes: dict[str, tuple[int, int]] = {}
        size_lines: dict[str, int] = {}
        for line in read_lines(sizes_path, sep=",", count=3, expected="`<path>,<w>,<h>`"):
            w, h = line.integer(1), line.integer(2)
            if w <= 0 or h <= 0:
                raise line.error("a positive width and height")
            sizes[once(line, sizes, size_lines, "the size")] = (h, w)
        boxes: dict[str, list] = {image_id: [] for image_id in ids}
        for line in read_lines(boxes_path, sep=",", count=5, expected="`<path>,<x1>,<y1>,<x2>,<y2>`"):
            boxes[known(line, "a box")].append(line.box([line.integer(i) for i in range(1, 5)]))

        for image_id, number in ids.items():
            for table, path in ((labels, labels_path), (sizes, sizes_path)):
                if image_id not in table:
                    raise ValueError(
                        f"{str(path)!r} must have a line for every image of image_ids.txt, but it has "
                        f"none for {image_id!r} (line {number} of {str(ids_path)!r})."
                    )
        records = [
            Record(
                self.images / image_id,
                labels[image_id],
                tuple(boxes[image_id]),
                image_id,
                sizes[image_id],
                source=repr(str(boxes_path)),
            )
            for image_id in ids
        ]
        require_files(records, listed_in=ids_path)
        classes = [str(c) for c in range(max(labels.values(), default=-1) + 1)]
        super().__init__(records, classes, transform)
