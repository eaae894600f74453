"""Deep features for generic use: the global average pool of a network's last convolutional layer.

Zhou et al. (2016, Sec. 4) use a GAP network as a feature extractor: the
average over locations of the last convolutional features,
``F_k = mean_{x,y} f_k(x, y)``, feeds a linear SVM, and the SVM's weights
give class activation maps on any data set (``camlib.study.svm``).
``extract_features`` runs a network over a loader and returns those
``F_k`` (and, on request, the maps ``f_k`` themselves, to compute CAMs with
weights that are only known later); ``fingerprint`` names a data set or a
tensor in a cache key (``camlib.study.cache.memoize``).
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

from camlib.cam.extractor import CAMLayer, capture_features, find_cam_layer
from camlib.data.batch import check_batch

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
        loader: an iterable of ``camlib.data.Batch`` (a ``DataLoader`` with
            ``collate_fn=camlib.data.collate``, or ``Batch(images, labels)``s).
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
            no CAM layer that camlib knows and ``layer`` is None; a batch is
            not a ``camlib.data.Batch``.
        ValueError: the loader is empty, or ``layer``'s output is not 4-D.

    Example:
        >>> from camlib.models.registry import build_model
        >>> net = build_model("vgg-small", num_classes=3, input_size=16, resolution=4, channels=2, width=4)
        >>> from camlib.data import Batch
        >>> batches = [Batch(torch.rand(2, 3, 16, 16), torch.tensor([0, 2]))] * 3
        >>> f = extract_features(net, batches, keep_maps=True)
        >>> f.pooled.shape, f.labels.tolist(), f.maps.shape
        (torch.Size([6, 4]), [0, 2, 0, 2, 0, 2], torch.Size([6, 4, 4, 4]))
        >>> bool(torch.allclose(f.pooled, f.maps.mean(dim=(2, 3))))
        True
    """
    from tqdm import tqdm

    if layer is None:
        layer = find_cam_layer(model).features
    elif isinstance(layer, CAMLayer):
        layer = layer.features
    if not isinstance(layer, nn.Module):
        raise TypeError(f"`layer` must be a torch.nn.Module or a camlib.cam.CAMLayer, but got {type(layer).__name__}.")
    if device is None:
        device = next(model.parameters()).device
    show = sys.stderr.isatty() if progress is None else progress
    pooled, labels, maps, boxes = [], [], [], []
    has_boxes = True
    device_type = torch.device(device).type
    precision = torch.autocast(device_type, dtype=autocast) if autocast is not None else contextlib.nullcontext()
    with torch.no_grad(), precision, capture_features(model, layer) as cap:
        for batch in tqdm(loader, desc="features", leave=False, disable=not show):
            batch = check_batch(batch)
            images = batch.images.to(device)
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            model(images)
            f = cap.features
            if f.ndim != 4:
                raise ValueError(f"`layer` must output a 4-D tensor (N, K, h, w), but got shape {tuple(f.shape)}.")
            f = f.float()  # (n, K, h, w); pooled in float32, also after autocast
            pooled.append(f.mean(dim=(2, 3)).cpu())  # (n, K)
            labels.append(batch.labels.cpu())
            if keep_maps:
                maps.append(f.cpu().contiguous())  # (n, K, h, w)
            has_boxes = has_boxes and batch.boxes is not None
            if has_boxes:
                boxes += [b.cpu() for b in batch.boxes]
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
    """A plain-value identity of a tensor or a data set, for cache keys (``camlib.study.cache.cache_key``).

    - a tensor: its dtype, shape and the sha256 of its bytes;
    - a data set with a ``spec()`` (the synthetic benchmarks, ``camlib.study.crops.BoxCrops``): the spec;
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


__all__ += ["cached_cam_boxes", "cached_gap_features"]


def _loader(dataset: Any, batch_size: int, num_workers: int):
    from torch.utils.data import DataLoader

    from camlib.data.batch import collate

    for name, value, low in (("batch_size", batch_size, 1), ("num_workers", num_workers, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"`{name}` must be an int >= {low}, but got {value!r}.")
    return DataLoader(dataset, batch_size, collate_fn=collate, num_workers=num_workers)


def _run_key(network: Any, dataset: Any, channels_last: bool, autocast: torch.dtype | None) -> dict[str, Any]:
    if not isinstance(network, dict):
        raise TypeError(
            f"`network` must be a dict of plain values naming the network, but got {type(network).__name__}."
        )
    return {"network": network, "data": fingerprint(dataset), "channels_last": bool(channels_last),
            "autocast": None if autocast is None else str(autocast)}  # fmt: skip


def cached_gap_features(
    model: nn.Module,
    dataset: Any,
    *,
    network: dict[str, Any],
    batch_size: int = 16,
    num_workers: int = 0,
    keep_maps: bool = False,
    channels_last: bool = False,
    autocast: torch.dtype | None = None,
    cache: bool = True,
    cache_root: str | os.PathLike | None = None,
) -> Features:
    """The GAP features of a data set, read from the cache or computed by one pass of ``model``.

    ``extract_features(model, DataLoader(dataset, batch_size, collate_fn=camlib.data.collate), ...)``,
    memoized (``camlib.study.cache.memoize``) under the key ``{"what": "GAP features",
    "network": network, "data": fingerprint(dataset), "channels_last", "autocast"}``
    (the cache adds the fingerprint of camlib's code). The entry holds
    ``pooled``, ``labels`` and ``boxes``, not the maps (they are large):
    with ``keep_maps`` the maps always come back, from this call's pass on a
    miss and from one pass of ``model`` on a hit (the pooled features then
    still come from the entry); without it ``maps`` is always None and a hit
    runs nothing. (``cached_feature_maps`` caches the maps themselves, in
    float16.)

    Args:
        model: the network, in the state ``network`` names.
        dataset: a data set of items that ``camlib.data.collate`` batches, with
            an identity for ``fingerprint`` (a ``camlib.data`` reader, a
            ``Subset`` of one, ``camlib.study.crops.BoxCrops``, a synthetic benchmark).
        network: plain values that name everything besides the data that
            determines the features: the architecture, the weights' identity
            (``camlib.models.pretrained.resolve_weights``), the preprocessing.
        batch_size, num_workers: the loader's.
        keep_maps, channels_last, autocast: as for ``extract_features``.
        cache: False: always compute, never read or write the cache.
        cache_root: the cache folder (``camlib.study.cache.cache_dir``).

    Returns:
        ``Features(pooled Tensor[N, K], labels LongTensor[N], boxes, maps Tensor[N, K, h, w] or None)``.

    Raises:
        TypeError: ``network`` is not a dict; ``dataset`` has no fingerprint.
        ValueError: ``batch_size < 1`` or ``num_workers < 0``; as ``extract_features``.
    """
    from camlib.study.cache import memoize

    parts = {"what": "GAP features", **_run_key(network, dataset, channels_last, autocast)}
    loader = _loader(dataset, batch_size, num_workers)
    computed: dict[str, Tensor] = {}

    def compute() -> dict[str, Any]:
        f = extract_features(model, loader, keep_maps=keep_maps, channels_last=channels_last, autocast=autocast)
        if keep_maps:
            computed["maps"] = f.maps
        return {"pooled": f.pooled, "labels": f.labels, "boxes": f.boxes}

    value, _ = memoize(parts, compute, enabled=cache, cache_root=cache_root)
    if keep_maps and "maps" not in computed:  # a hit: the maps were not cached, one pass makes them
        computed["maps"] = extract_features(
            model, loader, keep_maps=True, channels_last=channels_last, autocast=autocast
        ).maps
    return Features(value["pooled"], value["labels"], value["boxes"], computed.get("maps"))


def cached_cam_boxes(
    svm: Any,
    model: nn.Module,
    dataset: Any,
    classes: dict[str, Tensor],
    *,
    network: dict[str, Any],
    size: int | tuple[int, int],
    threshold: float = 0.2,
    maps: Tensor | None = None,
    batch_size: int = 16,
    num_workers: int = 0,
    channels_last: bool = False,
    autocast: torch.dtype | None = None,
    cache: bool = True,
    cache_root: str | os.PathLike | None = None,
) -> dict[str, Tensor]:
    """The boxes of an SVM's class maps on a data set, one set per named choice of classes, cached.

    For each ``name``: ``svm.cam_boxes(maps, classes[name], size=size,
    threshold=threshold)`` (``camlib.study.svm.LinearSVM.cam_boxes``: the paper's
    box protocol on ``M_c = sum_k w_k^c f_k``). ``maps`` are the unpooled
    features of ``dataset`` in its order; when they are not given (the
    features came from the cache) and the boxes are not cached either,
    one pass of ``model`` over ``dataset`` computes them as
    ``cached_gap_features`` would. The key: ``{"what": "CAM boxes", ...}``
    with the network, the data, the SVM's weights, every choice of classes,
    ``threshold`` and ``size``.

    Args:
        svm: a ``camlib.study.svm.LinearSVM``.
        model, dataset, network, batch_size, num_workers, channels_last, autocast:
            as for ``cached_gap_features``.
        classes: ``{name: LongTensor[N]}``, one class per image of ``dataset``
            (e.g. ``{"predicted": svm.predict(...), "true": labels}``).
        size: the frame of the boxes (the network's input size).
        threshold: the fraction of each map's maximum (the paper's 0.2).
        maps: ``Tensor[N, K, h, w]`` or None.
        cache, cache_root: as for ``cached_gap_features``.

    Returns:
        ``{name: LongTensor[N, 4]}``, inclusive ``(x1, y1, x2, y2)`` boxes in the ``size`` frame.

    Raises:
        TypeError: ``svm`` has no ``cam_boxes``; ``classes`` is not a dict of tensors.
        ValueError: a choice of classes, or ``maps``, is not one per image of ``dataset``.
    """
    from camlib.study.cache import memoize

    if not callable(getattr(svm, "cam_boxes", None)) or not isinstance(getattr(svm, "weight", None), Tensor):
        raise TypeError(f"`svm` must be a camlib.study.svm.LinearSVM, but got {type(svm).__name__}.")
    if not isinstance(classes, dict) or not classes or not all(isinstance(c, Tensor) for c in classes.values()):
        raise TypeError("`classes` must be a non-empty dict {name: LongTensor[N]}, "
                        f"but got {type(classes).__name__}.")  # fmt: skip
    n = len(dataset)
    sized = {f"classes[{k!r}]": c for k, c in classes.items()} | ({} if maps is None else {"maps": maps})
    for name, c in sized.items():
        if len(c) != n:
            raise ValueError(f"`{name}` must hold one entry per image of `dataset` ({n}), but got {len(c)}.")
    parts = {"what": "CAM boxes", **_run_key(network, dataset, channels_last, autocast), "svm": fingerprint(svm.weight),
             "classes": {k: fingerprint(c) for k, c in classes.items()}, "threshold": float(threshold),
             "size": list(size) if isinstance(size, (tuple, list)) else size}  # fmt: skip

    def compute() -> dict[str, Tensor]:
        f = maps
        if f is None:  # one more pass: the features came from the cache, their maps did not
            loader = _loader(dataset, batch_size, num_workers)
            f = extract_features(model, loader, keep_maps=True, channels_last=channels_last, autocast=autocast).maps
        return {k: svm.cam_boxes(f, c, size=size, threshold=threshold) for k, c in classes.items()}

    value, _ = memoize(parts, compute, enabled=cache, cache_root=cache_root)
    return value


__all__ += ["cached_feature_maps"]


def cached_feature_maps(
    model: nn.Module,
    dataset: Any,
    *,
    network: dict[str, Any],
    batch_size: int = 16,
    num_workers: int = 0,
    channels_last: bool = False,
    cache: bool = True,
    cache_root: str | os.PathLike | None = None,
) -> Features:
    """The unpooled last-layer features of a data set, kept in the cache (in float16) for heads trained on them.

    What ``cached_gap_features`` computes, with the maps: one float32 pass of
    ``model`` (``extract_features(..., keep_maps=True)``), memoized under the
    key ``{"what": "feature maps", "network", "data", "channels_last"}``. The
    maps are stored and returned in float16, which halves the entry (512 x 13
    x 13 values per image for SqueezeNet's fire9: 173 kB) and moves them by at
    most one part in 2^11; ``pooled`` is the float32 GAP of the float32 maps.

    Args:
        model, dataset, network, batch_size, num_workers, channels_last, cache, cache_root:
            as ``cached_gap_features``.

    Returns:
        ``Features(pooled Tensor[N, K], labels, boxes, maps HalfTensor[N, K, h, w])``.
    """
    from camlib.study.cache import memoize

    parts = {"what": "feature maps", **_run_key(network, dataset, channels_last, None)}
    loader = _loader(dataset, batch_size, num_workers)

    def compute() -> dict[str, Any]:
        f = extract_features(model, loader, keep_maps=True, channels_last=channels_last)
        return {"pooled": f.pooled, "labels": f.labels, "boxes": f.boxes, "maps": f.maps.half()}

    value, _ = memoize(parts, compute, enabled=cache, cache_root=cache_root)
    return Features(value["pooled"], value["labels"], value["boxes"], value["maps"])
