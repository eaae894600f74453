"""Chapter 00 (class activation maps on real photos) on its smoke profile: with the real data, and without it.

Both runs come from the session's ``executed`` fixture (the smoke run is the
one ``test_notebooks.test_runs_on_smoke_profile`` makes). Every verdict is
recomputed here from the glued numbers with the chapter's rule, tolerance
and margin, so that a wrong verdict on the page fails the test.
"""

from __future__ import annotations

import ast

import nbformat
import pytest
import torch
from test_notebooks import _glued, _has_data, _markdown, _text

from camlib.book import runner
from camlib.book.prereg import margin
from camlib.book.report import read_claims
from camlib.book.verdicts import Verdict, qualitative, verdict, within_tolerance
from camlib.study.stats import Interval, paired_bootstrap

CHAPTER = "00_class_activation_maps"
ABSENT = "n/a (data absent)"
IDENTITY_TOLERANCE = 100  # the chapter's rule: units of rounding (eps) x the largest |logit|
DIFFER_MARGIN = margin(CHAPTER, "maps_differ")  # the pre-registered margin: points of 1 - IoU
MEASURED = ["identity_max_abs_err", "identity_max_abs_err_fp64", "class_region_iou_mean", "top1_classes"]

real_data = pytest.mark.skipif(
    not _has_data(), reason="real data absent: link data/ to the study's data or set $CAMLIB_DATA"
)


def _glance(nb) -> str:
    """The glued *result at a glance* box (Markdown)."""
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            meta = o.get("metadata", {}).get("scrapbook", {})
            if meta.get("name") == "claims_glance":
                return "".join(o["data"][meta.get("mime_prefix", "") + "text/markdown"])
    raise AssertionError("claims_glance is not glued")


def _shown(nb, row, word: str) -> None:
    """The claim table, the section's verdict line and the glance box show ``word`` as the verdict of ``row``."""
    assert f"| {row.claim} | {row.paper} | {row.study} | **{word}**" in _markdown(nb), row.key
    assert f"**Verdict:** {word} — {row.reason}" in _markdown(nb), row.key
    assert f"- **{word}** — {row.claim}. Paper: {row.paper}. This study: {row.study}." in _glance(nb), row.key


@pytest.mark.notebook
@pytest.mark.realdata
@real_data
def test_chapter00_on_real_photos(executed):
    nb = executed(CHAPTER)
    glued = _glued(nb)
    # the identity: float32 rounding, and far less in float64
    assert 0 <= glued["identity_max_abs_err"] < 1e-4
    assert (
        glued["identity_max_abs_err_fp64"] < 1e-10
        and glued["identity_max_abs_err_fp64"] < glued["identity_max_abs_err"]
    )
    assert glued["identity_logit_scale"] > 1  # real logits, not a vanishing network
    # smoke takes the first two photos by name (img1.jpg, img2.jpg) and their top 3 classes
    assert glued["top1_classes"] == "img1: potter's wheel; img2: palace"
    ious = glued["class_region_ious"]
    assert len(ious) == 2 * (3 - 1) and all(0 <= v <= 1 for v in ious)
    assert glued["class_region_iou_mean"] == round(sum(ious) / len(ious), 3)
    # the box protocol figure that book/method.md pastes is glued as an image
    assert any(
        o.get("metadata", {}).get("scrapbook", {}).get("name") == "fig_box_protocol" and "image/png" in o["data"]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )


