"""camlib.data.synthetic.Text: word boxes hold all the ink, and nothing else changes."""

from __future__ import annotations

import matplotlib
import pytest
import torch
from matplotlib import ft2font

from camlib.data.synthetic import Text
from camlib.data.synthetic.common import mask_box
from camlib.data.synthetic.text import WORDS, rasterize

N = 24


@pytest.fixture(scope="module")
def pair():
    """The same items with words and, from the same draws, without any."""
    words, blank = Text(N, seed=2, negatives=0.0), Text(N, seed=2, negatives=1.0)
    return [words[i] for i in range(N)], [blank[i] for i in range(N)]


def test_deterministic(pair):
    again = Text(N, seed=2, negatives=0.0)
    assert all(torch.equal(again[i].image, pair[0][i].image) for i in (0, 5))


def test_positives_have_words_and_negatives_none(pair):
    words, blank = pair
    assert all(item.label == 1 and 1 <= len(item.words) <= 3 and set(item.words) <= set(WORDS) for item in words)
    assert all(item.label == 0 and item.boxes.shape == (0, 4) and item.masks.shape == (0, 64, 64) for item in blank)


def test_every_box_is_its_mask_s_bounding_box_and_holds_ink(pair):
    for item, background in zip(*pair):
        for box, mask in zip(item.boxes.tolist(), item.masks):
            assert tuple(box) == mask_box(mask.numpy())
            x1, y1, x2, y2 = box
            inked = (item.image - background.image)[:, y1 : y2 + 1, x1 : x2 + 1].abs().amax(0) > 0.1
            assert inked.sum() >= 10


def test_no_ink_outside_the_word_boxes(pair):
    for item, background in zip(*pair):
        inside = torch.zeros(64, 64, dtype=torch.bool)
        for x1, y1, x2, y2 in item.boxes.tolist():
            inside[y1 : y2 + 1, x1 : x2 + 1] = True
        assert torch.equal(item.image[:, ~inside], background.image[:, ~inside])
        assert (item.masks.sum(0) <= 1).all()  # words do not overlap


def test_rasterize_crops_to_the_ink_and_warns_nothing():
    coverage = rasterize("cam", "DejaVuSans.ttf", 20.0, 0.0)
    assert coverage.dtype.name == "float32" and 0 < coverage.max() <= 1
    for edge in (coverage[0], coverage[-1], coverage[:, 0], coverage[:, -1]):
        assert edge.max() > 0


@pytest.mark.skipif(
    (matplotlib.__version__, ft2font.__freetype_version__) != ("3.11.2", "2.14.3"),
    reason="glyph pixels depend on matplotlib's version and FreeType",
)
def test_glyphs_are_the_same_on_every_machine():
    coverage = rasterize("cam", "DejaVuSerif.ttf", 16.0, 10.0)
    assert coverage.shape == (14, 33) and int((coverage * 255).round().sum()) == 26107


def test_real_backgrounds():
    photo = torch.linspace(0, 1, 3 * 40 * 50).reshape(3, 40, 50)
    item = Text(2, seed=0, backgrounds=[photo], negatives=1.0)[0]
    assert item.image.shape == (3, 64, 64)
    values = set((photo * 255).round().unique().tolist())
    assert set((item.image * 255).round().unique().tolist()) <= values  # nearest-neighbour crop of the photo


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_words": (0, 2)}, ValueError, r"`num_words` must be a pair \(a, b\) with 1 <= a <= b <= 8"),
        ({"num_words": (1.5, 2)}, TypeError, r"`num_words\[0\]` must be an int"),
        ({"max_angle": 100}, ValueError, r"`max_angle` must be a number in \[0.0, 90.0\], but got 100"),
        ({"backgrounds": [torch.zeros(40, 50)]}, ValueError, r"`backgrounds\[0\]` must be a float Tensor\[3, h, w\]"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        Text(2, seed=0, **kwargs)
