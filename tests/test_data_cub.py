"""Tests of camlib.data.cub on a small CUB-200-2011-layout fixture built in tmp_path."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import requires_data
from PIL import Image

from camlib.data import CUB, PreprocessWithBoxes, cub_box

CLASSES = {1: "001.Black_footed_Albatross", 2: "002.Laysan_Albatross", 3: "003.Sooty_Albatross"}
# CUB image id: (path under images/, PIL size (W, H), class id, is_training_image, "x y width height").
IMAGES = {
    1: ("001.Black_footed_Albatross/a_0001.jpg", (50, 40), 1, 0, "10.0 5.0 20.0 30.0"),
    2: ("001.Black_footed_Albatross/a_0002.jpg", (50, 40), 1, 1, "0.0 0.0 50.0 40.0"),
    3: ("002.Laysan_Albatross/b_0003.jpg", (30, 20), 2, 1, "2.5 3.4 10.1 6.5"),
    4: ("003.Sooty_Albatross/c_0004.jpg", (30, 20), 3, 0, "21.0 12.0 11.3 9.0"),
    5: ("003.Sooty_Albatross/c_0005.jpg", (30, 20), 3, 1, "7.0 7.0 0.2 0.2"),
}
# The boxes as the reader must return them (inclusive, clipped), worked by hand:
BOXES = {
    1: [10, 5, 29, 34],  # edges [10, 30) x [5, 35): 20 x 30 pixels
    2: [0, 0, 49, 39],  # the whole 50 x 40 image: touches every border
    3: [3, 3, 12, 9],  # x edges 2.5 -> 3 (halves up), 12.6 -> 13; y edges 3.4 -> 3, 9.9 -> 10
    4: [21, 12, 29, 19],  # edges 32.3 -> 32 and 21 pass the 30 x 20 image: clipped to x2 = 29, y2 = 19
    5: [7, 7, 7, 7],  # 0.2 pixel wide: edges 7 and 7.2 -> 7 and 7; keeps one pixel
}


def make_cub(root: Path, images=IMAGES, classes=CLASSES) -> Path:
    """The CUB_200_2011 layout, files listing the images in reverse id order."""
    root.mkdir(parents=True)
    order = sorted(images, reverse=True)
    (root / "classes.txt").write_text("".join(f"{c} {name}\n" for c, name in classes.items()))
    (root / "images.txt").write_text("".join(f"{i} {images[i][0]}\n" for i in order))
    (root / "image_class_labels.txt").write_text("".join(f"{i} {images[i][2]}\n" for i in order))
    (root / "train_test_split.txt").write_text("".join(f"{i} {images[i][3]}\n" for i in order))
    (root / "bounding_boxes.txt").write_text("".join(f"{i} {images[i][4]}\n" for i in order))
    for i, (path, size, *_) in images.items():
        (root / "images" / path).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, (10 * i, 50, 90)).save(root / "images" / path)
    return root


@pytest.fixture
def cub(tmp_path) -> Path:
    return make_cub(tmp_path / "CUB_200_2011")


@pytest.mark.parametrize("split, ids", [("all", [1, 2, 3, 4, 5]), ("train", [2, 3, 5]), ("test", [1, 4])])
def test_split_labels_and_boxes_exactly(cub, split, ids):
    data = CUB(cub, split=split)
    assert len(data) == len(ids) and data.split == split
    assert data.classes == ["001.Black_footed_Albatross", "002.Laysan_Albatross", "003.Sooty_Albatross"]
    assert [item.image_id for item in data] == [IMAGES[i][0] for i in ids]  # CUB's id order
    for item, i in zip(data, ids):
        path, size, class_id, _, _ = IMAGES[i]
        assert item.label == class_id - 1 and item.image.size == size and item.size == (size[1], size[0])
        assert item.boxes.tolist() == [BOXES[i]]


def test_labels_follow_classes_txt_for_a_subset(tmp_path):
    # A subset holding classes 3 and 7 only: labels are their positions, 0 and 1.
    images = {10: ("x/a.jpg", (8, 8), 7, 1, "0 0 4 4"), 11: ("y/b.jpg", (8, 8), 3, 1, "1 1 2 2")}
    root = make_cub(tmp_path / "c", images, {3: "003.Sooty", 7: "007.Parakeet"})
    data = CUB(root, split="all")
    assert data.classes == ["003.Sooty", "007.Parakeet"] and data.labels == [1, 0]


def test_transform_resizes_image_and_boxes(cub):
    item = CUB(cub, split="test", transform=PreprocessWithBoxes((80, 25), "torchvision"))[0]
    # 50 x 40 -> 25 x 80: x halved, y doubled. (10, 5, 29, 34): x edges [10, 30) -> [5, 15);
    # y edges [5, 35) -> [10, 70).
    assert item.image.shape == (3, 80, 25) and item.boxes.tolist() == [[5, 10, 14, 69]]


@pytest.mark.parametrize(
    "x, y, w, h, box",
    [
        ("60.0", "27.0", "325.0", "304.0", (60, 27, 384, 330)),  # whole pixels: w pixels wide
        ("0.5", "1.5", "1.0", "1.0", (1, 2, 1, 2)),  # halves go up: edges 1 and 2
        ("0.49", "0.51", "2.0", "2.0", (0, 1, 1, 2)),  # edges 0.49 -> 0, 2.49 -> 2; 0.51 -> 1, 2.51 -> 3
        ("3.0", "3.0", "0.1", "0.1", (3, 3, 3, 3)),  # less than a pixel: one pixel
        (38.4, 17.2, 208.0, 194.2, (38, 17, 245, 210)),  # floats are read as their decimal text
    ],
)
def test_cub_box(x, y, w, h, box):
    assert cub_box(x, y, w, h) == box


def test_relative_root_under_data_root(cub):
    assert len(CUB("CUB_200_2011", split="all", data_root=cub.parent)) == 5


def test_missing_folder(tmp_path):
    looked_at = tmp_path / "CUB_200_2011"
    with pytest.raises(FileNotFoundError, match=re.escape(f"{looked_at} does not exist")) as info:
        CUB(looked_at, split="all")
    layout = (
        "the CUB-200-2011 layout: images.txt, image_class_labels.txt, train_test_split.txt, "
        "bounding_boxes.txt, classes.txt, images/<class>/<file>.jpg"
    )
    assert layout in str(info.value)


@pytest.mark.parametrize("name", ["bounding_boxes.txt", "images"])
def test_incomplete_folder(cub, name):
    path = cub / name
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(f"{cub} lacks {name}")):
        CUB(cub, split="all")


def test_missing_image(cub):
    (cub / "images/003.Sooty_Albatross/c_0004.jpg").unlink()
    message = f"{cub / 'images/003.Sooty_Albatross'} lacks 1 of the 2 images that {str(cub / 'images.txt')!r} lists for it (c_0004.jpg)"
    with pytest.raises(FileNotFoundError, match=re.escape(message)):
        CUB(cub, split="all")
    assert len(CUB(cub, split="train")) == 3  # the train split does not need it


BOX = "`<image_id> <x> <y> <width> <height>` with a positive width and height"


@pytest.mark.parametrize(
    "name, line, expected",
    [
        ("bounding_boxes.txt", "6 1.0 2.0 3.0", BOX),
        ("bounding_boxes.txt", "6 1.0 2.0 0.0 3.0", BOX),
        ("bounding_boxes.txt", "6 1.0 2.0 three 3.0", BOX + " ('three' is not a finite number)"),
        ("train_test_split.txt", "6 2", "`<image_id> <is_training_image>` (0 or 1)"),
        ("image_class_labels.txt", "six 1", "`<image_id> <class_id>` ('six' is not an integer)"),
        (
            "images.txt",
            "5 003.Sooty_Albatross/again.jpg",
            "`<image_id> <image path>` (each image once; image 5 is on an earlier line too)",
        ),
        ("classes.txt", "4", "`<class_id> <class name>`"),
    ],
)
def test_malformed_line(cub, name, line, expected):
    path = cub / name
    path.write_text(path.read_text() + line + "\n")
    number = len(path.read_text().splitlines())
    with pytest.raises(
        ValueError, match=re.escape(f"Malformed line {number} of {str(path)!r}: expected {expected}, but got {line!r}")
    ):
        CUB(cub, split="all")


def test_image_missing_from_a_file(cub):
    path = cub / "bounding_boxes.txt"
    path.write_text("".join(line + "\n" for line in path.read_text().splitlines() if not line.startswith("3 ")))
    message = f"{str(path)!r} must have a line for every image of images.txt, but it has none for image 3 (002.Laysan_Albatross/b_0003.jpg)"
    with pytest.raises(ValueError, match=re.escape(message)):
        CUB(cub, split="all")


def test_unknown_class(cub):
    (cub / "classes.txt").write_text("1 001.Black_footed_Albatross\n2 002.Laysan_Albatross\n")
    message = f"gives image 4 the class 3, which {str(cub / 'classes.txt')!r} does not list"
    with pytest.raises(ValueError, match=re.escape(message)):
        CUB(cub, split="all")


def test_bad_split(cub):
    with pytest.raises(ValueError, match=r"`split` must be one of 'train', 'test', 'all', but got 'val'"):
        CUB(cub, split="val")
    with pytest.raises(TypeError, match=r"missing 1 required keyword-only argument: 'split'"):
        CUB(cub)


# --- part locations ------------------------------------------------------------------------


def _write_parts(root: Path, locs: str) -> None:
    (root / "parts").mkdir()
    (root / "parts" / "parts.txt").write_text("1 back\n2 beak\n3 left eye\n")
    (root / "parts" / "part_locs.txt").write_text(locs)


LOCS = "1 1 12.5 7.0 1\n1 2 0.0 0.0 0\n1 3 20.25 9.75 1\n4 2 3.0 4.0 1\n2 1 1.0 1.0 1\n"


def test_part_locations_by_image_and_part(cub):
    _write_parts(cub, LOCS)
    data = CUB(cub, split="test")  # CUB images 1 and 4
    assert data.part_names == ["back", "beak", "left eye"]  # names with spaces kept whole
    assert data.parts(0).tolist() == [[12.5, 7.0, 1.0], [0.0, 0.0, 0.0], [20.25, 9.75, 1.0]]
    assert data.parts(1).tolist() == [[0.0, 0.0, 0.0], [3.0, 4.0, 1.0], [0.0, 0.0, 0.0]]  # unlisted: invisible
    # image 1 is 50 x 40: to 100 x 20 the columns double and the rows halve
    assert data.parts(0, size=(20, 100)).tolist() == [[25.0, 3.5, 1.0], [0.0, 0.0, 0.0], [40.5, 4.875, 1.0]]
    everything = CUB(cub, split="all")
    assert everything.parts(1).tolist()[0] == [1.0, 1.0, 1.0] and everything.parts(2).sum() == 0


@pytest.mark.parametrize(
    ("locs", "message"),
    [
        ("1 9 1.0 1.0 1\n", r"a part id of parts.txt, not 9"),
        ("1 1 1.0 1.0 2\n", r"visible 0 or 1"),
        ("1 1 1.0 1.0 0\n1 1 2.0 2.0 1\n", r"line 2 .*each part once per image; part 1 of image 1"),
        ("1 1 1.0 one 1\n", r"'one' is not a finite number"),
    ],
)
def test_part_errors_name_the_line(cub, locs, message):
    _write_parts(cub, locs)
    with pytest.raises(ValueError, match=message):
        CUB(cub, split="test").parts(0)


def test_parts_need_the_folder(cub):
    with pytest.raises(FileNotFoundError, match=r"has no parts.txt under parts/"):
        CUB(cub, split="test").parts(0)


@pytest.mark.realdata
@requires_data("cub-200-2011-50cls/CUB_200_2011/parts")
def test_the_studys_part_locations():
    data = CUB(split="all")
    assert len(data.part_names) == 15 and data.part_names[1] == "beak"
    parts = [data.parts(i) for i in range(len(data))]
    visible = sum(int(p[:, 2].sum()) for p in parts)
    assert visible == 33701  # the data README's count
    for i in (0, 100, 2000):  # visible parts lie inside their image
        H, W = data[i].size
        p = parts[i][parts[i][:, 2] > 0]
        assert bool(((p[:, 0] >= 0) & (p[:, 0] <= W) & (p[:, 1] >= 0) & (p[:, 1] <= H)).all())
