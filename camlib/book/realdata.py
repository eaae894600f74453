"""A chapter's real part, whose data may be absent: loaded in one ``with`` block, said once.

Every chapter has a real part (real networks on real data) and a controlled
part that always runs. Without the real data the real part must say so
visibly, add its claim rows as *not measured*, and let the rest of the
chapter run. ``RealPart`` is that one decision:

    with RealPart("the real part") as real_part:
        reader = camlib.data.CUB(...)           # camlib.data.DataAbsent here: the data is absent
    if real_part.present:
        ...
    else:
        display(real_part.note())

A number a chapter cannot compute without the data is shown and glued as
``ABSENT``; a claim row it cannot test gets ``real_part.not_measured``.

Absent means absent: only ``camlib.data.DataAbsent`` (no data root holds the
dataset at all) makes a part absent. Partial data (a folder without one of
its files, a missing image, a malformed line) raise other errors, which stop
the chapter with the reader's message. A run that must have its data
(``--require-data``, ``$CAMLIB_REQUIRE_DATA=1``: ``make book`` with ``data/``
present) fails on absent data too.
"""

from __future__ import annotations

from types import TracebackType

from camlib.book.verdicts import Verdict
from camlib.data.locate import REQUIRE_ENV, DataAbsent, require_data

__all__ = ["ABSENT", "RealPart"]

ABSENT = "n/a (data absent)"  # shown and glued in place of a real number when the real data is absent


class RealPart:
    """The real part of a chapter: a block that loads its data, and what follows when the data is absent.

    On exit, a ``camlib.data.DataAbsent`` raised inside the block (a reader
    or ``camlib.data.find_data`` that found no data at all: their messages
    name every path looked at and the layout expected) is caught and kept:
    ``present`` becomes False and ``missing`` holds the message. Any other
    error propagates, partial data included; so does ``DataAbsent`` when the
    run requires its data (``camlib.data.require_data()``).

    Args:
        what: how the note names the part ("the real part", "the scene part",
            "this chapter").
        optional: the study's own data do not include this part's data (VQA):
            it may be absent even in a run that requires its data.

    Example:
        >>> import camlib.data
        >>> with RealPart("the scene part") as part:
        ...     raise camlib.data.DataAbsent("Could not find the data 'coco-mini'")
        >>> part.present, part.missing
        (False, "Could not find the data 'coco-mini'")
        >>> part.note().data.splitlines()[1]
        "**Real data absent: the scene part shows no results.** Could not find the data 'coco-mini'"
        >>> part.not_measured.word, part.value(lambda: 1)
        ('inconclusive', 'n/a (data absent)')
    """

    def __init__(self, what: str = "the real part", *, optional: bool = False) -> None:
        if not isinstance(what, str) or not what:
            raise ValueError(f"`what` must name the part in words, but got {what!r}.")
        self.what, self.optional = what, bool(optional)
        self.present = True
        self.missing = ""

    def __enter__(self) -> RealPart:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if exc_type is None or not issubclass(exc_type, DataAbsent):
            return False
        if require_data() and not self.optional:
            raise DataAbsent(
                f"{exc} This run requires the real data (--require-data or ${REQUIRE_ENV}=1), so {self.what} "
                "cannot be left out."
            ) from exc
        self.present, self.missing = False, str(exc)
        return True

    @property
    def not_measured(self) -> Verdict:
        """The verdict of a claim row the part could not test: inconclusive, not measured."""
        return Verdict("inconclusive", "not measured: the real data is absent")

    def value(self, compute):
        """``compute()`` when the data is present, else ``ABSENT``: for glued numbers and table cells."""
        return compute() if self.present else ABSENT

    def note(self):
        """The warning a reader sees in place of the part's results (a ``Markdown`` object); None when present."""
        if self.present:
            return None
        from IPython.display import Markdown  # the book's kernels have it; the library does not need it

        return Markdown(
            f"```{{warning}}\n**Real data absent: {self.what} shows no results.** {_readable(self.missing)}\n```"
        )


def _readable(text: str) -> str:
    """``text`` with this checkout's absolute path dropped (``data/vqa``) and the home folder as ``~``.

    A page shows where the data were looked for as a reader would type it, not as this build's folders.
    """
    from pathlib import Path

    from camlib._checkout import checkout_root

    root = checkout_root()
    if root is not None:
        text = text.replace(f"{root}/", "")
    return text.replace(f"{Path.home()}/", "~/")
