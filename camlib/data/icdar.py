"""A reader for ICDAR 2015 Challenge 4 (incidental scene text): images and word quadrilaterals.

The Robust Reading Competition's layout, one ground-truth file per image::

    <images>/img_<N>.jpg
    <gts>/gt_img_<N>.txt      one word per line: x1,y1,x2,y2,x3,y3,x4,y4,transcription

The corners go clockwise from the top left, in pixels of the image; the
transcription may itself hold commas (everything after the eighth comma), and
``###`` marks an illegible word ("don't care" in the challenge's protocol).
The official files start with a UTF-8 byte-order mark; the reader accepts
files with and without one. The folders are found under ``root`` in either
of two layouts (``LAYOUTS``): the official download's
(``ch4_test_images`` + ``Challenge4_Test_Task1_GT``, ``ch4_training_images`` +
``ch4_training_localization_transcription_gt``), or the ``End2End`` layout
of the study's copy (``End2End/TestSet/Imgs`` + ``End2End/TestSet/Gts``).

Every image holds text: an ``Item`` has ``label = 1`` (the text class of a
text/no-text classifier) and the axis-aligned bounding boxes of all its words,
legible or not (``word_box``). The words themselves and their masks (the
quadrilaterals rasterized in any frame) are read by index.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from camlib.data.common import AnnotatedImages, Line, Record, Transform, read_text, require_files
from camlib.data.locate import find_data

__all__ = ["ICDAR2015", "LAYOUTS", "Word", "read_words", "word_box"]

LAYOUTS: dict[str, tuple[tuple[str, str], ...]] = {  # split -> (images folder, ground-truth folder), tried in order
    "test": (("End2End/TestSet/Imgs", "End2End/TestSet/Gts"), ("ch4_test_images", "Challenge4_Test_Task1_GT")),
    "train": (
        ("End2End/TrainSet/Imgs", "End2End/TrainSet/Gts"),
        ("ch4_training_images", "ch4_training_localization_transcription_gt"),
    ),
}

DONT_CARE = "###"
_GT = re.compile(r"gt_.+\.txt", re.IGNORECASE)  # a ground-truth file's name
_EXPECTED = "`x1,y1,x2,y2,x3,y3,x4,y4,transcription` (eight numbers, then the word)"


@dataclass(frozen=True)
class Word:
    """One annotated word.

    Attributes:
        quad: the four corners ``((x1, y1), ..., (x4, y4))``, clockwise from the
            top left, in pixels of the image file (continuous coordinates).
        text: the transcription (``"###"`` for an illegible word).
    """

    quad: tuple[tuple[float, float], ...]
    text: str

    @property
    def legible(self) -> bool:
        """False for the challenge's "don't care" words (``###``)."""
        return self.text != DONT_CARE


def word_box(quad: tuple[tuple[float, float], ...]) -> tuple[int, int, int, int]:
    """The inclusive pixel box ``(x1, y1, x2, y2)`` of the pixels a quadrilateral's bounding box touches.

    Example:
        >>> word_box(((10.5, 20.0), (30.0, 20.0), (30.0, 28.2), (10.5, 28.2)))
        (10, 20, 29, 28)
    """
    xs, ys = [p[0] for p in quad], [p[1] for p in quad]
    x1, y1 = math.floor(min(xs)), math.floor(min(ys))
    return x1, y1, max(x1, math.ceil(max(xs)) - 1), max(y1, math.ceil(max(ys)) - 1)


def read_words(path: str | os.PathLike) -> list[Word]:
    """The words of one ground-truth file (a UTF-8 byte-order mark or none).

    Raises:
        ValueError: a line without eight numbers and a transcription; the
            message names the file and the line.

    Example:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "gt_img_1.txt"
        >>> _ = f.write_text("\\ufeff1,2,9,2,9,6,1,6,Hello, world\\n0,0,3,0,3,3,0,3,###\\n", encoding="utf-8")
        >>> [(w.text, w.legible) for w in read_words(f)]
        [('Hello, world', True), ('###', False)]
    """
    words = []
    for number, text in enumerate(read_text(path, "utf-8-sig").splitlines(), start=1):  # -sig: drops a BOM
        if not text.strip():
            continue
        fields = text.split(",", 8)
        line = Line(Path(path), number, text, [x.strip() for x in fields], _EXPECTED)
        if len(fields) != 9:
            raise line.error(f"{len(fields)} fields")
        values = [float(line.decimal(k)) for k in range(8)]
        words.append(Word(tuple(zip(values[0::2], values[1::2])), fields[8].strip()))
    return words


def _number(path: Path) -> tuple[int, str]:
    found = re.search(r"(\d+)", path.stem)
    return (int(found.group(1)) if found else -1, path.name)


