"""The discussion page's science (camlib.book.discussion), on made claim rows and a made executed notebook."""

from __future__ import annotations

import dataclasses
import json

import nbformat
import pytest

from camlib.book import discussion as D
from camlib.book.paper import SETUP
from camlib.book.report import Claim


def _row(chapter, key, verdict, estimate=float("nan"), low=float("nan"), high=float("nan"), **more):
    c = Claim(
        chapter, key, f"claim {key}", "p", "s", verdict, more.pop("reason", ""), "", "effect", estimate, low, high
    )
    return dataclasses.replace(c, **{"kind": "analogue", "evidence": "EfficientNet-Lite0, CUB subset", **more})


def test_evidence_counts_split_kinds_by_real_and_controlled_and_leave_checks_out():
    rows = [
        _row("01_x", "a", "reproduced", kind="paper"),
        _row("01_x", "b", "not resolved", kind="paper"),
        _row("01_x", "c", "inconclusive", evidence="controlled localization benchmark"),
        _row("00_x", "d", "reproduced", kind="check"),
    ]
    counts = {(r["kind"], r["evidence"]): r for r in D.evidence_counts(rows).rows}
    assert set(counts) == {("paper", "real"), ("analogue", "controlled")}  # the check is not counted
    assert (counts["paper", "real"]["rows"], counts["paper", "real"]["reproduced"]) == (2, 1)
    assert counts["paper", "real"]["not resolved"] == 1 and counts["analogue", "controlled"]["inconclusive"] == 1


def test_disagreements_set_two_settings_side_by_side():
    pair = D.Disagreement("X", "01_x/a", "02_y/b", "the data", lambda a, b, g: f"probe {g['01_x']['probe']}")
    a = _row("01_x", "a", "not reproduced", -2.0, -4.0, -0.5)
    b = _row("02_y", "b", "reproduced", 3.0, 1.0, 5.0)
    (row,) = D.disagreements([a, b], {"01_x": {"probe": "+32.8"}}, [pair])
    assert row == {
        "topic": "X",
        "first": "01 a: not reproduced; effect −2.0 (−4.0 to −0.5)",
        "second": "02 b: reproduced; effect +3.0 (+1.0 to +5.0)",
        "agree": "no",
        "differs": "the data",
        "numbers": "probe +32.8",
    }
    (row,) = D.disagreements([a, dataclasses.replace(b, verdict="not reproduced")], {"01_x": {"probe": "p"}}, [pair])
    assert row["agree"] == "yes"
    (row,) = D.disagreements([a, dataclasses.replace(b, verdict="inconclusive")], {"01_x": {"probe": "p"}}, [pair])
    assert row["agree"] == "cannot tell"  # an inconclusive row says nothing either way
    (row,) = D.disagreements([a], {}, [pair])
    assert row["second"] == "02_y/b: not in this build" and row["agree"] == "cannot tell" and row["numbers"] == ""


def test_every_registered_pair_names_rows_the_chapters_register():
    from camlib.book.prereg import registered

    for pair in D.DISAGREEMENTS:
        for key in (pair.first, pair.second):
            chapter, row = key.split("/")
            assert row in registered()[chapter], key  # a renamed row would silently drop out of the page


def test_deviations_put_the_papers_setting_beside_the_rows_evidence_and_the_training_run():
    rows = [
        _row("03_cub_fine_grained", "a", "reproduced", evidence="SqueezeNet 1.0, CUB test"),
        _row("03_cub_fine_grained", "b", "reproduced", evidence="SqueezeNet 1.0, CUB test", effect="other effect"),
        _row("03_cub_fine_grained", "c", "reproduced", kind="check"),
    ]
    table = D.deviations(rows, {"03_cub_fine_grained": {"seeds": [0, 1, 2], "epochs": 6, "device": "cpu"}})
    got = {r["aspect"]: (r["paper"], r["this study"]) for r in table.rows}
    assert got["networks and data"] == (SETUP["03_cub_fine_grained"]["networks and data"], "SqueezeNet 1.0, CUB test")
    assert got["training"][1] == "seeds: [0, 1, 2]; epochs: 6"  # the training parameters only
    assert got["metric"][1] == "effect; other effect"
    assert set(SETUP) == {f"0{i}_" + n for i, n in enumerate(
        ["class_activation_maps", "gap_vs_gmp", "ilsvrc_localization", "cub_fine_grained", "pattern_discovery",
         "text_detection", "vqa", "class_specific_units"])}  # fmt: skip


def test_obstacles_group_undecided_rows_by_the_reason_their_verdict_gives():
    rows = [
        _row("03_x", "a", "inconclusive", reason="the negative control (other birds) reads reproduced too"),
        _row("01_x", "b", "inconclusive", reason="still improving: GMP seed 1"),
        _row("01_x", "c", "inconclusive", reason="a compared network did not converge"),
        _row("00_x", "d", "not resolved", reason="x: it rests on 3 photos, fewer than the 20 a verdict needs"),
        _row("02_x", "e", "not resolved", reason="x: direction reproduced (above 0), size not resolved"),
        _row("04_x", "f", "not resolved", reason="the interval includes 0"),
        _row("04_x", "g", "reproduced"),
        _row("00_x", "h", "inconclusive", kind="check", reason="still improving"),
    ]
    got = {r["why"]: (r["rows"], r["which"]) for r in D.obstacles(rows).rows}
    assert got == {
        "a negative control reads reproduced too": (1, "03 a"),
        "training had not converged": (2, "01 b, 01 c"),
        "too few independent units": (1, "00 d"),
        "the size is not resolved": (1, "02 e"),
        "the interval straddles the line": (1, "04 f"),
    }


def test_read_glued_and_parameters_from_an_executed_notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"parameters": {"seeds": [0, 1], "profile": "smoke"}}
    outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={"application/papermill.record/text/plain": text},
            metadata={"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}},
        )
        for name, text in (("n", "3"), ("probe", "'clutter 6: +1.0'"), ("free", "not python ("))
    ]
    nb.cells.append(nbformat.v4.new_code_cell("", outputs=outputs))
    path = tmp_path / "01_x.ipynb"
    path.write_text(json.dumps(nb))
    assert D.read_glued([path]) == {"01_x": {"n": 3, "probe": "clutter 6: +1.0", "free": "not python ("}}
    assert D.read_parameters([path]) == {"01_x": {"seeds": [0, 1], "profile": "smoke"}}
    with pytest.raises(FileNotFoundError, match=r"`paths` must name executed notebooks"):
        D.read_glued([tmp_path / "absent.ipynb"])
