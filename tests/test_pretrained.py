"""Tests of camlib.models.pretrained: loading torchvision networks offline, class names."""

from __future__ import annotations

import re
import sys
import urllib.error
from pathlib import Path

import pytest
import torch
import torchvision.models as tvm
from conftest import build_seeded

from camlib import imagenet_categories, load_pretrained
from camlib.models import is_torchvision_weights


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """An empty torch hub cache under ``tmp_path`` and no network: every download fails."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(torch.hub, "urlopen", no_network)
    return tmp_path / "torch" / "hub" / "checkpoints"


def same_outputs(a: torch.nn.Module, b: torch.nn.Module, side: int = 64) -> None:
    images = torch.randn(2, 3, side, side, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.equal(a.eval()(images), b.eval()(images))


@pytest.mark.parametrize(
    "arch, kwargs",
    [
        ("squeezenet1_0", {}),
        # A GoogLeNet file is taken as torchvision's release: transform_input=True;
        # a file without the auxiliary heads loads too.
        ("googlenet", dict(aux_logits=False, transform_input=True, init_weights=True)),
    ],
)
def test_load_local_state_dict(tmp_path, arch, kwargs):
    source = build_seeded(tvm.get_model_builder(arch), weights=None, **kwargs)
    path = tmp_path / f"{arch}.pth"
    torch.save(source.state_dict(), path)
    for weights in (path, str(path)):
        model = load_pretrained(arch, weights)
        assert type(model) is type(source) and not model.training
        same_outputs(model, source)


def _as_official(monkeypatch, member, state_dict, folder: Path) -> Path:
    """Save ``state_dict`` in torch's hub cache under the name ``member``'s URL would have for its hash."""
    import hashlib

    folder.mkdir(parents=True, exist_ok=True)
    scratch = folder / "scratch.pth"
    torch.save(state_dict, scratch)
    prefix = hashlib.sha256(scratch.read_bytes()).hexdigest()[:8]
    stem = Path(member.url).name.split("-")[0]
    monkeypatch.setattr(member.value, "url", f"https://download.pytorch.org/models/{stem}-{prefix}.pth")
    return scratch.rename(folder / f"{stem}-{prefix}.pth")


def test_googlenet_file_same_as_torchvision_weights(offline, monkeypatch):
    # Emulate torchvision's googlenet-<hash>.pth: the layout its builder loads
    # (aux_logits=True, 1000 classes), put in the hub cache so that the weights
    # name works offline; the same file passed as a path must give the same network.
    source = build_seeded(tvm.googlenet, weights=None, aux_logits=True, init_weights=True)
    path = _as_official(monkeypatch, tvm.GoogLeNet_Weights.IMAGENET1K_V1, source.state_dict(), offline)
    by_name = load_pretrained("googlenet", "IMAGENET1K_V1")
    by_path = load_pretrained("googlenet", path)
    same_outputs(by_path, by_name)
    assert by_path.aux1 is None and by_path.aux2 is None and by_path.transform_input


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere" / "resnet18.pth"
    with pytest.raises(FileNotFoundError, match=re.escape(repr(str(path))) + r" is neither \(no such file\)"):
        load_pretrained("resnet18", path)
    with pytest.raises(
        FileNotFoundError, match=r"one of torchvision's weights for 'resnet18' \(DEFAULT, IMAGENET1K_V1\) or"
    ):
        load_pretrained("resnet18", "IMAGENET1K_V9")


def test_state_dict_of_other_architecture(tmp_path):
    path = tmp_path / "squeezenet.pth"
    torch.save(build_seeded(tvm.squeezenet1_1, weights=None).state_dict(), path)
    with pytest.raises(
        RuntimeError, match=rf"The state_dict in {re.escape(str(path))} does not fit torchvision's 'resnet18'"
    ):
        load_pretrained("resnet18", path)
    # Same architecture, other number of classes: the shapes disagree.
    torch.save(build_seeded(tvm.squeezenet1_0, weights=None, num_classes=3).state_dict(), path)
    with pytest.raises(
        RuntimeError, match=rf"(?s){re.escape(str(path))} does not fit torchvision's 'squeezenet1_0'.*size mismatch"
    ):
        load_pretrained("squeezenet1_0", path)


@pytest.mark.parametrize("arch", ["resnet5", "fasterrcnn", ""])
def test_unknown_arch(arch):
    with pytest.raises(
        ValueError, match=rf"`arch` must be a torchvision classification model name .*but got {re.escape(repr(arch))}"
    ):
        load_pretrained(arch, None)
    with pytest.raises(ValueError, match=r"`arch` must be a torchvision classification model name"):
        is_torchvision_weights(arch, "DEFAULT")


def test_bad_types():
    with pytest.raises(TypeError, match=r"`arch` must be a torchvision model name \(str\), but got int"):
        load_pretrained(18, None)
    with pytest.raises(TypeError, match=r"`weights` must be a torchvision weights name, a path or None, but got int"):
        load_pretrained("squeezenet1_0", 1)


@pytest.mark.parametrize("arch, cls", [("squeezenet1_0", tvm.SqueezeNet), ("googlenet", tvm.GoogLeNet)])
def test_weights_none(arch, cls):
    model = load_pretrained(arch, None)
    assert type(model) is cls and not model.training
    if arch == "googlenet":
        assert model.aux1 is None and model.aux2 is None
    # Random weights: two calls give different networks.
    other = load_pretrained(arch, None)
    assert not all(torch.equal(a, b) for a, b in zip(model.parameters(), other.parameters()))


def test_is_torchvision_weights():
    assert is_torchvision_weights("resnet50", "IMAGENET1K_V1")
    assert is_torchvision_weights("resnet50", "IMAGENET1K_V2")
    assert is_torchvision_weights("googlenet", "DEFAULT")
    assert not is_torchvision_weights("googlenet", "IMAGENET1K_V2")
    assert not is_torchvision_weights("resnet50", "w.pth")
    assert not is_torchvision_weights("resnet50", Path("IMAGENET1K_V1"))
    assert not is_torchvision_weights("resnet50", None)
    assert not is_torchvision_weights("resnet50", "imagenet1k_v1")


def test_imagenet_categories():
    names = imagenet_categories()
    assert len(names) == 1000 and len(set(names)) == 1000  # torchvision renamed the duplicates
    assert names[134] == "crane bird" and names[517] == "crane"
    assert names[0] == "tench"
    assert names[1] == "goldfish"
    assert names[207] == "golden retriever"
    assert names[281] == "tabby"
    assert names[671] == "mountain bike"
    assert names[999] == "toilet tissue"
    names.append("mutated")  # a fresh list every time
    assert len(imagenet_categories()) == 1000


def test_offline_download_failure(offline):
    url = tvm.ResNet18_Weights.IMAGENET1K_V1.url
    filename = Path(url).name
    with pytest.raises(RuntimeError, match=r"Could not download the weights ResNet18_Weights.IMAGENET1K_V1") as info:
        load_pretrained("resnet18", "IMAGENET1K_V1")
    message = str(info.value)
    assert url in message
    assert f"load_pretrained('resnet18', '/path/to/{filename}') (it is loaded with weights_only=True)" in message
    assert str(offline) not in message  # the path route only: never "drop a file into the hub cache"
    assert isinstance(info.value.__cause__, urllib.error.URLError)
    assert not offline.exists() or not any(offline.iterdir())  # no partial download left behind
    with pytest.raises(RuntimeError, match=r"Could not download the weights ResNet18_Weights.IMAGENET1K_V1"):
        load_pretrained("resnet18", "DEFAULT")


def test_file_in_hub_cache_is_used_offline_when_its_hash_matches_its_name(offline, monkeypatch):
    source = build_seeded(tvm.resnet18, weights=None)
    _as_official(monkeypatch, tvm.ResNet18_Weights.IMAGENET1K_V1, source.state_dict(), offline)
    model = load_pretrained("resnet18", "IMAGENET1K_V1")
    assert not model.training
    same_outputs(model, source)


def test_a_cached_file_whose_hash_differs_from_its_name_is_never_unpickled(offline, monkeypatch):
    """torch.hub checks the hash only while downloading; camlib checks it on every load, before torch.load."""
    path = offline / Path(tvm.ResNet18_Weights.IMAGENET1K_V1.url).name
    path.parent.mkdir(parents=True)
    torch.save(build_seeded(tvm.resnet18, weights=None).state_dict(), path)  # not the official bytes
    loads = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(k) or {})
    with pytest.raises(RuntimeError, match=r"must have a SHA-256 starting with [0-9a-f]{8} .* not loaded"):
        load_pretrained("resnet18", "IMAGENET1K_V1")
    assert loads == []


def test_weights_by_name_are_loaded_with_weights_only(offline, monkeypatch):
    source = build_seeded(tvm.resnet18, weights=None)
    _as_official(monkeypatch, tvm.ResNet18_Weights.IMAGENET1K_V1, source.state_dict(), offline)
    real_load, calls = torch.load, []
    monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append(k.get("weights_only")) or real_load(*a, **k))
    load_pretrained("resnet18", "IMAGENET1K_V1")
    assert calls == [True]


def test_resolve_weights_names_a_torchvision_weight_or_finds_a_file_with_its_digest(tmp_path):
    import hashlib

    from camlib.models.pretrained import resolve_weights

    assert resolve_weights("resnet50", "IMAGENET1K_V1") == ("IMAGENET1K_V1", "IMAGENET1K_V1")
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "w.pth").write_bytes(b"abc")
    source, identity = resolve_weights("squeezenet1_0", "weights/w.pth", data_root=str(tmp_path))
    assert source == str(tmp_path / "weights" / "w.pth")
    assert identity == hashlib.sha256(b"abc").hexdigest()
    with pytest.raises(FileNotFoundError, match="state_dict file for torchvision's squeezenet1_0"):
        resolve_weights("squeezenet1_0", "weights/missing.pth", data_root=str(tmp_path))


def test_timm_names_are_not_torchvision_names(monkeypatch):
    # Nothing here needs timm: the names are told apart before it is imported.
    assert not is_torchvision_weights("efficientnet_lite0", "DEFAULT")
    assert not is_torchvision_weights("timm:resnet18", "IMAGENET1K_V1")
    with pytest.raises(
        ValueError, match=r"\(or 'efficientnet_lite0', or 'timm:<name>' for a timm model\), but got 'lite0'"
    ):
        load_pretrained("lite0", None)
    monkeypatch.setitem(sys.modules, "timm", None)  # as if timm were not installed: `import timm` fails
    with pytest.raises(ModuleNotFoundError, match=r"`arch` 'timm:resnet18' needs timm \(camlib's `study` extra\)"):
        load_pretrained("timm:resnet18", None)
