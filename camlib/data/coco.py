"""A reader for COCO's layout: instances (boxes, polygons, crowd RLEs) and captions.

The layout, as the COCO 2014/2017 downloads have it (a user's full copy fits;
so does ``coco-mini`` of the study's data)::

    <root>/annotations/instances_<split>.json   images, annotations, categories
    <root>/annotations/captions_<split>.json    captions (optional)
    <root>/<split>/<file_name>                  the images (``val2017/000000397133.jpg``)

An image of COCO has no single class: an ``Item`` of this reader has
``label = -1`` and the boxes of all its non-crowd instances; the instances
themselves (category, box, crowd flag, segmentation), the masks and the
captions are read by index (``instances``, ``masks``, ``category_mask``,
``captions``). Masks come from pycocotools (``pycocotools.mask``, COCO's own
rasterization of polygons and run-length encodings) in the frame of the image
file (``height`` x ``width`` of the JSON).

Boxes: COCO's ``[x, y, width, height]`` in continuous pixel-edge coordinates
become inclusive pixel indices ``(floor(x), floor(y), ceil(x + w) - 1,
ceil(y + h) - 1)`` (``coco_box``): the pixels the box touches.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from camlib.data.common import AnnotatedImages, Record, Transform, entry_field, read_text, require_files
from camlib.data.locate import find_data

__all__ = ["COCO", "Instance", "coco_box"]


def coco_box(x: float, y: float, width: float, height: float) -> tuple[int, int, int, int]:
    """COCO's ``[x, y, width, height]`` (pixel edges) as inclusive pixel indices ``(x1, y1, x2, y2)``.

    Example:
        >>> coco_box(10.0, 20.0, 5.0, 3.0)      # pixels 10..14, 20..22
        (10, 20, 14, 22)
        >>> coco_box(10.4, 20.6, 0.2, 0.1)      # a sliver inside one pixel: that pixel
        (10, 20, 10, 20)
    """
    if not (width >= 0 and height >= 0):
        raise ValueError(f"A COCO box must have a width and height >= 0, but got {width!r} and {height!r}.")
    x1, y1 = math.floor(x), math.floor(y)
    return x1, y1, max(x1, math.ceil(x + width) - 1), max(y1, math.ceil(y + height) - 1)


@dataclass(frozen=True)
class Instance:
    """One annotated object of a COCO image.

    Attributes:
        category: the category's index in ``COCO.classes`` (not COCO's id).
        box: ``(x1, y1, x2, y2)`` inclusive, in the image file's frame (``coco_box``).
        crowd: COCO's ``iscrowd`` (a crowd region, run-length encoded).
        area: COCO's ``area`` (pixels of the segmentation).
        segmentation: COCO's raw segmentation (polygons, or an RLE dict).
    """

    category: int
    box: tuple[int, int, int, int]
    crowd: bool
    area: float
    segmentation: Any


def _load(path: Path, keys: Sequence[str]) -> dict:
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise ValueError(f"{str(path)!r} must be a JSON file of COCO's layout, but it does not parse: {err}.") from err
    missing = [k for k in keys if k not in data] if isinstance(data, dict) else list(keys)
    if missing:
        raise ValueError(f"{str(path)!r} must hold COCO's keys {list(keys)}, but it lacks {missing}.")
    return data


class COCO(AnnotatedImages):
    """COCO images with their instances and captions (see the module's docstring for the layout).

    Args:
        root: the folder of ``annotations/`` and the image folders, under the
            data root (default ``"coco-mini"``) or an absolute path.
        split: the split's name as in the file names (``"val2017"``, ``"train2017"``, ``"val2014"``).
        transform: as ``AnnotatedImages`` (e.g. ``PreprocessWithBoxes``); masks stay in the file's frame.
        data_root: an explicit data root (``camlib.data.find_data``).
        captions: read ``captions_<split>.json`` (it must exist then).

    Attributes:
        classes: the 80 (or however many) category names, in the order of COCO's ids.
        category_ids: COCO's id of each category, by index.
        supercategories: the supercategory of each category, by index.

    Raises:
        FileNotFoundError: the folder, a JSON file or some images are missing.
        ValueError: a JSON file that does not parse or lacks COCO's keys, or an
            annotation that names an image or a category the file does not list.
    """

    @staticmethod
    def annotation_files(split: str = "val2017", *, captions: bool = True) -> list[str]:
        """The annotation files this reader reads for ``split``, relative to its root (provenance hashes them).

        Example:
            >>> COCO.annotation_files("val2017")
            ['annotations/instances_val2017.json', 'annotations/captions_val2017.json']
        """
        return [f"annotations/instances_{split}.json"] + ([f"annotations/captions_{split}.json"] if captions else [])

    def __init__(
        self,
        root: str | os.PathLike = "coco-mini",
        *,
        split: str = "val2017",
        transform: Transform | None = None,
        data_root: str | os.PathLike | None = None,
        captions: bool = True,
    ) -> None:
        files = self.annotation_files(split, captions=captions)
        layout = "COCO's layout: " + ", ".join(files) + f", {split}/<file_name>"
        self.root = find_data(root, root=data_root, expect=[*files, split], layout=layout)
        self.split = split
        path = self.root / files[0]
        data = _load(path, ("images", "annotations", "categories"))
        number = (int, float)

        def get(entry, key, what, kind=object):
            return entry_field(entry, key, what=what, path=path, kind=kind)

        for i, c in enumerate(data["categories"]):
            get(c, "id", f"category {i} (position)", int), get(c, "name", f"category {i} (position)")
        categories = sorted(data["categories"], key=lambda c: c["id"])
        self.category_ids = [int(c["id"]) for c in categories]
        if len(set(self.category_ids)) != len(self.category_ids):
            raise ValueError(f"{str(path)!r} must list each category id once, but some appear twice.")
        self.supercategories = [str(c.get("supercategory", "")) for c in categories]
        index_of = {cid: i for i, cid in enumerate(self.category_ids)}
        for i, im in enumerate(data["images"]):
            what = f"image {im.get('id', '?') if isinstance(im, dict) else '?'} (position {i})"
            get(im, "id", what, int), get(im, "file_name", what, str)
            get(im, "height", what, int), get(im, "width", what, int)
        images = sorted(data["images"], key=lambda im: im["id"])
        position = {int(im["id"]): i for i, im in enumerate(images)}
        if len(position) != len(images):
            twice = sorted({im["id"] for im in images if sum(o["id"] == im["id"] for o in images) > 1})[:3]
            raise ValueError(f"{str(path)!r} must list each image id once, but {twice} appear twice.")
        self._sizes = [(int(im["height"]), int(im["width"])) for im in images]
        self._instances: list[list[Instance]] = [[] for _ in images]
        for k, a in enumerate(data["annotations"]):
            what = f"annotation {a.get('id', '?') if isinstance(a, dict) else '?'} (position {k})"
            image, category = int(get(a, "image_id", what, int)), int(get(a, "category_id", what, int))
            bbox = get(a, "bbox", what, list)
            if len(bbox) != 4 or not all(isinstance(v, number) and not isinstance(v, bool) for v in bbox):
                raise ValueError(
                    f"{str(path)!r}: {what}'s 'bbox' must be [x, y, width, height], but it is {bbox!r:.80}."
                )
            if image not in position:
                raise ValueError(
                    f"{str(path)!r}: annotation {a.get('id')} names image {image}, which the file does not list."
                )
            if category not in index_of:
                raise ValueError(
                    f"{str(path)!r}: annotation {a.get('id')} names category {category}, which the file does not list."
                )
            self._instances[position[image]].append(
                Instance(
                    index_of[category],
                    coco_box(*bbox),
                    bool(a.get("iscrowd", 0)),
                    float(a.get("area", 0.0)),
                    a.get("segmentation"),
                )
            )
        self._captions: list[list[str]] = [[] for _ in images]
        if captions:
            cpath = self.root / files[1]
            for k, a in enumerate(_load(cpath, ("annotations",))["annotations"]):
                what = f"caption {a.get('id', '?') if isinstance(a, dict) else '?'} (position {k})"
                image = int(entry_field(a, "image_id", what=what, path=cpath, kind=int))
                text = entry_field(a, "caption", what=what, path=cpath, kind=str)
                if image not in position:
                    raise ValueError(
                        f"{str(cpath)!r}: caption {a.get('id')} names image {image}, which {str(path)!r} does not list."
                    )
                self._captions[position[image]].append(text.strip())
        records = [
            Record(
                self.root / split / im["file_name"],
                -1,
                tuple(inst.box for inst in self._instances[i] if not inst.crowd),
                str(im["id"]),
                box_size=self._sizes[i],
                source=f"image {im['id']} of {str(path)!r}",
                exact_size=True,  # the masks are drawn in the JSON's frame: a file of another size is an error
            )
            for i, im in enumerate(images)
        ]
        require_files(records, listed_in=path)
        super().__init__(records, [str(c["name"]) for c in categories], transform)

    def instances(self, index: int) -> tuple[Instance, ...]:
        """Every annotated object of image ``index``, crowd regions included, in the file's order."""
        return tuple(self._instances[index])

    def captions(self, index: int) -> tuple[str, ...]:
        """The captions of image ``index`` (none when read with ``captions=False``)."""
        return tuple(self._captions[index])

    def categories_of(self, index: int) -> set[int]:
        """The category indices that image ``index`` has an instance of."""
        return {inst.category for inst in self._instances[index]}

    def masks(self, index: int) -> Tensor:
        """``BoolTensor[m, H, W]``: one mask per instance of ``instances(index)``, in the image file's frame."""
        from pycocotools import mask as coco_mask  # COCO's own rasterization of polygons and RLEs

        H, W = self._sizes[index]
        self._check_size(index)
        out = np.zeros((len(self._instances[index]), H, W), dtype=bool)
        for j, inst in enumerate(self._instances[index]):
            seg = inst.segmentation
            if isinstance(seg, list):  # polygons
                rles = coco_mask.frPyObjects(seg, H, W) if seg else []
                rle = coco_mask.merge(rles) if rles else None
            elif isinstance(seg, dict) and isinstance(seg.get("counts"), list):  # uncompressed RLE (crowds)
                rle = coco_mask.frPyObjects(seg, *seg["size"])
            elif isinstance(seg, dict):  # compressed RLE
                rle = seg
            else:
                raise ValueError(
                    f"Instance {j} of image {self.records[index].image_id} has a segmentation COCO "
                    f"does not define: {type(seg).__name__}."
                )
            if rle is not None:
                with warnings.catch_warnings():  # pycocotools 2.0.x's decode trips numpy 2's copy=False deprecation
                    warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
                    m = coco_mask.decode(rle).astype(bool)
                if m.shape != (H, W):
                    raise ValueError(
                        f"Instance {j} of image {self.records[index].image_id}: its mask is "
                        f"{m.shape[1]} x {m.shape[0]}, but the image is {W} x {H}."
                    )
                out[j] = m
        return torch.from_numpy(out)

    def _check_size(self, index: int) -> None:
        """Raise when image ``index``'s file is not the size its JSON entry gives (the header only is read)."""
        from PIL import Image

        record = self.records[index]
        with Image.open(record.path) as image:
            size = (image.height, image.width)
        if size != self._sizes[index]:
            self._boxes_in(record, size)  # raises, naming the file and both sizes

    def category_mask(self, index: int, category: int) -> Tensor:
        """``BoolTensor[H, W]``: the union of the masks of image ``index``'s instances of ``category`` (an index)."""
        if not 0 <= category < len(self.classes):
            raise ValueError(f"`category` must be an index in [0, {len(self.classes)}), but got {category!r}.")
        H, W = self._sizes[index]
        chosen = [j for j, inst in enumerate(self._instances[index]) if inst.category == category]
        if not chosen:
            return torch.zeros(H, W, dtype=torch.bool)
        return self.masks(index)[chosen].any(0)
