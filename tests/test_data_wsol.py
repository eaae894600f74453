"""Tests of camlib.data.wsol on small wsolevaluation-metadata fixtures built in tmp_path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from camlib.data import CUB, WSOLDataset

# image id: (PIL size (W, H) of the file, label, (w, h) in image_sizes.txt, boxes in localization.txt)
IMAGES = {
    "b/2.png": ((40, 30), 1, (40, 30), [(0, 0, 39, 29), (5, 6, 7, 8)]),  # several boxes, on every border
    "a/1.png": ((20, 10), 0, (20, 10), [(2, 3, 4, 5)]),
    "a/3.png": ((20, 10), 0, (40, 20), [(10, 4, 29, 13)]),  # a downscaled copy: boxes halve
    "c/4.png": ((8, 8), 2, (8, 8), []),  # no box
}


def make_wsol(root: Path, images=IMAGES) -> tuple[Path, Path]:
    """``root/metadata`` (the four files, images in the dict's order) and ``root/images``."""
    meta, folder = root / "metadata", root / "images"
    meta.mkdir(parents=True)
    (meta / "image_ids.txt").write_text("".join(f"{i}\n" for i in images))
    (meta / "class_labels.txt").write_text("".join(f"{i},{label}\n" for i, (_, label, _, _) in images.items()))
    (meta / "image_sizes.txt").write_text("".join(f"{i},{w},{h}\n" for i, (_, _, (w, h), _) in images.items()))
    lines = [f"{i},{x1},{y1},{x2},{y2}\n" for i, (_, _, _, boxes) in images.items() for x1, y1, x2, y2 in boxes]
    (meta / "localization.txt").write_text("".join(lines))
    for i, (size, *_) in images.items():
        (folder / i).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, (30, 60, 90)).save(folder / i)
    return meta, folder


@pytest.fixture
def wsol(tmp_path) -> tuple[Path, Path]:
    return make_wsol(tmp_path)


def test_labels_and_boxes_exactly(wsol):
    data = WSOLDataset(*wsol)
    assert [item.image_id for item in data] == list(IMAGES)  # image_ids.txt's order
    assert data.labels == [1, 0, 0, 2] and data.classes == ["0", "1", "2"]
    b2, a1, a3, c4 = data
    assert b2.boxes.tolist() == [[0, 0, 39, 29], [5, 6, 7, 8]] and b2.size == (30, 40)
    assert a1.boxes.tolist() == [[2, 3, 4, 5]]
    # The boxes refer to 40 x 20, the file is 20 x 10: edges [10, 30) x [4, 14) -> [5, 15) x [2, 7).
    assert a3.boxes.tolist() == [[5, 2, 14, 6]] and a3.size == (10, 20)
    assert c4.boxes.shape == (0, 4)


def test_same_boxes_as_the_cub_reader_up_to_its_convention(tmp_path):
    # wsolevaluation writes CUB's (x, y, w, h) as x, y, x + w, y + h; camlib.data.CUB reads
    # the same box as x, y, x + w - 1, y + h - 1 (w pixels wide).
    root = tmp_path / "CUB_200_2011"
    (root / "images/001.A").mkdir(parents=True)
    Image.new("RGB", (50, 40)).save(root / "images/001.A/a.jpg")
    for name, text in {
        "images.txt": "1 001.A/a.jpg",
        "image_class_labels.txt": "1 1",
        "train_test_split.txt": "1 0",
        "bounding_boxes.txt": "1 10.0 5.0 20.0 30.0",
        "classes.txt": "1 001.A",
    }.items():
        (root / name).write_text(text + "\n")
    meta = tmp_path / "metadata"
    meta.mkdir()
    for name, text in {
        "image_ids.txt": "001.A/a.jpg",
        "class_labels.txt": "001.A/a.jpg,0",
        "image_sizes.txt": "001.A/a.jpg,50,40",
        "localization.txt": "001.A/a.jpg,10,5,30,35",
    }.items():
        (meta / name).write_text(text + "\n")
    cub, wsol = CUB(root, split="test")[0], WSOLDataset(meta, root / "images")[0]
    assert (cub.image_id, cub.label) == (wsol.image_id, wsol.label)
    assert cub.boxes.tolist() == [[10, 5, 29, 34]] and wsol.boxes.tolist() == [[10, 5, 30, 35]]


def test_relative_folders_under_data_root(wsol, tmp_path):
    assert len(WSOLDataset("metadata", "images", data_root=tmp_path)) == 4


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(f"{tmp_path / 'metadata'} does not exist")) as info:
        WSOLDataset(tmp_path / "metadata", tmp_path / "images")
    assert "wsolevaluation's metadata: image_ids.txt, class_labels.txt, image_sizes.txt, localization.txt" in str(
        info.value
    )


def test_incomplete_folder(wsol):
    meta, images = wsol
    (meta / "image_sizes.txt").unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(f"{meta} lacks image_sizes.txt")):
        WSOLDataset(meta, images)


def test_missing_image_folder_and_image(wsol, tmp_path):
    meta, images = wsol
    with pytest.raises(FileNotFoundError, match=re.escape(f"{tmp_path / 'elsewhere'} does not exist")):
        WSOLDataset(meta, tmp_path / "elsewhere")
    (images / "a/3.png").unlink()
    message = f"{images / 'a'} lacks 1 of the 2 images that {str(meta / 'image_ids.txt')!r} lists for it (3.png)"
    with pytest.raises(FileNotFoundError, match=re.escape(message)):
        WSOLDataset(meta, images)


BOXES = "`<path>,<x1>,<y1>,<x2>,<y2>`"


@pytest.mark.parametrize(
    "name, line, expected",
    [
        ("localization.txt", "a/1.png,a/1_mask.png,ignore.png", BOXES),  # OpenImages' masks
        ("localization.txt", "a/1.png,1,2,3,x", BOXES + " ('x' is not an integer)"),
        (
            "localization.txt",
            "a/1.png,1,2,0,3",
            BOXES + " (a box with 0 <= x1 <= x2 and 0 <= y1 <= y2, not (1, 2, 0, 3))",
        ),
        ("localization.txt", "z/9.png,1,2,3,4", BOXES + " (a box of an image listed in image_ids.txt)"),
        ("class_labels.txt", "a/1.png,-1", "`<path>,<label>` (a label >= 0)"),
        ("class_labels.txt", "a/1.png", "`<path>,<label>`"),
        ("image_sizes.txt", "a/1.png,0,10", "`<path>,<w>,<h>` (a positive width and height)"),
        ("image_ids.txt", "a/1.png", "`<path>` (each image once; it is also on line 2)"),
        ("image_ids.txt", "a/1.png,0", "`<path>`"),
    ],
)
def test_malformed_line(wsol, name, line, expected):
    meta, images = wsol
    path = meta / name
    path.write_text(path.read_text() + line + "\n")
    number = len(path.read_text().splitlines())
    with pytest.raises(
        ValueError, match=re.escape(f"Malformed line {number} of {str(path)!r}: expected {expected}, but got {line!r}")
    ):
        WSOLDataset(meta, images)


def test_image_without_label(wsol):
    meta, images = wsol
    path = meta / "class_labels.txt"
    path.write_text(path.read_text().replace("a/3.png,0\n", ""))
    message = (
        f"{str(path)!r} must have a line for every image of image_ids.txt, but it has none for 'a/3.png' "
        f"(line 3 of {str(meta / 'image_ids.txt')!r})"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        WSOLDataset(meta, images)
