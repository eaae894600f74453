"""Tests of camlib.models.preprocess: the three input conventions, sizes, batches."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from PIL import Image

from camlib import Preprocess


def solid(rgb=(200, 100, 50), size=(7, 9)) -> Image.Image:
    return Image.new("RGB", size, rgb)  # PIL sizes are (W, H)


def split_red_blue(width: int = 8, height: int = 4) -> Image.Image:
    """Left half pure red, right half pure blue."""
    image = Image.new("RGB", (width, height), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width // 2, height))
    return image


def test_caffe_solid_colour():
    # RGB (200, 100, 50) -> BGR (50, 100, 200) - (104, 117, 123) = (-54, -17, 77); no scaling.
    x = Preprocess((5, 3), "caffe")(solid())
    assert x.dtype == torch.float32 and x.shape == (3, 5, 3)
    assert torch.equal(x, torch.tensor([-54.0, -17.0, 77.0])[:, None, None].expand(3, 5, 3))


def test_torchvision_solid_colour():
    # (v / 255 - mean) / std in RGB order:
    #   R: (200/255 - 0.485) / 0.229 = (0.78431 - 0.485) / 0.229 =  1.30705
    #   G: (100/255 - 0.456) / 0.224 = (0.39216 - 0.456) / 0.224 = -0.28501
    #   B: ( 50/255 - 0.406) / 0.225 = (0.19608 - 0.406) / 0.225 = -0.93298
    x = Preprocess((5, 3), "torchvision")(solid())
    assert x.dtype == torch.float32 and x.shape == (3, 5, 3)
    want = torch.tensor([1.30705, -0.28501, -0.93298])[:, None, None].expand(3, 5, 3)
    torch.testing.assert_close(x, want, rtol=0, atol=1e-5)


def test_tf_solid_colour():
    # (v - 127) / 128 in RGB order, exact in float32 (multiples of 1/128):
    #   R: (200 - 127) / 128 =  73 / 128 =  0.5703125
    #   G: (100 - 127) / 128 = -27 / 128 = -0.2109375
    #   B: ( 50 - 127) / 128 = -77 / 128 = -0.6015625
    x = Preprocess((5, 3), "tf")(solid())
    assert x.dtype == torch.float32 and x.shape == (3, 5, 3)
    assert torch.equal(x, torch.tensor([0.5703125, -0.2109375, -0.6015625])[:, None, None].expand(3, 5, 3))


def test_default_convention_is_torchvision():
    assert Preprocess(4).convention == "torchvision"
    assert torch.equal(Preprocess(4)(solid()), Preprocess(4, "torchvision")(solid()))


@pytest.mark.parametrize(
    "convention, black, white",
    [
        ("caffe", (-104.0, -117.0, -123.0), (151.0, 138.0, 132.0)),  # 0 - mean, 255 - mean (B, G, R)
        # -mean / std and (1 - mean) / std:
        (
            "torchvision",
            (-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225),
            (0.515 / 0.229, 0.544 / 0.224, 0.594 / 0.225),
        ),
        ("tf", (-127 / 128,) * 3, (1.0,) * 3),  # (0 - 127) / 128 and (255 - 127) / 128
    ],
)
def test_black_and_white(convention, black, white):
    pre = Preprocess(2, convention)
    torch.testing.assert_close(pre(solid((0, 0, 0)))[:, 0, 0], torch.tensor(black), rtol=0, atol=1e-5)
    torch.testing.assert_close(pre(solid((255, 255, 255)))[:, 0, 0], torch.tensor(white), rtol=0, atol=1e-5)


def test_other_modes_are_converted_to_rgb():
    # Grey 128 in mode "L" is RGB (128, 128, 128): caffe (128 - 104, 128 - 117, 128 - 123) = (24, 11, 5).
    x = Preprocess(3, "caffe")(Image.new("L", (5, 5), 128))
    assert torch.equal(x[:, 1, 1], torch.tensor([24.0, 11.0, 5.0]))
    # RGBA: the alpha channel is dropped.
    y = Preprocess(3, "caffe")(Image.new("RGBA", (5, 5), (200, 100, 50, 7)))
    assert torch.equal(y, Preprocess(3, "caffe")(solid()))


@pytest.mark.parametrize("size, shape", [(6, (6, 6)), ((3, 5), (3, 5)), ((10, 2), (10, 2)), ([4, 7], (4, 7))], ids=str)
def test_output_size_is_h_w(size, shape):
    # size is (H, W), while PIL's image size is (W, H).
    assert Preprocess(size)(solid(size=(7, 9))).shape == (3, *shape)
    assert Preprocess(size).size == shape


def test_straight_resize_without_crop():
    # An 8 x 4 image, red in columns 0-3, blue in 4-7, resized to (H, W) = (6, 16):
    # every column is stretched by 2, no part is cropped. Output column j samples
    # the input at x = (j + 0.5) / 2 - 0.5; columns 7 and 8 fall at x = 3.25 and
    # 3.75, between the last red and the first blue input column:
    #   R = 0.75 * 255 = 191.25 -> 191 and 0.25 * 255 = 63.75 -> 64 (PIL rounds to uint8).
    x = Preprocess((6, 16), "caffe")(split_red_blue())
    red, green, blue = x[2] + 123, x[1] + 117, x[0] + 104  # undo the BGR mean
    want_red = torch.tensor([255.0] * 7 + [191.0, 64.0] + [0.0] * 7)
    assert torch.equal(red, want_red.expand(6, 16))
    assert torch.equal(blue, want_red.flip(0).expand(6, 16))
    assert torch.equal(green, torch.zeros(6, 16))
    # The split stays at the middle column: red dominates left of it, blue right of it.
    assert torch.all(red[:, :8] > blue[:, :8]) and torch.all(blue[:, 8:] > red[:, 8:])


def test_straight_resize_non_square_target():
    # Squeezing the 8 x 4 split image into a tall (H, W) = (12, 4) input keeps the
    # split at the middle (a centre crop of a square would too, but a resize that
    # kept the aspect ratio would not give 12 x 4); left pure red, right pure blue.
    x = Preprocess((12, 4), "torchvision")(split_red_blue())
    assert x.shape == (3, 12, 4)
    assert torch.all(x[0, :, :2] > x[2, :, :2]) and torch.all(x[2, :, 2:] > x[0, :, 2:])
    assert torch.equal(x[:, :, 0], x[:, :1, 0].expand(3, 12))  # each column is constant


def test_batch():
    pre = Preprocess((4, 6), "caffe")
    images = [solid((200, 100, 50)), split_red_blue(), solid((0, 0, 0), size=(3, 30))]
    out = pre.batch(images)
    assert out.shape == (3, 3, 4, 6) and out.dtype == torch.float32
    for i, image in enumerate(images):
        assert torch.equal(out[i], pre(image))
    assert torch.equal(pre.batch(tuple(images[:1])), pre(images[0])[None])


def test_batch_of_none():
    out = Preprocess((4, 6)).batch([])
    assert out.shape == (0, 3, 4, 6) and out.dtype == torch.float32


def test_frozen():
    pre = Preprocess(4)
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'size'"):
        pre.size = (5, 5)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            dict(size=4, convention="pytorch"),
            ValueError,
            r"`convention` must be one of 'torchvision', 'caffe', 'tf', but got 'pytorch'",
        ),
        (dict(size=4, convention="Caffe"), ValueError, r"`convention` must be one of .*but got 'Caffe'"),
        (dict(size=0), ValueError, r"`size` must have positive sides, but got \(0, 0\)"),
        (dict(size=(224, 0)), ValueError, r"`size` must have positive sides, but got \(224, 0\)"),
        (dict(size=None), TypeError, r"`size` must be an int S or a pair \(H, W\) of ints, but got None"),
        (dict(size=224.0), TypeError, r"`size` must be None, an int or a pair \(H, W\) of ints, but got 224.0"),
        (
            dict(size=(1, 2, 3)),
            TypeError,
            r"`size` must be None, an int or a pair \(H, W\) of ints, but got \(1, 2, 3\)",
        ),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        Preprocess(**kwargs)


@pytest.mark.parametrize("image, name", [(torch.zeros(3, 4, 4), "Tensor"), ("cat.jpg", "str"), (None, "NoneType")])
def test_bad_image(image, name):
    with pytest.raises(TypeError, match=rf"`image` must be a PIL.Image.Image, but got {name}"):
        Preprocess(4)(image)
    with pytest.raises(TypeError, match=rf"`image` must be a PIL.Image.Image, but got {name}"):
        Preprocess(4).batch([solid(), image])


@pytest.mark.parametrize("convention", ["torchvision", "caffe", "tf"])
def test_undo_gives_back_the_resized_image(convention):
    g = torch.Generator().manual_seed(0)
    pixels = (torch.rand(12, 16, 3, generator=g) * 255).round().to(torch.uint8).numpy()
    image = Image.fromarray(pixels)
    pre = Preprocess((12, 16), convention)  # no resize: the same pixels come back, in [0, 1]
    back = pre.undo(pre(image))
    torch.testing.assert_close(back, torch.from_numpy(pixels).permute(2, 0, 1).float() / 255, rtol=0, atol=1e-6)
    assert pre.undo(pre.batch([image, image])).shape == (2, 3, 12, 16)
    with pytest.raises(
        ValueError, match=r"`x` must be an input \(..., 3, H, W\) of this preprocessing, but got \(4, 4\)"
    ):
        pre.undo(torch.zeros(4, 4))
