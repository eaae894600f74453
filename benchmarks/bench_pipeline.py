"""Images to their top-5 classes' CAM boxes: camlib side by side with TorchCAM, pytorch-grad-cam, the authors' demo.

    python benchmarks/bench_pipeline.py                      # CPU: batches 1 4 16; CUDA: 16 64 256
    python benchmarks/bench_pipeline.py --device cuda --batches 16 64 --repeats 5
    python benchmarks/bench_pipeline.py --batches 1 2 --repeats 1 --threads 1 --out /tmp/smoke.jsonl
    make bench                                               # installs the peers (the `bench` extra) first

Every method takes the same images through the same torchvision ResNet-50
(``weights=None``: random weights drawn from ``--seed``, eval mode; nothing is
downloaded) at ``--size`` 224 and ends, for each image, with its 5 best
classes and one box per class by the paper's protocol: the class's CAM at the
input size, the pixels above 20% of the map's maximum, the bounding box of the
largest 8-connected component, ``(x1, y1, x2, y2)`` inclusive, ``(0, 0, 0, 0)``
when there is none. The images (``--images``) are ``torch.randn`` noise drawn
from ``--seed``: ``patch`` (the default) keeps the noise inside one random
rectangle per image, zeros (the mean pixel) around it; ``noise`` keeps it
everywhere. On noise everywhere a random network's top-5 CAMs are positive at
every location, above 20% of their maximum, so every box is the whole image:
a box step that does nothing and boxes that agree whatever the method. Each
method is timed as the median of ``--repeats`` runs after one warm-up, with
``torch.cuda.synchronize()`` around each run on CUDA:

- ``forward``: the network's forward pass alone (no gradients): the floor.
- ``camlib``: ``camlib.cam.pipeline.localize(model, images, top_k=5)``, the whole
  chain batched, no loop over images or maps.
- ``camlib-fused``: the same with ``fused=True`` (``torch.compile``); the
  warm-up takes the compilation (``warmup_seconds``); skipped with a note
  when compilation fails.
- ``torchcam``: TorchCAM's ``CAM`` extractor on ``layer4`` and ``fc`` as a
  user writes it: a forward pass, one extractor call per rank ``j`` (the
  ``j``-th class of every image), each map upsampled to the input size by
  ``F.interpolate`` (bilinear), then the user's box step below: TorchCAM
  draws no boxes, so the box step is the user's. The extractor is called with
  ``normalized=False``: its default min-max normalization would move the
  paper's threshold from 20% of the maximum to 20% of the range.
- ``grad-cam``: pytorch-grad-cam's ``GradCAM`` on ``layer4``: a forward pass
  (no gradients) for the top 5, then one ``GradCAM`` call (forward and
  backward) per rank with one ``ClassifierOutputTarget`` per image; inside,
  it applies a ReLU, scales each map to ``[0, 1]`` by its minimum and maximum
  and resizes it with OpenCV, image by image; then the user's box step. On a
  GAP network Grad-CAM is CAM up to a ReLU and a positive scale: the gradient
  of the logit ``S_c`` with respect to ``f_k(x, y)`` is ``w_k^c / (h w)``,
  the same at every location, so Grad-CAM's weights are ``w^c / (h w)`` and
  its map ``ReLU(M_c) / (h w)``. Its boxes at a fraction of the maximum match
  CAM's where the CAM is positive, up to pixels at the threshold (the ReLU
  comes before the resize); but where a map is positive everywhere, the
  shift by its minimum puts the threshold at 20% of the range instead.
- ``authors-demo``: the approach of the authors' released PyTorch demo
  (``pytorch_CAM.py``), written here from its description: a forward pass
  with a hook on ``layer4``, the features to NumPy, then for each image and
  class ``cam = W[c] @ features.reshape(K, h * w)``, reshaped to ``(h, w)``,
  shifted and scaled by its minimum and maximum to ``0-255`` ``uint8``,
  ``cv2.resize`` to the input size; then the user's box step. The shift by
  the minimum puts the threshold at 20% of the range, and the quantization
  and OpenCV's fixed-point resize move pixels at it.

The user's box step (torchcam, grad-cam, authors-demo), a Python loop over
images and classes: the NumPy mask ``m > 0.2 * m.max()``,
``cv2.connectedComponentsWithStats`` (8-connectivity), the box of the
component with the largest area (the first label on ties).

Agreement with camlib on the same images, of the ``N x 5`` (image, rank)
pairs (None for ``forward`` and ``camlib``): ``agreement``, the fraction
with camlib's class and exactly its box; ``agreement_iou50``, with camlib's
class and a box of IoU >= 0.5 with camlib's (the paper's criterion for a
correct box). Expected: 1 for ``camlib-fused`` and ``torchcam`` (the same
maps, summed in another order); for ``grad-cam`` and ``authors-demo`` an IoU
agreement near 1 and an exact one well below (a box's side moves by a pixel
when the threshold moves a little). Printed beside the times, never asserted.

Memory: on CUDA, ``torch.cuda.max_memory_allocated()`` over the timed runs
(``memory_peak_mib``) and ``memory_allocated()`` before them, with the model,
the images and the warm-up's leftovers (``memory_base_mib``). On the CPU each
(method, batch) runs in a fresh process of this script (the hidden ``--one``
mode): ``memory_base_mib`` is its resident set once the model and the
images are made, ``memory_peak_mib`` its peak resident set from then to the
end of the timed runs (``VmHWM``, reset at the base; ``ru_maxrss`` where
``/proc`` is missing, see ``start_cpu_memory``), so the peak includes the
warm-up and its one-time costs (camlib's lazy imports and numba's compilation
on its first call; for ``camlib-fused``, ``torch.compile``'s).
``memory_delta_mib`` is the difference. A method whose package is missing is
skipped with a note.

Prints a table and appends one JSON line per (method, batch) to ``--out``
(default ``benchmarks/results/pipeline-<device type>.jsonl``) with the keys
``method batch size images arch classes top_k threshold device repeats
seconds_median images_per_second warmup_seconds memory_kind memory_peak_mib
memory_base_mib memory_delta_mib agreement agreement_iou50 machine versions
date run``; ``run`` is the run's start (UTC), the same on all its rows; ``machine`` holds ``platform cpu cores torch_threads gpu`` and
``versions`` those of ``python torch torchvision opencv torchcam grad-cam``
(None when absent).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn

from camlib.book.perf import demo_cam_boxes, opencv_largest_box, user_boxes  # noqa: F401 (opencv_largest_box: the tests use it here)
from camlib.book.perf import noise_images as make_images
from camlib.boxes.geometry import box_iou
from camlib.cam.pipeline import localize

TOP_K = 5
THRESHOLD = 0.2
METHODS = ("forward", "camlib", "camlib-fused", "torchcam", "grad-cam", "authors-demo")
PEERS = {"torchcam": "torchcam.methods", "grad-cam": "pytorch_grad_cam"}  # method -> the module it imports
BATCHES = {"cpu": [1, 4, 16], "cuda": [16, 64, 256]}
ARCHS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")  # layer4, then GAP and fc
RESULTS = Path(__file__).resolve().parent / "results"

Run = Callable[[Tensor], "tuple[Tensor, Tensor] | None"]  # images -> (classes (N, k), boxes (N, k, 4)), or None


class Skipped(Exception):
    """A method that cannot run here (its package is missing, compilation failed)."""


def build_model(arch: str, classes: int, seed: int, device: torch.device) -> nn.Module:
    """A torchvision ResNet with random weights drawn from ``seed``, in eval mode; the global RNG is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = torchvision.models.get_model(arch, weights=None, num_classes=classes)
    return model.eval().to(device)


