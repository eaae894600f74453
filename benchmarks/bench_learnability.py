"""Is the localization benchmark learnable? A GAP network trained on a CPU vs the centre-box baseline.

    python benchmarks/bench_learnability.py --out results/learnability.jsonl
    python benchmarks/bench_learnability.py --model vgg-small --resolution 8 --epochs 10

Trains a small GAP network from scratch on ``camlib.data.synthetic.Localization``
(cached: a re-run only evaluates), then on held-out items reports the
classification accuracy, the GT-known localization accuracy of the paper's box
protocol at several thresholds (box of the true class's CAM, IoU >= 0.5),
MaxBoxAcc, and the share that a centred box of the mean object size gets
right. Prints the numbers and appends one JSON line to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import camlib
import camlib.study.training as T
from camlib.data.synthetic import Localization, center_box_accuracy, collate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="alexnet-small")
    parser.add_argument("--resolution", type=int, default=16, help="CAM side at the 64-pixel input")
    parser.add_argument("--train-size", type=int, default=4000)
    parser.add_argument("--val-size", type=int, default=500)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    train = Localization(args.train_size, seed=args.seed, num_classes=args.classes)
    val = Localization(args.val_size, seed=args.seed + 1, num_classes=args.classes)
    config = T.TrainConfig(
        model=args.model,
        num_classes=args.classes,
        head="gap",
        epochs=args.epochs,
        batch_size=64,
        lr=args.lr,
        seed=args.seed,
        model_kwargs={"resolution": args.resolution},
    )
    start = time.perf_counter()
    net, history = T.fit(config, train, collate_fn=collate)
    seconds = time.perf_counter() - start

    items = [val[i] for i in range(len(val))]
    images = torch.stack([it.image for it in items])  # (N, 3, H, W)
    labels = torch.tensor([it.label for it in items])
    gt = [it.boxes for it in items]
    out = camlib.compute_cams(net, images, labels[:, None], size=tuple(images.shape[-2:]))
    maps = out.maps[:, 0]  # (N, H, W): the true class's map
    row = {
        "model": args.model,
        "resolution": args.resolution,
        "train_size": args.train_size,
        "epochs": args.epochs,
        "fit_seconds": round(seconds, 1),
        "final_train_accuracy": history[-1]["train_accuracy"],
        "val_accuracy": (out.logits.argmax(1) == labels).double().mean().item(),
        "centre_box_accuracy": center_box_accuracy(torch.cat(gt), tuple(images.shape[-2:])),
        "max_box_acc": camlib.max_box_acc(maps, gt).value,
    }
    for threshold in (0.1, 0.2, 0.3, 0.5):
        boxes = camlib.boxes_from_maps(maps, threshold)  # (N, 4)
        iou = torch.stack([camlib.box_iou(b[None], g).max() for b, g in zip(boxes, gt)])
        row[f"gt_known_at_{threshold}"] = (iou >= 0.5).double().mean().item()
    for key, value in row.items():
        print(f"{key:>24}  {value:.3f}" if isinstance(value, float) else f"{key:>24}  {value}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
