"""Tests of camlib.data.folder on a small one-folder-per-class fixture built in tmp_path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from camlib.data import ImageFolder, PreprocessWithBoxes


def make_folder(root: Path) -> Path:
    """cat/a.png (20 x 10), cat/sub/b.jpg (8 x 8), dog/c.PNG (6 x 4), plus files that are not images."""
    for name, size in {
        "cat/a.png": (20, 10),
        "cat/sub/b.jpg": (8, 8),
        "dog/c.PNG": (6, 4),
        ".hidden/x.png": (2, 2),
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, (1, 2, 3)).save(root / name, format="PNG" if name.lower().endswith("png") else "JPEG")
    (root / "dog/notes.txt").write_text("not an image")
    (root / "README").write_text("a file beside the class folders")
    return root


@pytest.fixture
def folder(tmp_path) -> Path:
    return make_folder(tmp_path / "mine")


def test_classes_and_images(folder):
    data = ImageFolder(folder)
    assert data.classes == ["cat", "dog"]  # sorted folders; hidden skipped
    assert [item.image_id for item in data] == ["cat/a.png", "cat/sub/b.jpg", "dog/c.PNG"]
    assert data.labels == [0, 0, 1]
    assert [item.size for item in data] == [(10, 20), (8, 8), (4, 6)]
    assert all(item.boxes.shape == (0, 4) for item in data)


def test_boxes_file(folder):
    # Several boxes for one image, one touching the right and bottom borders; none for the others.
    (folder / "boxes.csv").write_text("cat/a.png,0,0,3,3\ncat/a.png,10,5,19,9\n\ndog/c.PNG,1,1,2,2\n")
    data = ImageFolder(folder, boxes="boxes.csv")
    assert [item.boxes.tolist() for item in data] == [[[0, 0, 3, 3], [10, 5, 19, 9]], [], [[1, 1, 2, 2]]]
    assert len(ImageFolder(folder, boxes=folder / "boxes.csv")) == 3  # an absolute path too
    resized = ImageFolder(folder, boxes="boxes.csv", transform=PreprocessWithBoxes((5, 10)))[0]
    # 20 x 10 halved: (0, 0, 3, 3) -> edges [0, 2) x [0, 2) -> (0, 0, 1, 1); (10, 5, 19, 9) -> edges
    # [5, 10) x [2.5, 5), 2.5 rounding up to 3 -> (5, 3, 9, 4), still on the right and bottom borders.
    assert resized.image.shape == (3, 5, 10) and resized.boxes.tolist() == [[0, 0, 1, 1], [5, 3, 9, 4]]


def test_extensions(folder):
    assert [item.image_id for item in ImageFolder(folder, extensions=(".PNG",))] == ["cat/a.png", "dog/c.PNG"]


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(f"{tmp_path / 'none'} does not exist")) as info:
        ImageFolder(tmp_path / "none")
    assert "one sub-folder of images per class: <class>/<file>.jpg" in str(info.value)


def test_folder_without_images(tmp_path):
    (tmp_path / "root/cat").mkdir(parents=True)
    (tmp_path / "root/cat/readme.txt").write_text("no images here")
    with pytest.raises(
        FileNotFoundError, match=re.escape(f"Could not find any image in {tmp_path / 'root'} (one sub-folder")
    ) as info:
        ImageFolder(tmp_path / "root")
    assert str(info.value).endswith("it has 1 class folder and no image in it.")  # one folder: singular
    (tmp_path / "root/dog").mkdir()
    with pytest.raises(FileNotFoundError, match=r"it has 2 class folders and no image in them\.$"):
        ImageFolder(tmp_path / "root")


def test_flat_folder_of_images_says_what_it_holds_and_what_is_expected(tmp_path):
    root = tmp_path / "flat"
    root.mkdir()
    for i in range(1000):  # a flat folder: the images directly in root, no class folders
        (root / f"{i:04d}.jpg").write_bytes(b"")
    (root / "notes.txt").write_text("not an image")
    with pytest.raises(FileNotFoundError) as info:
        ImageFolder(root)
    assert str(info.value).endswith(
        f"it holds 1,000 images directly but no class sub-folder. Put each class's images in a sub-folder of its own, "
        f"{root}/<class>/<image>; for images without classes, list the flat folder with camlib.data.list_images."
    )
    assert "0 class folders" not in str(info.value)


def test_images_beside_empty_class_folders_are_counted(tmp_path):
    root = tmp_path / "mixed"
    (root / "cat").mkdir(parents=True)
    Image.new("RGB", (2, 2)).save(root / "a.png")
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(
            "it has 1 class folder and no image in it, and 1 image directly in it, outside any class folder. "
            f"Put each class's images in a sub-folder of its own, {root}/<class>/<image>"
        ),
    ):
        ImageFolder(root)


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"it holds no image and no class sub-folder\.$"):
        ImageFolder(tmp_path / "empty")


def test_missing_boxes_file(folder):
    with pytest.raises(FileNotFoundError, match=re.escape(f"but {str(folder / 'boxes.csv')!r} does not exist")):
        ImageFolder(folder, boxes="boxes.csv")


@pytest.mark.parametrize(
    "line, why",
    [
        ("cat/a.png,1,2,3", ""),
        ("cat/a.png,1,2,3,four", " ('four' is not an integer)"),
        ("cat/zzz.png,1,2,3,4", " (the id of an image under {root}, such as 'cat/a.png')"),
    ],
)
def test_malformed_boxes_line(folder, line, why):
    path = folder / "boxes.csv"
    path.write_text("cat/a.png,0,0,3,3\n" + line + "\n")
    message = f"Malformed line 2 of {str(path)!r}: expected `<image_id>,<x1>,<y1>,<x2>,<y2>`{why.format(root=folder)}, but got {line!r}"
    with pytest.raises(ValueError, match=re.escape(message)):
        ImageFolder(folder, boxes="boxes.csv")


def test_an_empty_class_folder_is_refused_not_given_a_label(folder):
    """torchvision's ImageFolder refuses it too: an empty class would take a label no image has."""
    (folder / "bird").mkdir()
    (folder / "bird" / "notes.txt").write_text("no image")
    with pytest.raises(
        ValueError, match=r"must hold an image .* but 1 hold none \('bird'\): an empty class would still take a label"
    ):
        ImageFolder(folder)


def test_a_symbolic_link_loop_is_refused_not_listed_again_and_again(folder):
    (folder / "cat" / "sub" / "again").symlink_to(folder / "cat", target_is_directory=True)
    with pytest.raises(ValueError, match=r"holds a symbolic link loop: .*again' is .*cat' again"):
        ImageFolder(folder)
    (folder / "cat" / "sub" / "again").unlink()
    (folder / "cat" / "elsewhere").symlink_to(folder / "dog", target_is_directory=True)  # a link, not a loop
    assert [i.image_id for i in ImageFolder(folder)] == [
        "cat/a.png",
        "cat/elsewhere/c.PNG",
        "cat/sub/b.jpg",
        "dog/c.PNG",
    ]
