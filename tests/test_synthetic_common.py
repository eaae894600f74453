"""camlib.data.synthetic.common and .render: seeding, checks, boxes of masks, frames (collate: test_data_batch)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from camlib.data.synthetic import Localization
from camlib.data.synthetic.common import check_index, check_int, check_range, item_rng, mask_box, to_image
from camlib.data.synthetic.render import SHAPES, frame, rotation


def test_item_rng_is_a_function_of_seed_and_index():
    assert item_rng(3, 5).random(4).tolist() == item_rng(3, 5).random(4).tolist()
    assert item_rng(3, 5).random(4).tolist() != item_rng(3, 6).random(4).tolist()
    assert item_rng(3, 5).random(4).tolist() != item_rng(4, 5).random(4).tolist()


def test_item_rng_does_not_touch_the_global_rngs():
    state, torch_state = np.random.get_state()[1].copy(), torch.random.get_rng_state()
    Localization(3, seed=0)[2]
    assert (np.random.get_state()[1] == state).all() and torch.equal(torch.random.get_rng_state(), torch_state)


def test_mask_box_is_inclusive():
    mask = np.zeros((6, 7), dtype=bool)
    mask[2, 3] = True  # one pixel: its box has x1 == x2, y1 == y2
    assert mask_box(mask) == (3, 2, 3, 2)
    mask[4, 6] = True
    assert mask_box(mask) == (3, 2, 6, 4)


def test_mask_box_of_an_empty_mask_raises():
    with pytest.raises(ValueError, match=r"`mask` must have at least one True pixel"):
        mask_box(np.zeros((3, 3), dtype=bool))


def test_to_image_quantizes_to_bytes_and_clips():
    array = np.array([[[-0.2, 0.5, 1.7]]], dtype=np.float32)  # (1, 1, 3)
    image = to_image(array)
    assert image.dtype == torch.float32 and image.shape == (3, 1, 1)
    assert (image.flatten() * 255).round().tolist() == [0.0, 128.0, 255.0]  # rint(127.5) = 128: half to even


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: check_int("size", 2.0), TypeError, r"`size` must be an int, but got float 2.0"),
        (lambda: check_int("size", True), TypeError, r"`size` must be an int, but got bool"),
        (lambda: check_int("size", -1, min=0), ValueError, r"`size` must be an int >= 0, but got -1"),
        (lambda: check_int("n", 9, min=1, max=8), ValueError, r"`n` must be an int >= 1 and <= 8, but got 9"),
        (lambda: check_range("scale", 0.5, low=0, high=1), TypeError, r"`scale` must be a pair \(low, high\)"),
        (lambda: check_range("s", (0.6, 0.5), low=0, high=1), ValueError, r"0 <= a <= b <= 1, but got \(0.6, 0.5\)"),
        (lambda: check_index("3", 5), TypeError, r"`index` must be an int, but got str"),
        (lambda: check_index(5, 5), IndexError, r"`index` must be in \[-5, 4\] for a dataset of 5 items, but got 5"),
    ],
)
def test_checks_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_negative_index_counts_from_the_end():
    data = Localization(4, seed=1)
    assert torch.equal(data[-1].image, data[3].image)


def test_rotation_is_a_rotation():
    for a in np.linspace(0, 0.999, 7):
        for b in (0.2, 0.7):
            c, s = rotation(a, b)
            assert c * c + s * s == pytest.approx(1.0, abs=1e-15)


def test_frame_rotation_turns_the_shape():
    # a bar along u, turned by 90 degrees (c, s) = (0, 1), lies along the rows
    f = frame((21, 21), 10.0, 10.0, 8.0, 0.0, 1.0)
    mask = np.zeros((21, 21), dtype=bool)
    mask[f.rows, f.cols] = SHAPES["bar"](f.u, f.v)
    x1, y1, x2, y2 = mask_box(mask)
    assert (x2 - x1) < (y2 - y1)
    assert (x1 + x2) / 2 == 10 and (y1 + y2) / 2 == 10


def test_spec_identifies_the_arguments_and_the_generator_version():
    from camlib.data.synthetic import GENERATOR_VERSION, Localization, SortOfClevr

    a, b = Localization(10, seed=0).spec(), Localization(10, seed=1).spec()
    assert a != b and a == Localization(10, seed=0).spec()
    assert a["generator_version"] == GENERATOR_VERSION and a["benchmark"] == "Localization"
    assert SortOfClevr(10, seed=0).spec()["benchmark"] == "SortOfClevr"


def test_in_memory_holds_the_same_items_and_identity():
    from camlib.data.synthetic import InMemory, Localization

    data = Localization(5, seed=4, num_classes=3)
    held = data.in_memory()
    assert isinstance(held, InMemory) and len(held) == 5
    for i in (0, 4, -1):
        a, b = held[i], data[i]
        assert torch.equal(a.image, b.image) and a.label == b.label and torch.equal(a.boxes, b.boxes)
    assert held.spec() == data.spec() and held.num_classes == 3 and held.categories == data.categories
    assert repr(held) == f"InMemory({data!r})"
    with pytest.raises(IndexError, match="`index` must be in"):
        held[5]
    with pytest.raises(TypeError, match="`dataset` must be a camlib synthetic benchmark"):
        InMemory([1, 2, 3])
