"""Rebuild the study's real subsets from the official releases: select by id, resize, rescale the annotations.

The study's subsets (``camlib/data/sources.yml``) were taken from public
copies; anyone holding an official release can make the same subset from it:

    python -m camlib.data build imagenet-val-1300 --from /datasets/imagenet-kaggle --to data
    python -m camlib.data build cub-200-2011-50cls --from /datasets/CUB_200_2011 --to data
    python -m camlib.data build icdar2015 --from /datasets/icdar2015-ch4 --to data
    python -m camlib.data build coco-mini --from /datasets/coco --to data

Each builder selects the images that the manifest lists (``camlib.data.manifest``: the ids
are the files' names), resizes them by the subset's documented rule, rescales the boxes,
parts, quadrilaterals and outlines by the same factors, and writes the subset's layout.
The annotations follow the study's copy line for line in format; the images are
re-encoded (JPEG quality 95), so their bytes, and the few annotations whose source rounded
differently, differ from the study's copy: ``verify`` then names them, and a chapter's
provenance says the copy is not the manifest's. Every image the manifest lists must be in
the release: a missing one stops the build, naming it.

Rules, per dataset (the sources' own, as far as they are documented):

- ILSVRC2012 val (Kaggle's layout in, the same layout out): every image to 227 × 227 (no
  aspect ratio kept, bilinear); each box corner ``c`` of an image ``W`` wide to
  ``min(round(c · 227 / W), 226)`` (likewise in ``y``). Checked against wsolevaluation's
  boxes, from which the study's copy was made: equal on 1,133 of the 1,300 images, a pixel
  off on the others, whose source rounded differently.
- CUB-200-2011 (the official folder in and out): images whose longer side passes 320 px
  scaled by ``s = 320 / max(W, H)`` to ``round(W s) × round(H s)`` (Lanczos); boxes
  ``x y width height`` and part locations multiplied by the two factors
  ``round(W s) / W`` and ``round(H s) / H``, written with one decimal; an invisible part
  stays ``0.0 0.0 0``.
- ICDAR 2015 Challenge 4 test (the official ``ch4_test_images`` and
  ``Challenge4_Test_Task1_GT`` in, the ``End2End/TestSet`` layout out): every image and
  every corner × 0.375; ground truth without the byte-order mark; ``manifest.json`` lists
  the sizes; the vocabularies copied when the release folder holds them.
- COCO 2017 (``train2017``, ``val2017``, ``annotations`` in and out): images whose longer
  side passes 320 px scaled as CUB's; boxes and polygons scaled exactly, ``area`` by the
  product of the factors, crowd run-length masks resized by nearest neighbour;
  ``width``/``height`` the new size, ``orig_width``/``orig_height`` the old.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from camlib.data import manifest

__all__ = ["BUILDERS", "build", "cub", "coco", "icdar2015", "imagenet"]

QUALITY = 95  # JPEG quality of the re-encoded images


def _listed(dataset: str, prefix: str, suffix: str = "") -> list[str]:
    """The paths the manifest lists under ``prefix`` ending in ``suffix``, with the prefix removed."""
    return [
        e.path[len(prefix) :]
        for e in manifest.entries(dataset)
        if e.path.startswith(prefix) and e.path.endswith(suffix)
    ]


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"`release` must hold {what}, but {path} does not exist.")
    return path


def _save(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.convert("RGB").save(path, quality=QUALITY)


def _fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    """``(W', H')``: ``size`` scaled so that its longer side is at most ``longest`` (unchanged if it is).

    Example:
        >>> _fit((640, 427), 320), _fit((300, 200), 320)
        ((320, 214), (300, 200))
    """
    w, h = size
    s = longest / max(w, h)
    return (w, h) if s >= 1 else (round(w * s), round(h * s))


def _one_decimal(v: float) -> str:
    return f"{v:.1f}"


# ---------------------------------------------------------------------------------------------------- ILSVRC


def imagenet(release: str | os.PathLike, out: str | os.PathLike, size: int = 227) -> Path:
    """The ILSVRC2012 val subset from Kaggle's layout (``LOC_synset_mapping.txt``, ``LOC_val_solution.csv``, images)."""
    release, out = Path(release), Path(out) / manifest.dataset_folder("imagenet-val-1300")
    images = "ILSVRC/Data/CLS-LOC/val/"
    ids = [name.removesuffix(".JPEG") for name in _listed("imagenet-val-1300", images, ".JPEG")]
    with open(_need(release / "LOC_val_solution.csv", "Kaggle's LOC_val_solution.csv"), newline="") as f:
        solution = {row["ImageId"]: row["PredictionString"].split() for row in csv.DictReader(f)}
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_need(release / "LOC_synset_mapping.txt", "LOC_synset_mapping.txt"), out / "LOC_synset_mapping.txt")
    rows = []
    for image_id in ids:
        if image_id not in solution:
            raise ValueError(f"LOC_val_solution.csv must hold the boxes of {image_id}, but has no row for it.")
        with Image.open(_need(release / images / f"{image_id}.JPEG", f"the image {image_id}.JPEG")) as im:
            w, h = im.size
            _save(im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR), out / images / f"{image_id}.JPEG")
        t = solution[image_id]
        boxes = []
        for i in range(0, len(t), 5):
            x1, y1, x2, y2 = (int(v) for v in t[i + 1 : i + 5])
            scaled = [min(round(c * size / d), size - 1) for c, d in ((x1, w), (y1, h), (x2, w), (y2, h))]
            boxes.append((t[i], *scaled))
        rows.append((image_id, " ".join(" ".join(map(str, b)) for b in boxes)))
        _write_voc(out / "ILSVRC/Annotations/CLS-LOC/val" / f"{image_id}.xml", image_id, size, boxes)
    with open(out / "LOC_val_solution.csv", "w", newline="") as f:
        f.write("ImageId,PredictionString\n" + "".join(f"{i},{p}\n" for i, p in rows))
    return out