class ICDAR2015(AnnotatedImages):
    """ICDAR 2015 Challenge 4 images with their words (see the module's docstring for the layout).

    Args:
        root: the folder of the download under the data root (default
            ``"icdar2015"``), or an absolute path.
        split: ``"test"`` or ``"train"``.
        transform: as ``AnnotatedImages`` (e.g. ``PreprocessWithBoxes``); the
            words stay in the file's frame (``word_masks`` takes a frame).
        data_root: an explicit data root (``camlib.data.find_data``).

    Attributes:
        layout: the ``(images, ground truth)`` folders found, relative to ``root``.

    Raises:
        FileNotFoundError: no layout of ``LAYOUTS[split]`` under ``root``, or
            a ground-truth file without its image.
        ValueError: an unknown split or a malformed ground-truth line (named).
    """

    def __init__(
        self,
        root: str | os.PathLike = "icdar2015",
        *,
        split: str = "test",
        transform: Transform | None = None,
        data_root: str | os.PathLike | None = None,
    ) -> None:
        if split not in LAYOUTS:
            raise ValueError(f"`split` must be one of {sorted(LAYOUTS)}, but got {split!r}.")
        tried = LAYOUTS[split]
        described = " or ".join(f"{i}/img_<N>.jpg with {g}/gt_img_<N>.txt" for i, g in tried)
        base = find_data(root, root=data_root, layout=f"ICDAR 2015 Challenge 4's layout: {described}")
        found = [(i, g) for i, g in tried if (base / i).is_dir() and (base / g).is_dir()]
        if not found:
            raise FileNotFoundError(f"No ICDAR 2015 {split} split under {str(base)!r}: expected {described}.")
        self.root, self.split, self.layout = base, split, found[0]
        images, gts = base / found[0][0], base / found[0][1]
        # Names in any letter case (gt_img_1.TXT, img_1.JPG): copies made on other systems differ.
        files = sorted((f for f in gts.iterdir() if _GT.fullmatch(f.name) and f.is_file()), key=_number)
        if not files:
            raise FileNotFoundError(f"No ground-truth file (gt_img_<N>.txt) in {str(gts)!r}.")
        by_stem = {f.stem.lower(): f for f in images.iterdir() if f.suffix.lower() in (".jpg", ".jpeg")}
        self._words = [tuple(read_words(f)) for f in files]
        records = [
            Record(
                by_stem.get(f.stem[len("gt_") :].lower(), images / (f.stem[len("gt_") :] + ".jpg")),
                1,
                tuple(word_box(w.quad) for w in words),
                f.stem[len("gt_") :],
                source=repr(str(f)),
            )
            for f, words in zip(files, self._words)
        ]
        require_files(records, listed_in=gts)
        super().__init__(records, ["no text", "text"], transform)

    def words(self, index: int) -> tuple[Word, ...]:
        """The words of image ``index``, in the file's order."""
        return self._words[index]

    def size_of(self, index: int) -> tuple[int, int]:
        """``(H, W)`` of image ``index``'s file (read from its header only)."""
        with Image.open(self.records[index].path) as image:
            return image.height, image.width

    def word_masks(self, index: int, size: tuple[int, int] | None = None, *, legible_only: bool = False) -> Tensor:
        """``BoolTensor[m, H, W]``: each word's quadrilateral filled, in the file's frame or resized to ``size``.

        The corners are scaled by ``size / file size`` along each axis (what a
        resize of the whole image does); a pixel belongs to a word when its
        centre lies inside the quadrilateral (``matplotlib.path.Path``, a
        well-kept point-in-polygon test; PIL's polygon fill rounds the
        corners to whole pixels). ``legible_only`` drops the ``###`` words.
        """
        from matplotlib.path import Path as Polygon

        H0, W0 = self.size_of(index)
        H, W = (H0, W0) if size is None else size
        words = [w for w in self._words[index] if w.legible or not legible_only]
        out = torch.zeros(len(words), H, W, dtype=torch.bool)
        for j, word in enumerate(words):
            corners = np.array([(x * W / W0, y * H / H0) for x, y in word.quad])  # continuous: pixel i spans [i, i+1)
            x1, y1 = (max(0, math.floor(v)) for v in corners.min(0))
            x2, y2 = min(W, math.ceil(corners[:, 0].max())), min(H, math.ceil(corners[:, 1].max()))
            if x2 <= x1 or y2 <= y1:
                continue
            ys, xs = np.mgrid[y1:y2, x1:x2]
            inside = Polygon(corners).contains_points(np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], 1))
            out[j, y1:y2, x1:x2] = torch.from_numpy(inside.reshape(ys.shape))
        return out
