"""Deep features for generic use: the global average pool of a network's last convolutional layer.

Zhou et al. (2016, Sec. 4) use a GAP network as a feature extractor: the
average over locations of the last convolutional features,
``F_k = mean_{x,y} f_k(x, y)``, feeds a linear SVM, and the SVM's weights
give class activation maps on any data set (``camlib.svm``).
``extract_features`` runs a network over a loader and returns those
``F_k`` (and, on request, the maps ``f_k`` themselves, to compute CAMs with
weights that are only known later); ``fingerprint`` names a data set or a
tensor in a cache key (``camlib.cache.memoize``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from torch.utils.data import Subset

from camlib.hooks import CAMLayer, capture_features, find_cam_layer

__all__ = ["Features", "extract_features", "fingerprint"]


class Features(NamedTuple):
    """What ``extract_features`` returns, one row per image in the loader's order.

    Attributes:
        pooled (Tensor[N, K]): the global average pool ``F_k`` of the features.
        labels (LongTensor[N]): the images' labels.
        boxes: ``N`` tensors ``LongTensor[m_i, 4]``, the ground-truth boxes in
            the coordinates of the network's input, when the batches carry boxes; else None.
        maps (Tensor[N, K, h, w]): the features ``f_k`` themselves (CPU), when
            asked for with ``keep_maps``; else None.
    """

    pooled: Tensor
    labels: Tensor
    boxes: list[Tensor] | None = None
    maps: Tensor | None = None


def _batch_boxes(batch: Any) -> list[Tensor] | None:
    if hasattr(batch, "boxes"):
        return list(batch.boxes)
    if isinstance(batch, dict) and "boxes" in batch:
        return list(batch["boxes"])
    return None


def extract_features(
    model: nn.Module,
    loader: Any,
    *,
    layer: nn.Module | CAMLayer | None = None,
    keep_maps: bool = False,
    device: str | torch.device | None = None,
    channels_last: bool = False,
    autocast: torch.dtype | None = None,
    progress: bool | None = None,
) -> Features:
    """Run ``model`` over ``loader`` and return the GAP features of ``layer``, image by image.

    The model runs in eval mode under ``torch.no_grad`` (its modes are
    restored after); ``layer``'s output ``f`` (``Tensor[n, K, h, w]``) is
    captured by ``camlib.capture_features`` and averaged over its ``h x w``
    locations: ``F_k = mean_{x,y} f_k(x, y)``. For a GAP network this is
    the vector its own classifier reads, whatever comes after ``layer``.

    Args:
        model: the network.
        loader: an iterable of batches: ``camlib.data.Batch`` (``camlib.data.collate``),
            the dicts of ``camlib.data.synthetic.collate``, or sequences
            ``(images, labels, ...)``.
        layer: the module whose output is pooled, or a ``CAMLayer``; default
            ``camlib.find_cam_layer(model).features`` (SqueezeNet: ``features``,
            whose last block is fire9; ResNet: ``layer4``).
        keep_maps: also return the features ``f`` before pooling (on the CPU,
            ``N * K * h * w`` floats: 1 GB for 2,889 SqueezeNet inputs of 227 pixels).
        device: where to run; default the model's device. Images move there.
        channels_last: feed the images in channels-last memory format (about
            twice as fast for convolutions on a CPU; the values agree to rounding).
        autocast: None (the model's own precision), or a dtype such as
            ``torch.bfloat16`` to run the model under ``torch.autocast``: about
            twice as fast again on CPUs with AMX (and on GPUs), at about 1% of
            error in the features. The features are returned in float32 either
            way, and ``pooled`` is the exact mean of the returned ``maps``.
        progress: a tqdm bar over the batches; default when stderr is a terminal.

    Returns:
        ``Features(pooled, labels, boxes, maps)``, on the CPU.

    Raises:
        TypeError: ``layer`` is not a module or ``CAMLayer``; the network has
            no CAM layer that camlib knows and ``layer`` is None.
        ValueError: the loader is empty, or ``layer``'s output is not 4-D.

    Example:
        >>> from camlib.models import build_model
        >>> net = build_model("vgg-small", num_classes=3, input_size=16, resolution=4, channels=2, width=4)
        >>> batches = [(torch.rand(2, 3, 16, 16), torch.tensor([0, 2]))] * 3
        >>> f = extract_features(net, batches, keep_maps=True)
        >>> f.pooled.shape, f.labels.tolist(), f.maps.shape
        (torch.Size([6, 4]), [0, 2, 0, 2, 0, 2], torch.Size([6, 4, 4, 4]))
        >>> bool(torch.allclose(f.pooled, f.maps.mean(dim=(2, 3))))
        True
    """
    from tqdm import tqdm

    from camlib.train import label_batch  # not at import: `python -m camlib.train` must find it unloaded

    if layer is None:
        layer = find_cam_layer(model).features
    elif isinstance(layer, CAMLayer):
        layer = layer.features
    if not isinstance(layer, nn.Module):
        raise TypeError(f"`layer` must be a torch.nn.Module or a camlib.CAMLayer, but got {type(layer).__name__}.")
    if device is None:
        device = next(model.parameters()).device
    show = sys.stderr.isatty() if progress is None else progress
    pooled, labels, maps, boxes = [], [], [], []
    has_boxes = True
    device_type = torch.device(device).type
    precision = torch.autocast(device_type, dtype=autocast) if autocast is not None else contextlib.nullcontext()
    with torch.no_grad(), precision, capture_features(model, layer) as cap:
        for batch in tqdm(loader, desc="features", leave=False, disable=not show):
            images, batch_labels = label_batch(batch)
            images = images.to(device)
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            model(images)
            f = cap.features
            if f.ndim != 4:
                raise ValueError(f"`layer` must output a 4-D tensor (N, K, h, w), but got shape {tuple(f.shape)}.")
            f = f.float()  # (n, K, h, w); pooled in float32, also after autocast
            pooled.append(f.mean(dim=(2, 3)).cpu())  # (n, K)
            labels.append(torch.as_tensor(batch_labels, dtype=torch.long).cpu())
            if keep_maps:
                maps.append(f.cpu().contiguous())  # (n, K, h, w)
            batch_boxes = _batch_boxes(batch)
            has_boxes = has_boxes and batch_boxes is not None
            if has_boxes:
                boxes += [b.cpu() for b in batch_boxes]
    if not pooled:
        raise ValueError("`loader` must yield at least one batch, but it was empty.")
    return Features(
        pooled=torch.cat(pooled),
        labels=torch.cat(labels),
        boxes=boxes if has_boxes else None,
        maps=torch.cat(maps) if keep_maps else None,
    )


def _sha256(*chunks: bytes) -> str:
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()


def fingerprint(data: Any) -> dict[str, Any]:
    """A plain-value identity of a tensor or a data set, for cache keys (``camlib.cache.cache_key``).

    - a tensor: its dtype, shape and the sha256 of its bytes;
    - a data set with a ``spec()`` (the synthetic benchmarks, ``camlib.crops.BoxCrops``): the spec;
    - a ``camlib.data`` reader (``AnnotatedImages``): its type, its classes,
      the ``repr`` of its transform and the sha256 of every record (image id,
      label, boxes, box size, and the size in bytes of the image file), so
      that changed annotations or replaced files give another key;
    - a ``torch.utils.data.Subset``: the fingerprint of its data set and its indices.

    Raises:
        TypeError: anything else.

    Example:
        >>> fingerprint(torch.tensor([1, 2]))["sha256"] == fingerprint(torch.tensor([1, 2]))["sha256"]
        True
        >>> fingerprint(torch.tensor([1, 2]))["sha256"] == fingerprint(torch.tensor([2, 1]))["sha256"]
        False
    """
    from camlib.data.common import AnnotatedImages

    if isinstance(data, Tensor):
        t = data.detach().cpu().contiguous()
        flat = t.reshape(-1)
        raw = flat.to(torch.uint8) if t.dtype == torch.bool else flat.view(torch.uint8)
        return {"tensor": str(t.dtype), "shape": list(t.shape), "sha256": _sha256(raw.numpy().tobytes())}
    if callable(getattr(data, "spec", None)):
        return data.spec()
    if isinstance(data, Subset):
        return {"subset_of": fingerprint(data.dataset), "indices": fingerprint(torch.as_tensor(list(data.indices)))}
    if isinstance(data, AnnotatedImages):
        lines = [
            repr((r.image_id, r.label, r.boxes, r.box_size, os.path.getsize(r.path) if r.path.is_file() else None))
            for r in data.records
        ]
        return {
            "reader": type(data).__name__,
            "images": len(lines),
            "classes": _sha256("\n".join(data.classes).encode()),
            "transform": repr(data.transform),
            "sha256": _sha256("\n".join(lines).encode()),
        }
    raise TypeError(
        f"`data` must be a tensor, a data set with spec(), a camlib.data reader or a Subset of one, "
        f"but got {type(data).__name__}."
    )

