"""The held-out design of the real parts: the split, the baselines fitted on the held-out images only, and the
comparison with the stronger baseline, against loops over the images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from camlib.boxes.baselines import centre_box
from camlib.boxes.geometry import box_iou
from camlib.models.preprocess import Preprocess
from camlib.study.diagnostics import classification_errors, classify_photos
from camlib.study.heldout import against_baselines, heldout_split
from camlib.study.stats import paired_bootstrap


def test_the_split_is_seeded_and_holds_out_exactly_that_many():
    a, b, c = heldout_split(100, 30, seed=0), heldout_split(100, 30, seed=0), heldout_split(100, 30, seed=1)
    assert a.dtype == torch.bool and int(a.sum()) == 30 and a.equal(b) and not a.equal(c)


@pytest.mark.parametrize("n, heldout", [(10, 10), (10, 0), (1, 1), (10, 2.5), (True, 1)])
def test_a_split_without_test_or_held_out_images_is_refused(n, heldout):
    with pytest.raises(ValueError, match="heldout|`n`"):
        heldout_split(n, heldout)


def _random_boxes(g: torch.Generator, n: int, side: int) -> torch.Tensor:
    xy = torch.randint(0, side, (n, 2, 2), generator=g).sort(dim=1).values  # (n, 2 corners, x/y)
    return torch.stack([xy[:, 0, 0], xy[:, 0, 1], xy[:, 1, 0], xy[:, 1, 1]], dim=1)


def test_the_comparison_agrees_with_a_loop_over_the_images():
    g = torch.Generator().manual_seed(3)
    side, n = 40, 60
    gt = [_random_boxes(g, int(torch.randint(1, 4, (1,), generator=g)), side) for _ in range(n)]
    mine = _random_boxes(g, n, side)
    held = heldout_split(n, 20, seed=5)
    c = against_baselines(mine, gt, side, held, draws=7, resamples=500, seed=2)
    test = [i for i in range(n) if not held[i]]
    # the localizer: a loop over the test images' ground-truth boxes
    found = [float(max(box_iou(mine[i : i + 1], gt[i])[0].tolist()) >= 0.5) for i in test]
    assert c.hits["localizer"].tolist() == found and c.accuracy["localizer"] == pytest.approx(100 * np.mean(found))

    # the centred box's size: the best of the grid on the held-out images alone, scored on the test images
    def centre_hits(size, images):
        box = centre_box(side, size)[None]
        return [float(max(box_iou(box, gt[i])[0].tolist()) >= 0.5) for i in images]

    fit = [i for i in range(n) if held[i]]
    assert sum(centre_hits(c.centre_size, fit)) == max(
        sum(centre_hits((h, w), fit)) for h in range(2, side + 1, 2) for w in range(2, side + 1, 2)
    )
    assert c.hits["centred box"].tolist() == centre_hits(c.centre_size, test)
    # the effect: the localizer minus the stronger baseline, by the paired bootstrap over the test images
    strongest = max(("centred box", "random box"), key=lambda k: (c.accuracy[k], k == "centred box"))
    assert c.strongest == strongest and c.effect.n == len(test)
    b = paired_bootstrap(c.hits["localizer"], c.hits[strongest], resamples=500, seed=2)
    assert (c.effect.estimate, c.effect.low, c.effect.high) == pytest.approx(
        (100 * b.difference, 100 * b.low, 100 * b.high)
    )


def test_the_centred_box_is_never_fitted_on_the_test_images():
    side = 100
    large, small = torch.tensor([[25, 25, 74, 74]]), torch.tensor([[40, 40, 59, 59]])  # both centred
    gt = [large] * 5 + [small] * 5
    held = torch.tensor([False] * 5 + [True] * 5)  # held out: the small objects; tested: the large ones
    c = against_baselines(torch.tensor([[25, 25, 74, 74]] * 10), gt, side, held, draws=5, resamples=100)
    assert c.centre_size == (20, 20) and c.accuracy["centred box"] == 0.0 and c.accuracy["localizer"] == 100.0


def test_bad_arguments_name_themselves():
    gt = [torch.tensor([[0, 0, 4, 4]])] * 4
    with pytest.raises(TypeError, match="`heldout`"):
        against_baselines(torch.zeros(4, 4, dtype=torch.long), gt, 8, torch.tensor([1, 0, 0, 0]))
    with pytest.raises(ValueError, match="`true_boxes`"):
        against_baselines(torch.zeros(3, 4, dtype=torch.long), gt, 8, torch.tensor([True, False, False, False]))
    with pytest.raises(ValueError, match="some but not all"):
        against_baselines(torch.zeros(4, 4, dtype=torch.long), gt, 8, torch.ones(4, dtype=torch.bool))


def test_the_crop_preprocessing_is_torchvisions_resize_and_centre_crop():
    T = pytest.importorskip("torchvision.transforms")
    rng = np.random.default_rng(0)
    for w, h in [(227, 227), (300, 200), (200, 333), (500, 375)]:
        image = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        reference = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                               T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])(image)  # fmt: skip
        assert torch.equal(Preprocess(224, "torchvision", resize=256)(image), reference), (w, h)


@pytest.mark.parametrize("resize", [100, 223, 2.5, True])
def test_a_crop_larger_than_the_resized_image_is_refused(resize):
    with pytest.raises(ValueError, match="`resize`"):
        Preprocess(224, "tf", resize=resize)


class _Item:
    def __init__(self, image, label):
        self.image, self.label = image, label


def test_classifying_photos_equals_classification_errors_on_the_preprocessed_batches():
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    items = [_Item(Image.fromarray(rng.integers(0, 256, (20 + i, 30, 3), dtype=np.uint8)), i % 6) for i in range(7)]
    pre = Preprocess(16, "tf", resize=18)
    got = classify_photos(net, items, pre.batch, batch_size=3)

    class B:
        def __init__(self, chunk):
            self.images, self.labels = pre.batch([it.image for it in chunk]), torch.tensor([it.label for it in chunk])

    expected = classification_errors(net, [B(items[:4]), B(items[4:])])
    assert got.top1_err == expected.top1_err and got.top5_err == expected.top5_err
    assert got.predicted.equal(expected.predicted) and got.labels.tolist() == [i % 6 for i in range(7)]
    with pytest.raises(TypeError, match="PIL images"):
        classify_photos(net, [_Item(torch.zeros(3, 4, 4), 0)], pre.batch)
    with pytest.raises(ValueError, match="`batch_size`"):
        classify_photos(net, items, pre.batch, batch_size=0)


@pytest.mark.parametrize("size, side", [(224, 7), (225, 8), (448, 14)])
def test_the_map_side_is_the_networks_grid(size, side):
    timm = pytest.importorskip("timm")
    from camlib.study.heldout import map_side

    net = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()  # stride 32, TF "same" padding
    assert map_side(net, size) == side
    with pytest.raises(ValueError, match="`size`"):
        map_side(net, 0)
