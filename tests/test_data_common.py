"""Tests of camlib.data.common: items, collate, the base dataset, annotation lines."""

from __future__ import annotations

import re

import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, DistributedSampler

from camlib import Preprocess
from camlib.data import AnnotatedImages, Batch, Item, PreprocessWithBoxes, Record, collate
from camlib.data.common import read_lines, require_files


def write_image(path, size, colour=(200, 100, 50)):
    """A solid PNG of PIL size ``(W, H)``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


@pytest.fixture
def dataset(tmp_path) -> AnnotatedImages:
    """Three images: 20 x 10 with two boxes, 8 x 8 with none, 40 x 20 whose boxes refer to 20 x 10."""
    records = [
        Record(write_image(tmp_path / "a.png", (20, 10)), 1, ((0, 0, 19, 9), (3, 2, 5, 4)), "a"),
        Record(write_image(tmp_path / "b.png", (8, 8)), 0, (), "b"),
        Record(write_image(tmp_path / "c.png", (40, 20)), 2, ((10, 5, 19, 9),), "c", box_size=(10, 20)),
    ]
    return AnnotatedImages(records, ["zero", "one", "two"])


def test_items_without_transform(dataset):
    assert len(dataset) == 3 and dataset.labels == [1, 0, 2] and dataset.classes == ["zero", "one", "two"]
    image, label, boxes, image_id, size = dataset[0]
    assert isinstance(image, Image.Image) and image.size == (20, 10) and image.mode == "RGB"
    assert (label, image_id, size) == (1, "a", (10, 20))  # size is (H, W)
    assert boxes.dtype == torch.long and boxes.tolist() == [[0, 0, 19, 9], [3, 2, 5, 4]]
    assert dataset[1].boxes.shape == (0, 4) and dataset[1].boxes.dtype == torch.long
    assert dataset[-1].image_id == "c"
    assert repr(dataset) == "AnnotatedImages(3 images, 3 classes)"


def test_boxes_brought_to_the_file_size(dataset):
    # The record's boxes refer to 20 x 10; the file is 40 x 20: every edge doubles,
    # [10, 20) x [5, 10) -> [20, 40) x [10, 20), i.e. (20, 10, 39, 19).
    assert dataset[2].boxes.tolist() == [[20, 10, 39, 19]] and dataset[2].size == (20, 40)


def test_boxes_that_cross_the_edge_a_little_are_clipped_and_counted(tmp_path):
    # 2 px is the least tolerance: (2, 1, 7, 3) passes a 6-wide image by 2 px, (0, 0, 5, 5) a 4-high one by 2
    record = Record(write_image(tmp_path / "a.png", (6, 4)), 0, ((2, 1, 7, 3), (0, 0, 5, 5), (1, 1, 2, 2)), "a")
    dataset = AnnotatedImages([record], ["x"])
    assert dataset[0].boxes.tolist() == [[2, 1, 5, 3], [0, 0, 5, 3], [1, 1, 2, 2]]
    report = dataset.box_report()
    assert report == (1, 3, 2, 2)
    assert str(report) == "3 boxes of 1 images; 2 crossed the image's edge (by at most 2 px) and were clipped to it"


@pytest.mark.parametrize(
    "box, words",
    [
        (
            (2, 1, 9, 3),
            "crosses the edge of the image (6 x 4) by 4 px: a box may cross it by at most 10% of the side or 2 px",
        ),
        ((6, 0, 8, 3), "lies wholly outside the image (6 x 4): a box must overlap its image"),
        ((0, 4, 2, 5), "lies wholly outside the image (6 x 4)"),
    ],
)
def test_a_box_that_does_not_belong_to_its_image_raises_naming_it(tmp_path, box, words):
    """Never a 1-pixel box in a corner: the image, where the box was read, the box and the size are named."""
    path = write_image(tmp_path / "a.png", (6, 4))
    record = Record(path, 0, (box,), "a", source="line 7 of 'boxes.txt'")
    dataset = AnnotatedImages([record], ["x"])
    for read in (lambda: dataset[0], dataset.box_report):
        with pytest.raises(
            ValueError, match=re.escape(f"The box {box} of {str(path)!r} (line 7 of 'boxes.txt') {words}")
        ):
            read()


def test_the_tolerance_is_a_share_of_the_side(tmp_path):
    # a 320 x 100 image: up to 32 px along x (10%), 10 px along y
    path = write_image(tmp_path / "a.png", (320, 100))
    ok = AnnotatedImages([Record(path, 0, ((59, 33, 340, 99),), "a")], ["x"])
    assert ok[0].boxes.tolist() == [[59, 33, 319, 99]] and ok.box_report().max_crossing == 21
    with pytest.raises(ValueError, match="by 11 px"):
        AnnotatedImages([Record(path, 0, ((0, 0, 10, 110),), "a")], ["x"])[0]


def test_an_image_whose_annotation_gives_another_size_raises_when_exact(tmp_path):
    path = write_image(tmp_path / "a.png", (6, 4))
    exact = Record(path, 0, ((0, 0, 1, 1),), "a", box_size=(8, 12), source="image 7 of 'x.json'", exact_size=True)
    with pytest.raises(ValueError, match=re.escape("is 6 x 4, but its annotation (image 7 of 'x.json') says 12 x 8")):
        AnnotatedImages([exact], ["x"])[0]
    rescaled = Record(path, 0, ((0, 0, 11, 7),), "a", box_size=(8, 12))  # not exact: the boxes follow the file
    assert AnnotatedImages([rescaled], ["x"])[0].boxes.tolist() == [[0, 0, 5, 3]]


def test_transform_moves_the_boxes(dataset):
    dataset.transform = PreprocessWithBoxes((5, 10), "caffe")  # halves 20 x 10
    image, label, boxes, image_id, size = dataset[0]
    assert image.shape == (3, 5, 10) and size == (10, 20)
    # (3, 2, 5, 4): x edges [3, 6) -> [1.5, 3) -> 2 and 3, x2' = 2; y edges [2, 5) -> [1, 2.5) -> 1 and 3, y2' = 2.
    assert boxes.tolist() == [[0, 0, 9, 4], [2, 1, 2, 2]]
    # The third image's boxes go 20 x 10 -> 40 x 20 (the file) -> 10 x 5: (20, 10, 39, 19) has
    # x edges [20, 40) -> [5, 10) and y edges [10, 20) -> [2.5, 5), 2.5 rounding up to 3.
    assert dataset[2].boxes.tolist() == [[5, 3, 9, 4]]


def test_collate_tensors(dataset):
    dataset.transform = PreprocessWithBoxes(4, "caffe")
    batch = collate([dataset[i] for i in range(3)])
    assert isinstance(batch, Batch)
    assert batch.images.shape == (3, 3, 4, 4) and torch.equal(batch.images[1], dataset[1].image)
    assert batch.labels.dtype == torch.long and batch.labels.tolist() == [1, 0, 2]
    assert [b.shape for b in batch.boxes] == [(2, 4), (0, 4), (1, 4)]
    assert batch.image_ids == ["a", "b", "c"]
    assert batch.sizes.dtype == torch.long and batch.sizes.tolist() == [[10, 20], [8, 8], [20, 40]]


def test_collate_pil_images_stay_a_list(dataset):
    batch = collate([dataset[0], dataset[1]])
    assert isinstance(batch.images, list) and [im.size for im in batch.images] == [(20, 10), (8, 8)]


def test_collate_degenerate():
    with pytest.raises(ValueError, match=r"`items` must hold at least one item, but got none"):
        collate([])
    no_boxes = torch.zeros(0, 4, dtype=torch.long)
    items = [Item(torch.zeros(3, 4, 4), 0, no_boxes, "a", (4, 4)), Item(torch.zeros(3, 5, 4), 0, no_boxes, "b", (5, 4))]
    message = "must hold images of one shape to be stacked, but got shapes [(3, 4, 4), (3, 5, 4)]"
    with pytest.raises(ValueError, match=re.escape(message)):
        collate(items)
    one = collate(items[:1])
    assert one.images.shape == (1, 3, 4, 4) and one.sizes.shape == (1, 2)


@pytest.mark.parametrize("workers", [0, 2])
def test_data_loader(dataset, workers):
    # With workers, the dataset and its transform are pickled into the worker processes.
    dataset.transform = PreprocessWithBoxes(6, "torchvision")
    batches = list(DataLoader(dataset, batch_size=2, collate_fn=collate, num_workers=workers))
    # c: (20, 10, 39, 19) on 40 x 20 -> 6 x 6: edges [20, 40) x [10, 20) -> [3, 6) x [3, 6).
    assert [b.image_ids for b in batches] == [["a", "b"], ["c"]]
    assert batches[0].images.shape == (2, 3, 6, 6) and batches[1].boxes[0].tolist() == [[3, 3, 5, 5]]


def test_distributed_sampler_shards_without_overlap(dataset):
    # A plain map-style dataset: DistributedSampler splits its indices across ranks.
    shards = [list(DistributedSampler(dataset, num_replicas=2, rank=r, shuffle=False, drop_last=True)) for r in (0, 1)]
    assert shards == [[0], [1]]
    padded = [list(DistributedSampler(dataset, num_replicas=2, rank=r, shuffle=False)) for r in (0, 1)]
    assert sorted(padded[0] + padded[1]) == [0, 0, 1, 2]  # the sampler pads by repeating the first index


def test_bad_transform(dataset):
    with pytest.raises(TypeError, match=r"use camlib.data.PreprocessWithBoxes\(size, convention\)"):
        AnnotatedImages(dataset.records, dataset.classes, Preprocess(224))
    with pytest.raises(TypeError, match=r"`transform` must be None or a callable \(image, boxes\), but got int"):
        AnnotatedImages(dataset.records, dataset.classes, 224)


def test_unreadable_image_names_the_file(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"not a png")
    dataset = AnnotatedImages([Record(path, 0, (), "broken")], ["x"])
    with pytest.raises(OSError, match=re.escape(f"Could not read the image {str(path)!r}")):
        dataset[0]


def test_require_files(tmp_path):
    records = [Record(write_image(tmp_path / "d" / f"{i}.png", (2, 2)), 0, (), str(i)) for i in range(2)]
    require_files(records, listed_in="list.txt")
    records += [Record(tmp_path / "d" / f"{i}.png", 0, (), str(i)) for i in (7, 8, 9, 10)]
    message = f"Missing images: {tmp_path / 'd'} lacks 4 of the 6 images that 'list.txt' lists for it (7.png, 8.png, 9.png, ...)"
    with pytest.raises(FileNotFoundError, match=re.escape(message)):
        require_files(records, listed_in="list.txt")
    with pytest.raises(FileNotFoundError, match=re.escape(f"{tmp_path / 'nowhere'} lacks 1 of the 1 images")):
        require_files([Record(tmp_path / "nowhere" / "x.png", 0, (), "x")], listed_in="list.txt")


def test_read_lines(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"1 a.jpg\r\n\n  \n2   b.jpg \n")  # CRLF, blank lines, extra spaces
    lines = list(read_lines(path, sep=None, count=2, expected="`<id> <path>`"))
    assert [(line.number, line.fields) for line in lines] == [(1, ["1", "a.jpg"]), (4, ["2", "b.jpg"])]
    assert lines[1].integer(0) == 2 and str(lines[0].decimal(0)) == "1"
    path.write_text("a.jpg, 3 ,4\n")
    (line,) = read_lines(path, sep=",", count=3, expected="x")
    assert line.fields == ["a.jpg", "3", "4"]


@pytest.mark.parametrize(
    "text, parse, why",
    [
        ("1 a.jpg\n2 b.jpg extra\n", None, ""),
        ("1 a.jpg\n2 b\n", lambda line: line.integer(1), " ('b' is not an integer)"),
        ("1 a.jpg\n2 inf\n", lambda line: line.decimal(1), " ('inf' is not a finite number)"),
        ("1 a.jpg\n2 nan\n", lambda line: line.decimal(1), " ('nan' is not a finite number)"),
        ("1 a.jpg\n2 x\n", lambda line: line.decimal(1), " ('x' is not a finite number)"),
        (
            "1 a.jpg\n2 b\n",
            lambda line: line.box([5, 0, 4, 0]),
            " (a box with 0 <= x1 <= x2 and 0 <= y1 <= y2, not (5, 0, 4, 0))",
        ),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, text, parse, why):
    path = tmp_path / "t.txt"
    path.write_text(text)
    lines = list(read_lines(path, sep=None, count=2, expected="`<id> <v>`")) if parse else []
    message = f"Malformed line 2 of {str(path)!r}: expected `<id> <v>`{why}, but got "
    with pytest.raises(ValueError, match=re.escape(message)):
        if parse is None:
            list(read_lines(path, sep=None, count=2, expected="`<id> <v>`"))
        else:
            parse(lines[1])
