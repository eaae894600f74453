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
    assert any(
        "image/png" in o.get("data", {}) for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs
    ), "the forest figure of the effects"


@pytest.mark.notebook
def test_summary_without_chapters_says_so(executed):
    assert "No executed chapter with claims" in _text(executed("S1"))
