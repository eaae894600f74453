"""camlib.models.places: the Places365 SqueezeNet from named arrays, against a plain reference and the README's checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import requires_data

import camlib
from camlib.models.places import (
    FIRES,
    PlacesPreprocess,
    PlacesSqueezeNet,
    _expected,
    load_places_squeezenet,
    read_places_categories,
)


def _arrays(num_classes: int = 5, seed: int = 0) -> dict[str, np.ndarray]:
    """Random arrays with the file's names and shapes; batch-norm scales positive, as trained ones are."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in _expected(num_classes).items():
        fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else 1
        value = rng.normal(0, 1 / np.sqrt(fan_in), shape) if name.endswith("weight") else rng.normal(0, 0.1, shape)
        if name.endswith(("bn_gamma", "bn_inv_std")):
            value = rng.uniform(0.5, 1.5, shape)
        out[name] = value.astype(np.float32)
    return out


def _reference(a: dict[str, np.ndarray], x: torch.Tensor) -> torch.Tensor:
    """The README's network written out plainly: conv, batch norm by its formula, leaky ReLU 0.55; float64."""
    t = {k: torch.from_numpy(v).double() for k, v in a.items()}

    def unit(name, x, stride=1):
        k = t[f"{name}.weight"].shape[-1]
        y = F.conv2d(x, t[f"{name}.weight"], t[f"{name}.bias"], stride=stride, padding=k // 2)
        c = lambda v: t[f"{name}.{v}"][None, :, None, None]  # noqa: E731
        return F.leaky_relu((y - c("bn_mean")) * c("bn_gamma") * c("bn_inv_std") + c("bn_beta"), 0.55)

    y = F.max_pool2d(unit("conv1", x, stride=2), 3, 2)
    for name in FIRES:
        s = unit(f"{name}.squeeze", y)
        y = torch.cat([unit(f"{name}.expand1x1", s), unit(f"{name}.expand3x3", s)], 1)
        if name in ("fire3", "fire5"):
            y = F.max_pool2d(y, 3, 2)
    maps = F.leaky_relu(F.conv2d(y, t["conv10.weight"], t["conv10.bias"]), 0.55)
    return maps


@pytest.fixture
def npz(tmp_path):
    path = tmp_path / "places.npz"
    arrays = _arrays()
    np.savez(path, **arrays)
    return path, arrays


def test_the_network_is_the_readmes_with_batch_norm_folded(npz):
    path, arrays = npz
    net = load_places_squeezenet(path).double()
    assert not net.training and net.conv10.out_channels == 5
    x = torch.randn(2, 3, 67, 67, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    maps = _reference(arrays, x)  # (2, 5, h, w)
    assert maps.shape == (2, 5, 3, 3)  # 67 -> 34 (conv1) -> 16 -> 7 -> 3 (the three poolings)
    # the folded weights are stored in float32: agreement to float32 rounding
    assert torch.allclose(net(x), maps.mean((2, 3)), atol=1e-6)
    # the class maps: camlib's CAM of the leaky-ReLU head is channel c of the reference, and its mean is the score
    out = camlib.compute_cams(net, x, torch.tensor([[4, 0], [1, 2]]))
    assert torch.allclose(out.maps[0], maps[0, [4, 0]], atol=1e-6) and torch.allclose(
        out.maps[1], maps[1, [1, 2]], atol=1e-6
    )
    assert camlib.cam.extractor.score_identity(net, x).error.max() < 1e-10
    assert (maps < 0).any()  # the leaky slope matters: some map values are negative, and the CAM keeps them


def test_the_leaky_slope_by_hand(tmp_path):
    # a 1x1 input through conv10 alone: the map of class c is leaky(w_c . f + b_c) with slope 0.55
    net = PlacesSqueezeNet(num_classes=2)
    with torch.no_grad():
        net.conv10.weight.zero_()
        net.conv10.bias.copy_(torch.tensor([-2.0, 3.0]))
    scores = net.act10(net.conv10(torch.zeros(1, 512, 2, 2))).mean((2, 3))
    assert scores[0].tolist() == pytest.approx([-1.1, 3.0])  # -2 * 0.55, 3


def test_a_file_that_is_not_the_network_is_refused(tmp_path):
    arrays = _arrays()
    arrays.pop("fire4.squeeze.bn_mean")
    arrays["fire5.expand3x3.weight"] = np.zeros((128, 32, 1, 1), np.float32)
    arrays["extra.weight"] = np.zeros(3, np.float32)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(
        ValueError,
        match=r"must hold the Places365 SqueezeNet's 152 arrays with their shapes, but it "
        r"does not; missing: fire4.squeeze.bn_mean; unexpected: extra.weight; "
        r"misshapen: fire5.expand3x3.weight \(128, 32, 1, 1\) \(expected \(128, 32, "
        r"3, 3\)\)",
    ):
        load_places_squeezenet(tmp_path / "bad.npz")
    with pytest.raises(FileNotFoundError, match="a .npz of the Places365 SqueezeNet's named arrays"):
        load_places_squeezenet(tmp_path / "absent.npz")


def test_preprocess_and_categories(tmp_path):
    mean = np.zeros((3, 256, 256), np.float32)
    mean[0] = 10.0  # B
    p = PlacesPreprocess(mean)
    x = p(camlib.data.read_image(_solid(tmp_path, (0, 0, 255))))  # pure blue in RGB
    assert x.shape == (3, 224, 224) and p.crop == (16, 16, 224)
    assert torch.allclose(x[:, 5, 5], torch.tensor([(255 - 10) / 255, 0.0, 0.0]))
    with pytest.raises(ValueError, match=r"`mean` must be a BGR image of shape \(3, 256, 256\), but got \(3, 4, 4\)"):
        PlacesPreprocess(np.zeros((3, 4, 4), np.float32))
    (tmp_path / "cats.txt").write_text("/a/airfield 0\n/k/kitchen 2\n/s/stadium/baseball 1\n")
    assert read_places_categories(tmp_path / "cats.txt") == ["airfield", "stadium/baseball", "kitchen"]
    (tmp_path / "gap.txt").write_text("/a/airfield 0\n/k/kitchen 2\n")
    with pytest.raises(ValueError, match=r"must number its classes 0..1, each once"):
        read_places_categories(tmp_path / "gap.txt")


def _solid(tmp_path, rgb):
    from PIL import Image

    path = tmp_path / "solid.png"
    Image.new("RGB", (40, 30), rgb).save(path)
    return path


@pytest.mark.realdata
@requires_data("places365-squeezenet", "coco-mini")
def test_the_real_network_predicts_what_its_readme_says():
    net, pre, names = load_places_squeezenet(), PlacesPreprocess(), read_places_categories()
    assert len(names) == 365 and names[0] == "airfield" and names[203] == "kitchen"
    coco = camlib.data.COCO(split="val2017", captions=False)
    ids = [r.image_id for r in coco.records]
    x = torch.stack([pre(camlib.data.read_image(coco.records[ids.index(i)].path)) for i in ("139", "217285")])
    with torch.no_grad():
        p = net(x).softmax(1)
    top3 = [[names[c] for c in row] for row in p.topk(3).indices.tolist()]
    assert top3[0] == ["waiting_room", "lobby", "living_room"]  # the README's COCO living room
    assert top3[1][0] == "stadium/baseball" and p[1].max().item() == pytest.approx(0.52, abs=0.01)  # its baseball
    assert camlib.cam.extractor.score_identity(net.double(), x.double()).error.max() < 1e-9  # mean(map) = class score
