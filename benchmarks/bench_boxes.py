"""How fast maps become boxes and box accuracies: the CPU paths against their references.

    python benchmarks/bench_boxes.py --out results/boxes.jsonl
    python benchmarks/bench_boxes.py --sizes 227 --maps 50 --out boxes227.jsonl

Each benchmark times one operation on ``--maps`` smooth random maps (gaussian-
blurred noise, like upsampled CAMs) of each ``--size``, median over
``--repeats`` runs after a warm-up:

- ``maxboxacc+v2 shared``: MaxBoxAcc and MaxBoxAccV2 fed by one labelling
  (``camlib.metrics.update_box_accuracies``, what ``evaluate_localization``
  does), wsolevaluation's 100 thresholds;
- ``maxboxacc+v2 separate``: the two accumulators updated one by one;
- ``components measure`` against ``components label+stats``:
  ``measure_components`` (scatter over scipy's labels) against
  ``component_stats(connected_components(...))`` (a sort over all foreground
  pixels), on the masks of 100 thresholds;
- ``authors boxes``: ``camlib.authors_boxes`` (three thresholds, the distance
  step by scipy's exact EDT on the CPU).

Every pair computes identical results (the tests check it); only the time
differs. Prints a table and appends one JSON line per benchmark to ``--out``,
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

import numpy as np
import torch
from scipy import ndimage

from camlib.boxes import authors_boxes
from camlib.components import component_stats, connected_components, measure_components
from camlib.metrics import BoxAccAccumulator, threshold_grid, update_box_accuracies


def smooth_maps(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """``n`` maps ``(size, size)`` of blurred noise (sigma: 1/16 of the side), float32."""
    noise = np.random.default_rng(seed).standard_normal((n, size, size))
    return torch.from_numpy(ndimage.gaussian_filter(noise, sigma=(0, size / 16, size / 16))).float()


def operations(maps: torch.Tensor) -> dict[str, Callable[[], object]]:
    n, size = maps.shape[0], maps.shape[-1]
    gt = [torch.tensor([[size // 4, size // 4, 3 * size // 4, 3 * size // 4]])] * n
    tau = threshold_grid(0.01)
    masks = maps[:, None] > torch.quantile(maps.flatten(1), tau.float(), dim=1).T[:, :, None, None]  # (n, T, H, W)
    masks = masks.reshape(-1, size, size)

    def pair() -> list[BoxAccAccumulator]:
        return [BoxAccAccumulator((0.5,), quantize=True),
                BoxAccAccumulator((0.3, 0.5, 0.7), all_components=True, quantize=True)]  # fmt: skip

    def shared() -> None:
        update_box_accuracies(pair(), maps, gt)

    def separate() -> None:
        for acc in pair():
            acc.update(maps, gt)

    return {
        "maxboxacc+v2 shared": shared,
        "maxboxacc+v2 separate": separate,
        "components measure": lambda: measure_components(masks),
        "components label+stats": lambda: component_stats(connected_components(masks)),
        "authors boxes": lambda: authors_boxes(maps),
    }


def measure(name: str, fn: Callable[[], object], *, maps: int, size: int, repeats: int) -> dict:
    fn()  # warm-up
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
        "seconds_median": round(seconds, 4),
        "maps_per_second": round(maps / seconds, 1),
        "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": metadata.version("torch"),
        "scipy": metadata.version("scipy"),
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
    print(f"{'operation':<26}{'size':>6}{'maps':>6}{'seconds':>10}{'maps/s':>10}")
    with out.open("a") as sink:
        for size in args.sizes:
            maps = smooth_maps(args.maps, size)
            for name, fn in operations(maps).items():
                row = measure(name, fn, maps=args.maps, size=size, repeats=args.repeats)
                print(f"{name:<26}{size:>6}{args.maps:>6}{row['seconds_median']:>10.3f}{row['maps_per_second']:>10.1f}")
                sink.write(json.dumps(row) + "\n")
                sink.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
