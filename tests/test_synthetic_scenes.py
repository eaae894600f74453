"""camlib.data.synthetic.Scenes: objects, their boxes and masks, and the co-occurrence rule."""

from __future__ import annotations

import pytest
import torch

from camlib.data.synthetic import Scenes
from camlib.data.synthetic.common import mask_box

N = 30


@pytest.fixture(scope="module")
def data():
    return Scenes(N, seed=5)


@pytest.fixture(scope="module")
def items(data):
    return [data[i] for i in range(N)]


def test_deterministic(data, items):
    again = Scenes(N, seed=5)
    for i in (0, N - 1):
        assert torch.equal(again[i].image, items[i].image) and torch.equal(again[i].masks, items[i].masks)
    assert not torch.equal(Scenes(N, seed=6)[0].image, items[0].image)


def test_types_and_shapes(items):
    for item in items:
        m = item.boxes.shape[0]
        assert item.image.shape == (3, 96, 96) and item.image.dtype == torch.float32
        assert item.boxes.dtype == torch.long and item.labels.shape == (m,) and item.masks.shape == (m, 96, 96)
        assert 3 <= m <= 6  # 2-3 typical, 0-1 distractor, 1-2 common


def test_every_box_is_the_bounding_box_of_its_mask_and_masks_are_disjoint(items):
    for item in items:
        for box, mask in zip(item.boxes.tolist(), item.masks):
            assert tuple(box) == mask_box(mask.numpy())
        assert (item.masks.sum(0) <= 1).all()


def test_the_label_follows_the_co_occurrence_rule(data, items):
    for item in items:
        labels = set(item.labels.tolist())
        assert data.scene_of(labels) == item.label
        assert len(labels & set(data.typical_of[item.label])) >= 2
        assert labels & set(data.common_categories)
        for s, typical in enumerate(data.typical_of):
            if s != item.label:
                assert len(labels & set(typical)) <= 1


def test_a_single_typical_object_occurs_in_other_scenes():
    data = Scenes(60, seed=0, distractor=1.0)
    item = data[0]
    foreign = [c for c in item.labels.tolist() if c not in data.typical_of[item.label] + data.common_categories]
    assert len(foreign) == 1


def test_scene_of_by_hand(data):
    # scene 0 has categories 0, 1, 2; scene 1 has 3, 4, 5; 12-15 are common
    assert data.scene_of([0, 1, 12]) == 0
    assert data.scene_of([0, 3, 12]) == -1  # one of each: no scene
    assert data.scene_of([0, 1, 3, 4]) == -1  # two scenes at once: no scene


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_scenes": 1}, ValueError, r"`num_scenes` must be an int >= 2 and <= 6, but got 1"),
        ({"num_scenes": 6, "typical": 4, "common": 1}, ValueError, r"must be at most 24 categories, but got 25"),
        ({"distractor": 2.0}, ValueError, r"`distractor` must be a number in \[0.0, 1.0\], but got 2.0"),
        ({"image_size": 32}, ValueError, r"`image_size` must be an int >= 48"),
        ({"image_size": 48}, ValueError, r"smallest object span 12 pixels or more, but got 0.7 x 48 / 3 = 11.2 pixels"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        Scenes(2, seed=0, **kwargs)
