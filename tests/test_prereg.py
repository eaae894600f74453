"""The pre-registration (book/preregistration.yml, camlib.book.prereg): read, enforced, and its history shown."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from camlib.book import prereg
from camlib.book.report import ClaimTable

ROOT = Path(__file__).resolve().parents[1]


def test_the_books_registration_reads_and_every_chapter_is_in_it():
    found = prereg.registered()
    chapters = sorted(p.stem for p in (ROOT / "notebooks").glob("0[0-9]_*.ipynb"))
    assert sorted(found) == chapters
    assert found["03_cub_fine_grained"]["cub_crop_gt"] == prereg.Entry(
        "noninferior", 5.0, found["03_cub_fine_grained"]["cub_crop_gt"].why, "accuracy"
    )
    assert all(e.why for claims in found.values() for e in claims.values() if e.margin)  # every margin says why
    assert found["03_cub_fine_grained"]["cub_loc"].metric == "loc_acc_iou50"  # the paper's metric of Sec. 4.1
    assert found["00_class_activation_maps"]["maps_differ"].metric == ""  # no number of the paper


def test_every_registered_key_is_a_row_of_its_chapter():
    # a registration that no chapter measures any more is stale; the chapters' own rows are checked when they run
    for chapter, claims in prereg.registered().items():
        source = "\n".join(
            "".join(c["source"]) for c in json.loads((ROOT / "notebooks" / f"{chapter}.ipynb").read_text())["cells"]
        )
        for key in claims:
            assert f'"{key}"' in source, (chapter, key)


def test_no_chapter_states_a_margin_of_its_own():
    literal = re.compile(r"\bmargin\s*=\s*[0-9]|^[A-Z_]*(MARGIN|APPROACH)\s*=\s*[0-9]", re.MULTILINE)
    for path in sorted((ROOT / "notebooks").glob("0[0-9]_*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                assert not literal.search("".join(cell["source"])), (path.name, cell.get("id"))


def test_a_registered_row_takes_the_registered_test_and_refuses_another():
    t = ClaimTable("03_cub_fine_grained")
    row = t.add("cub_crop", "crops help", paper="-", study="-", kind="paper", evidence="x", effect=(0.8, 0.1, 1.5))
    assert (row.rule, row.margin) == ("greater", 1.0)
    assert row.verdict == "not resolved" and "direction reproduced" in row.reason  # above 0, not surely beyond 1
    with pytest.raises(ValueError, match=r"`margin` of 03_cub_fine_grained / 'cub_loc' must be the pre-registered 5.0"):
        t.add("cub_loc", "boxes", paper="-", study="-", kind="paper", evidence="x", effect=(9, 7, 11), margin=2.0)
    with pytest.raises(ValueError, match=r"`rule` of 03_cub_fine_grained / 'cub_loc' must be the pre-registered"):
        t.add("cub_loc", "boxes", paper="-", study="-", kind="paper", evidence="x", effect=(9, 7, 11), rule="less")
    with pytest.raises(ValueError, match="'new_row' is measured by 03_cub_fine_grained but not registered"):
        t.add("new_row", "new", paper="-", study="-", kind="beyond", evidence="x", effect=(1, 0, 2))
    # a chapter of one's own is not registered: it states its own test
    mine = ClaimTable("08_my_study").add("a", "a", paper="-", study="-", kind="beyond", evidence="x",
                                         effect=(1, 0.5, 2), rule="less", margin=0.1)  # fmt: skip
    assert (mine.rule, mine.margin, mine.verdict) == ("less", 0.1, "not reproduced")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("01_x:\n  a: {rule: bigger, margin: 0}\n", r"01_x / a: `rule` must be one of"),
        ("01_x:\n  a: {rule: greater, margin: -1}\n", r"01_x / a: `margin` must be a number >= 0"),
        (
            "01_x:\n  a: {rule: greater, margin: 1, when: now}\n",
            r"01_x / a must hold rule, margin, why and metric only",
        ),
        ("01_x:\n  a: {rule: greater, margin: 0, metric: top1}\n", r"01_x / a: `metric` must be one of the paper's"),
        ("01_x: [a, b]\n", r"chapter '01_x' must map claim keys to entries"),
    ],
)
def test_a_bad_registration_is_refused_by_name(tmp_path, text, message):
    path = tmp_path / "preregistration.yml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        prereg.registered(path)


def test_the_history_shows_when_each_entry_last_changed(tmp_path):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}  # fmt: skip

    def git(*args, date="2026-01-01T00:00:00Z"):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True,
                       env={**env, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date})  # fmt: skip

    path = tmp_path / "preregistration.yml"
    path.write_text("# head\n01_x:\n  a: {rule: greater, margin: 0}\n  b: {rule: equal, margin: 3, why: w}\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "register a and b")
    path.write_text("# head\n01_x:\n  a: {rule: greater, margin: 0}\n  b: {rule: equal, margin: 5, why: w}\n")
    git("commit", "-qam", "widen b after looking", date="2026-02-02T00:00:00Z")
    found = prereg.history(path)
    assert found["01_x", "a"]["date"] == "2026-01-01" and found["01_x", "a"]["subject"] == "register a and b"
    assert found["01_x", "b"]["date"] == "2026-02-02" and found["01_x", "b"]["subject"] == "widen b after looking"
    shown = prereg.rows(path)
    assert shown[1]["last changed"].endswith("widen b after looking") and shown[0]["why"] == "only the sign counts"
    assert shown[0]["paper's metric"] == "-"
    assert prereg.history(tmp_path / "absent.yml") == {}  # not in git: no history, no error