def _top_classes(model: nn.Module, images: Tensor) -> Tensor:
    with torch.no_grad():
        return model(images).topk(TOP_K, dim=1).indices  # (N, k)


def _import_peer(method: str):
    """The peer's module, or ``Skipped`` naming the package to install."""
    try:
        return importlib.import_module(PEERS[method])
    except ImportError as exc:
        raise Skipped(f'{method} is not installed ({exc}); `pip install -e ".[bench]"` installs it') from None


@contextmanager
def forward_pipeline(model: nn.Module) -> Iterator[Run]:
    def run(images: Tensor) -> None:
        with torch.no_grad():
            model(images)

    yield run


@contextmanager
def camlib_pipeline(model: nn.Module, *, fused: bool = False) -> Iterator[Run]:
    def run(images: Tensor) -> tuple[Tensor, Tensor]:
        out = localize(model, images, top_k=TOP_K, threshold=THRESHOLD, fused=fused)
        return out.classes, out.boxes

    yield run


@contextmanager
def torchcam_pipeline(model: nn.Module) -> Iterator[Run]:
    methods = _import_peer("torchcam")
    with methods.CAM(model, "layer4", "fc") as extractor:  # hooks layer4 until the block ends

        def run(images: Tensor) -> tuple[Tensor, Tensor]:
            classes = _top_classes(model, images)  # (N, k); the forward fills the extractor's hook
            maps = []
            for j in range(TOP_K):
                (cam,) = extractor(classes[:, j].tolist(), normalized=False)  # (N, h, w), one layer
                maps.append(F.interpolate(cam[:, None], size=images.shape[-2:], mode="bilinear", align_corners=False))
            maps = torch.cat(maps, dim=1)  # (N, k, H, W)
            return classes, user_boxes(maps.cpu().numpy(), THRESHOLD)

        yield run


