"""A scene network: the Places365 SqueezeNet 1.1 with batch norm, from the plain ``.npz`` of the study's data.

torchvision has no scene network, and the one the study has (``data/places365-squeezenet/``,
see its README) is stored as named arrays, not as a torchvision checkpoint, so
the network is defined here, exactly as its README describes it:

- every convolution but the last is conv -> batch norm ``(x - mean) * gamma *
  inv_std + beta`` -> leaky ReLU with slope 0.55 on negatives; the batch norm
  is folded into the convolution's weights and bias when loading (the same
  function, one layer fewer);
- conv1 3x3 stride 2 padding 1 (64 channels); 3x3 stride-2 max pooling without
  padding after conv1, fire3 and fire5; fire modules squeeze 1x1 -> (expand
  1x1, expand 3x3 padding 1), concatenated in that order (SqueezeNet 1.1);
- conv10 1x1 512 -> 365 with bias, the leaky ReLU, global average pooling:
  channel ``c`` after the leaky ReLU is class ``c``'s activation map (a
  NIN-style GAP network; ``cam_layer()``), and its mean is the class score.

Preprocessing (``PlacesPreprocess``): RGB -> BGR, resize to 256 x 256, the
centre 224 x 224 crop, minus the same crop of the mean image, divided by 255.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import cast

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from camlib.cam.extractor import CAMLayer

__all__ = [
    "FIRES",
    "PLACES_DIR",
    "PlacesPreprocess",
    "PlacesSqueezeNet",
    "load_places_squeezenet",
    "read_places_categories",
]

PLACES_DIR = "places365-squeezenet"  # under the data root
SLOPE = 0.55  # the leaky ReLU's slope on negatives (a randomized ReLU's mean, at test time)
FIRES = {  # SqueezeNet 1.1: fire module -> (input, squeeze, expand 1x1, expand 3x3) channels
    "fire2": (64, 16, 64, 64),
    "fire3": (128, 16, 64, 64),
    "fire4": (128, 32, 128, 128),
    "fire5": (256, 32, 128, 128),
    "fire6": (256, 48, 192, 192),
    "fire7": (384, 48, 192, 192),
    "fire8": (384, 64, 256, 256),
    "fire9": (512, 64, 256, 256),
}
POOL_AFTER = ("conv1", "fire3", "fire5")


def _conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        OrderedDict(conv=nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2), act=nn.LeakyReLU(SLOPE))
    )


class Fire(nn.Module):
    """SqueezeNet's fire module: squeeze 1x1, then expand 1x1 and expand 3x3 side by side (concatenated)."""

    def __init__(self, cin: int, squeeze: int, e1: int, e3: int) -> None:
        super().__init__()
        self.squeeze = _conv(cin, squeeze, 1)
        self.expand1x1 = _conv(squeeze, e1, 1)
        self.expand3x3 = _conv(squeeze, e3, 3)

    def forward(self, x: Tensor) -> Tensor:
        s = self.squeeze(x)
        return torch.cat([self.expand1x1(s), self.expand3x3(s)], dim=1)


class PlacesSqueezeNet(nn.Module):
    """The Places365 SqueezeNet 1.1 (batch norm folded in), with its class maps (see the module's docstring).

    ``forward(images)`` gives the class scores ``Tensor[N, num_classes]`` (the
    GAP of the maps; a softmax gives probabilities); ``cam_layer()`` tells
    ``camlib.compute_cams`` where its maps are. Build it with
    ``load_places_squeezenet``; this constructor makes random weights.
    """

    def __init__(self, num_classes: int = 365) -> None:
        super().__init__()
        layers: list[tuple[str, nn.Module]] = [("conv1", _conv(3, 64, 3, stride=2))]
        for name, channels in [("conv1", None), *FIRES.items()]:
            if channels is not None:
                layers.append((name, Fire(*channels)))
            if name in POOL_AFTER:
                layers.append((f"pool_{name}", nn.MaxPool2d(3, stride=2)))
        self.features = nn.Sequential(OrderedDict(layers))
        self.conv10 = nn.Conv2d(512, num_classes, 1)
        self.act10 = nn.LeakyReLU(SLOPE)

    def forward(self, images: Tensor) -> Tensor:
        return self.act10(self.conv10(self.features(images))).mean(dim=(2, 3))

    def cam_layer(self) -> CAMLayer:
        """The maps are ``leaky_relu(W f + b)`` of fire9's output ``f``: a NIN-style head."""
        bias = self.conv10.bias
        assert bias is not None  # conv10 is built with a bias
        return CAMLayer(
            self.features,
            self.conv10.weight.detach().flatten(1),
            bias.detach(),
            relu=True,
            negative_slope=SLOPE,
        )


