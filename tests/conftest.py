"""Tiny seeded models and tensors shared by the unit tests.

Nothing here touches the global RNG at import: random tensors come from a
``torch.Generator``, and torchvision networks (whose builders draw from the
global RNG) are built inside ``torch.random.fork_rng`` so that the caller's
RNG state is restored afterwards.

The test session has its own model cache (``$CAMLIB_CACHE``, see
``pytest_configure``), never the repository's ``.cache``.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile

import pytest
import torch
import torchvision.models as tvm
from torch import nn

import camlib

CUDA = torch.cuda.is_available()

_CACHE_ENV = "CAMLIB_CACHE"
_PREVIOUS_CACHE = pytest.StashKey[tuple[str, "str | None"]]()  # (the session's folder, the variable before)


def pytest_configure(config):
    """Point ``$CAMLIB_CACHE`` at a fresh folder for the whole session, before any test runs.

    Set in ``os.environ``, so that the processes a test starts (the
    notebooks' papermill kernels, torchrun) inherit it: within one session a
    chapter still reads the networks an earlier chapter trained.
    """
    folder = tempfile.mkdtemp(prefix="camlib-test-cache-")
    config.stash[_PREVIOUS_CACHE] = (folder, os.environ.get(_CACHE_ENV))
    os.environ[_CACHE_ENV] = folder


def pytest_unconfigure(config):
    """Remove the session's cache folder and restore ``$CAMLIB_CACHE``."""
    if _PREVIOUS_CACHE not in config.stash:
        return
    folder, previous = config.stash[_PREVIOUS_CACHE]
    shutil.rmtree(folder, ignore_errors=True)
    if previous is None:
        os.environ.pop(_CACHE_ENV, None)
    else:
        os.environ[_CACHE_ENV] = previous


DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda", marks=pytest.mark.skipif(not CUDA, reason="CUDA is not available")),
]


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    """Each test that asks for ``device`` runs on the CPU and, where present, on CUDA."""
    return request.param


@pytest.fixture
def gen() -> torch.Generator:
    """A fresh CPU generator, seeded the same way for every test."""
    return torch.Generator().manual_seed(20160627)


class TinyGAPNet(nn.Module):
    """conv -> BN -> ReLU -> conv -> ReLU -> global average pool -> Linear.

    Small enough to run anywhere in microseconds; its parameters are drawn
    from ``generator`` so that two nets with the same seed are identical.
    The BatchNorm gives the hooks tests a module whose training flag matters.
    """

    def __init__(
        self,
        generator: torch.Generator,
        *,
        in_channels: int = 3,
        channels: int = 6,
        num_classes: int = 5,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 4, 3, padding=1),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.Conv2d(4, channels, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes, bias=bias)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * 0.5)
            bn = self.features[1]
            bn.running_mean.copy_(torch.randn(4, generator=generator) * 0.1)
            bn.running_var.copy_(torch.rand(4, generator=generator) + 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.features(x)).flatten(1))  # (N, C)

    def cam_layer(self) -> camlib.cam.CAMLayer:
        bias = None if self.fc.bias is None else self.fc.bias.detach()
        return camlib.cam.CAMLayer(self.features, self.fc.weight.detach(), bias)


@pytest.fixture
def tiny_net(gen) -> TinyGAPNet:
    """A seeded ``TinyGAPNet`` (3 -> 6 channels, 5 classes) in training mode."""
    return TinyGAPNet(gen)


@pytest.fixture
def make_tiny_net():
    """Factory: ``make_tiny_net(seed, **kwargs)`` builds a seeded ``TinyGAPNet``."""

    def make(seed: int = 0, **kwargs) -> TinyGAPNet:
        return TinyGAPNet(torch.Generator().manual_seed(seed), **kwargs)

    return make


@pytest.fixture
def features(gen) -> torch.Tensor:
    """Random features ``(N, K, h, w) = (3, 4, 5, 6)``."""
    return torch.randn(3, 4, 5, 6, generator=gen)


# torchvision's GAP networks with random weights: (builder kwargs, input side).
# Input sides are small but give feature maps of at least 2 x 2, so that the
# identity mean(M_c) + b_c = S_c averages over several locations.
TORCHVISION_NETS = {
    "resnet18": (dict(num_classes=7), 64),
    "googlenet": (dict(num_classes=7, aux_logits=False, init_weights=True), 64),
    "inception_v3": (dict(num_classes=7, aux_logits=False, init_weights=True), 139),
    "squeezenet1_0": (dict(num_classes=7), 64),
    "mobilenet_v2": (dict(num_classes=7), 64),
    "efficientnet_b0": (dict(num_classes=7), 64),
}


