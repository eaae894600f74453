"""``python -m camlib.data``: check a copy of the study's real data against its manifest.

python -m camlib.data verify [--data-root DIR] [DATASET ...]     exit 0: every file as listed; 1: not
python -m camlib.data list                                       the datasets, their folders and sources
python -m camlib.data manifest DATASET ... --data-root DIR       maintainers: rewrite the manifest files
"""

from __future__ import annotations

import argparse
import sys

from camlib.data import manifest


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