def _write_voc(path: Path, image_id: str, size: int, boxes: list[tuple]) -> None:
    objects = "".join(
        f"\t<object>\n\t\t<name>{wnid}</name>\n\t\t<bndbox>\n\t\t\t<xmin>{x1}</xmin>\n\t\t\t<ymin>{y1}</ymin>\n"
        f"\t\t\t<xmax>{x2}</xmax>\n\t\t\t<ymax>{y2}</ymax>\n\t\t</bndbox>\n\t</object>\n"
        for wnid, x1, y1, x2, y2 in boxes
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"<annotation>\n\t<folder>val</folder>\n\t<filename>{image_id}</filename>\n\t<size>\n\t\t<width>{size}</width>\n"
        f"\t\t<height>{size}</height>\n\t\t<depth>3</depth>\n\t</size>\n{objects}</annotation>\n"
    )


# ---------------------------------------------------------------------------------------------------- CUB


def cub(release: str | os.PathLike, out: str | os.PathLike, longest: int = 320) -> Path:
    """The CUB subset from the official ``CUB_200_2011`` folder (``images.txt``, ..., ``parts/part_locs.txt``)."""
    release = Path(release)
    out = Path(out) / manifest.dataset_folder("cub-200-2011-50cls") / "CUB_200_2011"
    wanted = set(_listed("cub-200-2011-50cls", "CUB_200_2011/images/"))

    def table(name: str) -> list[list[str]]:
        return [line.split() for line in _need(release / name, name).read_text().splitlines() if line.strip()]

    paths = {row[0]: row[1] for row in table("images.txt")}
    missing = sorted(wanted - set(paths.values()))
    if missing:
        raise ValueError(f"images.txt of the release must list every image of the subset, but lacks {missing[:3]}.")
    keep = {i for i, p in paths.items() if p in wanted}
    classes = {p.split("/", 1)[0] for p in wanted}
    factors = {}
    for i in sorted(keep, key=int):
        with Image.open(_need(release / "images" / paths[i], f"the image images/{paths[i]}")) as im:
            new = _fit(im.size, longest)
            factors[i] = (new[0] / im.size[0], new[1] / im.size[1])
            _save(
                im.convert("RGB").resize(new, Image.Resampling.LANCZOS) if new != im.size else im,
                out / "images" / paths[i],
            )

    def write(name: str, rows: list[str]) -> None:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text("".join(f"{r}\n" for r in rows))

    for name in ("images.txt", "image_class_labels.txt", "train_test_split.txt"):
        write(name, [" ".join(row) for row in table(name) if row[0] in keep])
    boxes = []
    for i, x, y, w, h in table("bounding_boxes.txt"):
        if i in keep:
            sx, sy = factors[i]
            boxes.append(
                " ".join([i, *map(_one_decimal, (float(x) * sx, float(y) * sy, float(w) * sx, float(h) * sy))])
            )
    write("bounding_boxes.txt", boxes)
    write("classes.txt", [" ".join(row) for row in table("classes.txt") if row[1] in classes])
    if (release / "parts" / "part_locs.txt").is_file():
        shutil.copyfile(release / "parts" / "parts.txt", _mkparent(out / "parts" / "parts.txt"))
        parts = []
        for i, part, x, y, visible in table("parts/part_locs.txt"):
            if i in keep:
                sx, sy = factors[i]
                xy = (float(x) * sx, float(y) * sy) if visible == "1" else (0.0, 0.0)
                parts.append(" ".join([i, part, *map(_one_decimal, xy), visible]))
        write("parts/part_locs.txt", parts)
    if (release / "README").is_file():
        shutil.copyfile(release / "README", out / "README")
    return out