def _expected(num_classes: int = 365) -> dict[str, tuple[int, ...]]:
    """The ``.npz``'s names and shapes, from the architecture."""
    convs = {"conv1": (64, 3, 3)}
    for name, (cin, sq, e1, e3) in FIRES.items():
        convs.update(
            {f"{name}.squeeze": (sq, cin, 1), f"{name}.expand1x1": (e1, sq, 1), f"{name}.expand3x3": (e3, sq, 3)}
        )
    shapes: dict[str, tuple[int, ...]] = {}
    for name, (cout, cin, k) in convs.items():
        shapes[f"{name}.weight"] = (cout, cin, k, k)
        for part in ("bias", "bn_beta", "bn_gamma", "bn_mean", "bn_inv_std"):
            shapes[f"{name}.{part}"] = (cout,)
    shapes.update({"conv10.weight": (num_classes, 512, 1, 1), "conv10.bias": (num_classes,)})
    return shapes


def load_places_squeezenet(
    path: str | os.PathLike = f"{PLACES_DIR}/squeezenet1_1-bn-places365.npz",
    *,
    data_root: str | os.PathLike | None = None,
) -> PlacesSqueezeNet:
    """The Places365 SqueezeNet from its ``.npz`` (read with ``numpy.load``, no pickle), in eval mode.

    Each batch norm is folded into its convolution: ``w' = w * s`` and
    ``b' = (b - mean) * s + beta`` with ``s = gamma * inv_std`` per output
    channel, which computes ``(conv(x) - mean) * gamma * inv_std + beta``.

    Args:
        path: the file, under the data root (``camlib.data.find_data``) or absolute.
        data_root: an explicit data root.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file's names or shapes are not the network's (the
            message lists the missing, unexpected and misshapen arrays).
    """
    from camlib.data.locate import find_data

    file = find_data(path, root=data_root, layout="a .npz of the Places365 SqueezeNet's named arrays")
    with np.load(file, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    num_classes = arrays["conv10.bias"].shape[0] if "conv10.bias" in arrays else 365
    expected = _expected(num_classes)
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    wrong = sorted(
        f"{k} {arrays[k].shape} (expected {expected[k]})"
        for k in set(expected) & set(arrays)
        if tuple(arrays[k].shape) != expected[k]
    )
    if missing or extra or wrong:
        problems = [
            f"{label}: {', '.join(items[:5])}{', ...' if len(items) > 5 else ''}"
            for label, items in (("missing", missing), ("unexpected", extra), ("misshapen", wrong))
            if items
        ]
        raise ValueError(
            f"{str(file)!r} must hold the Places365 SqueezeNet's {len(expected)} arrays with their "
            f"shapes, but it does not; " + "; ".join(problems) + "."
        )
    net = PlacesSqueezeNet(num_classes)
    convs: dict[str, nn.Conv2d] = {"conv1": net.features.conv1.conv}  # type: ignore[union-attr, dict-item]  # nn.Module's __getattr__ types a submodule Tensor | Module
    for name in FIRES:
        fire = getattr(net.features, name)
        convs.update({f"{name}.{part}": getattr(fire, part).conv for part in ("squeeze", "expand1x1", "expand3x3")})
    with torch.no_grad():
        for name, conv in convs.items():
            a = {
                part: torch.from_numpy(arrays[f"{name}.{part}"]).double()
                for part in ("weight", "bias", "bn_beta", "bn_gamma", "bn_mean", "bn_inv_std")
            }
            scale = a["bn_gamma"] * a["bn_inv_std"]
            assert conv.bias is not None  # _conv builds every convolution with a bias
            conv.weight.copy_(a["weight"] * scale[:, None, None, None])
            conv.bias.copy_((a["bias"] - a["bn_mean"]) * scale + a["bn_beta"])
        net.conv10.weight.copy_(torch.from_numpy(arrays["conv10.weight"]))
        assert net.conv10.bias is not None  # conv10 is built with a bias
        net.conv10.bias.copy_(torch.from_numpy(arrays["conv10.bias"]))
    return net.eval()


class PlacesPreprocess:
    """The Places SqueezeNet's input: BGR, 256 x 256, centre 224 crop, minus the mean image's crop, / 255.

    Args:
        mean: the mean image, ``[3, 256, 256]`` BGR (``places365_mean_bgr.npy``), an array or a file under the data root.
        data_root: an explicit data root, for a file name.

    Attributes:
        crop: ``(top, left, size)`` of the crop in the 256 x 256 resized image
            (to bring boxes and masks to the network's frame).

    Example:
        >>> p = PlacesPreprocess(np.full((3, 256, 256), 100.0, dtype=np.float32))
        >>> x = p(Image.new("RGB", (50, 30), (255, 0, 0)))
        >>> x.shape, [round(v, 4) for v in x[:, 0, 0].tolist()]     # B, G, R: (0 - 100) / 255, ..., (255 - 100) / 255
        (torch.Size([3, 224, 224]), [-0.3922, -0.3922, 0.6078])
    """

    size, resize = 224, 256

    def __init__(
        self,
        mean: np.ndarray | str | os.PathLike = f"{PLACES_DIR}/places365_mean_bgr.npy",
        *,
        data_root: str | os.PathLike | None = None,
    ) -> None:
        if not isinstance(mean, np.ndarray):
            from camlib.data.locate import find_data

            mean = cast(  # a .npy holds one array
                np.ndarray,
                np.load(
                    find_data(mean, root=data_root, layout="the mean image, a .npy of 3 x 256 x 256"),
                    allow_pickle=False,
                ),
            )
        if mean.shape != (3, self.resize, self.resize):
            raise ValueError(f"`mean` must be a BGR image of shape (3, 256, 256), but got {mean.shape}.")
        top = (self.resize - self.size) // 2
        self.crop = (top, top, self.size)
        self.mean = torch.from_numpy(
            np.ascontiguousarray(mean[:, top : top + self.size, top : top + self.size], dtype=np.float32)
        )

    def __call__(self, image: Image.Image) -> Tensor:
        """``Tensor[3, 224, 224]`` float32 from a PIL image."""
        if not isinstance(image, Image.Image):
            raise TypeError(f"`image` must be a PIL.Image.Image, but got {type(image).__name__}.")
        top, left, size = self.crop
        rgb = image.convert("RGB").resize((self.resize, self.resize), Image.Resampling.BILINEAR)
        x = torch.from_numpy(np.asarray(rgb, dtype=np.float32).copy()).permute(2, 0, 1).flip(0)  # BGR, 0-255
        return (x[:, top : top + size, left : left + size] - self.mean) / 255.0

    def undo(self, x: Tensor) -> Tensor:
        """The network's view for display: ``Tensor[3, 224, 224]`` RGB in ``[0, 1]`` from an input of ``__call__``.

        Adds the mean image back, returns to RGB and scales to ``[0, 1]``
        (clamped), the inverse of ``__call__`` after its resize and crop.

        Example:
            >>> p = PlacesPreprocess(np.full((3, 256, 256), 100, np.float32))
            >>> p.undo(p(Image.new("RGB", (50, 30), (255, 0, 0))))[:, 0, 0].tolist()   # red again
            [1.0, 0.0, 0.0]
        """
        if not isinstance(x, Tensor) or x.shape[-3:] != (3, self.size, self.size):
            raise ValueError(f"`x` must be an input of this preprocessing (3, {self.size}, {self.size}), but got "
                             f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}.")  # fmt: skip
        return ((x * 255 + self.mean.to(x)).flip(-3) / 255).clamp(0, 1)

    def frame_masks(self, masks: Tensor) -> Tensor:
        """Masks in an image's frame (``BoolTensor[m, H, W]``) brought to the network's input frame, ``[m, 224, 224]``.

        The same geometry as the image: resized to 256 x 256 (nearest
        neighbour, so a mask stays a mask), then the centre crop.

        Example:
            >>> m = torch.zeros(1, 64, 64, dtype=torch.bool); m[0, :, :32] = True   # the left half
            >>> out = PlacesPreprocess(np.zeros((3, 256, 256), np.float32)).frame_masks(m)
            >>> out.shape, out[0, :, :112].all().item(), out[0, :, 112:].any().item()   # 128 - 16 = 112 columns
            (torch.Size([1, 224, 224]), True, False)
        """
        import torch.nn.functional as F

        if not isinstance(masks, Tensor) or masks.ndim != 3 or masks.dtype != torch.bool:
            raise ValueError(
                f"`masks` must be a BoolTensor[m, H, W], but got {getattr(masks, 'dtype', type(masks))} "
                f"of shape {tuple(getattr(masks, 'shape', ()))}."
            )
        top, left, size = self.crop
        resized = F.interpolate(masks[:, None].float(), size=(self.resize, self.resize), mode="nearest")[:, 0] > 0.5
        return resized[:, top : top + size, left : left + size]


def read_places_categories(
    path: str | os.PathLike = f"{PLACES_DIR}/categories_places365.txt", *, data_root: str | os.PathLike | None = None
) -> list[str]:
    """The class names by index from ``categories_places365.txt`` (``/k/kitchen 203`` -> ``kitchen``).

    Raises:
        ValueError: a line is not ``/<letter>/<name> <index>``, or the indices are not 0..C-1 in some order.
    """
    from camlib.data.common import read_lines
    from camlib.data.locate import find_data

    file = find_data(path, root=data_root, layout="one `/<letter>/<name> <index>` line per class")
    names: dict[int, str] = {}
    for line in read_lines(file, sep=None, count=2, expected="`/<letter>/<name> <index>`"):
        parts = line.fields[0].split("/")
        if len(parts) < 3 or parts[0] != "":
            raise line.error()
        names[line.integer(1)] = "/".join(parts[2:])
    if sorted(names) != list(range(len(names))):
        raise ValueError(
            f"{str(Path(file))!r} must number its classes 0..{len(names) - 1}, each once, but it does not."
        )
    return [names[i] for i in range(len(names))]
