"""Tests of camlib.cam.extractor: capture_features, find_cam_layer and compute_cams."""

from __future__ import annotations

import pytest
import torch
import torchvision.models as tvm
from conftest import TORCHVISION_NETS, net_input
from torch import nn

import camlib
from camlib import capture_features, class_activation_maps, compute_cams, find_cam_layer, normalize_maps, resize_maps
from camlib.cam import CAMLayer


def hooks_left(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def modes(model: nn.Module) -> list[bool]:
    return [m.training for m in model.modules()]


# --- capture_features ------------------------------------------------------------------


def test_capture_records_layer_output(tiny_net, gen):
    images = torch.randn(2, 3, 8, 8, generator=gen)
    with capture_features(tiny_net, tiny_net.features) as cap:
        logits = tiny_net(images)
        # The features are the layer's output of this very forward pass.
        assert torch.equal(tiny_net.fc(cap.features.mean(dim=(2, 3))), logits)
        assert cap.features.shape == (2, 6, 4, 4)
        tiny_net(images[:1])
        assert cap.features.shape == (1, 6, 4, 4)  # the latest forward
    assert hooks_left(tiny_net) == 0


def test_no_hook_left_behind(tiny_net, gen):
    assert hooks_left(tiny_net) == 0
    with capture_features(tiny_net, tiny_net.features[3]):
        assert len(tiny_net.features[3]._forward_hooks) == 1
        tiny_net(torch.randn(1, 3, 4, 4, generator=gen))
    assert hooks_left(tiny_net) == 0


def test_no_hook_left_behind_on_exception(tiny_net):
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        with capture_features(tiny_net, tiny_net.features):
            1 / 0
    assert hooks_left(tiny_net) == 0
    # A forward that fails inside the block (wrong input channels) also leaves nothing.
    with pytest.raises(RuntimeError, match="channels"):
        with capture_features(tiny_net, tiny_net.features):
            tiny_net(torch.zeros(1, 5, 4, 4))
    assert hooks_left(tiny_net) == 0


def test_existing_hooks_are_kept(tiny_net, gen):
    seen = []
    handle = tiny_net.features.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    with capture_features(tiny_net, tiny_net.features):
        tiny_net(torch.randn(1, 3, 4, 4, generator=gen))
    assert list(tiny_net.features._forward_hooks) == [handle.id]
    assert seen == [torch.Size([1, 6, 2, 2])]
    handle.remove()


@pytest.mark.parametrize("raise_inside", [False, True], ids=["normal", "raises"])
def test_training_flags_restored_exactly(tiny_net, raise_inside):
    # Mixed modes: the net trains, but its BatchNorm is frozen in eval mode.
    tiny_net.train()
    tiny_net.features[1].eval()
    before = modes(tiny_net)
    assert True in before and False in before
    try:
        with capture_features(tiny_net, tiny_net.features):
            assert not any(modes(tiny_net))  # eval inside
            if raise_inside:
                raise KeyError("inside")
    except KeyError:
        assert raise_inside
    assert modes(tiny_net) == before


def test_eval_mode_false_keeps_modes(tiny_net):
    tiny_net.train()
    with capture_features(tiny_net, tiny_net.features, eval_mode=False):
        assert all(modes(tiny_net))
    assert all(modes(tiny_net))


def test_eval_mode_changes_result_of_batchnorm(tiny_net, gen):
    # Inside the block BatchNorm uses its running statistics (eval mode), so the
    # output does not depend on the other images of the batch.
    images = torch.randn(4, 3, 6, 6, generator=gen)
    tiny_net.train()
    with torch.no_grad(), capture_features(tiny_net, tiny_net.features):
        whole = tiny_net(images)
        first = tiny_net(images[:1])
    torch.testing.assert_close(whole[:1], first)
    assert tiny_net.training


def test_eval_modes_restored_from_eval(tiny_net):
    tiny_net.eval()
    with capture_features(tiny_net, tiny_net.features):
        pass
    assert not any(modes(tiny_net))


def test_features_before_forward_is_runtime_error(tiny_net):
    with capture_features(tiny_net, tiny_net.features) as cap:
        with pytest.raises(RuntimeError, match=r"No features were captured: call the model inside the `with` block"):
            cap.features
    with pytest.raises(RuntimeError, match=r"No features were captured"):
        cap.features


def test_layer_not_in_model(tiny_net, make_tiny_net):
    other = make_tiny_net(1)
    with pytest.raises(ValueError, match=r"`layer` must be a submodule of `model`, but Sequential is not"):
        capture_features(tiny_net, other.features)
    with pytest.raises(TypeError, match=r"`layer` must be a torch.nn.Module, but got str"):
        capture_features(tiny_net, "features")
    with pytest.raises(TypeError, match=r"`model` must be a torch.nn.Module, but got function"):
        capture_features(lambda x: x, tiny_net.features)


def test_cannot_enter_twice(tiny_net):
    cap = capture_features(tiny_net, tiny_net.features)
    with cap:
        with pytest.raises(RuntimeError, match=r"`capture_features` is already active; it cannot be entered twice"):
            cap.__enter__()
        assert len(tiny_net.features._forward_hooks) == 1
    assert hooks_left(tiny_net) == 0


def test_can_be_reused_after_exit(tiny_net, gen):
    cap = capture_features(tiny_net, tiny_net.features)
    for n in (1, 2):
        with cap:
            tiny_net(torch.randn(n, 3, 4, 4, generator=gen))
            assert cap.features.shape[0] == n
    assert hooks_left(tiny_net) == 0


# --- find_cam_layer --------------------------------------------------------------------

# (features module, K, relu) for the networks of conftest.TORCHVISION_NETS (C = 7).
EXPECTED_LAYERS = {
    "resnet18": (lambda m: m.layer4, 512, False),
    "googlenet": (lambda m: m.inception5b, 1024, False),
    "inception_v3": (lambda m: m.Mixed_7c, 2048, False),
    "squeezenet1_0": (lambda m: m.features, 512, True),
    "mobilenet_v2": (lambda m: m.features, 1280, False),
    "efficientnet_b0": (lambda m: m.features, 1280, False),
}


@pytest.mark.parametrize("name", list(TORCHVISION_NETS))
def test_find_cam_layer_torchvision(torchvision_net, name):
    model = torchvision_net(name)
    where, K, relu = EXPECTED_LAYERS[name]
    layer = find_cam_layer(model)
    assert layer.features is where(model)
    assert layer.weight.shape == (7, K)
    assert layer.bias is not None and layer.bias.shape == (7,)
    assert layer.relu is relu
    assert not layer.weight.requires_grad


def test_find_cam_layer_uses_cam_layer_method(tiny_net):
    layer = find_cam_layer(tiny_net)
    assert layer.features is tiny_net.features
    assert torch.equal(layer.weight, tiny_net.fc.weight) and torch.equal(layer.bias, tiny_net.fc.bias)
    assert layer.relu is False


def test_find_cam_layer_unknown_network():
    with pytest.raises(TypeError, match=r"`model` must be a GAP network that camlib knows .*but got Sequential"):
        find_cam_layer(nn.Sequential(nn.Conv2d(3, 4, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)))
    with torch.device("meta"):  # VGG is not a GAP network; no need to allocate its 130M weights
        vgg = tvm.vgg11(num_classes=3)
    with pytest.raises(TypeError, match=r"`model` must be a GAP network .*but got VGG; build a `camlib.cam.CAMLayer"):
        find_cam_layer(vgg)


# --- compute_cams ----------------------------------------------------------------------


def check_identity(model, out, layer, rtol=1e-4, atol=1e-5):
    """mean(map) (+ b_c for an FC head) == the logit of the map's class, for every map."""
    means = out.maps.double().mean(dim=(2, 3))  # (N, k)
    assert means.abs().max() > 0.1  # the maps carry the logits, not only the bias
    if not layer.relu and layer.bias is not None:
        means = means + layer.bias.double()[out.classes]
    torch.testing.assert_close(means, out.logits.double().gather(1, out.classes), rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", list(TORCHVISION_NETS))
def test_compute_cams_identity_torchvision(torchvision_net, name):
    model = torchvision_net(name)
    images = net_input(name)
    before = modes(model)
    every = torch.arange(7).expand(2, 7)
    out = compute_cams(model, images, every)
    assert out.maps.shape[:2] == (2, 7)
    assert torch.equal(out.classes, every)
    check_identity(model, out, find_cam_layer(model))
    assert modes(model) == before and hooks_left(model) == 0
    # The logits are the network's own output in eval mode (the shared nets are kept in eval mode).
    assert not model.training
    with torch.no_grad():
        torch.testing.assert_close(out.logits, model(images))


@pytest.mark.parametrize("name", ["resnet18", "squeezenet1_0"])
def test_compute_cams_identity_float64(torchvision_net, name):
    model = torchvision_net(name, torch.float64)
    out = compute_cams(model, net_input(name, dtype=torch.float64), top_k=7)
    assert out.maps.dtype == torch.float64
    check_identity(model, out, find_cam_layer(model), rtol=1e-10, atol=1e-10)


def test_compute_cams_identity_tiny_net(tiny_net, gen):
    out = compute_cams(tiny_net, torch.randn(3, 3, 10, 10, generator=gen), top_k=5)
    check_identity(tiny_net, out, tiny_net.cam_layer(), rtol=1e-5, atol=1e-6)


def test_compute_cams_identity_without_bias(make_tiny_net, gen):
    model = make_tiny_net(2, bias=False)
    out = compute_cams(model, torch.randn(2, 3, 6, 6, generator=gen), top_k=3)
    check_identity(model, out, model.cam_layer(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("top_k", [1, 3, 7])
@pytest.mark.parametrize("name", ["resnet18", "squeezenet1_0"])
def test_top_k_ordering(torchvision_net, name, top_k):
    out = compute_cams(torchvision_net(name), net_input(name, n=3), top_k=top_k)
    assert torch.equal(out.classes, out.logits.topk(top_k, dim=1).indices)
    assert out.classes.shape == (3, top_k) and out.maps.shape[:2] == (3, top_k)
    gathered = out.logits.gather(1, out.classes)
    assert torch.all(gathered[:, :-1] >= gathered[:, 1:])  # descending


def test_default_top_k_is_one(tiny_net, gen):
    out = compute_cams(tiny_net, torch.randn(2, 3, 6, 6, generator=gen))
    assert torch.equal(out.classes, out.logits.argmax(dim=1, keepdim=True))


def test_explicit_classes(tiny_net, gen):
    images = torch.randn(2, 3, 8, 8, generator=gen)
    classes = torch.tensor([[4, 0], [1, 1]])
    out = compute_cams(tiny_net, images, classes, top_k=3)  # top_k is ignored when classes are given
    assert torch.equal(out.classes, classes)
    every = compute_cams(tiny_net, images, torch.arange(5).expand(2, 5))
    torch.testing.assert_close(out.maps, torch.stack([every.maps[0, [4, 0]], every.maps[1, [1, 1]]]))


def test_explicit_layer(tiny_net, gen):
    # A hand-built CAMLayer: the tiny net's own, but passed in explicitly.
    images = torch.randn(2, 3, 8, 8, generator=gen)
    layer = CAMLayer(tiny_net.features, tiny_net.fc.weight.detach(), tiny_net.fc.bias.detach())
    out = compute_cams(tiny_net, images, top_k=2, layer=layer)
    torch.testing.assert_close(out.maps, compute_cams(tiny_net, images, top_k=2).maps)


@pytest.mark.parametrize("size", [None, 16, (20, 12)], ids=str)
@pytest.mark.parametrize("normalize", [None, "max", "minmax"])
@pytest.mark.parametrize("name", ["resnet18", "squeezenet1_0"])
def test_size_and_normalize_passed_through(torchvision_net, name, size, normalize):
    model = torchvision_net(name)
    images = net_input(name)
    layer = find_cam_layer(model)
    out = compute_cams(model, images, top_k=2, size=size, normalize=normalize)
    # By hand: the features, the raw maps, ReLU(. + b) for a NIN head, resize, normalize.
    with torch.no_grad(), capture_features(model, layer.features) as cap:
        model(images)
    if layer.relu:
        maps = torch.relu(class_activation_maps(cap.features, layer.weight, out.classes, bias=layer.bias))
    else:
        maps = class_activation_maps(cap.features, layer.weight, out.classes)
    want = normalize_maps(resize_maps(maps, size), normalize)
    if size is not None:
        assert out.maps.shape[-2:] == ((size, size) if isinstance(size, int) else size)
    torch.testing.assert_close(out.maps, want)


def test_relu_maps_are_non_negative(torchvision_net):
    out = compute_cams(torchvision_net("squeezenet1_0"), net_input("squeezenet1_0"), top_k=7)
    assert out.maps.min() >= 0


def test_compute_cams_empty_batch(tiny_net):
    # BatchNorm in eval mode accepts an empty batch; the result is empty too.
    out = compute_cams(tiny_net, torch.zeros(0, 3, 8, 8), top_k=2, size=8, normalize="max")
    assert out.logits.shape == (0, 5) and out.classes.shape == (0, 2) and out.maps.shape == (0, 2, 8, 8)


@pytest.mark.parametrize(
    "top_k, error, match",
    [
        (0, ValueError, r"`top_k` must be a positive int, but got 0"),
        (-2, ValueError, r"`top_k` must be a positive int, but got -2"),
        (1.0, TypeError, r"`top_k` must be a positive int, but got 1.0"),
        (True, TypeError, r"`top_k` must be a positive int, but got True"),
        (6, ValueError, r"`top_k` must be at most the number of classes \(5\), but got 6"),
    ],
)
def test_bad_top_k(tiny_net, gen, top_k, error, match):
    with pytest.raises(error, match=match):
        compute_cams(tiny_net, torch.randn(1, 3, 4, 4, generator=gen), top_k=top_k)
    assert hooks_left(tiny_net) == 0


def test_compute_cams_bad_images(tiny_net):
    with pytest.raises(ValueError, match=r"`images` must be a 4-D tensor \(N, 3, H, W\), but got shape \(3, 4, 4\)"):
        compute_cams(tiny_net, torch.zeros(3, 4, 4))
    with pytest.raises(TypeError, match=r"`images` must have a floating-point dtype"):
        compute_cams(tiny_net, torch.zeros(1, 3, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"`classes` must hold indices in \[0, 5\), but got 5"):
        compute_cams(tiny_net, torch.zeros(1, 3, 4, 4), torch.tensor([[5]]))
    with pytest.raises(TypeError, match=r"`model` must be a GAP network"):
        compute_cams(nn.Sequential(nn.Conv2d(3, 2, 1)), torch.zeros(1, 3, 4, 4))


def test_compute_cams_restores_modes(tiny_net, gen):
    tiny_net.train()
    tiny_net.features[1].eval()
    before = modes(tiny_net)
    compute_cams(tiny_net, torch.randn(2, 3, 4, 4, generator=gen))
    assert modes(tiny_net) == before and hooks_left(tiny_net) == 0
    assert torch.is_grad_enabled()  # grad mode restored after no_grad


@pytest.mark.parametrize("name", ["resnet18"])
def test_compute_cams_device(torchvision_net, device, name):
    # On CUDA the whole network moves there; the maps come back on the images' device.
    import copy

    model = copy.deepcopy(torchvision_net(name)).to(device)
    out = compute_cams(model, net_input(name).to(device), top_k=2, size=32, normalize="max")
    assert out.maps.device.type == device and out.maps.shape == (2, 2, 32, 32)
    assert torch.equal(out.maps.amax(dim=(2, 3)) > 0, out.maps.amax(dim=(2, 3)) == 1)


# --- score_identity --------------------------------------------------------------------


class _Pooled(nn.Module):
    """features = the input itself (K = 3 units), GAP, then a linear layer: every number is by hand."""

    def __init__(self, weight, bias):
        super().__init__()
        self.features = nn.Identity()
        self.fc = nn.Linear(3, len(weight), bias=bias is not None)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor(weight))
            if bias is not None:
                self.fc.bias.copy_(torch.tensor(bias))

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))

    def cam_layer(self):
        bias = None if self.fc.bias is None else self.fc.bias.detach()
        return CAMLayer(self.features, self.fc.weight.detach(), bias)


def test_score_identity_by_hand():
    # f1 = [[1, 2], [3, 4]] (mean 2.5), f2 = [[0, 0], [0, 4]] (mean 1), f3 = 0;
    # class 0: w = (1, 2, 0), b = 0.5: S = 2.5 + 2 + 0.5 = 5; M = f1 + 2 f2 = [[1, 2], [3, 12]], mean 4.5, + b = 5.
    # class 1: w = (0, -1, 7), b = -1: S = -1 - 1 = -2; M = -f2, mean -1, + b = -2.
    images = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]]]])
    model = _Pooled([[1.0, 2.0, 0.0], [0.0, -1.0, 7.0]], [0.5, -1.0])
    out = camlib.cam.extractor.score_identity(model, images)
    assert out.logits.tolist() == [[5.0, -2.0]] and out.map_means.tolist() == [[5.0, -2.0]]
    assert out.error.tolist() == [[0.0, 0.0]]
    # without a bias: S = 4.5 and -1, the means alone
    out = camlib.cam.extractor.score_identity(_Pooled([[1.0, 2.0, 0.0], [0.0, -1.0, 7.0]], None), images)
    assert out.map_means.tolist() == [[4.5, -1.0]] == out.logits.tolist()


