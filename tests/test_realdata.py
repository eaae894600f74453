"""The kernel and hooks on the real SqueezeNet and the three sample photos (data/)."""

from __future__ import annotations

import pytest
import torch

import camlib
from camlib.data import find_data, read_image

WEIGHTS = "weights/squeezenet1_0-deepcompression-caffe.pth"
PHOTOS = ["test.jpg", "img1.jpg", "img2.jpg"]


def _find(relative, expect=()):
    try:
        return find_data(relative, expect=expect)
    except FileNotFoundError:
        return None


weights_path = _find(WEIGHTS)
photos_dir = _find("cam-samples", expect=PHOTOS)
pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(
        weights_path is None or photos_dir is None,
        reason="real data absent: link data/ to the study's data or set $CAMLIB_DATA (needs weights/ and cam-samples/)",
    ),
]


@pytest.fixture(scope="module")
def squeezenet():
    return camlib.load_pretrained("squeezenet1_0", weights_path)


@pytest.fixture(scope="module")
def batch():
    images = [read_image(photos_dir / name) for name in PHOTOS]
    return camlib.Preprocess(227, "caffe").batch(images)


def test_top1_classes_of_the_sample_photos(squeezenet, batch):
    # data/README.md: the weights predict these for the CAM authors' sample photos.
    names = camlib.imagenet_categories()
    logits = squeezenet(batch)
    assert [names[i] for i in logits.argmax(1).tolist()] == ["mountain bike", "potter's wheel", "palace"]


def test_logit_is_the_mean_of_the_class_map_for_every_class(squeezenet, batch):
    every = torch.arange(1000).expand(len(PHOTOS), 1000)
    out = camlib.compute_cams(squeezenet, batch, every)
    assert out.maps.shape == (3, 1000, 13, 13)
    err = (out.maps.mean(dim=(2, 3)) - out.logits).abs().max().item()
    assert err < 1e-4 * out.logits.abs().max().item()
    # In float64 the residual drops to rounding of float64.
    out64 = camlib.compute_cams(squeezenet.double(), batch.double(), every)
    squeezenet.float()
    assert (out64.maps.mean(dim=(2, 3)) - out64.logits).abs().max().item() < 1e-10


def test_kernel_equals_squeezenets_own_conv10(squeezenet, batch):
    """The kernel on fire9's features is the network's own 1x1 conv10 (before its ReLU)."""
    layer = camlib.find_cam_layer(squeezenet)
    with torch.no_grad(), camlib.capture_features(squeezenet, layer.features) as cap:
        squeezenet(batch)
        conv10 = squeezenet.classifier[1](cap.features)  # (N, 1000, 13, 13)
    maps = camlib.class_activation_maps(cap.features, layer.weight, bias=layer.bias)
    torch.testing.assert_close(maps, conv10, rtol=1e-4, atol=1e-4)
