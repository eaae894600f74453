"""camlib.data.images.list_images: which files of a folder are photos, in which order."""

from __future__ import annotations

import pytest

from camlib.data import IMAGE_SUFFIXES, list_images


def _touch(folder, *names):
    for name in names:
        (folder / name).write_bytes(b"")


def test_images_sorted_by_name_any_letter_case(tmp_path):
    _touch(tmp_path, "img2.jpg", "img10.jpg", "B.PNG", "a.jpeg", "notes.txt", "img1.JPG", "raw.tif")
    (tmp_path / "sub.jpg").mkdir()  # a folder named like a photo is not one
    (tmp_path / "sub.jpg" / "inner.jpg").write_bytes(b"")  # nor are files in sub-folders listed
    # string order of the names: upper case before lower, "img10" before "img2"
    assert [p.name for p in list_images(tmp_path)] == ["B.PNG", "a.jpeg", "img1.JPG", "img10.jpg", "img2.jpg"]
    assert all(p.parent == tmp_path for p in list_images(tmp_path))
    assert IMAGE_SUFFIXES == (".jpg", ".jpeg", ".png")


def test_chosen_suffixes(tmp_path):
    _touch(tmp_path, "a.jpg", "b.png", "c.TIF")
    assert [p.name for p in list_images(tmp_path, [".png", ".tif"])] == ["b.png", "c.TIF"]
    assert [p.name for p in list_images(str(tmp_path), {".PNG"})] == ["b.png"]  # suffixes in any case, a str path


def test_a_folder_without_images_names_folder_and_suffixes(tmp_path):
    _touch(tmp_path, "notes.txt")
    with pytest.raises(FileNotFoundError, match=r"holds no image file \(\.jpg, \.jpeg, \.png\)") as err:
        list_images(tmp_path)
    assert str(tmp_path) in str(err.value)


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"`folder` must be a folder of images, but .*nowhere' is not a folder"):
        list_images(tmp_path / "nowhere")
    _touch(tmp_path, "a.jpg")
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        list_images(tmp_path / "a.jpg")


def test_bad_suffixes(tmp_path):
    with pytest.raises(TypeError, match=r"`suffixes` must be a collection of suffixes .* but got '\.jpg'"):
        list_images(tmp_path, ".jpg")
    with pytest.raises(ValueError, match=r"`suffixes` must hold suffixes with their dot, .* but got \['jpg'\]"):
        list_images(tmp_path, ["jpg"])
    with pytest.raises(ValueError, match=r"but got \[\]"):
        list_images(tmp_path, [])