@pytest.mark.notebook
@pytest.mark.realdata
@real_data
def test_chapter00_verdicts_follow_from_the_numbers(executed):
    nb = executed(CHAPTER)
    glued = _glued(nb)
    rows = {c.key: c for c in read_claims([nb.metadata["camlib_output"]])}
    assert list(rows) == ["maps_show_evidence", "maps_differ", "identity"]
    assert all(r.chapter == CHAPTER and r.section.startswith("ch00-") for r in rows.values())
    for key in ("maps_show_evidence", "maps_differ", "identity"):
        assert f"({rows[key].section})=" in "\n".join(
            c.source for c in nbformat.read(runner.notebook_paths(CHAPTER)[0], 4).cells
        )

    # Fig. 4: the maps differ. The rule, recomputed from the glued per-pair IoUs: a bootstrap of 1 - IoU (points)
    # over the photos (the pairs of one photo are one unit), "greater" with the chapter's margin; 3 photos are
    # fewer than the 20 units a verdict needs, so the row is not resolved whatever the interval.
    differ = rows["maps_differ"]
    assert differ.recompute() == Verdict(differ.verdict, differ.reason)
    ious = torch.tensor(glued["class_region_ious"], dtype=torch.float64)
    photos = len(glued["top1_classes"].split("; "))
    clusters = torch.arange(photos).repeat_interleave(len(ious) // photos)
    effect = Interval.from_bootstrap(
        paired_bootstrap(1 - ious, torch.zeros_like(ious), clusters=clusters, unit="photos")
    )
    assert (differ.n_units, differ.unit) == (photos, "photos") and differ.verdict == "not resolved"
    assert f"it rests on {photos} photos, fewer than the 20 a verdict needs" in differ.reason
    # the negative control (each class against itself on the mirrored photo) must read not reproduced
    (control,) = differ.controls.values()
    assert control["verdict"] == "not reproduced" and differ.controls_hold
    expected = verdict(effect, claim="greater", margin=DIFFER_MARGIN, what=differ.effect)
    assert (differ.estimate, differ.low, differ.high) == pytest.approx(effect[:3])
    assert expected == Verdict(differ.verdict, differ.reason)
    assert expected.word == glued["claim_maps_differ_verdict"]
    _shown(nb, differ, expected.word)

    # Sec. 2: the identity, an exact claim: its ready verdict, recomputed from the glued residuals and scale
    identity = rows["identity"]
    assert identity.rule == "" and identity.estimate != identity.estimate  # NaN: no interval for an exact identity
    tolerance = {
        dtype: IDENTITY_TOLERANCE * torch.finfo(dtype).eps * glued["identity_logit_scale"]
        for dtype in (torch.float32, torch.float64)
    }
    expected = within_tolerance(
        {"float32": glued["identity_max_abs_err"], "float64": glued["identity_max_abs_err_fp64"]},
        {"float32": tolerance[torch.float32], "float64": tolerance[torch.float64]},
        what="r",
    )
    assert expected.word == identity.verdict == glued["claim_identity_verdict"]
    assert f"float32 {glued['identity_max_abs_err']:.2g} <= {tolerance[torch.float32]:.2g}" in identity.reason
    _shown(nb, identity, expected.word)

    # Figs. 1, 3: shown on examples only, as in the paper
    shown = rows["maps_show_evidence"]
    assert Verdict(shown.verdict, shown.reason) == qualitative("see the maps of the top classes")
    assert shown.study == f"top-1 classes: {glued['top1_classes']}"
    _shown(nb, shown, shown.verdict)


@pytest.mark.notebook
def test_chapter00_without_data_says_so_and_renders(executed, no_data_root):
    nb = executed(CHAPTER, data_root=str(no_data_root))
    text = _text(nb)
    assert "Real data absent" in text and str(no_data_root / "cam-samples") in text
    glued = _glued(nb)
    assert all(glued[key] == ABSENT for key in MEASURED)
    assert read_claims([nb.metadata["camlib_output"]]) == []  # no claim tested, and the page says so
    assert "No claim was tested: the real data is absent" in _markdown(nb)
    assert "fig_box_protocol" in glued and _glance(nb).startswith(":::{admonition} Result at a glance")


def test_chapter00_reads_as_prose():
    nb = nbformat.read(runner.notebook_paths(CHAPTER)[0], as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    tags = [c.metadata.get("tags", []) for c in code]
    assert tags[0] == ["parameters", "remove-cell"] and tags[1] == ["hide-input"] and tags[-1] == ["hide-input"]
    assert 'camlib.book.provenance.provenance(params, label="00")' in code[-1].source
    shown = [c for c, t in zip(code, tags) if not {"remove-cell", "hide-input"} & set(t)]
    assert 1 <= len(shown) <= 2 and all("camlib." in c.source for c in shown)  # only the key calls are shown
    lines = [len([line for line in c.source.splitlines() if line.strip()]) for c in code]
    assert (
        sum(lines) <= 120 and max(lines) <= 40
    )  # about 40% fewer than the 193 lines before the redesign (+2: the control)
    for cell in code:
        tree = ast.parse(cell.source)
        assert not [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.Lambda, ast.ClassDef))], cell.id
    prose = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert "{glue:md} claims_glance" in prose[1]  # the glance box right after the claim
    visible_code = sum(lines[i] for i, c in enumerate(code) if c in shown)
    assert sum(len([line for line in p.splitlines() if line.strip()]) for p in prose) > visible_code
