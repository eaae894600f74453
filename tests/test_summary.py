"""The summary page (S1_summary): one table of the claims of every executed chapter, read back from their glue."""

from __future__ import annotations

import shutil

import nbformat
import pytest
from test_notebooks import _text

from camlib.book import runner
from camlib.book.report import KINDS, read_claims


@pytest.mark.notebook
def test_summary_collects_every_claim_of_the_executed_chapters(executed, tmp_path):
    folder = tmp_path / "chapters"
    folder.mkdir()
    for selector in ("00", "01"):
        shutil.copy(executed(selector).metadata["camlib_output"], folder)
    result = runner.execute(runner.notebook_paths("S1")[0], profile="smoke", output_dir=folder)
    nb = nbformat.read(result.output, as_version=4)
    text = _text(nb)
    claims = read_claims(sorted(folder.glob("0*.ipynb")))
    assert {c.chapter for c in claims} == {"00_class_activation_maps", "01_gap_vs_gmp"}
    for c in claims:  # every row, with its chapter's link, its verdict and its kind
        assert c.claim in text and f"**{c.verdict}**" in text, c.key
        assert c.kind in KINDS and (c.evidence or c.kind == "check"), c.key
    assert "{doc}`01 <01_gap_vs_gmp>`" in text
    assert "No executed chapter" not in text
    # the front page's abstract: the rows counted from this build, the highlights it lacks said to be missing
    abstract = _glued(nb, "claims_abstract")
    assert f"in {len(claims)} rows over 2 chapters" in abstract
    assert "02_ilsvrc_localization/real_baseline: not in this build" in abstract
    assert "03_cub_fine_grained/cub_loc: not in this build" in abstract
    assert 'class="table claims-at-a-glance"' in _glued(nb, "claims_front_table")
    assert any(
        "image/png" in o.get("data", {}) for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs
    ), "the forest figure of the effects"


def _glued(nb, name: str) -> str:
    """The HTML that the notebook glued under ``name`` (for the front page)."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("metadata", {}).get("scrapbook", {}).get("name") == name:
                html = [v for k, v in output["data"].items() if k.endswith("text/html")]  # myst-nb prefixes the type
                return "".join(html[0])
    raise AssertionError(f"nothing glued as {name!r}")


@pytest.mark.notebook
def test_summary_without_chapters_says_so(executed):
    assert "No executed chapter with claims" in _text(executed("S1"))
