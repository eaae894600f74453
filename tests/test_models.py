"""Tests of camlib.models.heads, camlib.models.surgery and camlib.models.registry: heads, small backbones, the box baseline."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision.models as tvm
from conftest import build_seeded

import camlib
from camlib.models.heads import (
    BoxNet,
    CAMNet,
    ClassifierHead,
    FCHead,
    box_regression_loss,
    small_backbone,
    unit_to_boxes,
)
from camlib.models.registry import build_model
from camlib.models.surgery import GoogLeNetInput

FAMILIES = ["alexnet", "vgg", "googlenet"]
TINY = dict(input_size=32, channels=4, width=8)


def tiny(name: str, head: str = "gap", seed: int = 0, **kwargs) -> torch.nn.Module:
    """A small network built from a seeded fork of the global RNG, in eval mode."""
    return build_seeded(build_model, seed, name=name, num_classes=5, head=head, **{**TINY, **kwargs}).eval()


def images(n: int = 3, side: int = 32, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    return torch.randn(n, 3, side, side, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --- small backbones --------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("resolution", [1, 4, 16])
def test_small_backbone_resolution(family, resolution):
    trunk = small_backbone(family, input_size=32, resolution=resolution, channels=4)
    # n = log2(32 / r) stride-2 stages; the last has 4 * 2**min(n, 3) units.
    n = {1: 5, 4: 3, 16: 1}[resolution]
    out = trunk(images(2))
    assert out.shape == (2, 4 * 2 ** min(n, 3), resolution, resolution)
    assert trunk.out_channels == out.shape[1]
    assert out.min() >= 0  # the trunk ends in a ReLU


@pytest.mark.parametrize("resolution", [0, 3, 32, 64])
def test_small_backbone_bad_resolution(resolution):
    with pytest.raises(ValueError, match=r"`input_size / resolution` must be 2, 4, 8, 16 or 32, but got 32 / "):
        small_backbone("vgg", input_size=32, resolution=resolution)


def test_small_backbone_bad_family():
    with pytest.raises(ValueError, match="`family` must be one of 'alexnet', 'vgg', 'googlenet', but got 'resnet'"):
        small_backbone("resnet")


def test_batch_norm_flag():
    has_bn = lambda m: any(isinstance(x, torch.nn.BatchNorm2d) for x in m.modules())  # noqa: E731
    assert has_bn(small_backbone("googlenet")) and not has_bn(small_backbone("googlenet", batch_norm=False))


# --- GAP / GMP heads and CAMs -----------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gap_identity(family, dtype, device):
    # The paper's identity: mean_{x,y} M_c(x, y) + b_c = S_c, for every class.
    net = tiny(f"{family}-small", resolution=4).to(device, dtype)
    x = images(dtype=dtype).to(device)
    out = camlib.compute_cams(net, x, torch.arange(5).repeat(3, 1).to(device))
    assert out.maps.shape == (3, 5, 4, 4)
    bias = net.head.fc.bias
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(out.maps.mean(dim=(2, 3)) + bias, out.logits, atol=tol, rtol=tol)
    assert out.logits.abs().max() > 1e-3  # the identity is not between zeros


@pytest.mark.parametrize("family", FAMILIES)
def test_gmp_what_holds(family):
    # GMP: S = W max_{x,y} f + b, and the CAM is still W f; mean(M) + b is not S.
    net = tiny(f"{family}-small", head="gmp", resolution=4, batch_norm=False)  # features that vary in space
    x = images()
    with torch.no_grad(), camlib.capture_features(net, net.features) as cap:
        logits = net(x)
    f = cap.features  # (N, K, h, w)
    W, b = net.head.fc.weight, net.head.fc.bias
    torch.testing.assert_close(f.amax(dim=(2, 3)) @ W.T + b, logits)
    out = camlib.compute_cams(net, x, torch.arange(5).repeat(3, 1))
    torch.testing.assert_close(out.maps, torch.einsum("nkyx,ck->ncyx", f, W))
    assert ((out.maps.mean(dim=(2, 3)) + b - logits).abs() > 1e-4).all()


def test_head_pooling_by_hand():
    # f has one channel with values 0..3 on a 2x2 grid: mean 1.5, max 3; w = 2, b = 1.
    f = torch.arange(4.0).view(1, 1, 2, 2)
    for pool, expected in (("gap", 2 * 1.5 + 1), ("gmp", 2 * 3 + 1)):
        head = ClassifierHead.from_linear(torch.tensor([[2.0]]), torch.tensor([1.0]), pool)
        assert head(f).item() == expected


def test_from_linear_bad_input():
    with pytest.raises(ValueError, match=r"`weight` must be a 2-D tensor \(C, K\), but got shape \(3\)"):
        ClassifierHead.from_linear(torch.zeros(3))
    with pytest.raises(ValueError, match=r"`bias` must have shape \(2,\), but got shape \(3,\)"):
        ClassifierHead.from_linear(torch.zeros(2, 4), torch.zeros(3))
    with pytest.raises(ValueError, match="`pool` must be one of 'gap', 'gmp', but got 'sum'"):
        ClassifierHead(4, 2, pool="sum")


def test_with_classifier_gives_cams_of_any_linear_model():
    net = tiny("vgg-small", resolution=4)
    W = torch.randn(3, net.head.fc.in_features, generator=torch.Generator().manual_seed(1), dtype=torch.float32)
    svm = net.with_classifier(W)  # e.g. a linear SVM's weights, zero bias
    assert svm.features is net.features
    x = images()
    pooled = net.pooled_features(x)  # (N, K)
    out = camlib.compute_cams(svm.eval(), x, torch.arange(3).repeat(3, 1))
    torch.testing.assert_close(out.logits, pooled @ W.T)
    torch.testing.assert_close(out.maps.mean(dim=(2, 3)), out.logits, atol=1e-5, rtol=1e-5)


def test_fc_head_has_no_cam():
    net = tiny("alexnet-small", head="fc", resolution=4, hidden=16)
    assert isinstance(net.head, FCHead) and net(images()).shape == (3, 5)
    with pytest.raises(TypeError, match="A CAMNet with a FCHead has no class activation map"):
        camlib.compute_cams(net, images())
    with pytest.raises(TypeError, match="`pooled_features` needs a GAP or GMP head"):
        net.pooled_features(images())


def test_seeded_builds_are_equal():
    a, b, c = tiny("googlenet-small", seed=3), tiny("googlenet-small", seed=3), tiny("googlenet-small", seed=4)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.head.fc.weight, c.head.fc.weight)


# --- the box baseline -------------------------------------------------------------------


def test_box_net_outputs():
    net = tiny("vgg-small", head="box", resolution=4)
    assert isinstance(net, BoxNet) and net.training is False
    out = net(images())
    assert out.logits.shape == (3, 5) and out.boxes.shape == (3, 4)
    assert out.boxes.min() >= 0 and out.boxes.max() <= 1
    assert (out.boxes[:, 2:] >= out.boxes[:, :2]).all()
    net.train()
    boxes = net.predict_boxes(images(side=40))  # any size: pixels of that size
    assert net.training is True and boxes.dtype == torch.long
    assert (boxes >= 0).all() and (boxes[:, 2:] <= 39).all() and (boxes[:, 2:] >= boxes[:, :2]).all()
    torch.testing.assert_close(boxes, unit_to_boxes(net.eval()(images(side=40)).boxes, (40, 40)))


def test_box_regression_loss_by_hand():
    # One coordinate off by 0.5 >= beta = 0.05: 0.5 - 0.05 / 2 = 0.475, averaged over 4 numbers.
    target = torch.tensor([[0.1, 0.2, 0.6, 0.7]])
    pred = target + torch.tensor([[0.0, 0.0, 0.5, 0.0]])
    assert box_regression_loss(pred, target).item() == pytest.approx(0.475 / 4)
    # Off by 0.01 < beta: 0.5 * 0.01**2 / 0.05 = 0.001.
    assert box_regression_loss(target + 0.01, target).item() == pytest.approx(0.001)


# --- the factory ------------------------------------------------------------------------


def test_build_model_bad_input():
    with pytest.raises(ValueError, match="`name` must be one of 'alexnet-small', .*'resnet50', but got 'lenet'"):
        build_model("lenet", num_classes=3)
    with pytest.raises(ValueError, match="`head` must be one of 'gap', 'gmp', 'fc', 'box', but got 'svm'"):
        build_model("vgg-small", num_classes=3, head="svm")
    with pytest.raises(ValueError, match="`num_classes` must be a positive int, but got 0"):
        build_model("vgg-small", num_classes=0)
    with pytest.raises(ValueError, match=r"Unknown keyword\(s\) for 'vgg-small': \['depth'\]"):
        build_model("vgg-small", num_classes=3, depth=3)
    with pytest.raises(ValueError, match="`pretrained` must be None for the small network 'vgg-small'"):
        build_model("vgg-small", num_classes=3, pretrained="IMAGENET1K_V1")
    with pytest.raises(ValueError, match="'resnet50' is used as it is"):
        build_model("resnet50", num_classes=3, head="gmp")
    with pytest.raises(ValueError, match="'alexnet\\*' exists only with a GAP or GMP head"):
        build_model("alexnet*", num_classes=3, head="fc")


# --- the paper's surgery on torchvision networks ----------------------------------------


@pytest.mark.parametrize(
    "name, K, side",
    [("alexnet", 1024, 13), ("alexnet*", 512, 13), ("vgg16", 1024, 14), ("googlenet", 1024, 14)],
)
def test_surgery_resolution_and_identity(name, K, side):
    # One 224 x 224 image; VGG16 is ~15 GFLOPs here, so each network runs once.
    net = build_seeded(build_model, 0, name=name, num_classes=6).eval()
    x = images(1, 224)
    with torch.inference_mode(), camlib.capture_features(net, net.features) as cap:
        logits = net(x)
    assert cap.features.shape == (1, K, side, side)
    layer = camlib.find_cam_layer(net)
    maps = camlib.class_activation_maps(cap.features, layer.weight, bias=layer.bias)  # (1, 6, side, side)
    torch.testing.assert_close(maps.mean(dim=(2, 3)), logits, atol=1e-5, rtol=1e-4)


def test_surgery_layers():
    net = build_model("alexnet*", num_classes=6, head="gmp")
    convs = [m for m in net.features if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding) for c in convs] == [
        (256, 512, (3, 3), (1, 1), (1, 1)),
        (512, 512, (3, 3), (1, 1), (1, 1)),
    ]
    assert net.head.pool == "gmp"
    assert isinstance(net.features.trunk[-1], torch.nn.ReLU)  # conv5 + ReLU, pool5 dropped


def test_surgery_keeps_pretrained_trunk(tmp_path):
    # A local torchvision GoogLeNet file: taken as torchvision's release (transform_input on).
    source = build_seeded(tvm.googlenet, 7, weights=None, aux_logits=False, init_weights=True)
    torch.save(source.state_dict(), tmp_path / "googlenet.pth")
    net = build_model("googlenet", num_classes=6, pretrained=tmp_path / "googlenet.pth")
    assert net.training and net.features.trunk.input.enabled
    trunk_keys = [k for k in source.state_dict() if not k.startswith(("inception5", "fc"))]
    kept = net.features.trunk.state_dict()
    assert sorted(kept) == sorted(trunk_keys)
    assert all(torch.equal(kept[k], source.state_dict()[k]) for k in trunk_keys)
    assert net.head.fc.out_features == 6


def test_fc_head_is_the_original_network():
    net = build_model("alexnet", num_classes=6, head="fc")
    assert isinstance(net, tvm.AlexNet) and net.classifier[6].out_features == 6
    resnet = build_model("resnet50", num_classes=6)
    assert isinstance(resnet, tvm.ResNet) and camlib.find_cam_layer(resnet).weight.shape == (6, 2048)


def test_googlenet_input_transform():
    ref = tvm.googlenet(weights=None, aux_logits=False, init_weights=False, transform_input=True)
    x = images(2, 8)
    torch.testing.assert_close(GoogLeNetInput(True)(x), ref._transform_input(x))
    assert GoogLeNetInput(False)(x) is x


def test_camnet_is_exported_for_custom_backbones():
    trunk = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU())
    net = CAMNet(trunk, ClassifierHead(4, 2)).eval()
    out = camlib.compute_cams(net, images(2, 8), top_k=2)
    assert out.maps.shape == (2, 2, 8, 8)
    assert F.softmax(out.logits, 1).shape == (2, 2)
