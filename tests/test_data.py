"""Tests of camlib.data: finding the data folder and reading images."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from camlib.data import DATA_ENV, DataAbsent, data_roots, find_data, read_image

HINT = r"set \$CAMLIB_DATA to its folder, or pass the notebook parameter `data_root`"


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)


@pytest.fixture
def samples(tmp_path) -> Path:
    """``tmp_path/root/cam-samples`` holding ``a.png`` and ``labels.txt``."""
    folder = tmp_path / "root" / "cam-samples"
    folder.mkdir(parents=True)
    (folder / "a.png").write_bytes(b"")
    (folder / "labels.txt").write_text("a 1\n")
    return folder


def test_explicit_root(samples, monkeypatch):
    monkeypatch.setenv(DATA_ENV, "/does/not/matter")  # an explicit root wins over the variable
    root = samples.parent
    assert find_data("cam-samples", root=root) == samples
    assert find_data("cam-samples", root=str(root), expect=["a.png", "labels.txt"]) == samples
    assert find_data("cam-samples/a.png", root=root) == samples / "a.png"
    assert data_roots(root) == [root]


def test_environment_variable(samples, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(samples.parent))
    assert find_data("cam-samples") == samples
    assert find_data("cam-samples", root="") == samples  # "" means the defaults
    assert data_roots() == [samples.parent]


def test_default_roots(no_env, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    roots = data_roots()
    assert roots[0] == Path(__file__).resolve().parents[1] / "data"  # the repository's data/
    assert tmp_path / "data" in roots
    assert all(r.is_absolute() for r in roots) and len(set(roots)) == len(roots)


def test_default_root_in_current_directory(no_env, monkeypatch, tmp_path):
    (tmp_path / "data" / "only-here-for-this-test").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert find_data("only-here-for-this-test") == tmp_path / "data" / "only-here-for-this-test"


def test_missing_folder(tmp_path, no_env):
    root = tmp_path / "root"
    looked_at = root / "cam-samples"
    with pytest.raises(DataAbsent, match=re.escape(f"{looked_at} does not exist")) as info:
        find_data("cam-samples", root=root)
    message = str(info.value)
    assert message == (
        f"Could not find the data 'cam-samples': {looked_at} does not exist. "
        f"Put the data under the data root given, {root}, or give another root."
    )
    assert "$CAMLIB_DATA" not in message and "data/" not in message  # the root was given: no advice on the defaults


def test_missing_folder_every_root_named(tmp_path, no_env, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = "no-such-dataset-for-camlib-tests"
    with pytest.raises(FileNotFoundError, match=HINT) as info:
        find_data(name)
    for root in data_roots():
        assert f"{root / name} does not exist" in str(info.value)
    assert "ln -s /path/to/data data" in str(info.value)  # only the defaults' case advises on them


def test_missing_folder_with_env(tmp_path, monkeypatch):
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "elsewhere"))
    with pytest.raises(DataAbsent, match=re.escape(f"{tmp_path / 'elsewhere' / 'cam-samples'} does not exist")):
        find_data("cam-samples")


@pytest.mark.parametrize("made, problem", [(False, "does not exist"), (True, "is not a folder")])
def test_a_mistyped_environment_variable_is_an_error_not_absent_data(tmp_path, monkeypatch, made, problem):
    """$CAMLIB_DATA is checked like the `data_root` parameter: a typo stops the run instead of reading as absent."""
    wrong = tmp_path / "shraed-data"
    if made:
        wrong.write_text("")
    monkeypatch.setenv(DATA_ENV, str(wrong))
    with pytest.raises(
        ValueError,
        match=re.escape(f"$CAMLIB_DATA must name the data folder (or be unset), but {str(wrong)!r} {problem}."),
    ):
        find_data("cam-samples")


def test_expect_lists_missing_files(samples, no_env):
    with pytest.raises(FileNotFoundError, match=re.escape(f"{samples} lacks b.png, boxes.csv")) as info:
        find_data("cam-samples", root=samples.parent, expect=["a.png", "b.png", "labels.txt", "boxes.csv"])
    assert "Could not find the data 'cam-samples' (with a.png, b.png, labels.txt, boxes.csv)" in str(info.value)
    assert not isinstance(info.value, DataAbsent)  # a copy that is there but incomplete is not absent data
    assert str(info.value).endswith("The data are there but incomplete: restore the missing files.")
    with pytest.raises(FileNotFoundError, match=r"Could not find the data 'cam-samples' \(images/ and boxes.csv\)"):
        find_data("cam-samples", root=samples.parent, expect=["boxes.csv"], layout="images/ and boxes.csv")


def test_absolute_path_taken_as_is(samples, monkeypatch):
    monkeypatch.setenv(DATA_ENV, "/somewhere/else")
    assert find_data(samples, root="/ignored") == samples
    assert find_data(str(samples), expect=["a.png"]) == samples
    missing = samples.parent / "gone"
    with pytest.raises(
        FileNotFoundError, match=re.escape(f"Could not find the data {str(missing)!r}: {missing} does not exist")
    ) as info:
        find_data(missing, root=samples.parent)
    assert str(info.value).endswith("An absolute path is taken as it is, not looked up under the data roots: check it.")
    assert "$CAMLIB_DATA" not in str(info.value) and "data/" not in str(info.value)


def test_read_image_png(tmp_path):
    pixels = np.zeros((3, 5, 4), dtype=np.uint8)  # (H, W, RGBA)
    pixels[..., 0] = np.arange(5) * 50  # red ramp along x
    pixels[1, 2] = (10, 20, 30, 255)
    pixels[..., 3] = 255
    path = tmp_path / "ramp.png"
    Image.fromarray(pixels, "RGBA").save(path)
    image = read_image(path)
    assert image.mode == "RGB" and image.size == (5, 3)  # (W, H)
    assert np.array_equal(np.asarray(image), pixels[..., :3])
    assert read_image(str(path)).size == (5, 3)


def test_read_image_grey_is_rgb(tmp_path):
    path = tmp_path / "grey.png"
    Image.new("L", (4, 2), 77).save(path)
    image = read_image(path)
    assert image.mode == "RGB" and image.getpixel((3, 1)) == (77, 77, 77)


def test_read_image_missing(tmp_path):
    path = tmp_path / "nope.jpg"
    with pytest.raises(
        FileNotFoundError, match=re.escape(f"`path` must be an image file, but {str(path)!r} does not exist")
    ):
        read_image(path)
    with pytest.raises(FileNotFoundError, match=r"`path` must be an image file"):
        read_image(tmp_path)  # a folder is not an image file


def test_read_image_corrupt(tmp_path):
    path = tmp_path / "fake.jpg"
    path.write_bytes(b"this is not an image at all\n" * 10)
    with pytest.raises(OSError, match=re.escape(f"Could not read the image {str(path)!r}")) as info:
        read_image(path)
    assert not isinstance(info.value, FileNotFoundError)


def test_read_image_truncated(tmp_path):
    # A PNG cut in half: the header opens, the pixel data does not decode.
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(good)
    path = tmp_path / "truncated.png"
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(OSError, match=re.escape(f"Could not read the image {str(path)!r}")):
        read_image(path)
