"""What produced a chapter: commit, profile, parameters, data and weights, versions, device, wall time.

The last cell of every chapter calls ``camlib.book.provenance.provenance(params)``; it shows

- the git commit of camlib's checkout, and whether the working tree had
  uncommitted changes to tracked files;
- the profile, the device (resolved: what the run used), the versions of
  Python and of the packages that compute or render the results, the time;
- the data: the sha256 of every file or dataset that a parameter names
  (``DATA_PARAMS``: the weights, the photos, the datasets' annotation files),
  and whether the dataset folder it lies in is the study's copy: the digest of
  every file of that folder, images included, against ``camlib.data.manifest``;
- the parameters as given (``device: auto`` before it was resolved), as YAML
  in a code block, so that they can be pasted back: under a profile name in
  ``notebooks/<chapter>.yml``, or into a file for ``papermill -f``.

Hashes. A file's hash is the sha256 of its bytes (what ``sha256sum`` prints).
A dataset folder's hash is a *digest* of the files that define its labels and
boxes, not of its images (cheap: megabytes, not gigabytes): the sha256 of the
lines ``"<sha256 of the file>  <path relative to the folder>\\n"``, one per
file, in sorted order of the paths, which is what ``sha256sum`` prints for
those files run in the folder::

    cd CUB_200_2011 && sha256sum bounding_boxes.txt classes.txt ... | sha256sum

A file is hashed once: the value is kept, keyed by the file's resolved path,
size and modification time, in ``sha256.json`` of the model cache
(``camlib.study.cache.cache_dir``), so a re-run reads it back.

Paths. No absolute path of the machine that built the book is shown: a path
under the data root is shown relative to it (as a parameter names it), one
under the repository relative to the repository, one under the home folder
as ``~/...``; a path outside all three (the user's own location, such as
``/datasets``) is shown as given.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
import yaml

from camlib._checkout import checkout_root
from camlib.book.report import Table

__all__ = [
    "DATA_PARAMS",
    "RERUN_ENV",
    "Provenance",
    "file_sha256",
    "folder_digest",
    "git_commit",
    "provenance",
    "shown_path",
]

_PACKAGES = (
    "camlib",
    "torch",
    "torchvision",
    "numpy",
    "scipy",
    "scikit-learn",
    "pillow",
    "matplotlib",
    "papermill",
    "jupyter-book",
    "myst-nb",
)
RERUN_ENV = "CAMLIB_RERUN"  # set by camlib.book.runner for the kernel: the command that runs the notebook again
_REPO = checkout_root() or Path.cwd()  # the study's checkout (the book runs from one)
_CACHE_FILE = "sha256.json"
_MEMO: dict[tuple[str, int, int], str] = {}


def git_commit(path: str | os.PathLike | None = None) -> str:
    """The commit of the repository holding ``path`` (default: camlib's), ``+dirty`` if files changed.

    Returns ``"unknown (not a git checkout)"`` outside a git checkout.
    """
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return commit + ("+dirty" if dirty else "")


# ---------------------------------------------------------------------------------------------------- hashes


def _cache_path() -> Path:
    from camlib.study.cache import cache_dir

    return cache_dir() / _CACHE_FILE


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, entries: Mapping[str, Any]) -> None:
    """Merge ``entries`` into the cache file, atomically; a cache that cannot be written is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {**_read_cache(path), **entries}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".sha256-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=0, sort_keys=True)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        pass


def _hash_files(paths: Sequence[Path]) -> list[str]:
    """The sha256 of each file of ``paths``, from the memo or the cache file when the file has not changed."""
    keys = []
    for p in paths:
        p = Path(p).resolve()
        st = p.stat()
        keys.append((str(p), st.st_size, st.st_mtime_ns))
    missing = [k for k in keys if k not in _MEMO]
    if missing:
        cache = _cache_path()
        stored = _read_cache(cache)
        new = {}
        for key in missing:
            entry = stored.get(key[0])
            if isinstance(entry, dict) and entry.get("size") == key[1] and entry.get("mtime_ns") == key[2]:
                _MEMO[key] = str(entry["sha256"])
                continue
            h = hashlib.sha256()
            with open(key[0], "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            _MEMO[key] = h.hexdigest()
            new[key[0]] = {"size": key[1], "mtime_ns": key[2], "sha256": _MEMO[key]}
        if new:
            _write_cache(cache, new)
    return [_MEMO[k] for k in keys]


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes (hex), computed once and cached (see the module docstring).

    Raises:
        FileNotFoundError: ``path`` is not a file.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = (Path(d) / "a.txt").write_bytes(b"abc")
        ...     file_sha256(Path(d) / "a.txt") == hashlib.sha256(b"abc").hexdigest()
        True
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`path` must be a file, but {path} is not one.")
    return _hash_files([path])[0]


def folder_digest(folder: str | os.PathLike, files: Sequence[str | os.PathLike]) -> str:
    """The digest of ``files`` of ``folder``: sha256 of their ``sha256sum`` lines in sorted path order.

    Args:
        folder: the folder the paths are relative to.
        files: paths relative to ``folder`` (absolute ones must lie in it).

    Returns:
        ``sha256("".join(f"{sha256(file)}  {relative path}\\n" for each file, sorted by path))``.

    Raises:
        ValueError: ``files`` is empty, or a path lies outside ``folder``.
        FileNotFoundError: a file is missing.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = (Path(d) / "a.txt").write_bytes(b"abc")
        ...     line = hashlib.sha256(b"abc").hexdigest() + "  a.txt\\n"
        ...     folder_digest(d, ["a.txt"]) == hashlib.sha256(line.encode()).hexdigest()
        True
    """
    folder = Path(folder)
    if not files:
        raise ValueError(f"`files` must name at least one file of {folder.name!r}, but got none.")
    relative = []
    for f in files:
        f = Path(f)
        if f.is_absolute():
            try:
                f = f.relative_to(folder)
            except ValueError:
                raise ValueError(f"`files` must lie in the folder {folder.name!r}, but {f.name!r} does not.") from None
        relative.append(f.as_posix())
    relative = sorted(set(relative))
    for r in relative:
        if not (folder / r).is_file():
            raise FileNotFoundError(f"`files` must exist in the folder: {r} is missing.")
    hashes = _hash_files([folder / r for r in relative])
    listing = "".join(f"{h}  {r}\n" for h, r in zip(hashes, relative))
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------------- paths


def _data_roots(values: Mapping[str, Any]) -> list[Path]:
    from camlib.data.locate import data_roots

    return data_roots(values.get("data_root") or None)


def _under(path: Path, base: Path) -> str | None:
    """``path`` relative to ``base`` (posix), trying the paths as given and resolved; None if outside."""
    for p in dict.fromkeys((path, path.resolve())):
        for b in dict.fromkeys((base, base.resolve())):
            try:
                return p.relative_to(b).as_posix()
            except ValueError:
                continue
    return None


def shown_path(path: str | os.PathLike, data_root: str | os.PathLike | None = "") -> str:
    """How a page shows a path it read: relative to the data root, the repository or ``~``, else as given.

    A build's own absolute paths (``/tmp/ci-clone/data/...``) mean nothing to a reader.

    Example:
        >>> shown_path("/somewhere/else/photos")
        '/somewhere/else/photos'
    """
    from camlib.data.locate import data_roots

    return _shown(path, data_roots(data_root or None))[0]


def _shown(path: str | os.PathLike, roots: Sequence[Path] = ()) -> tuple[str, str]:
    """``(shown, how)``: an absolute path relative to a data root, the repository or ``~``, else as given."""
    p = Path(path).expanduser()
    if not p.is_absolute():
        return str(path), ""
    for root in roots:
        rel = _under(p, Path(root))
        if rel not in (None, "."):
            return rel, "relative to the data root"
    if (_REPO / "notebooks").is_dir():
        rel = _under(p, _REPO)
        if rel is not None:
            return rel, "relative to the repository"
    rel = _under(p, Path.home())
    if rel is not None:
        return ("~" if rel == "." else "~/" + rel), "under the home folder"
    return str(path), ""


def _data_root_shown(values: Mapping[str, Any]) -> str:
    from camlib.data.locate import DATA_ENV

    if values.get("data_root"):
        return f"{_shown(values['data_root'])[0]} (parameter data_root)"
    if os.environ.get(DATA_ENV):
        return f"${DATA_ENV}"
    link = _REPO / "data"
    if link.is_symlink():
        return f"data/ in the repository (a link to {_shown(os.readlink(link))[0]})"
    return "data/ in the repository"


# ---------------------------------------------------------------------------------------------------- data


def _cub(folder: Path, values: Mapping[str, Any]) -> tuple[list[str], str]:
    from camlib.data.cub import FILES, PART_FILES

    names = [*FILES, *PART_FILES]  # parts/: optional (chapter 07 reads them)
    return [n for n in names if (folder / n).is_file()], "annotation files"


def _imagenet(folder: Path, values: Mapping[str, Any]) -> tuple[list[str], str]:
    from camlib.data.imagenet import SOLUTION, SYNSETS

    return [n for n in (SYNSETS, SOLUTION) if (folder / n).is_file()], "annotation files"


def _coco(folder: Path, values: Mapping[str, Any]) -> tuple[list[str], str]:
    from camlib.data.coco import COCO

    splits = values.get("coco_splits") or ["val2017"]
    names = [name for split in splits for name in COCO.annotation_files(split)]
    return [n for n in names if (folder / n).is_file()], "annotation files"


def _icdar(folder: Path, values: Mapping[str, Any]) -> tuple[list[str], str]:
    from camlib.data.icdar import LAYOUTS

    for _, gts in LAYOUTS.get(str(values.get("icdar_split", "test")), ()):
        if (folder / gts).is_dir():
            return [f"{gts}/{f.name}" for f in (folder / gts).glob("gt_*.txt")], "ground-truth files"
    return [], "ground-truth files"


def _vqa(folder: Path, values: Mapping[str, Any]) -> tuple[list[str], str]:
    from camlib.data.vqa import VQA

    names = VQA.annotation_files(values.get("vqa_split", "val2014"), version=values.get("vqa_version", 2))
    return [n for n in names if (folder / n).is_file()], "question and annotation files"


def _photos(folder: Path, values: Mapping[str, Any]) -> tuple[list[str], str]:
    from camlib.data.images import list_images

    photos = list_images(folder)[: values.get("max_images") or None]  # the photos the chapter reads
    return [p.name for p in photos], "photos"


# Parameter name -> None (it names a file) or a function (folder, parameters) -> (files of the folder to hash, what).
DATA_PARAMS: dict[str, Callable[[Path, Mapping[str, Any]], tuple[list[str], str]] | None] = {
    "weights": None,
    "places_weights": None,
    "places_mean": None,
    "places_categories": None,
    "image_dir": _photos,
    "imagenet_dir": _imagenet,
    "cub_dir": _cub,
    "coco_dir": _coco,
    "icdar_dir": _icdar,
    "vqa_dir": _vqa,
}


def _torchvision_weights(arch: Any, weights: str) -> dict[str, str] | None:
    """The row of a torchvision weights name (None if ``weights`` is not one): its file in torch's hub cache."""
    import torchvision

    try:
        enum = torchvision.models.get_model_weights(str(arch))
    except (ValueError, KeyError):
        return None
    if weights != "DEFAULT" and weights not in enum.__members__:
        return None
    member = enum.DEFAULT if weights == "DEFAULT" else enum[weights]
    name = member.url.rsplit("/", 1)[-1]
    file = Path(torch.hub.get_dir()) / "checkpoints" / name
    row = {"parameter": "weights", "path": f"{enum.__name__}.{member.name}"}
    if file.is_file():
        return {**row, "sha256": file_sha256(file), "of": f"the file {name} in torch's hub cache"}
    return {**row, "sha256": "", "of": f"not in torch's hub cache here; torchvision's file {name}"}


def _package_weights(arch: object, weights: object) -> dict[str, str] | None:
    """The row of weights that come with an installed package (EfficientNet-Lite0's ``"DEFAULT"``), hashed; else None."""
    if arch != "efficientnet_lite0" or weights != "DEFAULT":
        return None
    from camlib.models.pretrained import resolve_weights

    try:
        path, digest = resolve_weights(arch, weights)
    except (FileNotFoundError, ImportError) as err:
        return {"parameter": "weights", "path": "DEFAULT", "sha256": "", "of": f"not installed here ({err})"}
    return {"parameter": "weights", "path": Path(path).name, "sha256": digest,
            "of": f"the file of the installed package `{Path(path).parent.parent.name}`"}  # fmt: skip


def _manifest_status(path: Path, roots: Sequence[Path]) -> str:
    """Whether the dataset folder holding ``path`` is the study's copy: every file, images included, as listed.

    The folder is the first folder of ``path`` under a data root, named as a dataset of
    ``camlib.data.manifest``; its digest over every file (``folder_digest``, cached) is
    compared with the manifest's. A path in no such folder is a user's own data.
    """
    from camlib.data import manifest

    folders = {manifest.dataset_folder(d): d for d in manifest.datasets()}
    for root in roots:
        relative = _under(path, root)
        if relative is None or relative in ("", "."):
            continue
        dataset = folders.get(relative.split("/", 1)[0])
        if dataset is None:
            break
        folder = Path(root) / manifest.dataset_folder(dataset)
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        try:
            same = bool(files) and folder_digest(folder, files) == manifest.digest(dataset)
        except OSError as err:
            return f"{dataset}: could not be read ({type(err).__name__})"
        if same:
            return f"{dataset}: as the manifest lists it ({len(files):,} files, images included)"
        return f"{dataset}: differs from the manifest (`python -m camlib.data verify {dataset}` names the files)"
    return "not a dataset of the manifest"


def _data_rows(values: Mapping[str, Any], files: Mapping[str, str | os.PathLike]) -> list[dict[str, str]]:
    from camlib.data.locate import find_data

    roots = _data_roots(values)
    asked = [(name, values[name], DATA_PARAMS[name]) for name in DATA_PARAMS if isinstance(values.get(name), str)]
    asked += [(name, str(path), "all") for name, path in files.items()]
    rows = []
    for name, value, how in asked:
        if name == "weights" and (row := _torchvision_weights(values.get("arch"), value)) is not None:
            rows.append(row)
            continue
        if name == "weights" and (row := _package_weights(values.get("arch"), value)) is not None:
            rows.append(row)
            continue
        try:
            path = find_data(value, root=values.get("data_root") or None)
        except FileNotFoundError:
            rows.append(
                {"parameter": name, "path": _shown(value, roots)[0], "sha256": "", "of": "not found", "manifest": ""}
            )
            continue
        shown, status = _shown(path, roots)[0], _manifest_status(path, roots)
        if path.is_file():
            try:
                rows.append(
                    {
                        "parameter": name,
                        "path": shown,
                        "sha256": file_sha256(path),
                        "of": "the file",
                        "manifest": status,
                    }
                )
            except OSError as err:
                rows.append(
                    {
                        "parameter": name,
                        "path": shown,
                        "sha256": "",
                        "of": f"a file that could not be read ({type(err).__name__})",
                        "manifest": status,
                    }
                )
            continue
        if how == "all":
            names, what = [p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()], "files"
        elif how is None:
            names, what = [], "files"
        else:
            try:
                names, what = how(path, values)
            except (FileNotFoundError, ValueError):  # e.g. a folder of photos without a photo
                names, what = [], "files"
        if not names:
            row = {"parameter": name, "path": shown, "sha256": "", "of": f"a folder without the {what} expected"}
            rows.append({**row, "manifest": status})
            continue
        listed = sorted(names)
        of = f"{len(listed)} {what}: " + (", ".join(listed) if len(listed) <= 8 else f"{listed[0]} ... {listed[-1]}")
        try:
            digest = folder_digest(path, listed)
        except OSError as err:  # unreadable: say so, the chapter itself has run
            digest, of = "", f"{what} that could not be read ({type(err).__name__})"
        rows.append({"parameter": name, "path": shown, "sha256": digest, "of": of, "manifest": status})
    return rows


# ---------------------------------------------------------------------------------------------------- parameters


def _plain(value: Any) -> Any:
    """``value`` as plain YAML data: lists for tuples, ``str()`` for anything else that YAML cannot hold."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def _parameters_yaml(given: Mapping[str, Any], roots: Sequence[Path]) -> str:
    """The parameters as YAML, one key after the other, absolute paths shown as ``_shown`` does (with a comment)."""
    lines = []
    for key, value in given.items():
        value, how = _plain(value), ""
        if isinstance(value, str) and Path(value).expanduser().is_absolute():
            value, how = _shown(value, () if key == "data_root" else roots)
        if how:
            lines.append(f"# {key}: {how} (an absolute path here)")
        flow = None if isinstance(value, (list, dict)) else False  # a list in brackets, as the profiles write them
        lines.append(
            yaml.safe_dump(
                {key: value}, sort_keys=False, default_flow_style=flow, allow_unicode=True, width=10_000
            ).rstrip("\n")
        )
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------- the block


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _device_name(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        index = torch.device(device).index or 0
        return f"{device} ({torch.cuda.get_device_name(index)}, CUDA {torch.version.cuda})"
    return f"{device} ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads)"


class Provenance:
    """A run's provenance that renders as Markdown in a notebook: a table, the data's hashes, the parameters.

    Attributes:
        rows: ``(what, value)`` pairs: commit, working tree, profile, device, versions, times.
        data: one dict per file or dataset used: ``parameter``, ``path``, ``sha256`` and ``of`` (what was hashed).
        parameters: the parameters as given, as YAML text.
    """

    def __init__(
        self,
        rows: list[tuple[str, str]],
        *,
        data: Sequence[Mapping[str, str]] = (),
        parameters: str = "",
        rerun: str = "",
        repository: str = "",
        label: str = "",
    ) -> None:
        self.rows = rows
        self.data = [dict(d) for d in data]
        self.parameters = parameters
        self.rerun, self.repository, self.label = rerun, repository, label

    def rerun_markdown(self) -> str:
        """How to run this page again: the command, and where the code comes from."""
        if not self.rerun:
            return ""
        code = (
            f"from a clone of the study's repository (`git clone {self.repository}`, then `make env`)"
            if self.repository
            else "from a clone of the study's repository (`make env` sets it up)"
        )
        return (
            f"**Re-run this page** with the parameters it ran with: `{self.rerun}`, {code}; `make book` runs "
            "every chapter and renders the book."
        )

    def as_dict(self) -> dict[str, str]:
        return dict(self.rows)

    def _repr_markdown_(self) -> str:
        parts = [self.rerun_markdown()] if self.rerun else []
        run = Table([{"what": k, "value": v} for k, v in self.rows])
        data_name = f"tbl-{self.label}-data"
        if self.label:  # numbered and captioned, and named in the text below them
            run = run.titled("The run: commit, environment, versions and times", f"tbl-{self.label}-run")
            parts.append(
                f"The run is described in {{numref}}`tbl-{self.label}-run`"
                + (
                    f", the data and weights it read, with their hashes, in {{numref}}`{data_name}`."
                    if self.data
                    else "."
                )
            )
        parts.append(run._repr_markdown_())
        if self.data:
            shown = [
                {
                    "parameter": d["parameter"],
                    "path": d["path"],
                    "sha256": f"`{d['sha256']}`" if d["sha256"] else "",
                    "of": d["of"],
                    "manifest": d.get("manifest", ""),
                }
                for d in self.data
            ]
            parts.append(
                "**Data and weights**: the sha256 of a file; of a folder, the sha256 of the `sha256sum` "
                "lines of the files listed, in sorted order (`folder_digest` in `camlib/book/provenance.py`)."
            )
            data = Table(shown, ["parameter", "path", "sha256", "of"])
            if self.label:
                data = data.titled("The data and weights the run read, with their hashes", data_name)
            parts.append(data._repr_markdown_())
        if self.parameters:
            fence = "````" if "```" in self.parameters else "```"
            parts.append(
                "**Parameters**, as given: paste them under a profile name in the chapter's "
                "`notebooks/<chapter>.yml`, or save them to a file for `papermill -f`."
            )
            parts.append(f"{fence}yaml\n{self.parameters}{fence}")
        return "\n\n".join(parts)

    def __repr__(self) -> str:
        lines = [self.rerun] if self.rerun else []
        lines += [f"{k:<{max(len(k) for k, _ in self.rows)}}  {v}" for k, v in self.rows] if self.rows else []
        lines += [f"{d['parameter']}: {d['path']}  {d['sha256'] or '-'}  ({d['of']})" for d in self.data]
        if self.parameters:
            lines.append(self.parameters.rstrip("\n"))
        return "\n".join(lines)


def provenance(
    params: Mapping,
    *,
    started: float | None = None,
    files: Mapping[str, str | os.PathLike] | None = None,
    label: str = "",
) -> Provenance:
    """The provenance of a run with ``params`` (a ``camlib.book.params.Params`` or a mapping); see the module docstring.

    Args:
        params: the run's parameters. ``profile`` and ``device`` get their own
            rows; those of ``DATA_PARAMS`` (relative to ``data_root``) are
            hashed; the values as given (``params.given``) are shown as YAML.
        started: ``time.time()`` at the start; default ``params.started``.
        files: more data the run read, ``label -> path`` (under the data root,
            or absolute): a file is hashed, a folder digested over every file below it.
        label: the page's label (``"05"``, ``"a2"``): with one, the run's table and the data's are numbered and
            captioned (``tbl-<label>-run``, ``tbl-<label>-data``) and a sentence names them.

    Example:
        >>> p = provenance({"profile": "smoke", "device": "cpu"}, started=time.time())
        >>> p.as_dict()["profile"]
        'smoke'
        >>> print(p.parameters, end="")
        profile: smoke
        device: cpu
    """
    started = getattr(params, "started", None) if started is None else started
    values = dict(params)
    given = dict(getattr(params, "given", values))
    device = str(values.get("device", "cpu"))
    commit = git_commit()
    clean = commit.removesuffix("+dirty")
    tree = "unknown" if clean.startswith("unknown") else "uncommitted changes" if commit != clean else "clean"
    rows = [
        ("git commit", clean),
        ("working tree", tree),
        ("profile", str(values.get("profile", "(none)"))),
        ("device", _device_name(device)),
        ("python", platform.python_version()),
    ]
    rows += [(name, _version(name)) for name in _PACKAGES]
    data = _data_rows(values, files or {})
    if data or "data_root" in values:
        rows.append(("data root", _data_root_shown(values)))
    rows.append(("finished (UTC)", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")))
    if started is not None:
        rows.append(("wall time", f"{time.time() - started:.1f} s"))
    return Provenance(
        rows,
        data=data,
        parameters=_parameters_yaml(given, _data_roots(values)),
        rerun=os.environ.get(RERUN_ENV, ""),
        repository=_repository_url(),
        label=label,
    )


def _repository_url() -> str:
    """The study's public repository, as the book's ``_config.yml`` names it (empty in a local build)."""
    try:
        config = yaml.safe_load((_REPO / "_config.yml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return ""
    url = (config.get("repository") or {}).get("url") or ""
    return url if isinstance(url, str) and url.startswith("https://") else ""
