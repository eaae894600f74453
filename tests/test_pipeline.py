"""camlib.cam.pipeline: the batched chain (forward → top-k CAMs → masks → boxes) against the two-step reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from scipy import ndimage
from test_components import smooth_maps, snake, spiral

import camlib
from camlib.boxes.from_maps import _dense_largest_boxes, boxes_from_masks
from camlib.cam import pipeline
from camlib.cam.extractor import CAMLayer, capture_features
from camlib.cam.pipeline import cam_masks, localize


def _loop_largest_box(mask: np.ndarray) -> list[int]:
    """The obvious reference: scipy labels, then the component with most pixels (ties: first pixel) by a loop."""
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    best = None
    for k in range(1, n + 1):
        ys, xs = np.nonzero(labels == k)
        key = (len(ys), -(ys[0] * mask.shape[1] + xs[0]))
        if best is None or key > best[0]:
            best = (key, [xs.min(), ys.min(), xs.max(), ys.max()])
    return [0, 0, 0, 0] if best is None else [int(v) for v in best[1]]


@pytest.mark.parametrize("density", [0.2, 0.45, 0.59, 0.8])
def test_dense_boxes_equal_a_loop_on_noise(density, device):
    g = torch.Generator().manual_seed(int(density * 100))
    masks = torch.rand(24, 29, 37, generator=g) < density
    expected = torch.tensor([_loop_largest_box(m) for m in masks.numpy()])
    got = boxes_from_masks(masks.to(device), backend="torch")
    assert torch.equal(got.cpu(), expected)
    assert torch.equal(
        boxes_from_masks(masks.to(device)).cpu(), expected
    )  # auto: row runs (camlib.components.runs) on the CPU, dense elsewhere


def test_dense_boxes_on_smooth_maps_ties_and_long_components():
    maps = smooth_maps(4, 10, 48, 40)
    masks = torch.from_numpy(maps > 0.3)
    expected = torch.tensor([_loop_largest_box(m) for m in masks.numpy()])
    assert torch.equal(boxes_from_masks(masks, backend="torch"), expected)
    ties = torch.zeros(3, 8, 8, dtype=torch.bool)
    ties[0, 5:7, 0:2] = ties[0, 0:2, 5:7] = True  # two 2 x 2 blocks: the first pixel (0, 5) comes first
    ties[1, 0, 0] = ties[1, 7, 7] = True
    assert boxes_from_masks(ties, backend="torch").tolist() == [[5, 0, 6, 1], [0, 0, 0, 0], [0, 0, 0, 0]]
    for shape in (spiral(48), snake(40, 48)):  # one component whose geodesic length is about the pixel count
        mask = torch.from_numpy(shape)
        for every in (1, 4, 16):
            assert _dense_largest_boxes(mask.reshape(1, *mask.shape[-2:]), check_every=every)[
                0
            ].tolist() == _loop_largest_box(shape)


def test_leading_dimensions_and_empty_batches():
    masks = torch.rand(2, 3, 9, 11, generator=torch.Generator().manual_seed(0)) < 0.5
    assert torch.equal(boxes_from_masks(masks, backend="torch"), camlib.boxes_from_masks(masks))
    assert boxes_from_masks(masks[:0], backend="torch").shape == (0, 3, 4)


def _reference(net, images, k, threshold=0.2):
    out = camlib.compute_cams(net, images, top_k=k, size=tuple(images.shape[-2:]))
    return out.classes, camlib.boxes_from_maps(out.maps, threshold)


@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_pipeline_equals_compute_cams_then_boxes(backend, device):
    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=12).eval().to(device)
    images = torch.randn(3, 3, 80, 72, device=device)
    out = localize(net, images, top_k=4, threshold=0.3, backend=backend)
    classes, boxes = _reference(net, images, 4, 0.3)
    assert torch.equal(out.classes, classes) and torch.equal(out.boxes, boxes)
    assert out.logits.shape == (3, 12) and torch.equal(out.logits.topk(4, 1).indices, classes)
    assert (out.boxes[..., 2] >= out.boxes[..., 0]).all() and out.boxes[..., 2].max() <= 71


def test_pipeline_nin_head_with_bias_and_leaky_relu():
    torch.manual_seed(1)
    net = torchvision.models.squeezenet1_0(num_classes=9).eval()
    images = torch.randn(2, 3, 96, 96)
    out = localize(net, images, top_k=3)
    classes, boxes = _reference(net, images, 3)
    assert torch.equal(out.classes, classes) and torch.equal(out.boxes, boxes)
    # A leaky NIN head (the Places365 SqueezeNet's): the masks equal the reference's foreground.
    layer = camlib.find_cam_layer(net)
    leaky = CAMLayer(layer.features, layer.weight, layer.bias, relu=True, negative_slope=0.55)
    with torch.no_grad(), capture_features(net, layer.features) as cap:
        net(images)
    cls = torch.tensor([[0, 4], [8, 2]])
    expected = camlib.foreground(leaky.maps(cap.features, cls, size=96), 0.2)
    assert torch.equal(cam_masks(cap.features, leaky, cls, size=96), expected)
    # The function that torch.compile fuses, run uncompiled: the same masks as the composition it replaces.
    for head in (leaky, CAMLayer(layer.features, layer.weight, layer.bias)):  # NIN-style and FC-style
        bias = head.bias[cls] if head.relu else None
        fused_source = pipeline._masks(
            cap.features, head.weight[cls], bias, head.relu, head.negative_slope, (96, 96), 0.2
        )
        assert torch.equal(fused_source, camlib.foreground(head.maps(cap.features, cls, size=96), 0.2))


def test_fused_masks_equal_the_eager_ones(device):
    """torch.compile's graph (Inductor's C++ on a CPU, Triton on a GPU) against the eager reference."""
    torch.manual_seed(2)
    layer = CAMLayer(torch.nn.Identity(), torch.randn(10, 16), torch.randn(10), relu=True, negative_slope=0.1)
    features = torch.randn(4, 16, 7, 7, device=device)
    classes = torch.randint(0, 10, (4, 5))
    eager = cam_masks(features, layer, classes, size=56)
    fused = cam_masks(features, layer, classes, size=56, fused=True)
    assert torch.equal(fused, eager)
    assert 0.05 < eager.double().mean() < 0.95  # the threshold cuts through the maps


def test_bad_input():
    layer = CAMLayer(torch.nn.Identity(), torch.randn(5, 4), None)
    f = torch.randn(2, 4, 3, 3)
    with pytest.raises(ValueError, match="`classes` must hold indices in \\[0, 5\\)"):
        cam_masks(f, layer, torch.tensor([[5], [0]]), size=6)
    with pytest.raises(ValueError, match="`features` must be \\(N, 4, h, w\\)"):
        cam_masks(torch.randn(2, 3, 3, 3), layer, torch.tensor([[0], [1]]), size=6)
    with pytest.raises(ValueError, match="`size`"):
        cam_masks(f, layer, torch.tensor([[0], [1]]), size=None)
    with pytest.raises(TypeError, match="`masks` must be a bool tensor"):
        boxes_from_masks(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="backend"):
        boxes_from_masks(torch.zeros(3, 3, dtype=torch.bool), backend="gpu")
    net = torchvision.models.resnet18(num_classes=3).eval()
    with pytest.raises(ValueError, match="`top_k` must be at most the number of classes \\(3\\)"):
        localize(net, torch.randn(1, 3, 32, 32), top_k=4)


def test_localize_returns_the_maps_of_the_same_forward_on_request():
    gen = torch.Generator().manual_seed(0)
    import torchvision

    net = torchvision.models.resnet18(num_classes=6).eval()
    images = torch.randn(2, 3, 64, 64, generator=gen)
    plain = camlib.localize(net, images, top_k=3)
    with_maps = camlib.localize(net, images, top_k=3, maps=True)
    ref = camlib.compute_cams(net, images, top_k=3, size=64)
    assert plain.maps is None
    assert torch.equal(with_maps.maps, ref.maps) and torch.equal(with_maps.boxes, plain.boxes)
    assert torch.equal(with_maps.boxes, camlib.boxes_from_maps(ref.maps, 0.2))
    with pytest.raises(TypeError, match="`maps` must be a bool, but got 'yes'"):
        camlib.localize(net, images, maps="yes")
