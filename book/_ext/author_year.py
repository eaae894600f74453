"""A bibliography labelled the way the text cites: "[Zhou et al., 2016]", not "[1]".

The book cites author-year (``bibtex_reference_style: author_year``), but
pybtex's formatting styles label the bibliography's entries by number
("plain", "unsrt") or by initials ("alpha"), so a reader meets "Zhou et al.,
2016" in the text and "[17]" in the list. sphinxcontrib-bibtex documents the
remedy: a formatting style whose label style gives author-year labels,
registered as a pybtex plugin. This is that style ("authoryear"): pybtex's
"plain" formatting, entries sorted by author and year, each labelled
"Surname, year", "Surname and Other, year" or "Surname et al., year".
"""

from __future__ import annotations

from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle

__all__ = ["AuthorYearLabelStyle", "AuthorYearStyle", "author_year_label", "distinct_labels", "setup"]


def author_year_label(surnames: list[str], year: str) -> str:
    """The citation label of an entry from its authors' surnames and its year.

    Example:
        >>> author_year_label(["Zhou", "Khosla", "Lapedriza"], "2016"), author_year_label(["Lin", "Chen"], "2014")
        ('Zhou et al., 2016', 'Lin and Chen, 2014')
    """
    if not surnames:
        return year
    if len(surnames) == 1:
        who = surnames[0]
    elif len(surnames) == 2:
        who = f"{surnames[0]} and {surnames[1]}"
    else:
        who = f"{surnames[0]} et al."
    return f"{who}, {year}"


def distinct_labels(labels: list[str]) -> list[str]:
    """Labels made distinct as author-year styles do: a label shared by several entries gets "a", "b", ...
    after its year, in the order of the entries (two "Lin et al., 2014" become "2014a" and "2014b"),
    so that each citation points at one entry.

    Example:
        >>> distinct_labels(["Lin et al., 2014", "Zhou et al., 2016", "Lin et al., 2014"])
        ['Lin et al., 2014a', 'Zhou et al., 2016', 'Lin et al., 2014b']
    """
    total = Counter(labels)
    seen: Counter[str] = Counter()
    out = []
    for label in labels:
        if total[label] > 1:
            out.append(label + "abcdefghijklmnopqrstuvwxyz"[seen[label]])
            seen[label] += 1
        else:
            out.append(label)
    return out


class AuthorYearLabelStyle(BaseLabelStyle):
    """pybtex label style: "Surname et al., year" for each entry."""

    def format_labels(self, sorted_entries):
        labels = []
        for entry in sorted_entries:
            people = entry.persons.get("author") or entry.persons.get("editor") or []
            surnames = [" ".join(p.last_names) for p in people]
            labels.append(author_year_label(surnames, entry.fields.get("year", "")))
        yield from distinct_labels(labels)


class AuthorYearStyle(PlainStyle):
    """pybtex's "plain" formatting with author-year labels."""

    default_label_style = AuthorYearLabelStyle


def setup(app):
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
