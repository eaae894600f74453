"""How fast maps become boxes and box accuracies: the CPU paths against their references.

    python benchmarks/bench_boxes.py --out results/boxes.jsonl
    python benchmarks/bench_boxes.py --sizes 224 --maps 300 --out boxes224.jsonl

Each benchmark times one operation on ``--maps`` smooth random maps (gaussian-
blurred noise, like upsampled CAMs) of each ``--size``, median over
``--repeats`` runs after a warm-up:

- ``maxboxacc+v2 tree``: MaxBoxAcc and MaxBoxAccV2 on wsolevaluation's
  100 thresholds from one sweep of the component tree per map
  (``camlib.metrics.update_box_accuracies``, what ``evaluate_localization``
  does; ``camlib.component_tree``);
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
- ``authors boxes``: ``camlib.authors_boxes`` (three thresholds, the distance
  step by scipy's exact EDT on the CPU).

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

from camlib.boxes import authors_boxes
from camlib.components import component_stats, connected_components, measure_components
from camlib.metrics import BoxAccAccumulator, threshold_grid, update_box_accuracies
from camlib.perf import contours_max_box_acc_v2, smooth_maps


def operations(maps: torch.Tensor) -> dict[str, Callable[[], object]]:
    n, size = maps.shape[0], maps.shape[-1]
    gt = [torch.tensor([[size // 4, size // 4, 3 * size // 4, 3 * size // 4]])] * n
    tau = threshold_grid(0.01)
    masks = maps[:, None] > torch.quantile(maps.flatten(1), tau.float(), dim=1).T[:, :, None, None]  # (n, T, H, W)
    masks = masks.reshape(-1, size, size)

    def pair(backend: str) -> float:
        accs = [BoxAccAccumulator((0.5,), quantize=True, backend=backend),
                BoxAccAccumulator((0.3, 0.5, 0.7), all_components=True, quantize=True, backend=backend)]
        update_box_accuracies(accs, maps, gt)
        return accs[1].compute().value  # MaxBoxAccV2

    return {
        "maxboxacc+v2 tree": lambda: pair("tree"),
        "maxboxacc+v2 labelling": lambda: pair("opencv"),
        "maxboxaccv2 contours loop": lambda: contours_max_box_acc_v2(maps, gt, tau.tolist()),
        "components measure": lambda: measure_components(masks),
        "components label+stats": lambda: component_stats(connected_components(masks)),
        "authors boxes": lambda: authors_boxes(maps),
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
    args = parser.parse_args(argv)
    for name in ("maps", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be a positive int, but got {getattr(args, name)}.")
    if any(s < 8 for s in args.sizes):
        parser.error(f"--sizes must be at least 8 pixels, but got {args.sizes}.")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    print(f"{'operation':<26}{'size':>6}{'maps':>6}{'seconds':>10}{'maps/s':>10}{'MaxBoxAccV2':>13}")
    with out.open("a") as sink:
        for size in args.sizes:
            maps = smooth_maps(args.maps, size)
            for name, fn in operations(maps).items():
                row = measure(name, fn, maps=args.maps, size=size, repeats=args.repeats)
                acc = "" if row["maxboxaccv2"] is None else f"{row['maxboxaccv2']:.2f}"
                print(f"{name:<26}{size:>6}{args.maps:>6}{row['seconds_median']:>10.3f}{row['maps_per_second']:>10.1f}"
                      f"{acc:>13}")
                sink.write(json.dumps(row) + "\n")
                sink.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