def _mkparent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------------------------------------------- ICDAR


def _number(v: float) -> str:
    """A coordinate as the study's copy writes it: an integer without a decimal point, else in full."""
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def icdar2015(release: str | os.PathLike, out: str | os.PathLike, scale: float = 0.375) -> Path:
    """The ICDAR 2015 test subset from the official download (``ch4_test_images``, ``Challenge4_Test_Task1_GT``)."""
    release, out = Path(release), Path(out) / manifest.dataset_folder("icdar2015")
    names = _listed("icdar2015", "End2End/TestSet/Imgs/", ".jpg")
    images, gts = _need(release / "ch4_test_images", "ch4_test_images/"), release / "Challenge4_Test_Task1_GT"
    sizes = {}
    for name in names:
        with Image.open(_need(images / name, f"the image ch4_test_images/{name}")) as im:
            new = (round(im.size[0] * scale), round(im.size[1] * scale))
            sizes[name] = {
                "orig_size": list(im.size),
                "size": list(new),
                "sx": new[0] / im.size[0],
                "sy": new[1] / im.size[1],
            }
            _save(im.convert("RGB").resize(new, Image.Resampling.LANCZOS), out / "End2End/TestSet/Imgs" / name)
        gt = _need(gts / f"gt_{name.removesuffix('.jpg')}.txt", f"the ground truth of {name}")
        lines = []
        for line in gt.read_text(encoding="utf-8-sig").splitlines():
            if not line.strip():
                continue
            fields = line.split(",", 8)
            corners = [
                float(v) * (sizes[name]["sx"] if k % 2 == 0 else sizes[name]["sy"]) for k, v in enumerate(fields[:8])
            ]
            lines.append(",".join([*map(_number, corners), fields[8]]))
        _mkparent(out / "End2End/TestSet/Gts" / gt.name).write_text("".join(f"{x}\n" for x in lines), encoding="utf-8")
    vocabularies = release / "Vocabularies"
    if vocabularies.is_dir():
        shutil.copytree(vocabularies, out / "End2End/TestSet/Vocabularies", dirs_exist_ok=True)
    manifest_json = {"source": str(release.name), "scale": scale, "images": sizes}
    (out / "manifest.json").write_text(json.dumps(manifest_json, indent=0))
    return out


# ---------------------------------------------------------------------------------------------------- COCO


