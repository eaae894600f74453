"""The ``data-sources`` directive: the Data page's account of the real data, from the manifest.

The Data page writes::

    ```{data-sources}
    ```

and the directive renders ``camlib.book.datapage.data_sources_markdown()`` in its place: a table
of every dataset (files, size, the chapters that read it, licence) and one section per dataset
(official release, the public copies, every change made, its digest). The markdown is parsed
as the page's own (MyST), so its headings, tables and links are the page's. Counts and sizes
come from ``camlib/data/manifest/``, the chapters from their notebooks' parameters: the page
cannot go stale when a dataset or a chapter changes.
"""

from __future__ import annotations

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

__all__ = ["DataSources", "setup"]


class DataSources(SphinxDirective):
    has_content = False

    def run(self) -> list[nodes.Node]:
        from camlib.book.datapage import data_sources_markdown
        from camlib.data.manifest import MANIFEST_DIR, SOURCES_FILE

        for path in [SOURCES_FILE, *sorted(MANIFEST_DIR.glob("*.tsv"))]:
            self.env.note_dependency(str(path))  # a changed manifest rebuilds the page
        container = nodes.container()
        lines = data_sources_markdown().splitlines()
        self.state.nested_parse(StringList(lines, source=self.get_source_info()[0]), self.content_offset, container)
        return container.children


def setup(app):
    app.add_directive("data-sources", DataSources)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
