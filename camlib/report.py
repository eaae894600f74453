"""Tables that render as Markdown in a notebook and in the book."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["Table"]


class Table:
    """Rows of cells shown as a Markdown table (no truncation, unlike pandas' HTML).

    Args:
        rows: one mapping per row, column name -> value; the first row's
            keys give the columns unless ``columns`` is given.
        columns: the column order.

    Example:
        >>> print(Table([{"claim": "identity", "verdict": "reproduced"}])._repr_markdown_())
        | claim | verdict |
        |---|---|
        | identity | reproduced |
    """

    def __init__(self, rows: Sequence[Mapping[str, object]], columns: Sequence[str] | None = None) -> None:
        self.rows = [dict(r) for r in rows]
        self.columns = list(columns) if columns is not None else list(self.rows[0]) if self.rows else []

    @staticmethod
    def _cell(value: object) -> str:
        return str(value).replace("|", "&#124;").replace("\n", " ")

    def _repr_markdown_(self) -> str:
        lines = ["| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(self._cell(r.get(c, "")) for c in self.columns) + " |" for r in self.rows]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self._repr_markdown_()
