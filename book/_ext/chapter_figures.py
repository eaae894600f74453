"""Figure numbers per chapter, after the chapter's own label: "Fig. 03.2" is chapter 03's second figure.

Sphinx numbers figures through the whole book (``numfig_secnum_depth: 0``), or after
the section numbers of a numbered toctree. The second would also put a section number
before every chapter title, which already starts with its label ("4. 03 · Fine-grained
..." for the fifth page of the toc, its figures 4.1, 4.2, ...). This extension keeps
the book unnumbered and renumbers the figures once Sphinx has numbered them
(``env-get-updated``, after the toctree collector), document by document and in the
same order: the figures of ``book/chapters/03_cub_fine_grained`` become 03.1, 03.2,
..., those of ``A1_benchmarks`` A1.1, ..., of ``S1_summary`` S1.1; a page with no
label in its name (``book/method``) numbers its own from 1. Captions and
``{numref}`` references read the same numbers.
"""

from __future__ import annotations

import re

__all__ = ["chapter_label", "renumber", "setup"]

_LABEL = re.compile(r"([0-9]{2}|[A-Z][0-9])_")


def chapter_label(docname: str) -> str | None:
    """The label that opens a chapter's file name, or None for a page that has none.

    Example:
        >>> chapter_label("book/chapters/03_cub_fine_grained"), chapter_label("book/method")
        ('03', None)
    """
    found = _LABEL.match(docname.rsplit("/", 1)[-1])
    return found.group(1) if found else None


def renumber(app, env) -> list[str]:
    """Renumber each document's figures (and any other numbered kind) from 1, after its chapter label.

    Args:
        app: the Sphinx application (unused).
        env: the build environment; ``env.toc_fignumbers`` is
            ``{docname: {figtype: {node id: number tuple}}}``, as Sphinx's toctree
            collector numbered it (in document order), and is rewritten in place.

    Returns:
        The documents whose numbers changed (Sphinx writes them again).
    """
    changed = []
    for docname, by_type in env.toc_fignumbers.items():
        label = chapter_label(docname)
        prefix = (label,) if label else ()
        numbers = {
            figtype: {node: (*prefix, n) for n, node in enumerate(sorted(ids, key=ids.get), start=1)}
            for figtype, ids in by_type.items()
        }
        if numbers != by_type:
            env.toc_fignumbers[docname] = numbers
            changed.append(docname)
    return changed


def setup(app):
    app.connect("env-get-updated", renumber, priority=900)  # after the toctree collector's numbering (500)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
