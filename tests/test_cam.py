"""Tests of camlib.cam.kernel: the CAM kernel, resizing and normalization."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import TORCHVISION_NETS, net_input

import camlib
from camlib import class_activation_maps, normalize_maps, resize_maps


def cam_reference(
    features: torch.Tensor,
    weight: torch.Tensor,
    classes: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """Eq. (2) of Zhou et al. with explicit loops over images, classes and channels, in float64."""
    features, weight = features.double().cpu(), weight.double().cpu()
    N, K, h, w = features.shape
    C = weight.shape[0]
    rows = [list(range(C)) for _ in range(N)] if classes is None else classes.cpu().tolist()
    k = C if classes is None else classes.shape[1]
    out = torch.zeros(N, k, h, w, dtype=torch.float64)
    for n in range(N):
        for j in range(k):
            c = rows[n][j]
            for u in range(K):
                out[n, j] += weight[c, u] * features[n, u]
            if bias is not None:
                out[n, j] += float(bias[c])
    return out


def random_case(gen, N, K, h, w, C, k=None, dtype=torch.float64):
    features = torch.randn(N, K, h, w, generator=gen, dtype=dtype)
    weight = torch.randn(C, K, generator=gen, dtype=dtype)
    bias = torch.randn(C, generator=gen, dtype=dtype)
    classes = None if k is None else torch.randint(0, C, (N, k), generator=gen)
    return features, weight, bias, classes


SHAPES = [  # (N, K, h, w, C)
    (1, 1, 1, 1, 1),
    (2, 3, 4, 5, 6),
    (3, 8, 7, 7, 10),
    (1, 16, 2, 9, 3),
]


# --- values against the slow reference -------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("k", [None, 1, 3], ids=["all", "k1", "k3"])
@pytest.mark.parametrize("with_bias", [False, True], ids=["nobias", "bias"])
def test_matches_loop_reference(gen, shape, k, with_bias):
    features, weight, bias, classes = random_case(gen, *shape, k=k)
    bias = bias if with_bias else None
    got = class_activation_maps(features, weight, classes, bias=bias)
    want = cam_reference(features, weight, classes, bias)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("with_bias", [False, True], ids=["nobias", "bias"])
def test_matches_loop_reference_float32(gen, with_bias):
    features, weight, bias, classes = random_case(gen, 2, 5, 3, 4, 7, k=2, dtype=torch.float32)
    bias = bias if with_bias else None
    got = class_activation_maps(features, weight, classes, bias=bias)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), cam_reference(features, weight, classes, bias), rtol=1e-5, atol=1e-5)


def test_classes_select_rows_of_all_class_maps(gen):
    # The maps of chosen classes are the matching slices of the maps of all classes,
    # also when a class is repeated or the rows ask for classes in different orders
    # (equal up to rounding: the two einsums may sum in different orders).
    features, weight, bias, _ = random_case(gen, 2, 4, 3, 3, 6)
    classes = torch.tensor([[5, 0, 5], [2, 1, 3]])
    every = class_activation_maps(features, weight, bias=bias)  # (N, C, h, w)
    chosen = class_activation_maps(features, weight, classes, bias=bias)  # (N, k, h, w)
    for n in range(2):
        for j in range(3):
            torch.testing.assert_close(chosen[n, j], every[n, classes[n, j]], rtol=1e-12, atol=1e-12)


def test_hand_worked_case():
    # One image, K = 2 channels of 2 x 2, C = 2 classes:
    #   f_0 = [[1, 2], [3, 4]], f_1 = [[0, 1], [0, 1]]
    #   w_0 = (1, 10)  -> M_0 = [[1 + 0, 2 + 10], [3 + 0, 4 + 10]] = [[1, 12], [3, 14]]
    #   w_1 = (-1, 2)  -> M_1 = [[-1 + 0, -2 + 2], [-3 + 0, -4 + 2]] = [[-1, 0], [-3, -2]]
    # with bias b = (0.5, -1): M_0 + 0.5, M_1 - 1.
    features = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [0.0, 1.0]]]])
    weight = torch.tensor([[1.0, 10.0], [-1.0, 2.0]])
    m0 = torch.tensor([[1.0, 12.0], [3.0, 14.0]])
    m1 = torch.tensor([[-1.0, 0.0], [-3.0, -2.0]])
    assert torch.equal(class_activation_maps(features, weight), torch.stack([m0, m1])[None])
    assert torch.equal(class_activation_maps(features, weight, torch.tensor([[1]])), m1[None, None])
    with_bias = class_activation_maps(features, weight, bias=torch.tensor([0.5, -1.0]))
    assert torch.equal(with_bias, torch.stack([m0 + 0.5, m1 - 1.0])[None])
    # "max": M_0 / 14; M_1 has max 0 <= 0 -> zeros. "minmax": (M_0 - 1) / 13, (M_1 + 3) / 3.
    assert torch.equal(
        class_activation_maps(features, weight, normalize="max"), torch.stack([m0 / 14, torch.zeros(2, 2)])[None]
    )
    torch.testing.assert_close(
        class_activation_maps(features, weight, normalize="minmax"),
        torch.stack([(m0 - 1) / 13, (m1 + 3) / 3])[None],
    )


def test_mean_of_map_plus_bias_is_linear_score(gen):
    # S_c = sum_k w_k^c mean(f_k) + b_c = mean(M_c) + b_c, for arbitrary features.
    features, weight, bias, _ = random_case(gen, 3, 5, 4, 6, 8)
    scores = features.mean(dim=(2, 3)) @ weight.T + bias  # (N, C)
    maps = class_activation_maps(features, weight)  # (N, C, h, w)
    torch.testing.assert_close(maps.mean(dim=(2, 3)) + bias, scores, rtol=1e-12, atol=1e-12)
    with_bias = class_activation_maps(features, weight, bias=bias)
    torch.testing.assert_close(with_bias.mean(dim=(2, 3)), scores, rtol=1e-12, atol=1e-12)


# --- the identity on whole networks ----------------------------------------------------


def all_class_maps(model, layer, images):
    """Logits and the maps of every class (``ReLU(W f + b)`` for a NIN-style head)."""
    with torch.no_grad(), camlib.capture_features(model, layer.features) as cap:
        logits = model(images)  # (N, C)
    if layer.relu:
        maps = torch.relu(class_activation_maps(cap.features, layer.weight, bias=layer.bias))
        return logits, maps, torch.zeros_like(logits[0])
    return logits, class_activation_maps(cap.features, layer.weight), layer.bias


TOLERANCE = {torch.float32: dict(rtol=1e-4, atol=1e-5), torch.float64: dict(rtol=1e-10, atol=1e-10)}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_identity_on_tiny_net(make_tiny_net, gen, dtype):
    model = make_tiny_net(3).to(dtype)
    images = torch.randn(4, 3, 10, 12, generator=gen, dtype=dtype)
    logits, maps, bias = all_class_maps(model, model.cam_layer(), images)
    assert maps.shape == (4, 5, 5, 6)
    torch.testing.assert_close(maps.mean(dim=(2, 3)) + bias, logits, **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("name", ["resnet18", "googlenet", "squeezenet1_0"])
def test_identity_on_torchvision_nets(torchvision_net, name, dtype):
    model = torchvision_net(name, dtype)
    images = net_input(name, dtype=dtype)
    logits, maps, bias = all_class_maps(model, camlib.find_cam_layer(model), images)
    assert maps.shape[:2] == (2, TORCHVISION_NETS[name][0]["num_classes"])
    assert maps.shape[2] * maps.shape[3] > 1
    assert maps.mean(dim=(2, 3)).abs().max() > 0.1  # the maps carry the logits, not only the bias
    torch.testing.assert_close(maps.mean(dim=(2, 3)) + bias, logits, **TOLERANCE[dtype])


# --- size ------------------------------------------------------------------------------


def test_bilinear_upsampling_hand_worked():
    # [[0, 1], [2, 3]] to 4 x 4, align_corners=False: output pixel j samples the
    # input at (j + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25, clamped to [0, 1],
    # so each row is (a, 0.75a + 0.25b, 0.25a + 0.75b, b) and likewise for columns.
    maps = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
    want = torch.tensor(
        [
            [0.0, 0.25, 0.75, 1.0],
            [0.5, 0.75, 1.25, 1.5],
            [1.5, 1.75, 2.25, 2.5],
            [2.0, 2.25, 2.75, 3.0],
        ]
    )
    assert torch.equal(resize_maps(maps, 4), want[None, None])
    # A CAM that equals this map: one channel, weight 1.
    assert torch.equal(class_activation_maps(maps, torch.ones(1, 1), size=4), want[None, None])


@pytest.mark.parametrize("size", [9, (9, 9), (7, 13), [6, 4], (5, 6)], ids=str)
def test_size_matches_interpolate(gen, size):
    features, weight, bias, classes = random_case(gen, 2, 3, 5, 6, 4, k=2)
    got = class_activation_maps(features, weight, classes, bias=bias, size=size)
    HW = (size, size) if isinstance(size, int) else tuple(size)
    want = F.interpolate(cam_reference(features, weight, classes, bias), size=HW, mode="bilinear", align_corners=False)
    assert got.shape == (2, 2, *HW)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_size_then_normalize(gen):
    # Normalization comes after resizing.
    features, weight, _, _ = random_case(gen, 2, 3, 4, 4, 3)
    raw = class_activation_maps(features, weight)
    for mode in ["max", "minmax"]:
        got = class_activation_maps(features, weight, size=(8, 6), normalize=mode)
        want = normalize_maps(F.interpolate(raw, size=(8, 6), mode="bilinear", align_corners=False), mode)
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_resize_maps_to_same_size_returns_maps(gen):
    maps = torch.randn(2, 3, 4, 5, generator=gen)
    assert resize_maps(maps, None) is maps
    assert resize_maps(maps, (4, 5)) is maps
    assert resize_maps(maps, [4, 5]) is maps
    square = torch.randn(1, 1, 3, 3, generator=gen)
    assert resize_maps(square, 3) is square


# --- normalization ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
def test_normalize_max(gen, dtype):
    maps = torch.randn(3, 4, 5, 6, generator=gen).to(dtype)
    maps[0, 0] = -maps[0, 0].abs() - 0.5  # all negative: max <= 0 -> zeros
    maps[0, 1] = 0.0  # all zero: max = 0 -> zeros
    maps[0, 2] = 2.5  # constant positive: every pixel is the max -> ones
    out = normalize_maps(maps, "max")
    assert out.dtype == dtype and out.shape == maps.shape
    assert torch.equal(out[0, 0], torch.zeros(5, 6, dtype=dtype))
    assert torch.equal(out[0, 1], torch.zeros(5, 6, dtype=dtype))
    assert torch.equal(out[0, 2], torch.ones(5, 6, dtype=dtype))
    hi = maps.amax(dim=(-2, -1))
    positive = hi > 0
    assert torch.equal(out.amax(dim=(-2, -1))[positive], torch.ones(int(positive.sum()), dtype=dtype))
    want = maps.double() / hi.double()[..., None, None]
    torch.testing.assert_close(
        out.double()[positive], want[positive], rtol=1e-2 if dtype == torch.bfloat16 else 1e-6, atol=0
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
def test_normalize_minmax(gen, dtype):
    maps = torch.randn(3, 4, 5, 6, generator=gen).to(dtype)
    maps[1, 3] = -7.0  # constant map -> zeros
    out = normalize_maps(maps, "minmax")
    assert out.dtype == dtype and out.shape == maps.shape
    assert torch.equal(out[1, 3], torch.zeros(5, 6, dtype=dtype))
    varying = torch.ones(3, 4, dtype=torch.bool)
    varying[1, 3] = False
    assert torch.equal(out.amin(dim=(-2, -1))[varying], torch.zeros(11, dtype=dtype))
    assert torch.equal(out.amax(dim=(-2, -1))[varying], torch.ones(11, dtype=dtype))
    lo, hi = maps.double().amin(dim=(-2, -1), keepdim=True), maps.double().amax(dim=(-2, -1), keepdim=True)
    want = (maps.double() - lo) / (hi - lo)
    tol = dict(rtol=2e-2, atol=1e-2) if dtype == torch.bfloat16 else dict(rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(out.double()[varying], want[varying], **tol)


def test_normalize_none_returns_maps(gen):
    maps = torch.randn(2, 2, 3, 3, generator=gen)
    assert normalize_maps(maps, None) is maps


def test_normalize_is_per_map():
    # Two maps in one tensor, normalized each by its own maximum: (1, 2) / 2, (10, 40) / 40.
    maps = torch.tensor([[[[1.0, 2.0]], [[10.0, 40.0]]]])
    assert torch.equal(normalize_maps(maps, "max"), torch.tensor([[[[0.5, 1.0]], [[0.25, 1.0]]]]))


def test_normalize_any_leading_dims():
    # normalize_maps works on (..., H, W): here a single (H, W) = (1, 3) map, (-1, 0, 3) / 3.
    out = normalize_maps(torch.tensor([[-1.0, 0.0, 3.0]]), "max")
    torch.testing.assert_close(out, torch.tensor([[-1 / 3, 0.0, 1.0]]))


# --- inputs, dtypes, devices, empty shapes ---------------------------------------------


@pytest.mark.parametrize("normalize", [None, "max", "minmax"])
def test_inputs_not_modified(gen, normalize):
    features, weight, bias, classes = random_case(gen, 2, 3, 4, 4, 5, k=2, dtype=torch.float32)
    before = [t.clone() for t in (features, weight, bias, classes)]
    out = class_activation_maps(features, weight, classes, bias=bias, size=(8, 8), normalize=normalize)
    out.add_(1.0)  # the output shares no memory with the inputs
    for t, b in zip((features, weight, bias, classes), before):
        assert torch.equal(t, b)
    maps = torch.randn(2, 3, 4, 4, generator=gen)
    kept = maps.clone()
    normalize_maps(maps, "minmax").add_(1.0)
    normalize_maps(maps, "max").add_(1.0)
    resize_maps(maps, 8).add_(1.0)
    assert torch.equal(maps, kept)


def test_raw_output_is_new_tensor(gen):
    # Without size and normalize the result still is a new tensor, not a view of `features`.
    features = torch.randn(1, 1, 3, 3, generator=gen)
    kept = features.clone()
    class_activation_maps(features, torch.ones(1, 1)).mul_(0.0)
    assert torch.equal(features, kept)


@pytest.mark.parametrize(
    "dtype, tol",
    [
        (torch.float32, dict(rtol=1e-5, atol=1e-5)),
        (torch.float64, dict(rtol=1e-12, atol=1e-12)),
        (torch.bfloat16, dict(rtol=3e-2, atol=5e-2)),
    ],
    ids=["float32", "float64", "bfloat16"],
)
def test_dtype_and_device_preserved(gen, device, dtype, tol):
    features, weight, bias, classes = random_case(gen, 2, 4, 3, 5, 6, k=3, dtype=torch.float64)
    want = cam_reference(features, weight, classes, bias)
    got = class_activation_maps(
        features.to(device, dtype), weight.to(device, dtype), classes.to(device), bias=bias.to(device, dtype)
    )
    assert got.dtype == dtype and got.device.type == device
    torch.testing.assert_close(got.double().cpu(), want, **tol)
    resized = class_activation_maps(features.to(device, dtype), weight.to(device, dtype), size=7, normalize="minmax")
    assert resized.dtype == dtype and resized.device.type == device and resized.shape == (2, 6, 7, 7)


def test_weight_dtype_follows_features(gen):
    # float64 weights on float32 features: computed and returned in float32.
    features, weight, _, _ = random_case(gen, 1, 3, 2, 2, 4)
    got = class_activation_maps(features.float(), weight)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), cam_reference(features, weight), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.uint8, torch.int16], ids=str)
def test_classes_any_integer_dtype(gen, dtype):
    # Every integer dtype the validation accepts must index classes (a uint8 tensor
    # must not be taken as a boolean mask).
    features, weight, bias, _ = random_case(gen, 5, 3, 2, 2, 5)
    classes = torch.tensor([[1, 2, 0], [4, 4, 3], [0, 1, 2], [3, 3, 3], [2, 0, 4]])
    got = class_activation_maps(features, weight, classes.to(dtype), bias=bias)
    torch.testing.assert_close(got, cam_reference(features, weight, classes, bias), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("size", [None, 4])
@pytest.mark.parametrize("normalize", [None, "max", "minmax"])
def test_empty_batch(size, normalize):
    features = torch.zeros(0, 3, 2, 2)
    weight = torch.ones(5, 3)
    HW = (2, 2) if size is None else (4, 4)
    assert class_activation_maps(features, weight, size=size, normalize=normalize).shape == (0, 5, *HW)
    classes = torch.zeros(0, 2, dtype=torch.long)
    out = class_activation_maps(features, weight, classes, bias=torch.ones(5), size=size, normalize=normalize)
    assert out.shape == (0, 2, *HW)


@pytest.mark.parametrize("size", [None, 4])
@pytest.mark.parametrize("normalize", [None, "max", "minmax"])
def test_no_classes_selected(gen, size, normalize):
    features = torch.randn(2, 3, 2, 2, generator=gen)
    classes = torch.zeros(2, 0, dtype=torch.long)
    out = class_activation_maps(features, torch.ones(5, 3), classes, bias=torch.ones(5), size=size, normalize=normalize)
    assert out.shape == (2, 0, *((2, 2) if size is None else (4, 4)))


# --- bad input -------------------------------------------------------------------------

F4 = torch.zeros(2, 3, 4, 4)
W = torch.zeros(5, 3)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            dict(features=torch.zeros(3, 7)),
            ValueError,
            r"`features` must be a 4-D tensor \(N, K, h, w\), but got shape \(3, 7\)",
        ),
        (dict(features=[[[[1.0]]]]), TypeError, r"`features` must be a torch.Tensor, but got list"),
        (
            dict(features=torch.zeros(2, 3, 4, 4, dtype=torch.int64)),
            TypeError,
            r"`features` must have a floating-point dtype",
        ),
        (
            dict(weight=torch.zeros(5, 3, 1)),
            ValueError,
            r"`weight` must be a 2-D tensor \(C, K\), but got shape \(5, 3, 1\)",
        ),
        (dict(weight=torch.zeros(5, 3).numpy()), TypeError, r"`weight` must be a torch.Tensor"),
        (dict(weight=torch.zeros(5, 3, dtype=torch.int32)), TypeError, r"`weight` must have a floating-point dtype"),
        (
            dict(weight=torch.zeros(5, 4)),
            ValueError,
            r"`weight` must have shape \(C, K\) with K = 3 .*got shape \(5, 4\)",
        ),
        (dict(bias=torch.zeros(4)), ValueError, r"`bias` must have shape \(5,\), but got shape \(4,\)"),
        (dict(bias=torch.zeros(1, 5)), ValueError, r"`bias` must be a 1-D tensor \(C,\)"),
        (dict(bias=torch.zeros(5, dtype=torch.int64)), TypeError, r"`bias` must have a floating-point dtype"),
        (dict(bias=1.0), TypeError, r"`bias` must be a torch.Tensor, but got float"),
        (
            dict(classes=torch.zeros(3, 1, dtype=torch.long)),
            ValueError,
            r"`classes` must have one row per image, shape \(2, k\), but got shape \(3, 1\)",
        ),
        (dict(classes=torch.tensor([[0], [5]])), ValueError, r"`classes` must hold indices in \[0, 5\), but got 5"),
        (dict(classes=torch.tensor([[-1], [2]])), ValueError, r"`classes` must hold indices in \[0, 5\), but got -1"),
        (
            dict(classes=torch.tensor([[0.0], [1.0]])),
            TypeError,
            r"`classes` must have an integer dtype, but got torch.float32",
        ),
        (
            dict(classes=torch.tensor([[True], [False]])),
            TypeError,
            r"`classes` must have an integer dtype, but got torch.bool",
        ),
        (
            dict(classes=torch.tensor([0, 1])),
            ValueError,
            r"`classes` must be a 2-D tensor \(N, k\), but got shape \(2\)",
        ),
        (dict(classes=[[0], [1]]), TypeError, r"`classes` must be a torch.Tensor, but got list"),
        (dict(normalize="l2"), ValueError, r"`normalize` must be one of None, 'max', 'minmax', but got 'l2'"),
        (dict(normalize="Max"), ValueError, r"`normalize` must be one of .*but got 'Max'"),
        (dict(size=0), ValueError, r"`size` must have positive sides, but got \(0, 0\)"),
        (dict(size=(4, -2)), ValueError, r"`size` must have positive sides, but got \(4, -2\)"),
        (dict(size=(4,)), TypeError, r"`size` must be None, an int or a pair \(H, W\) of ints, but got \(4,\)"),
        (dict(size=2.5), TypeError, r"`size` must be None, an int or a pair \(H, W\) of ints, but got 2.5"),
        (dict(size=True), TypeError, r"`size` must be None, an int or a pair \(H, W\) of ints, but got True"),
        (dict(size=(4.0, 4.0)), TypeError, r"`size` must be None, an int or a pair"),
        (dict(size="4"), TypeError, r"`size` must be None, an int or a pair"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_bad_input(kwargs, error, match):
    args = dict(features=F4, weight=W, classes=None)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        class_activation_maps(args.pop("features"), args.pop("weight"), args.pop("classes"), **args)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_weight_on_other_device():
    with pytest.raises(ValueError, match=r"`weight` must be on the device of `features`"):
        class_activation_maps(F4.cuda(), W)


def test_resize_and_normalize_bad_input():
    with pytest.raises(ValueError, match=r"`maps` must be a 4-D tensor \(N, k, h, w\), but got shape \(3, 3\)"):
        resize_maps(torch.zeros(3, 3), 4)
    with pytest.raises(TypeError, match=r"`maps` must have a floating-point dtype"):
        resize_maps(torch.zeros(1, 1, 3, 3, dtype=torch.long), 4)
    with pytest.raises(TypeError, match=r"`size` must be None, an int or a pair"):
        resize_maps(torch.zeros(1, 1, 3, 3), "big")
    with pytest.raises(TypeError, match=r"`maps` must be a torch.Tensor, but got list"):
        normalize_maps([[0.0]], "max")
    with pytest.raises(TypeError, match=r"`maps` must have a floating-point dtype"):
        normalize_maps(torch.zeros(3, 3, dtype=torch.long), "max")
    with pytest.raises(ValueError, match=r"`normalize` must be one of None, 'max', 'minmax', but got 'sum'"):
        normalize_maps(torch.zeros(3, 3), "sum")
    with pytest.raises(
        ValueError, match=r"`maps` must have at least 2 dimensions \(\.\.\., H, W\), but got shape \(3,\)"
    ):
        normalize_maps(torch.zeros(3), "max")


@pytest.mark.parametrize("mode", ["max", "minmax"])
def test_normalize_keeps_nan_visible(mode):
    # A map holding a NaN becomes all NaN (never silently zeros); the other map is untouched.
    maps = torch.tensor([[[[1.0, float("nan")], [0.0, 2.0]], [[0.0, 1.0], [2.0, 4.0]]]])  # (1, 2, 2, 2)
    out = normalize_maps(maps, mode)
    assert out[0, 0].isnan().all()
    expected = maps[0, 1] / 4.0  # max 4, min 0: both modes give M / 4
    torch.testing.assert_close(out[0, 1], expected)
