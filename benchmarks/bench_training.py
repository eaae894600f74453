"""How fast the small networks train on a CPU: training steps and images per second.

    python benchmarks/bench_training.py --out results/training.jsonl
    python benchmarks/bench_training.py --threads 1 --only vgg-small --out t1.jsonl

Each benchmark runs ``camlib.study.training.train_one_epoch`` (forward, loss, backward,
AdamW step, the non-finite check) on ``--steps`` batches of ``--batch-size``
random ``--input-size`` images already in memory, so that the data pipeline
is not timed; after a warm-up, the median over ``--repeats`` runs is kept.
Prints a table and appends one JSON line per benchmark to ``--out``, for the
performance appendix.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import torch

from camlib.data import Batch
from camlib.models.registry import HEADS, SMALL_MODELS, build_model
from camlib.study.training import TrainConfig, make_loss, train_one_epoch


def measure(name: str, head: str, *, batch_size: int, input_size: int, steps: int, repeats: int, seed: int = 0) -> dict:
    """Time ``repeats`` runs of ``steps`` training steps of ``name`` with ``head``; one result row."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(batch_size, 3, input_size, input_size, generator=g)
    labels = torch.randint(4, (batch_size,), generator=g)
    lo = torch.randint(0, input_size // 2, (batch_size, 2), generator=g)
    boxes = torch.cat([lo, lo + input_size // 4], dim=1)  # (N, 4) inclusive pixels
    batches = [Batch(images, labels, boxes=list(boxes[:, None]))] * steps  # one box per image
    config = TrainConfig(model=name, head=head, batch_size=batch_size, model_kwargs={"input_size": input_size})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(name, num_classes=4, head=head, input_size=input_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def run(n: int) -> float:
        start = time.perf_counter()
        train_one_epoch(model, batches[:n], optimizer, make_loss(config))
        return time.perf_counter() - start

    run(2)  # warm-up: allocator, kernels
    seconds = statistics.median(run(steps) for _ in range(repeats))
    return {
        "model": name,
        "head": head,
        "parameters": sum(p.numel() for p in model.parameters()),
        "batch_size": batch_size,
        "input_size": input_size,
        "steps": steps,
        "repeats": repeats,
        "seconds_median": round(seconds, 4),
        "steps_per_second": round(steps / seconds, 3),
        "images_per_second": round(steps * batch_size / seconds, 1),
        "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": metadata.version("torch"),
        "finished": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="JSON Lines file to append one line per benchmark to")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--input-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5, help="training steps per timed run (default 5)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs; the median is kept (default 5)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--only", nargs="*", choices=SMALL_MODELS, default=list(SMALL_MODELS))
    parser.add_argument("--heads", nargs="*", choices=HEADS, default=list(HEADS))
    args = parser.parse_args(argv)
    for name in ("batch_size", "input_size", "steps", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive int, but got {getattr(args, name)}.")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    print(f"{'model':<17}{'head':<6}{'params':>10}{'steps/s':>10}{'images/s':>10}")
    with out.open("a") as sink:
        for name in args.only:
            for head in args.heads:
                row = measure(
                    name, head, batch_size=args.batch_size, input_size=args.input_size,
                    steps=args.steps, repeats=args.repeats,
                )  # fmt: skip
                speed = f"{row['steps_per_second']:>10.2f}{row['images_per_second']:>10.1f}"
                print(f"{name:<17}{head:<6}{row['parameters']:>10}{speed}")
                sink.write(json.dumps(row) + "\n")
                sink.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