@pytest.mark.parametrize("name", ["resnet18", "squeezenet1_0"])  # an FC head with a bias; a NIN head (bias in the map)
def test_score_identity_every_class_float32_and_float64(torchvision_net, name):
    out32 = camlib.cam.extractor.score_identity(torchvision_net(name), net_input(name))
    out64 = camlib.cam.extractor.score_identity(
        torchvision_net(name, torch.float64), net_input(name).double()
    )  # same images
    assert out32.logits.shape == out32.map_means.shape == (2, 7) and out64.map_means.dtype == torch.float64
    scale = out64.logits.abs().max().item()
    assert scale > 0.1  # a real test: logits far from zero
    assert out32.error.max().item() <= 100 * torch.finfo(torch.float32).eps * scale
    assert out64.error.max().item() <= 100 * torch.finfo(torch.float64).eps * scale
    torch.testing.assert_close(out32.logits.double(), out64.logits, rtol=1e-4, atol=1e-4)


def test_score_identity_leaves_the_model_as_it_was(tiny_net, gen):
    before = modes(tiny_net)
    out = camlib.cam.extractor.score_identity(tiny_net, torch.randn(3, 3, 10, 10, generator=gen))
    assert out.error.max().item() < 1e-5 and out.logits.shape == (3, 5)
    assert modes(tiny_net) == before and hooks_left(tiny_net) == 0