def _resize_rle(segmentation: dict, old: tuple[int, int], new: tuple[int, int]) -> dict:
    """A crowd region's run-length mask at the new size (nearest neighbour), uncompressed as COCO's files hold it."""
    from pycocotools import mask as coco_mask

    h, w = old
    rle = coco_mask.frPyObjects(segmentation, h, w) if isinstance(segmentation["counts"], list) else segmentation
    with warnings.catch_warnings():  # pycocotools 2.0.x's decode trips numpy 2's copy=False deprecation
        warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
        mask = coco_mask.decode(rle)  # (h, w)
    rows = (np.arange(new[0]) * h // new[0]).clip(0, h - 1)
    cols = (np.arange(new[1]) * w // new[1]).clip(0, w - 1)
    flat = mask[rows][:, cols].flatten(order="F")  # COCO counts run down the columns, starting with zeros
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0] == 1:
        counts = [0, *counts]
    return {"size": list(new), "counts": counts}


def coco(release: str | os.PathLike, out: str | os.PathLike, longest: int = 320) -> Path:
    """The COCO subset from the official release (``train2017/``, ``val2017/``, ``annotations/``)."""
    release, out = Path(release), Path(out) / manifest.dataset_folder("coco-mini")
    for split in ("train2017", "val2017"):
        files = set(_listed("coco-mini", f"{split}/", ".jpg"))
        new_sizes: dict[int, tuple[int, int]] = {}
        for kind in ("instances", "captions"):
            name = f"annotations/{kind}_{split}.json"
            with open(_need(release / name, name)) as f:
                data = json.load(f)
            images = [im for im in data["images"] if im["file_name"] in files]
            if len(images) != len(files):
                missing = sorted(files - {im["file_name"] for im in images})
                raise ValueError(f"{name} must list every image of the subset, but lacks {missing[:3]}.")
            old = {im["id"]: (im["height"], im["width"]) for im in images}
            for im in images:
                if im["id"] not in new_sizes:
                    with Image.open(
                        _need(release / split / im["file_name"], f"the image {split}/{im['file_name']}")
                    ) as pic:
                        w, h = _fit(pic.size, longest)
                        new_sizes[im["id"]] = (h, w)
                        _save(
                            pic.convert("RGB").resize((w, h), Image.Resampling.LANCZOS) if (w, h) != pic.size else pic,
                            out / split / im["file_name"],
                        )
                im.update(orig_width=im["width"], orig_height=im["height"])
                im["height"], im["width"] = new_sizes[im["id"]]
            annotations = [a for a in data["annotations"] if a["image_id"] in old]
            for a in annotations:
                (h0, w0), (h1, w1) = old[a["image_id"]], new_sizes[a["image_id"]]
                sx, sy = w1 / w0, h1 / h0
                if "bbox" in a:
                    x, y, w, h = a["bbox"]
                    a["bbox"] = [x * sx, y * sy, w * sx, h * sy]
                    a["area"] = a["area"] * sx * sy
                    seg = a["segmentation"]
                    if isinstance(seg, list):
                        a["segmentation"] = [[v * (sx if k % 2 == 0 else sy) for k, v in enumerate(p)] for p in seg]
                    else:
                        a["segmentation"] = _resize_rle(seg, (h0, w0), (h1, w1))
            data["images"], data["annotations"] = images, annotations
            _mkparent(out / name).write_text(json.dumps(data))
    return out


BUILDERS: dict[str, Callable[..., Path]] = {
    "imagenet-val-1300": imagenet,
    "cub-200-2011-50cls": cub,
    "icdar2015": icdar2015,
    "coco-mini": coco,
}


def build(dataset: str, release: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Rebuild ``dataset`` under the data root ``out`` from the official release in ``release``; its folder.

    Raises:
        ValueError: no builder for ``dataset`` (the weights and photos are copied, not built), or the
            release lacks an image or annotation of the subset (named).
        FileNotFoundError: a file of the release's layout is missing (named).
    """
    if dataset not in BUILDERS:
        raise ValueError(
            f"`dataset` must be one of {', '.join(BUILDERS)} (the rest are taken as published), but got {dataset!r}."
        )
    return BUILDERS[dataset](release, out)
