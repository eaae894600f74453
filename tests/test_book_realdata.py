"""camlib.book.realdata: a chapter's real part decides 'real data absent' in one place."""

from __future__ import annotations

import pytest

from camlib.book.realdata import ABSENT, RealPart


def test_a_missing_file_makes_the_part_absent_and_says_so():
    with RealPart("the scene part") as part:
        raise FileNotFoundError("Could not find the data 'coco-mini': data/coco-mini does not exist.")
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