@contextmanager
def gradcam_pipeline(model: nn.Module) -> Iterator[Run]:
    _import_peer("grad-cam")
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    # Not `with GradCAM(...)`: its __exit__ swallows an IndexError raised inside the block.
    cam = GradCAM(model=model, target_layers=[model.layer4])
    try:

        def run(images: Tensor) -> tuple[Tensor, Tensor]:
            classes = _top_classes(model, images)  # (N, k)
            maps = [cam(input_tensor=images, targets=[ClassifierOutputTarget(int(c)) for c in classes[:, j]])
                    for j in range(TOP_K)]  # fmt: skip
            return classes, user_boxes(np.stack(maps, axis=1), THRESHOLD)  # (N, k, H, W)

        yield run
    finally:
        cam.activations_and_grads.release()


@contextmanager
def authors_pipeline(model: nn.Module) -> Iterator[Run]:
    captured: dict[str, np.ndarray] = {}

    def hook(module: nn.Module, inputs: tuple, output: Tensor) -> None:
        captured["features"] = output.detach().cpu().numpy()

    handle = model.layer4.register_forward_hook(hook)
    weight = model.fc.weight.detach().cpu().numpy()  # (C, K)
    try:

        def run(images: Tensor) -> tuple[Tensor, Tensor]:
            classes = _top_classes(model, images).cpu()  # (N, k)
            return classes, demo_cam_boxes(captured["features"], weight, classes, tuple(images.shape[-2:]), THRESHOLD)

        yield run
    finally:
        handle.remove()


PIPELINES = {
    "forward": forward_pipeline,
    "camlib": camlib_pipeline,
    "camlib-fused": lambda model: camlib_pipeline(model, fused=True),
    "torchcam": torchcam_pipeline,
    "grad-cam": gradcam_pipeline,
    "authors-demo": authors_pipeline,
}


def missing(method: str) -> str | None:
    """Why ``method`` cannot run here (its peer package is missing), or None."""
    if method not in PEERS:
        return None
    try:
        _import_peer(method)
    except Skipped as exc:
        return str(exc)
    return None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(run: Run, images: Tensor) -> tuple[float, object]:
    _sync(images.device)
    start = time.perf_counter()
    out = run(images)
    _sync(images.device)
    return time.perf_counter() - start, out


