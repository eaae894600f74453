"""How fast the synthetic benchmarks generate: images per second on one core.

    python benchmarks/bench_generators.py --out results/generators.jsonl
    python benchmarks/bench_generators.py --count 2000 --image-size 128 --out gen128.jsonl

Each benchmark draws ``--count`` items (after a short warm-up) in this one
process with one torch thread, as one DataLoader worker would; a loader with
``num_workers=n`` scales this by about ``n``. Prints a table and writes one
JSON line per benchmark to ``--out`` (appended), for the performance
appendix. Generation must outpace training: compare with the training
throughput (images per second) of the chapters' networks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import torch

from camlib.data.synthetic import FineGrained, Localization, Scenes, SortOfClevr, Text

BENCHMARKS = {
    "localization": Localization,
    "finegrained": FineGrained,
    "scenes": Scenes,
    "text": Text,
    "vqa": SortOfClevr,
}


def measure(name: str, count: int, image_size: int | None, seed: int = 0) -> dict[str, object]:
    """Time ``count`` items of benchmark ``name``; one result row."""
    kwargs = {} if image_size is None else {"image_size": image_size}
    data = BENCHMARKS[name](count + 20, seed=seed, **kwargs)
    for i in range(count, count + 20):  # warm-up: imports, font loading, caches
        data[i]
    start = time.perf_counter()
    for i in range(count):
        data[i]
    seconds = time.perf_counter() - start
    return {
        "benchmark": name,
        "image_size": data.image_size,
        "items": count,
        "seconds": round(seconds, 4),
        "images_per_second": round(count / seconds, 1),
        "ms_per_image": round(1000 * seconds / count, 3),
        "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": metadata.version("numpy"),
        "torch": metadata.version("torch"),
        "matplotlib": metadata.version("matplotlib"),
        "finished": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="JSON Lines file to append one line per benchmark to")
    parser.add_argument("--count", type=int, default=500, help="items timed per benchmark (default 500)")
    parser.add_argument("--image-size", type=int, default=None, help="side in pixels (default: each benchmark's own)")
    parser.add_argument("--only", nargs="*", choices=list(BENCHMARKS), default=list(BENCHMARKS))
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error(f"--count must be a positive int, but got {args.count}.")
    torch.set_num_threads(1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    print(f"{'benchmark':<14}{'side':>6}{'items':>8}{'images/s':>11}{'ms/image':>10}")
    with out.open("a") as sink:
        for name in args.only:
            row = measure(name, args.count, args.image_size)
            print(
                f"{name:<14}{row['image_size']:>6}{row['items']:>8}{row['images_per_second']:>11}"
                f"{row['ms_per_image']:>10}",
                flush=True,
            )
            sink.write(json.dumps(row) + "\n")
    print(f"results appended to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
