"""The manifest of the study's real data: every file, its size and sha256, and where each dataset came from.

The study reads small subsets of public datasets and two sets of converted
weights, kept outside the repository (``camlib.data.locate``). So that anyone
can check a copy, this module keeps:

- ``sources.yml``: per dataset (a folder of the data root), its title, the
  public copies it was taken from (repository and commit), the official
  release, the licence or terms, and every transformation applied;
- ``manifest/<dataset>.tsv``: one line per file of that folder,
  ``<path>\\t<size in bytes>\\t<sha256>``, paths relative to the folder, in
  sorted order; images included.

``verify`` checks a copy against it and names every missing, different or
extra file; ``digest`` identifies a dataset's exact files by one hash (the
sha256 of its ``sha256sum`` listing, as ``camlib.book.provenance`` computes
for a folder). From the command line::

    python -m camlib.data verify [--data-root DIR] [DATASET ...]
    python -m camlib.data manifest DATASET ... --data-root DIR      # maintainers: rewrite the manifest
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "MANIFEST_DIR",
    "SOURCES_FILE",
    "Entry",
    "Report",
    "dataset_folder",
    "datasets",
    "digest",
    "entries",
    "listing_digest",
    "scan",
    "source",
    "verify",
    "verify_all",
    "write_manifest",
]

_HERE = Path(__file__).parent
MANIFEST_DIR = _HERE / "manifest"
SOURCES_FILE = _HERE / "sources.yml"
_HEADER = "# path\tsize\tsha256  (camlib.data.manifest; one line per file, sorted by path)\n"


@dataclass(frozen=True)
class Entry:
    """One file of a dataset: its path relative to the dataset's folder (POSIX), size in bytes, sha256 (hex)."""

    path: str
    size: int
    sha256: str


@cache
def _sources() -> dict[str, dict[str, Any]]:
    with open(SOURCES_FILE, encoding="utf-8") as f:
        return yaml.safe_load(f)


def datasets() -> list[str]:
    """The names of the datasets of the manifest, in the order of ``sources.yml``.

    Example:
        >>> "cub-200-2011-50cls" in datasets()
        True
    """
    return list(_sources())


def _check_name(dataset: object) -> str:
    if not isinstance(dataset, str) or dataset not in _sources():
        raise ValueError(f"`dataset` must be one of {', '.join(datasets())}, but got {dataset!r}.")
    return dataset


def source(dataset: str) -> dict[str, Any]:
    """What ``sources.yml`` says of ``dataset``: title, official, sources, licence, transform (a copy).

    Raises:
        ValueError: ``dataset`` is not in the manifest.
    """
    return dict(_sources()[_check_name(dataset)])


def dataset_folder(dataset: str) -> str:
    """The folder of ``dataset`` under the data root (its name, unless ``sources.yml`` gives another).

    Example:
        >>> dataset_folder("squeezenet-weights"), dataset_folder("icdar2015")
        ('weights', 'icdar2015')
    """
    return str(source(dataset).get("folder", dataset))


@cache
def _entries(dataset: str) -> tuple[Entry, ...]:
    path = MANIFEST_DIR / f"{dataset}.tsv"
    if not path.is_file():
        raise FileNotFoundError(f"The manifest of {dataset!r} is missing: {path} (write it with `manifest`).")
    out = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.startswith("#") or not line.strip():
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3 or not parts[1].isdigit() or len(parts[2]) != 64:
                raise ValueError(f"{path.name} line {number} must read `path<TAB>size<TAB>sha256`, but reads {line!r}.")
            out.append(Entry(parts[0], int(parts[1]), parts[2]))
    return tuple(out)


def entries(dataset: str) -> list[Entry]:
    """The files of ``dataset`` as the manifest lists them, sorted by path.

    Raises:
        ValueError: ``dataset`` is not in the manifest, or a line is malformed (file and line named).
        FileNotFoundError: the manifest file of ``dataset`` is missing.
    """
    return list(_entries(_check_name(dataset)))


def listing_digest(hashes: Iterable[tuple[str, str]]) -> str:
    """The sha256 of the ``sha256sum`` listing of ``(path, sha256)`` pairs, sorted by path.

    ``sha256("".join(f"{sha256}  {path}\\n" for path, sha256 in sorted(pairs)))``: what
    ``sha256sum $(find . -type f | sort) | sed 's, \\./,,' | sha256sum`` prints in the folder.

    Example:
        >>> h = hashlib.sha256(b"abc").hexdigest()
        >>> listing_digest([("a.txt", h)]) == hashlib.sha256(f"{h}  a.txt\\n".encode()).hexdigest()
        True
    """
    listing = "".join(f"{h}  {p}\n" for p, h in sorted(hashes))
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