def _proc_status_mib(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024  # kB
    raise OSError(f"/proc/self/status has no {key}")


def start_cpu_memory() -> tuple[str, float]:
    """Start measuring this process's peak memory from now: ``(kind, base MiB)``.

    On Linux the peak resident set (``VmHWM``) is reset to the current one
    (``/proc/self/clear_refs``), which is the base: the imports' transient
    peak is not counted. Elsewhere ``ru_maxrss``, the peak since the process
    began, which after ``vfork`` and ``exec`` (what ``subprocess`` does on
    Linux) starts at the parent's peak.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return "VmHWM", _proc_status_mib("VmRSS")
    except OSError:
        return "ru_maxrss", _maxrss_mib()


def _peak_cpu_memory(kind: str) -> float:
    return _proc_status_mib("VmHWM") if kind == "VmHWM" else _maxrss_mib()


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def agreement(ref: tuple[Tensor, Tensor], out: tuple[Tensor, Tensor]) -> tuple[float, float]:
    """Of the (image, rank) pairs, the fractions with the reference's class and its box, and with IoU >= 0.5."""
    (ref_classes, ref_boxes), (classes, boxes) = ref, out
    same_class = classes.cpu() == ref_classes.cpu()  # (N, k)
    boxes, ref_boxes = boxes.cpu().reshape(-1, 4), ref_boxes.cpu().reshape(-1, 4)
    equal = same_class & (boxes == ref_boxes).all(dim=-1).view_as(same_class)
    iou = box_iou(boxes, ref_boxes).diagonal().view_as(same_class)  # (N, k): each box against its own pair
    return equal.float().mean().item(), (same_class & (iou >= 0.5)).float().mean().item()


def measure(method: str, model: nn.Module, images: Tensor, *, repeats: int,
            cpu_memory: tuple[str, float] | None = None, ref: tuple[Tensor, Tensor] | None = None) -> dict:  # fmt: skip
    """Time ``method`` on ``images``: warm-up, ``repeats`` timed runs, memory, agreement with ``ref``.

    ``cpu_memory``: ``start_cpu_memory()``'s value, taken once the model and
    the images are made, turns on the CPU memory figures; in a process that
    ran other methods before, leave it None. ``ref``: camlib's (classes,
    boxes) on the same images; None computes it after the timing, so that it
    counts in no peak.

    Raises:
        Skipped: the peer is missing, or (``camlib-fused``) compilation failed.
    """
    device = images.device
    with PIPELINES[method](model) as run:
        try:
            warmup, out = _timed(run, images)
        except Exception as exc:
            if method != "camlib-fused":
                raise
            raise Skipped(f"torch.compile failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}") from exc
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device) / 2**20
        times = []
        for _ in range(repeats):
            seconds, out = _timed(run, images)
            times.append(seconds)
    if device.type == "cuda":
        kind, peak = "cuda max_memory_allocated", torch.cuda.max_memory_allocated(device) / 2**20
    elif cpu_memory is not None:
        kind, base = cpu_memory
        peak = _peak_cpu_memory(kind)
    else:
        kind = peak = base = None
    agree = agree_iou = None
    if out is not None and method != "camlib":
        ref = ref if ref is not None else camlib_reference(model, images)
        agree, agree_iou = (round(v, 4) for v in agreement(ref, out))
    seconds = statistics.median(times)
    batch = images.shape[0]
    return {
        "method": method,
        "batch": batch,
        "size": images.shape[-1],
        "top_k": TOP_K,
        "threshold": THRESHOLD,
        "device": str(device),
        "repeats": repeats,
        "seconds_median": round(seconds, 6),
        "images_per_second": round(batch / seconds, 2),
        "warmup_seconds": round(warmup, 6),
        "memory_kind": kind,
        "memory_peak_mib": None if peak is None else round(peak, 1),
        "memory_base_mib": None if base is None else round(base, 1),
        "memory_delta_mib": None if peak is None else round(peak - base, 1),
        "agreement": agree,
        "agreement_iou50": agree_iou,
    }


