"""The book's configuration and cross-references, checked without building it."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
PAGES = sorted((ROOT / "book").glob("*.md"))
NOTEBOOKS = [
    p
    for pattern in ("[0-9][0-9]_*.ipynb", "A[0-9]_*.ipynb", "S[0-9]_*.ipynb")
    for p in sorted((ROOT / "notebooks").glob(pattern))
]


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
        text = page.read_text()
        pasted = re.findall(r"\{glue(?::\w+)?\}`([^`:]+\.ipynb)::([A-Za-z0-9_]+)", text)
        pasted += [
            (doc, key) for key, doc in re.findall(r"```\{glue(?::\w+)?\} ([A-Za-z0-9_]+)\n:doc: (\S+\.ipynb)", text)
        ]
        assert pasted or "glue" not in text, f"{page.name} pastes in a form this test does not read"
        for doc, key in pasted:
            notebook = "notebooks/" + Path(doc).name
            assert notebook in sources, f"{page.name} pastes from {doc}, which is no notebook"
            # glued directly, glue("key", ...), or through a helper or a table of keys: the literal "key"
            glued = f'glue("{key}"' in sources[notebook] or f'"{key}"' in sources[notebook]
            assert glued, f"{page.name} pastes {key!r}, which {notebook} never glues"


def test_no_paper_number_is_typed_outside_camlib_paper():
    """Every number of the paper that the book compares with comes from camlib.book.paper, never from a page or a cell."""
    from camlib.book import paper

    values = {n.value for rows in paper.TABLES.values() for metrics in rows.values() for n in metrics.values()}
    patterns = {v: re.compile(rf"(?<![\d.]){re.escape(f'{v:.1f}')}(?:0)?(?![\d])") for v in values if v >= 10}
    for name, text in _sources().items():
        for value, pattern in patterns.items():
            found = pattern.search(text)
            assert not found, (
                f"{name} types the paper's number {value} ({text[max(0, found.start() - 40) : found.end() + 20]!r})"
            )


def test_chapters_are_downloadable_and_nothing_launches():
    # jupyter-book's `html:` has no key for the download button: it is a theme option, merged into the
    # theme options that jupyter-book builds (recursive_update), not replacing them.
    assert CONFIG["sphinx"]["recursive_update"] is True
    assert CONFIG["sphinx"]["config"]["html_theme_options"] == {"use_download_button": True}
    launch = CONFIG["launch_buttons"]
    assert launch["thebe"] is False
    assert all(value == "" for key, value in launch.items() if key.endswith("_url"))
    assert {"binderhub_url", "jupyterhub_url", "colab_url"} <= set(launch)


def test_the_appendix_has_the_gpu_and_the_cite_pages():
    (appendix,) = [part for part in TOC["parts"] if part["caption"] == "Appendix"]
    files = [entry["file"] for entry in appendix["chapters"]]
    assert "book/gpu" in files and "book/cite" in files


def test_the_cite_page_cites_the_study_and_the_paper():
    text = (ROOT / "book" / "cite.md").read_text()
    assert text.startswith("# How to cite and licence\n")
    (study,) = re.findall(r"```bibtex\n(@misc\{.*?\n\})\n```", text, flags=re.DOTALL)
    fields = dict(re.findall(r"^\s+(\w+)\s+= \{(.*)\},?$", study, flags=re.MULTILINE))
    assert fields["author"] == "{the camlib contributors}"  # braced: a name, not "contributors, the camlib"
    assert fields["title"] == CONFIG["title"]
    assert fields["year"] == "2026" == str(CONFIG["copyright"])
    assert "url" not in fields and "url" not in fields["howpublished"]  # no address the build cannot know
    assert "{cite}`zhou2016cam`" in text
    assert "MIT licence" in text and (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_the_gpu_page_includes_every_paper_profile():
    text = (ROOT / "book" / "gpu.md").read_text()
    included = re.findall(
        r"```\{literalinclude\} \.\./(notebooks/\S+\.yml)\n:language: yaml\n:start-at: \"paper:\"\n", text
    )
    for path in included:
        assert "\npaper:" in (ROOT / path).read_text(), path
    with_values = {
        p.relative_to(ROOT).as_posix()
        for p in sorted((ROOT / "notebooks").glob("*.yml"))
        if yaml.safe_load(p.read_text()).get("paper")
    }
    assert set(included) == with_values
    for nb in ("00", "01", "02", "03", "04", "05", "06", "07", "A1", "A2", "S1"):
        assert f"make notebook NB={nb} PROFILE=paper" in text
    assert 'make notebook NB=02 PROFILE=paper P="data_root=/datasets"' in text
    assert "torchrun --nproc_per_node=" in text


def test_figures_are_numbered_per_chapter_and_titles_are_not():
    """Each page's figures count from 1 after its chapter label ("Fig. 03.2"), by book/_ext/chapter_figures.py.

    A numbered toctree would also number every title ("4. 03 · Fine-grained ...") and give chapter 03's
    figures the numbers 4.1, 4.2, ...: no part of the toc is numbered, and Sphinx's own count stays book-wide.
    """
    config = CONFIG["sphinx"]["config"]
    assert config["numfig"] is True and config["numfig_secnum_depth"] == 0
    assert not any(part.get("numbered") for part in TOC["parts"]) and "numbered" not in TOC.get("options", {})
    assert "chapter_figures" in config["extensions"]  # config.extensions replaces the list local_extensions adds to
    source = ROOT / CONFIG["sphinx"]["local_extensions"]["chapter_figures"] / "chapter_figures.py"
    spec = importlib.util.spec_from_file_location("chapter_figures", source)
    ext = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ext)
    # Sphinx's book-wide numbers, in document order within each page (chapter 03's are the book's 8th and 9th)
    env = SimpleNamespace(
        toc_fignumbers={
            "book/chapters/03_cub_fine_grained": {"figure": {"b": (9,), "a": (8,)}},
            "book/chapters/A1_benchmarks": {"figure": {"x": (12,)}},
            "book/chapters/S1_summary": {"figure": {"s": (1,)}},
            "book/method": {"figure": {"m": (1,)}, "table": {"t": (3,)}},
        }
    )
    assert ext.renumber(None, env) == list(env.toc_fignumbers)
    assert env.toc_fignumbers == {
        "book/chapters/03_cub_fine_grained": {"figure": {"a": ("03", 1), "b": ("03", 2)}},
        "book/chapters/A1_benchmarks": {"figure": {"x": ("A1", 1)}},
        "book/chapters/S1_summary": {"figure": {"s": ("S1", 1)}},
        "book/method": {"figure": {"m": (1,)}, "table": {"t": (1,)}},  # no chapter label: from 1 alone
    }
    assert ext.renumber(None, env) == []  # renumbered already: nothing to write again


DRAWS = re.compile(r"plt\.show\(|show_samples\(|glue\(\s*\"fig")  # a cell that shows a matplotlib figure
UNCAPTIONED: set[str] = set()  # chapters whose figures may go without captions: none


def test_every_figure_is_captioned_and_named_after_its_chapter():
    """A figure cell carries myst-nb's caption and a name ``fig-<chapter>-...``, unique in the book."""
    names = []
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            figure = cell.metadata.get("mystnb", {}).get("figure")
            if figure is None:
                assert path.stem in UNCAPTIONED or not DRAWS.search(cell.source), (
                    f"{path.name}: cell {cell.id} draws a figure with no caption (metadata mystnb.figure)"
                )
                continue
            assert str(figure.get("caption", "")).strip(), f"{path.name}: cell {cell.id} has an empty caption"
            assert re.fullmatch(rf"fig-{path.stem[:2].lower()}-[a-z0-9]+(-[a-z0-9]+)*", figure.get("name", "")), (
                f"{path.name}: cell {cell.id}'s figure name {figure.get('name')!r} is not fig-{path.stem[:2].lower()}-..."
            )
            names.append(figure["name"])
    assert len(names) == len(set(names)), "two figures share a name"


def test_the_bibliography_is_labelled_as_the_text_cites():
    """References read "[Zhou et al., 2016]" like the author-year citations, not "[17]" (book/_ext/author_year.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("author_year", ROOT / "book" / "_ext" / "author_year.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sphinx = CONFIG["sphinx"]
    assert sphinx["config"]["bibtex_reference_style"] == "author_year"
    assert sphinx["config"]["bibtex_default_style"] == "authoryear"
    assert "author_year" in sphinx["local_extensions"] and "author_year" in sphinx["config"]["extensions"]
    label = module.author_year_label
    assert label(["Zhou", "Khosla", "Lapedriza"], "2016") == "Zhou et al., 2016"
    assert label(["Lin", "Chen"], "2014") == "Lin and Chen, 2014"
    assert label(["Simonyan"], "2014") == "Simonyan, 2014" and label([], "2020") == "2020"
    # two entries with one label (NIN and COCO: "Lin et al., 2014") get 2014a and 2014b: Sphinx refuses a duplicate
    assert module.distinct_labels(["Lin et al., 2014", "Zhou et al., 2016", "Lin et al., 2014"]) == [
        "Lin et al., 2014a",
        "Zhou et al., 2016",
        "Lin et al., 2014b",
    ]