def test_score_identity_bad_images(tiny_net):
    with pytest.raises(ValueError, match=r"`images` must be a 4-D tensor \(N, 3, H, W\)"):
        camlib.cam.extractor.score_identity(tiny_net, torch.zeros(3, 8, 8))


# --- CAM, the extractor --------------------------------------------------------------------


@pytest.mark.parametrize("name", list(TORCHVISION_NETS))
def test_cam_maps_equal_compute_cams_and_keep_the_identity(torchvision_net, name):
    # FC heads (ResNet, GoogLeNet, ...) and the NIN head (SqueezeNet): the same maps as the one-call form,
    # whose mean (plus the bias for an FC head) is the logit.
    model = torchvision_net(name)
    images = net_input(name)
    with torch.no_grad(), camlib.CAM(model) as cam:
        logits = model(images)
        maps = cam.maps(top_k=3)
        classes = cam.classes(3)
        assert cam.logits is logits
    ref = compute_cams(model, images, top_k=3)
    assert torch.equal(classes, ref.classes) and torch.equal(maps, ref.maps)
    check_identity(model, camlib.cam.CAMOutput(logits, classes, maps), cam.layer)
    assert hooks_left(model) == 0


def test_cam_boxes_equal_boxes_from_maps(tiny_net, gen):
    images = torch.randn(3, 3, 16, 16, generator=gen)
    with torch.no_grad(), camlib.CAM(tiny_net) as cam:
        tiny_net(images)
        boxes = cam.boxes(0.3, top_k=2, size=16)
        union = cam.boxes(0.3, classes=torch.tensor([[4], [0], [2]]), size=16, mode="union")
        maps = cam.maps(top_k=2, size=16)
        chosen = cam.maps(torch.tensor([[4], [0], [2]]), size=16)
    assert torch.equal(boxes, camlib.boxes_from_maps(maps, 0.3))
    assert torch.equal(union, camlib.boxes_from_maps(chosen, 0.3, mode="union"))
    assert boxes.shape == (3, 2, 4) and union.shape == (3, 1, 4)