def camlib_reference(model: nn.Module, images: Tensor) -> tuple[Tensor, Tensor]:
    """camlib's classes and boxes on ``images``, the reference of ``agreement``."""
    out = localize(model, images, top_k=TOP_K, threshold=THRESHOLD)
    return out.classes, out.boxes


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def environment() -> dict:
    """The machine, the package versions and the date, for each JSON line."""
    return {
        "machine": {
            "platform": platform.platform(),
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
        "versions": {
            "python": platform.python_version(),
            "torch": _version("torch"),
            "torchvision": _version("torchvision"),
            "opencv": cv2.__version__,
            "torchcam": _version("torchcam"),
            "grad-cam": _version("grad-cam"),
        },
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def row(method: str, model: nn.Module, images: Tensor, args: argparse.Namespace, **kwargs) -> dict:
    """``measure``'s row with the run's settings and environment, or the reason it was skipped."""
    try:
        result = measure(method, model, images, repeats=args.repeats, **kwargs)
    except Skipped as exc:
        return {"method": method, "batch": images.shape[0], "skipped": str(exc)}
    return {**result, "images": args.images, "arch": args.arch, "classes": args.classes, **environment()}


def run_one(method: str, batch: int, args: argparse.Namespace, device: torch.device) -> dict:
    """One (method, batch) in this fresh process: the ``--one`` mode, whose line the parent collects."""
    model = build_model(args.arch, args.classes, args.seed, device)
    images = make_images(batch, args.size, args.seed, device, args.images)
    return row(method, model, images, args, cpu_memory=start_cpu_memory() if device.type == "cpu" else None)


def run_child(method: str, batch: int, args: argparse.Namespace, device: torch.device) -> dict:
    """``run_one`` in a fresh process of this script; its last line on stdout is the row."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", method, str(batch), "--device", device.type]
    for name in ("size", "images", "arch", "classes", "repeats", "seed", "threads"):
        if getattr(args, name) is not None:
            cmd += [f"--{name}", str(getattr(args, name))]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"method": method, "batch": batch, "failed": f"exit status {proc.returncode}: {tail}"}
    return json.loads(lines[-1])


def run_all(methods: list[str], args: argparse.Namespace, device: torch.device) -> Iterator[dict]:
    """Every (batch, method): in fresh processes on the CPU, in this one on CUDA or with ``--in-process``."""
    in_process = args.in_process or device.type == "cuda"
    model = build_model(args.arch, args.classes, args.seed, device) if in_process else None
    for batch in args.batches:
        if not in_process:
            yield from (run_child(method, batch, args, device) for method in methods)
            continue
        images = make_images(batch, args.size, args.seed, device, args.images)
        ref = camlib_reference(model, images)
        yield from (row(method, model, images, args, ref=ref) for method in methods)


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _fraction(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=None,
                        help="JSON Lines file to append one line per (method, batch) to "
                             "(default benchmarks/results/pipeline-<device type>.jsonl)")  # fmt: skip
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="default: cuda if present")
    parser.add_argument("--batches", type=int, nargs="+", default=None,
                        help="batch sizes (default 1 4 16 on the CPU, 16 64 256 on CUDA)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the median is kept (default 3)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS), help="default: all")
    parser.add_argument("--size", type=int, default=224, help="image side (default 224)")
    parser.add_argument("--images", choices=("patch", "noise"), default="patch",
                        help="noise in one rectangle per image, or everywhere (default patch)")  # fmt: skip
    parser.add_argument("--arch", choices=ARCHS, default="resnet50", help="torchvision ResNet (default resnet50)")
    parser.add_argument("--classes", type=int, default=1000, help="classes of the network (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the images (default 0)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--in-process", action="store_true",
                        help="run every method in this process; on the CPU then no memory figures")  # fmt: skip
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("repeats", "classes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be a positive int, but got {getattr(args, name)}.")
    if args.classes < TOP_K:
        parser.error(f"--classes must be at least {TOP_K} (the top {TOP_K} are boxed), but got {args.classes}.")
    if args.size < 32:
        parser.error(f"--size must be at least 32 pixels (ResNet's stride), but got {args.size}.")
    if args.batches is not None and min(args.batches) < 1:
        parser.error(f"--batches must be positive ints, but got {args.batches}.")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda was asked for, but CUDA is not available.")
    device = torch.device(args.device if args.device != "auto" else "cuda" if torch.cuda.is_available() else "cpu")
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    if args.one is not None:
        method, batch = args.one
        print(json.dumps(run_one(method, int(batch), args, device)))
        return 0

    args.batches = args.batches or BATCHES[device.type]
    out = Path(args.out) if args.out else RESULTS / f"pipeline-{device.type}.jsonl"
    methods = []
    for method in args.methods:
        reason = missing(method)
        if reason is None:
            methods.append(method)
        else:
            print(f"note: skipping {method}: {reason}")
    print(f"{args.arch}, {args.images} images {args.size}x{args.size}, top {TOP_K}, on {device}, "
          f"{torch.get_num_threads()} torch threads; appending to {out}")  # fmt: skip
    print(f"{'method':<14}{'batch':>6}{'seconds':>10}{'images/s':>10}{'peak MiB':>10}{'+MiB':>8}"
          f"{'equal':>8}{'IoU>=.5':>9}")  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    failed = False
    run = datetime.now(timezone.utc).isoformat(timespec="seconds")  # every row of this run carries its start
    with out.open("a") as sink:
        for r in run_all(methods, args, device):
            r["run"] = run
            if "skipped" in r or "failed" in r:
                failed |= "failed" in r
                print(f"note: {r['method']} at batch {r['batch']}: {r.get('skipped') or r['failed']}")
                continue
            print(f"{r['method']:<14}{r['batch']:>6}{r['seconds_median']:>10.3f}{r['images_per_second']:>10.1f}"
                  f"{_mib(r['memory_peak_mib']):>10}{_mib(r['memory_delta_mib']):>8}"
                  f"{_fraction(r['agreement']):>8}{_fraction(r['agreement_iou50']):>9}")  # fmt: skip
            sink.write(json.dumps(r) + "\n")
            sink.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
