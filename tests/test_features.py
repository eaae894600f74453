"""Tests of camlib.study.features: GAP features over a loader, and fingerprints for cache keys."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, Subset

import camlib
from camlib.data import Batch, PreprocessWithBoxes, collate
from camlib.data.common import AnnotatedImages, Record
from camlib.data.synthetic import Localization
from camlib.study.features import extract_features, fingerprint

pytestmark = pytest.mark.usefixtures("one_thread")


def test_pooled_features_are_the_mean_of_the_captured_maps(tiny_net, gen):
    images = torch.randn(7, 3, 8, 8, generator=gen)
    labels = torch.tensor([0, 1, 2, 3, 4, 0, 1])
    batches = [Batch(images[:4], labels[:4]), Batch(images[4:], labels[4:])]
    f = extract_features(tiny_net, batches, keep_maps=True)
    # the slow, obvious reference: run the trunk on each image, average its output by hand
    tiny_net.eval()
    with torch.no_grad():
        for i in range(7):
            fmap = tiny_net.features(images[i : i + 1])[0]  # (K, h, w)
            assert torch.allclose(f.maps[i], fmap, atol=1e-6)
            assert torch.allclose(f.pooled[i], fmap.sum(dim=(1, 2)) / (fmap.shape[1] * fmap.shape[2]), atol=1e-6)
    assert torch.equal(f.labels, labels) and f.boxes is None
    # the network's own logits are its classifier on the pooled features: S = W F + b
    assert torch.allclose(tiny_net(images), f.pooled @ tiny_net.fc.weight.T + tiny_net.fc.bias, atol=1e-5)


def test_modes_restored_no_hook_left_and_channels_last_agrees(tiny_net, gen):
    images = torch.randn(3, 3, 8, 8, generator=gen)
    tiny_net.train()
    a = extract_features(tiny_net, [Batch(images, torch.zeros(3, dtype=torch.long))])
    b = extract_features(
        tiny_net, [Batch(images, torch.zeros(3, dtype=torch.long))], channels_last=True, layer=tiny_net.cam_layer()
    )
    assert tiny_net.training and tiny_net.features[1].training
    assert all(len(m._forward_hooks) == 0 for m in tiny_net.modules())
    assert torch.allclose(a.pooled, b.pooled, atol=1e-5) and a.maps is None


def test_autocast_bfloat16_is_close_and_returns_float32(gen):
    net = camlib.build_model("vgg-small", num_classes=3, input_size=32, resolution=8, channels=4, width=8)
    images = torch.rand(4, 3, 32, 32, generator=gen)
    batches = [Batch(images, torch.zeros(4, dtype=torch.long))]
    exact = extract_features(net, batches, keep_maps=True)
    fast = extract_features(net, batches, keep_maps=True, autocast=torch.bfloat16)
    assert fast.pooled.dtype == torch.float32 and fast.maps.dtype == torch.float32
    # bfloat16 keeps 8 bits of mantissa: a few parts in a thousand per operation
    assert torch.allclose(fast.pooled, exact.pooled, rtol=0.05, atol=0.05 * exact.pooled.abs().max().item())
    assert not torch.equal(fast.pooled, exact.pooled)
    assert torch.allclose(fast.pooled, fast.maps.mean(dim=(2, 3)))  # pooled is the mean of the maps returned


def test_boxes_come_along_from_real_and_synthetic_items(tmp_path):
    Image.new("RGB", (20, 10)).save(tmp_path / "a.png")
    reader = AnnotatedImages(
        [Record(tmp_path / "a.png", 1, ((0, 0, 9, 9),), "a")] * 3, ["x", "y"], transform=PreprocessWithBoxes(16)
    )
    net = camlib.build_model("vgg-small", num_classes=2, input_size=16, resolution=4, channels=2, width=4)
    f = extract_features(net, DataLoader(reader, 2, collate_fn=collate))
    assert f.pooled.shape == (3, 4) and f.labels.tolist() == [1, 1, 1]
    assert [b.tolist() for b in f.boxes] == [[[0, 0, 7, 15]]] * 3  # (0..9 of 20, 0..9 of 10) -> 16 x 16
    data = Localization(4, seed=0, image_size=32, scale=(0.4, 0.6))
    f = extract_features(net, DataLoader(data, 3, collate_fn=collate))
    assert len(f.boxes) == 4 and torch.equal(f.boxes[2], data[2].boxes)


def test_refuses_bad_input(tiny_net):
    with pytest.raises(ValueError, match="`loader` must yield at least one batch, but it was empty"):
        extract_features(tiny_net, [])
    with pytest.raises(TypeError, match="`layer` must be a torch.nn.Module or a camlib.cam.CAMLayer, but got str"):
        extract_features(tiny_net, [], layer="features")
    with pytest.raises(ValueError, match=r"`layer` must output a 4-D tensor \(N, K, h, w\), but got shape \(1, 5\)"):
        extract_features(
            tiny_net, [Batch(torch.zeros(1, 3, 8, 8), torch.zeros(1, dtype=torch.long))], layer=tiny_net.fc
        )
    with pytest.raises(TypeError, match=r"`batch` must be a camlib.data.Batch .* but got tuple"):
        extract_features(tiny_net, [(torch.zeros(1, 3, 8, 8), torch.zeros(1, dtype=torch.long))])


def test_fingerprints(tmp_path):
    t = torch.arange(6.0).reshape(2, 3)
    assert fingerprint(t) == fingerprint(t.clone()) and fingerprint(t) != fingerprint(t.T.contiguous())
    assert fingerprint(t)["shape"] == [2, 3] and fingerprint(torch.tensor([True]))["tensor"] == "torch.bool"
    assert fingerprint(t) != fingerprint(t.double())
    Image.new("RGB", (4, 4)).save(tmp_path / "a.png")
    Image.new("RGB", (4, 4)).save(tmp_path / "b.png")
    records = [Record(tmp_path / "a.png", 0, ((0, 0, 1, 1),), "a"), Record(tmp_path / "b.png", 1, ((0, 0, 2, 2),), "b")]
    reader = AnnotatedImages(records, ["x", "y"])
    base = fingerprint(reader)
    assert base == fingerprint(AnnotatedImages(records, ["x", "y"])) and base["images"] == 2
    moved = [records[0], Record(tmp_path / "b.png", 1, ((0, 0, 2, 3),), "b")]
    assert fingerprint(AnnotatedImages(moved, ["x", "y"]))["sha256"] != base["sha256"]  # another box
    assert (
        fingerprint(AnnotatedImages(records, ["x", "y"], transform=PreprocessWithBoxes(8)))["transform"]
        != base["transform"]
    )
    Image.new("RGB", (40, 40)).save(tmp_path / "b.png")  # a replaced file (another size in bytes)
    assert fingerprint(reader)["sha256"] != base["sha256"]
    assert fingerprint(Subset(reader, [1]))["indices"] != fingerprint(Subset(reader, [0]))["indices"]
    assert fingerprint(Localization(3, seed=0)) == Localization(3, seed=0).spec()
    with pytest.raises(TypeError, match="`data` must be a tensor, a data set with spec"):
        fingerprint([1, 2])


def _small_net():
    return camlib.build_model("vgg-small", num_classes=3, input_size=32, resolution=8, channels=4, width=8).eval()


def test_cached_gap_features_computes_once_and_gives_maps_whenever_asked(tmp_path):
    from camlib.study.features import cached_gap_features

    net, data = _small_net(), Localization(5, seed=0, image_size=32, scale=(0.4, 0.6))
    key = dict(network={"arch": "vgg-small", "weights": "seed 0"}, batch_size=2, cache_root=tmp_path)
    first = cached_gap_features(net, data, keep_maps=True, **key)
    want = extract_features(net, DataLoader(data, 2, collate_fn=collate), keep_maps=True)
    assert torch.equal(first.pooled, want.pooled) and torch.equal(first.maps, want.maps)
    assert torch.equal(first.labels, want.labels)
    assert [b.tolist() for b in first.boxes] == [b.tolist() for b in want.boxes]
    # read back without maps: an identity "network" would fail if it ran
    again = cached_gap_features(torch.nn.Identity(), data, **key)
    assert torch.equal(again.pooled, first.pooled) and again.maps is None
    # read back with maps: the same maps as on the miss (not None), from one pass of the network
    hit = cached_gap_features(net, data, keep_maps=True, **key)
    assert torch.equal(hit.pooled, first.pooled) and torch.equal(hit.maps, first.maps)
    # another precision is another entry: it runs the network
    with pytest.raises(TypeError, match="camlib knows"):
        cached_gap_features(torch.nn.Identity(), data, autocast=torch.bfloat16, **key)
    assert len(list(tmp_path.glob("*.pt"))) == 1
    with pytest.raises(TypeError, match=r"`network` must be a dict of plain values naming the network, but got str"):
        cached_gap_features(net, data, network="vgg", cache_root=tmp_path)
    with pytest.raises(ValueError, match=r"`batch_size` must be an int >= 1, but got 0"):
        cached_gap_features(net, data, network={}, batch_size=0, cache_root=tmp_path)


def test_cached_cam_boxes_are_the_svms_boxes_and_read_back(tmp_path, gen):
    from camlib.study.features import cached_cam_boxes
    from camlib.study.svm import LinearSVM

    net, data = _small_net(), Localization(5, seed=0, image_size=32, scale=(0.4, 0.6))
    f = extract_features(net, DataLoader(data, 2, collate_fn=collate), keep_maps=True)
    C = int(f.labels.max()) + 1
    svm = LinearSVM(torch.randn(C, f.pooled.shape[1], generator=gen), torch.zeros(C), 1.0, {1.0: 1.0}, 2)
    classes = {"predicted": svm.predict(f.pooled), "true": f.labels}
    key = dict(network={"arch": "vgg-small"}, size=32, batch_size=2, cache_root=tmp_path)
    boxes = cached_cam_boxes(svm, net, data, classes, maps=f.maps, **key)
    assert list(boxes) == ["predicted", "true"]
    for name, c in classes.items():
        assert torch.equal(boxes[name], svm.cam_boxes(f.maps, c, size=32))
    # read back without maps and without running anything
    again = cached_cam_boxes(svm, torch.nn.Identity(), data, classes, **key)
    assert all(torch.equal(again[k], boxes[k]) for k in boxes)
    # another threshold, no maps at hand: one pass of the network makes them
    loose = cached_cam_boxes(svm, net, data, classes, threshold=0.5, **key)
    assert torch.equal(loose["true"], svm.cam_boxes(f.maps, f.labels, size=32, threshold=0.5))
    with pytest.raises(ValueError, match=r"`classes\['true'\]` must hold one entry per image of `dataset` \(5\), .* 2"):
        cached_cam_boxes(svm, net, data, {"true": f.labels[:2]}, **key)
    with pytest.raises(ValueError, match=r"`maps` must hold one entry per image of `dataset` \(5\), but got 1"):
        cached_cam_boxes(svm, net, data, classes, maps=f.maps[:1], **key)
    with pytest.raises(TypeError, match=r"`svm` must be a camlib.study.svm.LinearSVM, but got str"):
        cached_cam_boxes("svm", net, data, classes, **key)
    with pytest.raises(TypeError, match=r"`classes` must be a non-empty dict"):
        cached_cam_boxes(svm, net, data, {}, **key)


def test_cached_feature_maps_keep_the_maps_in_float16_and_read_them_back(tmp_path):
    from camlib.study.features import cached_feature_maps

    net, data = _small_net(), Localization(5, seed=0, image_size=32, scale=(0.4, 0.6))
    key = dict(network={"arch": "vgg-small", "weights": "seed 0"}, batch_size=2, cache_root=tmp_path)
    first = cached_feature_maps(net, data, **key)
    want = extract_features(net, DataLoader(data, 2, collate_fn=collate), keep_maps=True)
    assert first.maps.dtype == torch.float16 and torch.equal(first.maps, want.maps.half())
    assert torch.equal(first.pooled, want.pooled)  # pooled in float32, before the rounding
    # float16 moves a map by at most one part in 2^11 of its value
    assert ((first.maps.float() - want.maps).abs() <= want.maps.abs() * 2.0**-11 + 1e-7).all()
    again = cached_feature_maps(torch.nn.Identity(), data, **key)  # read back: the identity would not give these
    assert torch.equal(again.maps, first.maps) and len(list(tmp_path.glob("*.pt"))) == 1
