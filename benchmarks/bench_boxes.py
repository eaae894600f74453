"""How fast maps become boxes and box accuracies: the CPU paths against their references.

    python benchmarks/bench_boxes.py --out results/boxes.jsonl
    python benchmarks/bench_boxes.py --sizes 224 --maps 300 --out boxes224.jsonl
    python benchmarks/bench_boxes.py --device cuda --sizes 224 --maps 50000 --thresholds 255 --out boxes-cuda.jsonl

Each benchmark times one operation on ``--maps`` smooth random maps (gaussian-
blurred noise, like upsampled CAMs) of each ``--size``, median over
``--repeats`` runs after a warm-up:

- ``maxboxacc+v2 tree``: MaxBoxAcc and MaxBoxAccV2 on wsolevaluation's
  100 thresholds from one sweep of the component tree per map
  (``camlib.metrics.accuracy.update_box_accuracies``, what ``evaluate_localization``
  does; ``camlib.components.tree``);
- ``maxboxacc+v2 labelling``: the same from OpenCV's labelling of each
  threshold's mask (the reference path, ``backend="opencv"``);
- ``maxboxaccv2 contours loop``: MaxBoxAccV2 as wsolevaluation computes it,
  written here from its published definition: per map and threshold,
  ``cv2.threshold`` and ``cv2.findContours`` (all contours, holes' inner
  ones too), ``cv2.boundingRect`` boxes ``(x, y, x + w, y + h)``; its value
  differs from camlib's by those conventions (see ``BoxAccAccumulator``);
- ``components measure`` against ``components label+stats``:
  ``measure_components`` (scatter over scipy's labels) against
  ``component_stats(connected_components(...))`` (a sort over all foreground
  pixels), on the masks of 100 thresholds;
- ``authors boxes``: ``camlib.boxes.authors_boxes`` (three thresholds, the distance
  step by scipy's exact EDT on the CPU);
- ``maxboxacc+v2 wsolevaluation``: both metrics in wsolevaluation's own
  convention (``camlib.components.contours``: OpenCV contours, each distinct level once);
- one threshold's boxes (20% of the max, the paper's protocol), three ways:
  ``boxes runs`` (``camlib.components.runs``, the CPU default of ``boxes_from_masks``),
  ``boxes labelling`` (OpenCV's ``connectedComponentsWithStats`` per map,
  ``backend="opencv"``) and ``boxes contours loop`` (``cv2.findContours``
  per map, the box of the largest contour: what a user writes, and the speed
  to match).

With ``--device cuda`` the maps sit on the GPU and the operations are the
device's: ``maxboxacc+v2 tree (host)`` (the maps copied to the host, the
tree on its cores), ``maxboxacc+v2 labelling (device)`` (the torch labelling
of every threshold's mask, on the first ``--device-maps`` maps only: it is
slow), and one threshold's ``boxes dense (device)`` (``camlib.cam.pipeline``'s
batched labelling) and ``boxes runs (host)``.

The tree and the labelling compute identical results (the tests check it);
the contours loop is the peer. The accuracies are written beside the times. Prints a table and appends one JSON line per benchmark to ``--out``,
for the performance appendix.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import cv2
import torch

from camlib.book.perf import contours_largest_boxes, contours_max_box_acc_v2, smooth_maps
from camlib.boxes.from_maps import authors_boxes, boxes_from_masks, foreground
from camlib.components.labels import component_stats, connected_components, measure_components
from camlib.metrics.accuracy import BoxAccAccumulator, threshold_grid, update_box_accuracies


def _pair(maps: torch.Tensor, gt: list, tau: torch.Tensor, **how) -> float:
    """MaxBoxAcc and MaxBoxAccV2 through one shared update; returns MaxBoxAccV2."""
    accs = [
        BoxAccAccumulator((0.5,), thresholds=tau, quantize=True, **how),
        BoxAccAccumulator((0.3, 0.5, 0.7), all_components=True, thresholds=tau, quantize=True, **how),
    ]
    update_box_accuracies(accs, maps, gt)
    return accs[1].compute().value


def device_operations(maps: torch.Tensor, thresholds: int, device_maps: int) -> dict[str, tuple[int, Callable]]:
    """The GPU's operations: name -> (maps it runs on, callable)."""
    n, size = maps.shape[0], maps.shape[-1]
    gt = [torch.tensor([[size // 4, size // 4, 3 * size // 4, 3 * size // 4]], device=maps.device)] * n
    tau = threshold_grid(1 / thresholds)
    few = min(n, device_maps)
    masks = foreground(maps, 0.2)

    def synced(fn: Callable[[], object]) -> Callable[[], object]:
        return lambda: (fn(), torch.cuda.synchronize())[0]

    return {
        "maxboxacc+v2 tree (host)": (n, lambda: _pair(maps.cpu(), [g.cpu() for g in gt], tau)),
        "maxboxacc+v2 labelling (device)": (few, synced(lambda: _pair(maps[:few], gt[:few], tau, backend="torch"))),
        "boxes dense (device)": (n, synced(lambda: boxes_from_masks(masks, backend="torch"))),
        "boxes runs (host)": (n, lambda: boxes_from_masks(masks.cpu())),
    }


def operations(maps: torch.Tensor) -> dict[str, Callable[[], object]]:
    n, size = maps.shape[0], maps.shape[-1]
    gt = [torch.tensor([[size // 4, size // 4, 3 * size // 4, 3 * size // 4]])] * n
    tau = threshold_grid(0.01)
    one = foreground(maps, 0.2)  # one threshold's masks: the paper's protocol
    masks = maps[:, None] > torch.quantile(maps.flatten(1), tau.float(), dim=1).T[:, :, None, None]  # (n, T, H, W)
    masks = masks.reshape(-1, size, size)

    return {
        "maxboxacc+v2 tree": lambda: _pair(maps, gt, tau, backend="tree"),
        "maxboxacc+v2 labelling": lambda: _pair(maps, gt, tau, backend="opencv"),
        "maxboxaccv2 contours loop": lambda: contours_max_box_acc_v2(maps, gt, tau.tolist()),
        "maxboxacc+v2 wsolevaluation": lambda: _pair(maps, gt, tau, convention="wsolevaluation"),
        "components measure": lambda: measure_components(masks),
        "components label+stats": lambda: component_stats(connected_components(masks)),
        "authors boxes": lambda: authors_boxes(maps),
        "boxes runs": lambda: boxes_from_masks(one, backend="runs"),
        "boxes labelling": lambda: boxes_from_masks(one, backend="opencv"),
        "boxes contours loop": lambda: contours_largest_boxes(one),
    }


def measure(name: str, fn: Callable[[], object], *, maps: int, size: int, repeats: int) -> dict:
    value = fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {
        "operation": name,
        "maps": maps,
        "size": size,
        "repeats": repeats,
        "seconds_median": round(seconds, 6),
        "maps_per_second": round(maps / seconds, 1),
        "maxboxaccv2": round(100 * value, 2) if isinstance(value, float) else None,
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": metadata.version("torch"),
        "scipy": metadata.version("scipy"),
        "opencv": cv2.__version__,
        "numba": metadata.version("numba"),
        "finished": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="JSON Lines file to append one line per benchmark to")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 227], help="map sides (default 64 227)")
    parser.add_argument("--maps", type=int, default=50, help="maps per run (default 50)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the median is kept (default 3)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where the maps sit (default cpu)")
    parser.add_argument("--thresholds", type=int, default=100, help="thresholds of the CUDA run's grid (default 100)")
    parser.add_argument(
        "--device-maps",
        type=int,
        default=256,
        help="maps of the CUDA run's slow labelling of every threshold (default 256)",
    )
    args = parser.parse_args(argv)
    for name in ("maps", "repeats", "thresholds", "device_maps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive int, but got {getattr(args, name)}.")
    if any(s < 8 for s in args.sizes):
        parser.error(f"--sizes must be at least 8 pixels, but got {args.sizes}.")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda needs a GPU, but torch sees none.")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    print(f"{'operation':<32}{'size':>6}{'maps':>6}{'seconds':>10}{'maps/s':>10}{'MaxBoxAccV2':>13}")
    run = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # every row of this run carries its start
    with out.open("a") as sink:
        for size in args.sizes:
            # At most 1,000 distinct maps, repeated: the times do not depend on which maps they are.
            maps = smooth_maps(min(args.maps, 1000), size).repeat(-(-args.maps // 1000), 1, 1)[: args.maps]
            if args.device == "cuda":
                ops = device_operations(maps.cuda(), args.thresholds, args.device_maps)
            else:
                ops = {name: (args.maps, fn) for name, fn in operations(maps).items()}
            for name, (n, fn) in ops.items():
                row = measure(name, fn, maps=n, size=size, repeats=args.repeats)
                row["thresholds"] = args.thresholds if args.device == "cuda" else 100
                row["run"] = run
                acc = "" if row["maxboxaccv2"] is None else f"{row['maxboxaccv2']:.2f}"
                print(
                    f"{name:<32}{size:>6}{n:>6}{row['seconds_median']:>10.3f}{row['maps_per_second']:>10.1f}{acc:>13}"
                )
                sink.write(json.dumps(row) + "\n")
                sink.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
