"""The book's configuration and cross-references, checked without building it."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
PAGES = sorted((ROOT / "book").glob("*.md"))
NOTEBOOKS = [p for pattern in ("[0-9][0-9]_*.ipynb", "A[0-9]_*.ipynb", "S[0-9]_*.ipynb")
             for p in sorted((ROOT / "notebooks").glob(pattern))]


def _toc_files() -> list[str]:
    files = [TOC["root"]]
    for part in TOC["parts"]:
        files += [entry["file"] for entry in part["chapters"]]
    return files


def _sources() -> dict[str, str]:
    texts = {str(p.relative_to(ROOT)): p.read_text() for p in PAGES}
    for nb in NOTEBOOKS:
        cells = nbformat.read(nb, as_version=4).cells
        texts[str(nb.relative_to(ROOT))] = "\n".join(c.source for c in cells)
    return texts


def test_config_renders_only_and_works_offline():
    assert CONFIG["execute"]["execute_notebooks"] == "off"  # papermill executes, the book renders
    assert CONFIG["only_build_toc_files"] is True
    assert ".*" in CONFIG["exclude_patterns"] and "**/.*" in CONFIG["exclude_patterns"]
    assert CONFIG["sphinx"]["config"]["numfig"] is True
    assert "sphinx-mathjax-offline" in CONFIG["sphinx"]["extra_extensions"]  # no CDN needed for math
    assert all((ROOT / bib).is_file() for bib in CONFIG["bibtex_bibfiles"])


def test_every_toc_entry_exists_and_every_notebook_is_a_chapter():
    chapters = set()
    for entry in _toc_files():
        if entry.startswith("book/chapters/"):
            stem = entry.removeprefix("book/chapters/")
            assert (ROOT / "notebooks" / f"{stem}.ipynb").is_file(), entry
            chapters.add(stem)
        else:
            assert (ROOT / f"{entry}.md").is_file(), entry
    assert chapters == {nb.stem for nb in NOTEBOOKS}


def test_every_citation_is_in_the_bibliography():
    bib = (ROOT / "book" / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    for name, text in _sources().items():
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text):
            for key in group.split(","):
                assert key.strip() in keys, f"{name} cites unknown key {key.strip()!r}"


def test_every_pasted_glue_value_is_glued_by_its_chapter():
    sources = _sources()
    for page in PAGES:
        for doc, key in re.findall(r"\{glue(?::\w+)?\}`([^`:]+\.ipynb)::([A-Za-z0-9_]+)", page.read_text()):
            notebook = "notebooks/" + Path(doc).name
            assert notebook in sources, f"{page.name} pastes from {doc}, which is no notebook"
            # glued directly, glue("key", ...), or through a helper or a table of keys: the literal "key"
            glued = f'glue("{key}"' in sources[notebook] or f'"{key}"' in sources[notebook]
            assert glued, f"{page.name} pastes {key!r}, which {notebook} never glues"


def test_no_paper_number_is_typed_outside_camlib_paper():
    """Every number of the paper that the book compares with comes from camlib.paper, never from a page or a cell."""
    from camlib import paper

    values = {n.value for rows in paper.TABLES.values() for metrics in rows.values() for n in metrics.values()}
    patterns = {v: re.compile(rf"(?<![\d.]){re.escape(f'{v:.1f}')}(?:0)?(?![\d])") for v in values if v >= 10}
    for name, text in _sources().items():
        for value, pattern in patterns.items():
            found = pattern.search(text)
            assert not found, f"{name} types the paper's number {value} ({text[max(0, found.start() - 40):found.end() + 20]!r})"
