"""A chapter's real part, whose data may be absent: loaded in one ``with`` block, said once.

Every chapter has a real part (real networks on real data) and a controlled
part that always runs. Without the real data the real part must say so
visibly, add its claim rows as *not measured*, and let the rest of the
chapter run. ``RealPart`` is that one decision:

    with RealPart("the real part") as real_part:
        reader = camlib.data.CUB(...)           # FileNotFoundError here: the data is absent
    if real_part.present:
        ...
    else:
        display(real_part.note())

A number a chapter cannot compute without the data is shown and glued as
``ABSENT``; a claim row it cannot test gets ``real_part.not_measured``.
"""

from __future__ import annotations

from types import TracebackType

from camlib.book.verdicts import Verdict

__all__ = ["ABSENT", "RealPart"]

ABSENT = "n/a (data absent)"  # shown and glued in place of a real number when the real data is absent


class RealPart:
    """The real part of a chapter: a block that loads its data, and what follows when the data is absent.

    On exit, a ``FileNotFoundError`` raised inside the block (a reader or
    ``camlib.data.find_data`` that found no data: their messages name every
    path looked at and the layout expected) is caught and kept: ``present``
    becomes False and ``missing`` holds the message. Any other error
    propagates.

    Args:
        what: how the note names the part ("the real part", "the scene part",
            "this chapter").

    Example:
        >>> with RealPart("the scene part") as part:
        ...     raise FileNotFoundError("Could not find the data 'coco-mini'")
        >>> part.present, part.missing
        (False, "Could not find the data 'coco-mini'")
        >>> part.note().data.splitlines()[1]
        "**Real data absent: the scene part shows no results.** Could not find the data 'coco-mini'"
        >>> part.not_measured.word, part.value(lambda: 1)
        ('inconclusive', 'n/a (data absent)')
    """

    def __init__(self, what: str = "the real part") -> None:
        if not isinstance(what, str) or not what:
            raise ValueError(f"`what` must name the part in words, but got {what!r}.")
        self.what = what
        self.present = True
        self.missing = ""

    def __enter__(self) -> RealPart:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if exc_type is not None and issubclass(exc_type, FileNotFoundError):
            self.present, self.missing = False, str(exc)
            return True
        return False

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

        return Markdown(f"```{{warning}}\n**Real data absent: {self.what} shows no results.** {self.missing}\n```")