def test_cam_removes_its_hooks_and_restores_modes_also_on_error(tiny_net, gen):
    tiny_net.train()
    tiny_net.features[1].eval()  # a mixed state, restored exactly
    before = modes(tiny_net)
    with pytest.raises(ZeroDivisionError), camlib.CAM(tiny_net):
        tiny_net(torch.randn(1, 3, 8, 8, generator=gen))
        assert not tiny_net.training and hooks_left(tiny_net) == 2  # the features' hook and the output's
        1 / 0  # noqa: B018
    assert modes(tiny_net) == before and hooks_left(tiny_net) == 0
    with camlib.CAM(tiny_net, eval_mode=False):
        assert modes(tiny_net) == before


def test_cam_reads_the_latest_forward_and_gradients_flow(tiny_net, gen):
    a, b = torch.randn(2, 3, 8, 8, generator=gen), torch.randn(1, 3, 8, 8, generator=gen)
    with camlib.CAM(tiny_net) as cam:
        tiny_net(a)
        logits = tiny_net(b)
        assert cam.features.shape[0] == 1 and cam.logits is logits
        maps = cam.maps(torch.tensor([[1]]))
    # Run with gradients, the maps are a function of the input (Grad-CAM-style uses stay possible).
    assert maps.requires_grad


def test_cam_bad_use(tiny_net, gen):
    cam = camlib.CAM(tiny_net)
    with pytest.raises(RuntimeError, match="`CAM` is not active"):
        cam.logits  # noqa: B018
    with cam, pytest.raises(RuntimeError, match="No forward pass was seen"):
        cam.maps()
    with pytest.raises(TypeError, match="`model` must be a torch.nn.Module, but got int"):
        camlib.CAM(3)
    with pytest.raises(TypeError, match="`layer` must be a camlib.cam.CAMLayer or None, but got str"):
        camlib.CAM(tiny_net, "features")
    with torch.no_grad(), camlib.CAM(tiny_net) as cam:
        tiny_net(torch.randn(2, 3, 8, 8, generator=gen))
        with pytest.raises(ValueError, match=r"`top_k` must be at most the number of classes \(5\), but got 6"):
            cam.maps(top_k=6)
        with pytest.raises(TypeError, match="`top_k` must be a positive int, but got 1.0"):
            cam.classes(1.0)