def build_seeded(builder, seed: int = 0, **kwargs) -> nn.Module:
    """``builder(**kwargs)`` with the global RNG seeded inside a fork (restored after)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return builder(**kwargs)


def calibrate_batchnorm(model: nn.Module, images: torch.Tensor) -> nn.Module:
    """Set every BatchNorm's running statistics to those of ``images``; return ``model`` in eval mode.

    A freshly initialised network has running mean 0 and variance 1, which in
    eval mode lets activations vanish (GoogLeNet, MobileNetV2: logits ~1e-9)
    or explode (Inception-v3: ~1e10), so that an identity checked on its
    logits would test little. One forward pass in training mode with a
    cumulative average (``momentum=None``) gives unit-scale activations.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        model(images)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    return model.eval()


@pytest.fixture(scope="session")
def torchvision_net():
    """Factory: ``torchvision_net(name, dtype)`` -> a seeded random network in eval mode (cached).

    Its BatchNorm statistics are calibrated on random images (see
    ``calibrate_batchnorm``). The networks are shared across tests: a test may
    run them (compute_cams and capture_features restore their training flags)
    but must not change them.
    """
    cache: dict[tuple[str, torch.dtype], nn.Module] = {}

    def get(name: str, dtype: torch.dtype = torch.float32) -> nn.Module:
        if (name, dtype) not in cache:
            if (name, torch.float32) not in cache:
                kwargs, _ = TORCHVISION_NETS[name]
                model = build_seeded(tvm.get_model_builder(name), weights=None, **kwargs)
                cache[name, torch.float32] = calibrate_batchnorm(model, net_input(name, n=8, seed=2))
            if dtype != torch.float32:
                cache[name, dtype] = copy.deepcopy(cache[name, torch.float32]).to(dtype)
        return cache[name, dtype]

    return get


def net_input(name: str, n: int = 2, dtype: torch.dtype = torch.float32, seed: int = 1) -> torch.Tensor:
    """A random input batch ``(n, 3, S, S)`` of the size that ``name`` is tested at."""
    side = TORCHVISION_NETS[name][1]
    return torch.randn(n, 3, side, side, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.fixture
def one_thread():
    """Tiny networks run fastest on one thread; on a busy CPU, OpenMP threads that wait for each other cost ~10x."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def no_data_root(tmp_path_factory):
    """An empty data root: chapters run against it show their 'Real data absent' note."""
    return tmp_path_factory.mktemp("no-data")


@pytest.fixture(scope="session")
def executed(tmp_path_factory):
    """Factory: ``executed("02", profile="smoke", data_root=...)`` -> the executed notebook (nbformat).

    Each (notebook, profile, overrides) runs once per test session, however
    many tests read it: the smoke test, the chapter's value tests and the
    summary all share one execution. The executed notebook's path is in
    ``nb.metadata["camlib_output"]``.
    """
    import nbformat

    from camlib.book import runner

    runs: dict[str, object] = {}

    def run(selector: str, profile: str = "smoke", **overrides):
        path = runner.notebook_paths(selector)[0]  # "00" and "00_class_activation_maps" are one notebook
        key = repr((path.stem, profile, sorted(overrides.items())))
        if key not in runs:
            folder = tmp_path_factory.mktemp(f"nb-{path.stem[:3]}-{profile}")
            result = runner.execute(path, profile=profile, overrides=overrides, output_dir=folder)
            nb = nbformat.read(result.output, as_version=4)
            nb.metadata["camlib_output"] = str(result.output)
            runs[key] = nb
        return runs[key]

    return run


def requires_data(*relative: str) -> pytest.MarkDecorator:
    """Skip unless every path of ``relative`` is under the data root (``camlib.data.find_data``)."""
    from camlib.data.locate import find_data

    missing = []
    for path in relative:
        try:
            find_data(path)
        except FileNotFoundError:
            missing.append(path)
    return pytest.mark.skipif(
        bool(missing),
        reason=f"real data absent ({', '.join(missing)}): link data/ to the study's data or set $CAMLIB_DATA",
    )
