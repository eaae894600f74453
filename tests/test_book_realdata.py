"""camlib.book.realdata: a chapter's real part decides 'real data absent' in one place."""

from __future__ import annotations

import pytest

from camlib.book.realdata import ABSENT, RealPart
from camlib.data import DataAbsent


def test_absent_data_make_the_part_absent_and_say_so(monkeypatch):
    monkeypatch.delenv("CAMLIB_REQUIRE_DATA", raising=False)
    with RealPart("the scene part") as part:
        raise DataAbsent("Could not find the data 'coco-mini': data/coco-mini does not exist.")
    assert not part.present and part.missing.startswith("Could not find the data 'coco-mini'")
    note = part.note().data
    assert note.startswith("```{warning}\n**Real data absent: the scene part shows no results.** Could not find")
    assert note.endswith("\n```")
    assert part.value(lambda: 1 / 0) == ABSENT == "n/a (data absent)"  # not computed without the data
    assert str(part.not_measured) == "inconclusive: not measured: the real data is absent"


def test_a_present_part_computes_and_shows_no_note():
    with RealPart() as part:
        x = 2
    assert part.present and part.missing == "" and part.note() is None
    assert part.value(lambda: x + 1) == 3


def test_other_errors_are_not_hidden():
    with pytest.raises(ValueError, match="Malformed line 3"), RealPart():
        raise ValueError("Malformed line 3 of 'images.txt'")
    with pytest.raises(ValueError, match="`what` must name the part in words, but got ''"):
        RealPart("")


def test_partial_data_are_not_absent_data(monkeypatch):
    """A missing image or file of a dataset that is there stops the chapter: only DataAbsent is absence."""
    monkeypatch.delenv("CAMLIB_REQUIRE_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="lacks 1 of the 3 images"), RealPart() as part:
        raise FileNotFoundError("Missing images: data/cub/images lacks 1 of the 3 images (a.jpg).")
    assert part.present


def test_a_run_that_requires_its_data_fails_on_absent_data(monkeypatch):
    monkeypatch.setenv("CAMLIB_REQUIRE_DATA", "1")
    with pytest.raises(
        DataAbsent,
        match=r"'coco-mini'.*requires the real data \(--require-data or \$CAMLIB_REQUIRE_DATA=1\), "
        "so the scene part cannot be left out",
    ):
        with RealPart("the scene part"):
            raise DataAbsent("Could not find the data 'coco-mini'.")
    with RealPart("the VQA part", optional=True) as part:  # data the study's own copy does not include
        raise DataAbsent("Could not find the data 'vqa'.")
    assert not part.present
    monkeypatch.setenv("CAMLIB_REQUIRE_DATA", "yes")
    with pytest.raises(ValueError, match=r"\$CAMLIB_REQUIRE_DATA must be 1 .* but it is 'yes'"):
        with RealPart():
            raise DataAbsent("x")
