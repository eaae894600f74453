"""Fine-tuning a network's top on cached maps (chapter 01's real part): the split is the network, the top trains
while the network's own copy stays, and the fine-tuned head's maps and scores are those of its parts."""

from __future__ import annotations

import pytest
import torch

from camlib.study.experiments import (
    FineTunedHead,
    cached_trunk_maps,
    finetune_split,
    fit_pooling_head,
    score_pooling_head,
)

timm = pytest.importorskip("timm")


@pytest.fixture(scope="module")
def lite0():
    torch.manual_seed(0)
    return timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=10).eval()


def test_the_split_composes_to_the_networks_features(lite0):
    trunk, top = finetune_split(lite0)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(top(trunk(x)), lite0.forward_features(x), atol=1e-6)
        assert trunk(x).shape == (2, 320, 2, 2) and top(trunk(x)).shape == (2, 1280, 2, 2)


def test_a_network_without_a_known_top_is_refused():
    with pytest.raises(TypeError, match="EfficientNet"):
        finetune_split(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1)))


def test_the_top_trains_as_a_copy_and_the_head_is_its_parts(lite0):
    trunk, top = finetune_split(lite0)
    g = torch.Generator().manual_seed(1)
    maps = torch.randn(40, 320, 3, 3, generator=g)
    labels = torch.arange(40) % 4
    before = {k: v.clone() for k, v in top.state_dict().items()}
    head, history = fit_pooling_head(maps[:32], labels[:32], maps[32:], labels[32:], pool="gap", epochs=2, lr=1e-3,
                                     batch_size=16, seed=0, top=top)  # fmt: skip
    assert isinstance(head, FineTunedHead) and len(history) == 2 and not head.training
    assert all(torch.equal(before[k], v) for k, v in top.state_dict().items())  # the network's own top is untouched
    assert not torch.equal(head.top[0].weight, top[0].weight)  # the copy trained
    with torch.no_grad():
        f = head.features(maps[:5])
        assert torch.allclose(head(maps[:5]), head.head(f))
        # the CAM identity on the fine-tuned features: the mean of M_c plus the bias is the logit (GAP)
        m = torch.einsum("ck,nkhw->nchw", head.fc.weight, f).mean(dim=(2, 3)) + head.fc.bias
        assert torch.allclose(m, head(maps[:5]), atol=1e-5)
    # scoring the fine-tuned head equals scoring its linear head on the features its top gives
    boxes = [torch.tensor([[0, 0, 20, 20]])] * 8
    a = score_pooling_head(head, maps[32:], labels[32:], boxes, 32, box_thresholds=[0.1, 0.5])
    with torch.no_grad():
        features = head.features(maps[32:])
    b = score_pooling_head(head.head, features, labels[32:], boxes, 32, box_thresholds=[0.1, 0.5])
    assert (
        torch.equal(a.predicted, b.predicted) and torch.equal(a.gt_known, b.gt_known) and a.maxboxaccv2 == b.maxboxaccv2
    )


def test_the_trunk_maps_are_cached_and_read_back(lite0, tmp_path, monkeypatch):
    from camlib.data.synthetic import Localization

    monkeypatch.setenv("CAMLIB_CACHE", str(tmp_path))
    trunk, _ = finetune_split(lite0)
    data = Localization(3, seed=0, num_classes=4, image_size=64)
    first = cached_trunk_maps(trunk, data, network={"arch": "random lite0"})
    assert first.maps.dtype == torch.float16 and first.maps.shape == (3, 320, 2, 2) and len(first.boxes) == 3
    with torch.no_grad():
        expected = trunk(torch.stack([data[i].image for i in range(3)]))
    assert torch.allclose(first.maps.float(), expected, atol=2e-2 * expected.abs().max().item())
    assert len(list(tmp_path.glob("*.pt"))) == 1
    again = cached_trunk_maps(torch.nn.Identity(), data, network={"arch": "random lite0"})  # read back, not computed
    assert torch.equal(again.maps, first.maps) and torch.equal(again.labels, first.labels)
