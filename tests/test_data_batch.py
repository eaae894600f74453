"""Tests of camlib.data.batch: one Batch type for every dataset, made by one collate."""

from __future__ import annotations

import re
from typing import NamedTuple

import pytest
import torch
from torch import Tensor
from torch.utils.data import DataLoader

import camlib.data
import camlib.data.synthetic
from camlib.data import Batch, Item, collate
from camlib.data.batch import FIELDS, check_batch
from camlib.data.synthetic import FineGrained, Localization, Scenes, SortOfClevr, Text
from camlib.study.training import Squares

NO_BOXES = torch.zeros(0, 4, dtype=torch.long)


def test_one_collate_for_real_and_synthetic_data():
    # Notebooks import either name: they must be the very same function.
    assert camlib.data.synthetic.collate is camlib.data.collate is collate


def test_real_items():
    a = Item(torch.zeros(3, 2, 2), 4, torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]]), "a", (5, 5))
    b = Item(torch.ones(3, 2, 2), 7, NO_BOXES, "b", (6, 8))
    batch = collate([a, b])
    assert batch.images.shape == (2, 3, 2, 2) and torch.equal(batch.images[1], b.image)
    assert batch.labels.dtype == torch.long and batch.labels.tolist() == [4, 7]
    assert [x.tolist() for x in batch.boxes] == [[[0, 0, 1, 1], [1, 1, 1, 1]], []]
    assert batch.image_ids == ["a", "b"] and batch.sizes.tolist() == [[5, 5], [6, 8]]
    # The fields that real items lack are None.
    assert (batch.masks, batch.parts, batch.box_labels, batch.words) == (None, None, None, None)
    assert (batch.questions, batch.question_types, batch.objects) == (None, None, None)
    assert len(batch) == 2


def test_squares_items():
    data = Squares(3, size=16)
    batch = collate([data[i] for i in range(3)])
    assert batch.images.shape == (3, 3, 16, 16) and batch.labels.tolist() == [data[i].label for i in range(3)]
    assert [b.shape for b in batch.boxes] == [(1, 4)] * 3 and batch.image_ids == ["0", "1", "2"]
    assert batch.sizes.tolist() == [[16, 16]] * 3 and batch.masks is None


@pytest.mark.parametrize("benchmark", [Localization, FineGrained])
def test_object_items(benchmark):
    data = benchmark(3, seed=0, image_size=32, num_classes=3, scale=(0.4, 0.8))
    items = [data[i] for i in range(3)]
    batch = collate(items)
    assert batch.images.shape == (3, 3, 32, 32) and batch.labels.tolist() == [it.label for it in items]
    # Boxes stay a list even though every image has one: a field has one type whatever the batch.
    assert isinstance(batch.boxes, list) and [b.shape for b in batch.boxes] == [(1, 4)] * 3
    # The one object mask (H, W) becomes (1, H, W): masks[i][j] is the mask of boxes[i][j].
    assert [m.shape for m in batch.masks] == [(1, 32, 32)] * 3 and torch.equal(batch.masks[2][0], items[2].mask)
    assert [torch.equal(p, it.parts) for p, it in zip(batch.parts, items)] == [True] * 3
    assert batch.image_ids is None and batch.sizes is None and batch.words is None


def test_scene_items():
    data = Scenes(2, seed=0)
    items = [data[i] for i in range(2)]
    batch = collate(items)
    assert batch.labels.tolist() == [it.label for it in items]  # the scene class
    # The objects' categories (SceneItem.labels) become box_labels, one tensor per image.
    assert [torch.equal(b, it.labels) for b, it in zip(batch.box_labels, items)] == [True, True]
    assert [m.shape[0] for m in batch.masks] == [len(b) for b in batch.boxes] == [len(it.boxes) for it in items]


def test_text_items():
    data = Text(4, seed=0, image_size=32, negatives=0.5)
    items = [data[i] for i in range(4)]
    batch = collate(items)
    assert batch.words == [it.words for it in items]
    assert [len(w) for w in batch.words] == [len(b) for b in batch.boxes] == [len(m) for m in batch.masks]


def test_vqa_items():
    items = [SortOfClevr(3, seed=0)[i] for i in range(3)]
    batch = collate(items)
    # The answer is what the network predicts: it is the label.
    assert batch.labels.dtype == torch.long and batch.labels.tolist() == [it.answer for it in items]
    assert batch.questions == [it.question for it in items]
    assert batch.question_types.tolist() == [it.question_type for it in items]
    assert [m.shape for m in batch.masks] == [(1, 64, 64)] * 3
    assert batch.objects == [it.objects for it in items]


def test_a_namedtuple_of_known_fields_is_an_item():
    class Pair(NamedTuple):
        image: Tensor
        label: int

    batch = collate([Pair(torch.zeros(3, 4, 4), 1), Pair(torch.ones(3, 4, 4), 0)])
    assert batch.labels.tolist() == [1, 0] and batch.boxes is None


