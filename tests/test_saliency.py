"""Tests of camlib.cam.saliency: gradient saliency, the paper's "backprop" baseline."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import camlib
from camlib.boxes.from_maps import boxes_from_maps
from camlib.cam.saliency import gradient_saliency


def saliency_reference(model: nn.Module, images: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """One image and one class at a time, in eval mode: max over colours of |dS_c / dI|."""
    model.eval()
    out = torch.zeros(images.shape[0], classes.shape[1], *images.shape[2:], dtype=images.dtype)
    for n in range(images.shape[0]):
        for j in range(classes.shape[1]):
            x = images[n : n + 1].detach().clone().requires_grad_(True)
            model(x)[0, classes[n, j]].backward()
            out[n, j] = x.grad[0].abs().amax(dim=0)
    model.zero_grad(set_to_none=True)
    return out


def test_linear_model_closed_form(gen, device):
    # S_c = sum_{l,y,x} W[c, l, y, x] I[l, y, x] + b_c, so dS_c / dI = W[c] whatever the image:
    # the saliency is max over colours of |W[c]|.
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 5 * 4, 6)).to(device)
    images = torch.randn(4, 3, 5, 4, generator=gen).to(device)
    classes = torch.tensor([[0, 5], [2, 2], [1, 3], [4, 0]], device=device)
    got = gradient_saliency(net, images, classes)
    W = net[1].weight.detach().view(6, 3, 5, 4)
    want = W.abs().amax(dim=1)[classes]  # (4, 2, 5, 4)
    assert got.shape == (4, 2, 5, 4) and got.device == images.device
    assert torch.equal(got, want)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_batched_equals_per_image_reference(make_tiny_net, gen, dtype):
    # TinyGAPNet has a BatchNorm: in train mode an image's scores would depend on the batch.
    net = make_tiny_net(3).to(dtype)
    images = torch.randn(5, 3, 12, 10, generator=gen, dtype=dtype)
    classes = torch.tensor([[0, 1, 4], [3, 3, 2], [4, 0, 1], [2, 1, 0], [1, 4, 3]])
    want = saliency_reference(net, images, classes)
    net.train()
    got = gradient_saliency(net, images, classes)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(got, want, rtol=tol, atol=tol)
    assert got.dtype == dtype and (got >= 0).all() and got.amax() > 0


def test_leaves_no_trace(tiny_net, gen):
    tiny_net.train()
    tiny_net.features[1].eval()  # a mixed state, restored module by module
    before = [m.training for m in tiny_net.modules()]
    grad_flags = [p.requires_grad for p in tiny_net.parameters()]
    stats = tiny_net.features[1].running_mean.clone()
    images = torch.randn(2, 3, 8, 8, generator=gen)
    copy = images.clone()
    gradient_saliency(tiny_net, images, torch.tensor([[1], [2]]))
    assert [m.training for m in tiny_net.modules()] == before
    assert all(p.grad is None for p in tiny_net.parameters())
    assert [p.requires_grad for p in tiny_net.parameters()] == grad_flags
    assert torch.equal(tiny_net.features[1].running_mean, stats)  # eval mode: statistics untouched
    assert torch.equal(images, copy) and not images.requires_grad and images.grad is None


def test_modes_restored_when_it_fails(tiny_net, gen):
    tiny_net.train()
    with pytest.raises(ValueError, match=r"`classes` must hold indices in \[0, 5\), but got 7"):
        gradient_saliency(tiny_net, torch.randn(2, 3, 8, 8, generator=gen), torch.tensor([[1], [7]]))
    assert all(m.training for m in tiny_net.modules())


def test_maps_go_through_the_box_protocol(make_tiny_net, gen):
    net = make_tiny_net(0)
    maps = gradient_saliency(net, torch.randn(2, 3, 16, 16, generator=gen), torch.tensor([[0, 1], [2, 3]]))
    boxes = boxes_from_maps(maps)
    assert boxes.shape == (2, 2, 4)
    assert ((boxes[..., 2] >= boxes[..., 0]) & (boxes[..., 3] >= boxes[..., 1])).all()
    assert (boxes[..., 2:] <= 15).all()


def test_bad_input(tiny_net):
    with pytest.raises(TypeError, match=r"`model` must be a torch.nn.Module, but got function"):
        gradient_saliency(lambda x: x, torch.zeros(1, 3, 4, 4), torch.zeros(1, 1, dtype=torch.long))
    with pytest.raises(ValueError, match=r"`images` must be a 4-D tensor \(N, L, H, W\), but got shape \(3, 4, 4\)"):
        gradient_saliency(tiny_net, torch.zeros(3, 4, 4), torch.zeros(1, 1, dtype=torch.long))
    with pytest.raises(TypeError, match=r"`classes` must have an integer dtype, but got torch.float32"):
        gradient_saliency(tiny_net, torch.zeros(1, 3, 4, 4), torch.zeros(1, 1))
    with pytest.raises(ValueError, match=r"`classes` must have one row per image, shape \(2, k\), but got \(1, 1\)"):
        gradient_saliency(tiny_net, torch.zeros(2, 3, 4, 4), torch.zeros(1, 1, dtype=torch.long))


# --- Simonyan et al.'s box rule -----------------------------------------------------------


def _red_square_scene(seed: int = 0):
    """A 48 x 48 grey noise image with a red square at x, y in 10..29; the saliency is weak on the square and strong
    on its centre (a 6 x 6 patch), as a gradient map often is."""
    import numpy as np

    rng = np.random.default_rng(seed)
    image = np.clip(rng.normal(120, 12, (48, 48, 3)), 0, 255).astype(np.uint8)
    image[10:30, 10:30] = (220, 30, 30)
    saliency = 0.05 * torch.rand(48, 48, generator=torch.Generator().manual_seed(seed))
    saliency[10:30, 10:30] += 0.15  # under 20% of the peak: the paper's protocol does not see it
    saliency[17:23, 17:23] += 1.0  # the most discriminative part: a 6 x 6 patch in the square's centre
    return image, saliency


def test_simonyan_boxes_grow_the_seeds_to_the_coloured_object():
    from camlib.boxes.geometry import box_iou
    from camlib.cam.saliency import simonyan_boxes

    image, saliency = _red_square_scene()
    box = simonyan_boxes([image], saliency[None])
    assert box.dtype == torch.long and box.shape == (1, 4)
    square = torch.tensor([[10, 10, 29, 29]])
    assert box_iou(box, square).item() >= 0.9  # the colour segmentation finds the whole square
    # the paper's protocol on the same map boxes the lit patch only: IoU 36 / 400
    plain = camlib.boxes_from_maps(saliency[None], 0.2)
    assert plain.tolist() == [[17, 17, 22, 22]] and box_iou(plain, square).item() == pytest.approx(36 / 400)


def test_simonyan_boxes_of_a_flat_map_and_bad_input():
    import numpy as np

    from camlib.cam.saliency import simonyan_boxes

    image = np.zeros((8, 8, 3), np.uint8)
    assert simonyan_boxes([image], torch.zeros(1, 8, 8)).tolist() == [[0, 0, 7, 7]]  # no background seeds
    with pytest.raises(ValueError, match=r"`bg_quantile` and `fg_quantile` must satisfy 0 <= bg < fg <= 1"):
        simonyan_boxes([image], torch.zeros(1, 8, 8), fg_quantile=0.3, bg_quantile=0.3)
    with pytest.raises(ValueError, match=r"`images\[0\]` must be an RGB uint8 image of 8 x 8 pixels"):
        simonyan_boxes([np.zeros((4, 8, 3), np.uint8)], torch.zeros(1, 8, 8))
    with pytest.raises(ValueError, match=r"`images` must hold one image per map \(1\), but got 2"):
        simonyan_boxes([image, image], torch.zeros(1, 8, 8))
