"""``python -m camlib.data``: check a copy of the study's real data against its manifest.

python -m camlib.data verify [--data-root DIR] [DATASET ...]     exit 0: every file as listed; 1: not
python -m camlib.data list                                       the datasets, their folders and sources
python -m camlib.data manifest DATASET ... --data-root DIR       maintainers: rewrite the manifest files
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from camlib.data import manifest

CONVERTED = {  # the file each conversion writes, under the dataset's folder
    "squeezenet-weights": "squeezenet1_0-deepcompression-caffe.pth",
    "places365-squeezenet": "squeezenet1_1-bn-places365.npz",
}


def convert_weights(name: str, source: str, root: str) -> Path:
    """Convert the original weights of ``name`` (``camlib.models.convert``) into its folder under ``root``."""
    from camlib.models import convert

    folder = Path(root) / manifest.dataset_folder(name)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / CONVERTED[name]
    if name == "squeezenet-weights":
        import torch

        torch.save(convert.squeezenet_from_deep_compression(source), target)
    else:
        import numpy as np

        np.savez(target, **convert.places_from_lasagne(source))  # type: ignore[arg-type]  # names, not allow_pickle
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m camlib.data", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="check every file (size and sha256) against the manifest")
    check.add_argument("datasets", nargs="*", help="datasets to check (default: all)")
    check.add_argument("--data-root", default=None, help="the data root (default: $CAMLIB_DATA, else data/)")
    commands.add_parser("list", help="the datasets of the manifest")
    make = commands.add_parser("build", help="rebuild a subset from the official release (camlib.data.rebuild)")
    make.add_argument("datasets", nargs=1, metavar="dataset")
    make.add_argument("--from", dest="release", required=True, help="the official release's folder")
    make.add_argument("--to", dest="out", required=True, help="the data root to write the subset's folder into")
    convert = commands.add_parser("convert", help="convert the original weights to the files the study reads")
    convert.add_argument("datasets", nargs=1, metavar="weights", choices=["squeezenet-weights", "places365-squeezenet"])
    convert.add_argument("--from", dest="release", required=True, help="the original weights file")
    convert.add_argument("--to", dest="out", required=True, help="the data root to write the converted file into")
    write = commands.add_parser("manifest", help="rewrite the manifest of datasets from a copy (maintainers)")
    write.add_argument("datasets", nargs="+")
    write.add_argument("--data-root", required=True)
    args = parser.parse_args(argv)
    known = manifest.datasets()
    unknown = [d for d in getattr(args, "datasets", []) if d not in known]
    if unknown:
        parser.error(f"unknown dataset(s) {', '.join(unknown)}; the manifest has {', '.join(known)}")
    if args.command == "list":
        for name in known:
            info = manifest.source(name)
            repos = ", ".join(f"{s['repository']}@{s['commit']}" for s in info["sources"])
            print(f"{name}\t{manifest.dataset_folder(name)}/\t{len(manifest.entries(name))} files\t{repos}")
        return 0
    if args.command == "build":
        from camlib.data.rebuild import build

        folder = build(args.datasets[0], args.release, args.out)
        print(f"built {folder}; its images are re-encoded, so `verify` names them as different from the study's copy")
        return 0
    if args.command == "convert":
        print(f"wrote {convert_weights(args.datasets[0], args.release, args.out)}")
        return 0
    if args.command == "manifest":
        for name in args.datasets:
            print(f"wrote {manifest.write_manifest(name, args.data_root)}")
        return 0
    reports = manifest.verify_all(args.datasets, args.data_root)
    for report in reports:
        print("\n".join(report.lines()))
    bad = [r.dataset for r in reports if not r.ok]
    print(
        f"{len(reports) - len(bad)} of {len(reports)} datasets as the manifest lists them"
        + (f"; not: {', '.join(bad)}" if bad else ".")
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