def test_nin_kernel_is_the_squeezenet_head(torchvision_net):
    # SqueezeNet's classifier is conv1x1 -> ReLU -> average: the NIN kernel on the captured features is that
    # channel, exactly; the FC kernel (no bias, no ReLU) is another map whose mean is not the logit.
    model = torchvision_net("squeezenet1_0")
    images = net_input("squeezenet1_0")
    conv = model.classifier[1]
    with torch.no_grad(), camlib.CAM(model) as cam:
        model(images)
        every = torch.arange(7).expand(2, 7)
        nin = camlib.nin_class_activation_maps(cam.features, conv.weight.flatten(1), conv.bias, every)
        fc = class_activation_maps(cam.features, conv.weight.flatten(1), every)
        head = model.classifier[2](conv(cam.features))  # the network's own class channels
    torch.testing.assert_close(nin, head, rtol=1e-5, atol=1e-5)  # einsum against the convolution: rounding only
    torch.testing.assert_close(nin.mean(dim=(2, 3)), cam.logits, rtol=1e-5, atol=1e-6)
    assert (fc.mean(dim=(2, 3)) - cam.logits).abs().max() > 1e-2


def test_nin_kernel_by_hand_and_bad_slope():
    f = torch.tensor([[[[1.0, -3.0]]]])  # N=1, K=1, h=1, w=2
    w, b = torch.tensor([[2.0]]), torch.tensor([1.0])
    # 2 * [1, -3] + 1 = [3, -5]; a leaky ReLU of slope 0.5 keeps 3 and halves -5.
    assert camlib.nin_class_activation_maps(f, w, b, negative_slope=0.5).flatten().tolist() == [3.0, -2.5]
    assert camlib.nin_class_activation_maps(f, w, None).flatten().tolist() == [2.0, 0.0]
    with pytest.raises(ValueError, match="`negative_slope` must be a number >= 0, but got -1"):
        camlib.nin_class_activation_maps(f, w, b, negative_slope=-1)
