"""The Data page's account of the real data, generated from the manifest and the chapters' parameters.

``data_sources_markdown()`` writes, as MyST markdown, one table of every dataset
of ``camlib.data.manifest`` (files, size, which chapters read it, licence) and
one section per dataset (official release, the public copies it was taken from,
every transformation, its digest). The counts and sizes come from the manifest,
which chapters read a dataset from their notebooks' default parameters, so the
page says what the build used; nothing on it is typed twice. The book's Sphinx
extension ``book/_ext/data_sources.py`` renders it where the Data page asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from camlib.data import manifest

__all__ = ["chapters_reading", "data_sources_markdown"]


def _chapter(notebook: Path) -> str:
    return notebook.stem.split("_", 1)[0]


def chapters_reading(notebooks: Sequence[Path] | None = None) -> dict[str, list[str]]:
    """For each dataset of the manifest, the chapters whose default parameters name a path in its folder.

    Args:
        notebooks: the chapters' notebooks (default: every notebook of ``notebooks/``).

    Returns:
        ``{dataset: ["00", "02", ...]}`` with every dataset of the manifest (an empty list: no chapter).
    """
    from camlib.book.runner import names_data, notebook_parameters, notebook_paths

    folders = {manifest.dataset_folder(d): d for d in manifest.datasets()}
    out: dict[str, list[str]] = {d: [] for d in manifest.datasets()}
    for notebook in notebook_paths("all") if notebooks is None else notebooks:
        for name, value in notebook_parameters(notebook).items():
            if not (names_data(name) and isinstance(value, str)):
                continue
            top = Path(value.strip("'\"")).parts[:1]
            if top and top[0] in folders and _chapter(notebook) not in out[folders[top[0]]]:
                out[folders[top[0]]].append(_chapter(notebook))
    return {d: sorted(c) for d, c in out.items()}


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


def _source_line(s: dict) -> str:
    where = f"[{s['repository']}](https://github.com/{s['repository']}/tree/{s['commit']}) at commit `{s['commit']}`"
    return f"{s['what']}: {where}" + (f", `{s['path']}`" if s.get("path") else "")


def data_sources_markdown(notebooks: Sequence[Path] | None = None) -> str:
    """MyST markdown: a table of the datasets, then each one's source, terms, changes and digest."""
    readers = chapters_reading(notebooks)
    rows = []
    sections = []
    for name in manifest.datasets():
        info, files = manifest.source(name), manifest.entries(name)
        size = sum(e.size for e in files)
        chapters = ", ".join(readers[name]) or "none"
        rows.append(
            f"| `{manifest.dataset_folder(name)}/` | {info['title']} | {len(files):,} | {_size(size)} | "
            f"{chapters} | {info['licence']} |"
        )
        sections += [
            f"### {info['title']}",
            "",
            f"- **Folder**: `{manifest.dataset_folder(name)}/` under the data root: {len(files):,} files, "
            f"{_size(size)}; read by chapter{'s' if len(readers[name]) != 1 else ''} {chapters}.",
            f"- **Official release**: {info['official']}.",
            *(f"- **Taken from**, {_source_line(s)}." for s in info["sources"]),
            f"- **Licence or terms**: {info['licence']}.",
            "- **Changes made**:",
            *(f"  - {step}" for step in info["transform"]),
            f"- **Digest** of all its files, images included: `{manifest.digest(name)}`.",
            "",
        ]
    header = [
        "| Folder | Dataset | Files | Size | Read by chapters | Licence or terms |",
        "|---|---|--:|--:|---|---|",
    ]
    return "\n".join([*header, *rows, "", *sections])