def test_mismatched_items_raise():
    with pytest.raises(ValueError, match=r"`items` must hold at least one item, but got none"):
        collate([])
    with pytest.raises(ValueError, match=re.escape("`items` must be of one type, but got ['ObjectItem', 'VQAItem']")):
        collate([Localization(1, seed=0)[0], SortOfClevr(1, seed=0)[0]])
    items = [Item(torch.zeros(3, 4, 4), 0, NO_BOXES, "a", (4, 4)), Item(torch.zeros(3, 5, 4), 0, NO_BOXES, "b", (5, 4))]
    message = "`items` must hold images of one shape to be stacked, but got shapes [(3, 4, 4), (3, 5, 4)]"
    with pytest.raises(ValueError, match=re.escape(message)):
        collate(items)
    with pytest.raises(TypeError, match=r"`items` must be NamedTuples such as camlib.data.Item, but got tuple"):
        collate([(torch.zeros(3, 4, 4), 0)])

    class Odd(NamedTuple):
        image: Tensor
        label: int
        depth: Tensor

    message = "`items` must have only the fields of camlib.data.batch.FIELDS, but Odd has ['depth']"
    with pytest.raises(ValueError, match=re.escape(message)):
        collate([Odd(torch.zeros(3, 4, 4), 0, torch.zeros(4, 4))])

    class Unlabelled(NamedTuple):
        image: Tensor
        boxes: Tensor

    with pytest.raises(ValueError, match=r"`items` must have an `image` and a `label` field, but Unlabelled has"):
        collate([Unlabelled(torch.zeros(3, 4, 4), NO_BOXES)])
    assert "answer" in FIELDS and FIELDS["mask"] == ("masks", "one")


def test_batch_checks_its_fields():
    images, labels = torch.zeros(2, 3, 4, 4), torch.tensor([0, 1])
    with pytest.raises(TypeError, match=r"`labels` must be a 1-D tensor \(N,\), but got \(2, 1\)"):
        Batch(images, labels[:, None])
    with pytest.raises(TypeError, match=r"`labels` must be a 1-D tensor \(N,\), but got list"):
        Batch(images, [0, 1])
    message = "`images` must be a 4-D tensor (N, 3, H, W) with N = 2 labels, but got shape (3, 3, 4, 4)"
    with pytest.raises(ValueError, match=re.escape(message)):
        Batch(torch.zeros(3, 3, 4, 4), labels)
    with pytest.raises(TypeError, match=r"`images` must be a tensor \(N, 3, H, W\) or a list, but got tuple"):
        Batch((images[0], images[1]), labels)
    with pytest.raises(ValueError, match=r"`boxes` must hold one entry per image \(N = 2\), but got 1"):
        Batch(images, labels, boxes=[NO_BOXES])
    empty = Batch(torch.zeros(0, 3, 4, 4), torch.zeros(0, dtype=torch.long), boxes=[])
    assert len(empty) == 0 and empty.boxes == []


def test_check_batch():
    batch = Batch(torch.zeros(1, 3, 4, 4), torch.tensor([0]))
    assert check_batch(batch) is batch
    message = "`batch` must be a camlib.data.Batch (DataLoader(dataset, collate_fn=camlib.data.collate)), but got dict"
    with pytest.raises(TypeError, match=re.escape(message)):
        check_batch({"image": batch.images, "label": batch.labels})


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


@pytest.mark.parametrize("device", DEVICES)
def test_to_moves_the_tensors_and_keeps_the_rest(device):
    items = [SortOfClevr(2, seed=0)[i] for i in range(2)]
    batch = collate(items)
    moved = batch.to(device)
    assert moved.images.device.type == device and moved.labels.device.type == device
    assert {b.device.type for b in moved.boxes} == {m.device.type for m in moved.masks} == {device}
    assert moved.question_types.device.type == device
    assert moved.questions is batch.questions and moved.objects is batch.objects  # not tensors: shared
    assert moved.parts is None and torch.equal(moved.images.cpu(), batch.images)
    assert batch.images.device.type == "cpu"  # the original is unchanged
    if device == "cuda":
        pinned = batch.pin_memory()
        assert pinned.images.is_pinned() and all(b.is_pinned() for b in pinned.boxes)


def test_pil_images_stay_a_list_and_are_not_moved():
    from PIL import Image

    items = [
        Item(Image.new("RGB", (4, 2)), 0, NO_BOXES, "a", (2, 4)),
        Item(Image.new("RGB", (3, 3)), 1, NO_BOXES, "b", (3, 3)),
    ]
    batch = collate(items)
    assert isinstance(batch.images, list) and batch.to("cpu").images is batch.images


@pytest.mark.parametrize("workers", [0, 2])
def test_data_loader_of_synthetic_items(workers):
    # With workers, the batches are pickled back to the main process.
    loader = DataLoader(
        Localization(6, seed=0, image_size=32, scale=(0.4, 0.8)), batch_size=4, collate_fn=collate, num_workers=workers
    )
    batches = list(loader)
    assert [len(b) for b in batches] == [4, 2] and all(isinstance(b, Batch) for b in batches)
    assert torch.equal(batches[1].images[0], Localization(6, seed=0, image_size=32, scale=(0.4, 0.8))[4].image)