def digest(dataset: str) -> str:
    """The digest of ``dataset``'s files as the manifest lists them (``listing_digest``), images included."""
    return listing_digest((e.path, e.sha256) for e in entries(dataset))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def scan(folder: str | os.PathLike) -> list[Entry]:
    """Every file under ``folder`` (links followed), as manifest entries sorted by path.

    Raises:
        FileNotFoundError: ``folder`` is not a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"`folder` must be a folder, but {str(folder)!r} is not one.")
    files = sorted((p.relative_to(folder).as_posix(), p) for p in folder.rglob("*") if p.is_file())
    return [Entry(name, p.stat().st_size, _sha256(p)) for name, p in files]


def write_manifest(dataset: str, root: str | os.PathLike) -> Path:
    """Rewrite ``manifest/<dataset>.tsv`` from the copy of ``dataset`` under the data root ``root``.

    For the maintainers of the study's data: run it after a deliberate change of a dataset, and
    commit the file with the change of ``sources.yml`` that explains it.
    """
    found = scan(Path(root) / dataset_folder(_check_name(dataset)))
    if not found:
        raise ValueError(f"The folder of {dataset!r} under {str(root)!r} holds no file: nothing to list.")
    MANIFEST_DIR.mkdir(exist_ok=True)
    path = MANIFEST_DIR / f"{dataset}.tsv"
    path.write_text(_HEADER + "".join(f"{e.path}\t{e.size}\t{e.sha256}\n" for e in found), encoding="utf-8")
    _entries.cache_clear()
    return path


@dataclass
class Report:
    """What ``verify`` found for one dataset: files missing, differing (size or sha256) and not listed."""

    dataset: str
    folder: Path
    listed: int
    missing: list[str] = field(default_factory=list)
    different: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    absent: bool = False

    @property
    def ok(self) -> bool:
        """True when the copy holds exactly the manifest's files, byte for byte."""
        return not (self.absent or self.missing or self.different or self.extra)

    def lines(self, limit: int = 10) -> list[str]:
        """A readable account: one line of counts, then up to ``limit`` names of each kind of problem."""
        if self.absent:
            return [f"{self.dataset}: ABSENT ({self.folder} does not exist)"]
        if self.ok:
            return [f"{self.dataset}: ok ({self.listed} files, every size and sha256 as listed)"]
        out = [
            f"{self.dataset}: DIFFERS from the manifest ({len(self.missing)} missing, {len(self.different)} "
            f"different, {len(self.extra)} not listed, of {self.listed} listed) in {self.folder}"
        ]
        for kind, names in (("missing", self.missing), ("different", self.different), ("not listed", self.extra)):
            out += [f"  {kind}: {name}" for name in names[:limit]]
            if len(names) > limit:
                out.append(f"  {kind}: ... and {len(names) - limit} more")
        return out


def verify(dataset: str, root: str | os.PathLike | None = None) -> Report:
    """Check the copy of ``dataset`` under the data root against the manifest, every file byte for byte.

    Args:
        dataset: a name of ``datasets()``.
        root: the data root (None: the first of ``camlib.data.locate.data_roots()`` that holds the folder).

    Returns:
        A ``Report``: ``absent`` when no root holds the dataset's folder, else the files missing,
        different (size, then sha256) and present but not listed.
    """
    from camlib.data.locate import data_roots

    expected = {e.path: e for e in entries(dataset)}
    name = dataset_folder(dataset)
    candidates = [Path(r) / name for r in data_roots(root)]
    folder = next((c for c in candidates if c.is_dir()), candidates[0])
    report = Report(dataset, folder, len(expected))
    if not folder.is_dir():
        report.absent = True
        return report
    present = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
    report.missing = sorted(set(expected) - set(present))
    report.extra = sorted(set(present) - set(expected))
    for path in sorted(set(expected) & set(present)):
        entry, file = expected[path], present[path]
        if file.stat().st_size != entry.size or _sha256(file) != entry.sha256:
            report.different.append(path)
    return report


def verify_all(names: Sequence[str] = (), root: str | os.PathLike | None = None) -> list[Report]:
    """``verify`` for each dataset of ``names`` (empty: every dataset of the manifest)."""
    return [verify(n, root) for n in (names or datasets())]
