"""Every notebook: committed clean, one parameters cell checked by camlib, runs on its smoke profile."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import nbformat
import papermill
import pytest
import yaml

from camlib.book import runner

NOTEBOOKS = runner.notebook_paths("all")
IDS = [p.stem for p in NOTEBOOKS]


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _parameter_names(cell) -> list[str]:
    names = []
    for node in ast.parse(cell.source).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, (
            f"the parameters cell must hold plain assignments only, got: {ast.unparse(node)}"
        )
        ast.literal_eval(node.value)  # plain values only: raises on anything else
        names.append(node.targets[0].id)
    return names


def _checked_names(cell) -> list[str]:
    """The keys of the spec passed to camlib.book.params.check_params in a cell."""
    for node in ast.walk(ast.parse(cell.source)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "check_params":
            spec = node.args[1]
            assert isinstance(spec, ast.Dict)
            return [ast.literal_eval(k) for k in spec.keys]
    raise AssertionError(
        "the cell after the parameters cell must call camlib.book.params.check_params(globals(), {...})"
    )


def test_there_are_notebooks():
    assert "00_class_activation_maps" in IDS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_without_outputs_and_one_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = _code_cells(nb)
    assert all(c.outputs == [] and c.execution_count is None for c in code), "commit notebooks without outputs"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"exactly one cell must be tagged 'parameters', found {len(tagged)}"
    assert tagged[0] is code[0], "the parameters cell must be the first code cell"
    assert nb.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_parameters_are_plain_declared_and_checked(path):
    nb = nbformat.read(path, as_version=4)
    code = _code_cells(nb)
    names = _parameter_names(code[0])
    assert "profile" in names and "device" in names
    # papermill must see every one of them (it skips lines with two '=': none in comments)
    assert list(papermill.inspect_notebook(str(path))) == names
    assert _checked_names(code[1]) == names, "check_params must name every parameter, in order"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_profiles_name_only_declared_parameters(path):
    profiles = yaml.safe_load(path.with_suffix(".yml").read_text())
    assert set(profiles) == set(runner.PROFILES)
    names = set(_parameter_names(_code_cells(nbformat.read(path, as_version=4))[0]))
    for profile, values in profiles.items():
        values = values or {}
        assert isinstance(values, dict), profile
        assert set(values) <= names - {"profile"}, f"profile {profile!r} sets unknown parameters"


def _glued(nb) -> dict[str, object]:
    """The values glued with myst_nb.glue in an executed notebook."""
    out = {}
    for cell in _code_cells(nb):
        for output in cell.outputs:
            meta = output.get("metadata", {}).get("scrapbook")
            if meta:
                text = output["data"][meta.get("mime_prefix", "") + "text/plain"]
                try:
                    out[meta["name"]] = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    out[meta["name"]] = text
    return out


def _text(nb) -> str:
    return json.dumps([c.get("outputs", []) for c in _code_cells(nb)])


def _markdown(nb) -> str:
    """Every Markdown output of the executed notebook, as the book renders it (not JSON-escaped)."""
    return "\n".join(
        "".join(o["data"]["text/markdown"])
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "text/markdown" in o.get("data", {})
    )


def _multiple(value: float, step: float) -> bool:
    """``value`` (rounded to 0.1) is ``k * step`` for a whole ``k``: a percentage of a known number of images."""
    return abs(value - step * round(value / step)) <= 0.051


def _claims(nb) -> dict:
    """The claim rows an executed chapter glued, by key."""
    from camlib.book.report import read_claims

    return {c.key: c for c in read_claims([nb.metadata["camlib_output"]])}


def _checked_claims(nb, keys: list[str]) -> dict:
    """The chapter's claim rows, checked: the keys in order, each measured row recomputes to its verdict by the
    book's rule, and each verdict is shown in the page and glued."""
    from camlib.book.verdicts import Verdict

    claims = _claims(nb)
    assert list(claims) == keys
    for c in claims.values():
        if c.rule:  # measured: the rule decides (ready verdicts have no rule to recompute)
            assert c.recompute() == Verdict(c.verdict, c.reason), c.key
        assert f"**{c.verdict}**" in _text(nb), c.key
        assert _glued(nb)[f"claim_{c.key}_verdict"] == c.verdict
        if c.kind == "paper" and c.paper_effect == c.paper_effect:  # beside the paper's effect: on its metric
            assert c.metric and c.metric == c.paper_metric, (c.key, c.metric, c.paper_metric)
    return claims


def _has(relative: str) -> bool:
    """The sample photos and the weights are there (``_has_data``), and so is ``relative`` under the data root."""
    from camlib.data import find_data

    try:
        find_data(relative)
    except FileNotFoundError:
        return False
    return _has_data()


def _has_data() -> bool:
    from camlib.data import find_data

    try:
        find_data("cam-samples")
        find_data("weights/squeezenet1_0-deepcompression-caffe.pth")
    except FileNotFoundError:
        return False
    return True


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_runs_on_smoke_profile(path, executed):
    nb = executed(path.stem)
    assert not any(o.get("output_type") == "error" for c in _code_cells(nb) for o in c.outputs)
    last = _code_cells(nb)[-1].outputs
    provenance = json.dumps(last)
    assert "git commit" in provenance and "| profile | smoke |" in provenance and "wall time" in provenance
    # every page ends with the command that runs it again (camlib.book.runner.rerun_command, set by the runner)
    assert (
        f"**Re-run this page** with the parameters it ran with: `make notebook NB={path.stem[:2]} PROFILE=smoke`"
        in provenance
    )
    assert not (Path(nb.metadata["camlib_output"]).parent / ".running" / path.name).exists()
    for cell in _code_cells(nb):  # a captioned figure cell displays one thing: two would be two targets of one name
        if "figure" in cell.metadata.get("mystnb", {}):
            shown = [o for o in cell.outputs if o.get("output_type") in ("display_data", "execute_result")]
            assert len(shown) <= 1, f"captioned cell {cell.id} displays {len(shown)} outputs: the -W build fails"


@pytest.mark.notebook
def test_wrong_type_fails_before_any_work_naming_the_parameter(tmp_path):
    path = runner.notebook_paths("00")[0]
    with pytest.raises(runner.NotebookError, match=r"Parameter `top_k` must be an int in \[2, 20\], but got 'five'"):
        runner.execute(path, profile="smoke", overrides={"top_k": "five"}, output_dir=tmp_path)
    kept = nbformat.read(tmp_path / "failed" / path.name, as_version=4)
    # the error is in the checking cell: no cell after it ran
    executed = [c for c in _code_cells(kept) if c.execution_count is not None]
    assert executed[-1].outputs[-1]["output_type"] == "error"
    assert len(executed) <= 3  # parameters, injected parameters, check
    assert not (tmp_path / path.name).exists()


@pytest.mark.notebook
def test_plain_papermill_refuses_an_unknown_parameter(tmp_path):
    path = runner.notebook_paths("00")[0]
    with pytest.raises(papermill.PapermillExecutionError, match=r"Unknown parameter\(s\) 'topk'"):
        papermill.execute_notebook(
            str(path),
            str(tmp_path / "out.ipynb"),
            parameters={"topk": 3},
            kernel_name="python3",
            progress_bar=False,
            cwd=str(runner.ROOT),
        )


def _literal(node: ast.expr) -> bool:
    """Whether ``node`` is a plain value (a number, a string, a list or dict of them, a negative number)."""
    try:
        ast.literal_eval(node)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_a_chapter_is_prose_over_camlib(path):
    """No helper defined in a notebook (it belongs in camlib, with a test), short code cells, setup hidden."""
    nb = nbformat.read(path, as_version=4)
    code = _code_cells(nb)
    for cell in code:
        tree = ast.parse(cell.source)
        defined = [
            n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        ]
        named_lambdas = [
            t.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Lambda)
            for t in n.targets
            if isinstance(t, ast.Name)
        ]
        assert not defined + named_lambdas, f"cell {cell.id} defines {defined + named_lambdas}: move them to camlib"
        if "parameters" in cell.metadata.get("tags", []):  # plain values papermill overrides: no code, any length
            plain = all(
                isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)
                and _literal(n.value)
                for n in tree.body
            )  # fmt: skip
            assert plain, f"the parameters cell {cell.id} must hold only `name = literal` lines"
            continue
        lines = [line for line in cell.source.splitlines() if line.strip()]
        assert len(lines) <= 45, f"cell {cell.id} has {len(lines)} lines of code: split it or move code to camlib"
    assert "remove-cell" in code[0].metadata.get("tags", []), "the parameters cell is hidden in the book"
    hidden = [c for c in code if {"remove-cell", "hide-input"} & set(c.metadata.get("tags", []))]
    assert len(hidden) >= len(code) - 3, "setup, figure and glue cells are hidden (remove-cell / hide-input)"
    prose = sum(
        len([line for line in c.source.splitlines() if line.strip()]) for c in nb.cells if c.cell_type == "markdown"
    )
    shown = sum(
        len([line for line in c.source.splitlines() if line.strip()])
        for c in code
        if not {"remove-cell", "hide-input"} & set(c.metadata.get("tags", []))
    )
    assert prose > shown, f"{path.name}: {prose} lines of prose against {shown} of visible code"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_figure_is_referenced_by_its_number(path):
    """A captioned figure (``mystnb.figure.name``) is named in the prose as {numref}`name` ("Fig. 03.2"), not
    as "the figure above", which a reader cannot find once the page reflows."""
    nb = nbformat.read(path, as_version=4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    names = [c.metadata.get("mystnb", {}).get("figure", {}).get("name") for c in _code_cells(nb)]
    figures = [n for n in names if n]
    assert all(names[i] for i, c in enumerate(_code_cells(nb)) if "figure" in c.metadata.get("mystnb", {}))
    missing = [n for n in figures if f"{{numref}}`{n}`" not in prose]
    assert missing == [], f"{path.name}: figures never referenced by number: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_table_is_numbered_captioned_and_referenced(path):
    """A table a chapter shows is a numbered, captioned table (``Table(...).titled(caption, name)``, a DataFrame
    through ``Table.frame``) and the prose names it as {numref}`name`; the claim table is ``tbl-<label>-claims``."""
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in _code_cells(nb))
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    bare = []
    for m in re.finditer(
        r"display\(", code
    ):  # every displayed object: prose, a note, the claim table, or a titled Table
        depth, end = 0, m.end() - 1
        for end in range(m.end() - 1, len(code)):
            depth += {"(": 1, ")": -1}.get(code[end], 0)
            if depth == 0:
                break
        shown = code[m.end() : end]
        if not (re.match(r"(Markdown|claims\b|t\b|\w+_part\.note)", shown) or ".titled(" in shown):
            bare.append(shown.split("\n")[0][:60])
    assert bare == [], f"{path.name}: shown without a number and a caption (not a titled Table): {bare}"
    names = re.findall(r"\.titled\([^\n]*?, '(tbl-[\w-]+)'\)", code)
    if "ClaimTable(" in code:
        names.append(f"tbl-{path.stem.split('_', 1)[0].lower()}-claims")
    missing = sorted({n for n in names if f"{{numref}}`{n}`" not in prose})
    assert missing == [], f"{path.name}: tables never referenced by number: {missing}"


# What the book renders of an output: myst-nb's HTML priority, first match wins.
RENDER_PRIORITY = ("text/html", "image/svg+xml", "image/png", "image/jpeg", "text/markdown", "text/latex", "text/plain")
REPR = re.compile(
    r"\b(Claim|Params|Verdict|Interval|Item|Record|BoxReport|CAMBoxes|Table)\(|<(Figure|matplotlib|Axes)\b"
)
# the tests' own folders (/tmp/pytest-of-<user>/...), given to a run as parameters, are not a build's paths
ABSOLUTE = re.compile(r"(?<![\w:/.~])/(tmp(?!/pytest-of-)|work|home|root|Users|var|opt|usr|mnt|srv)/")
NAN_CELL = re.compile(r"\|\s*(nan|NaN)\s*(?=\|)|<td>\s*(nan|NaN)\s*</td>")
TRUNCATED = re.compile(r"\w\.\.\.\s*(\||</td>|</th>)|<td>\.\.\.</td>")
DOUBLED = re.compile(r"\b([A-Za-z]{2,})\s+\1\b", re.IGNORECASE)


def _rendered(nb) -> list[tuple[str, str, str]]:
    """``(cell id, mime type, text)`` of every output the book shows: hidden cells and glue left out."""
    shown = []
    for cell in _code_cells(nb):
        tags = cell.metadata.get("tags", [])
        if "remove-cell" in tags or "remove-output" in tags:
            continue
        for output in cell.outputs:
            if output.get("output_type") == "stream":
                shown.append((cell.get("id", "?"), "stream", "".join(output.get("text", ""))))
                continue
            data = output.get("data", {})
            if output.get("metadata", {}).get("scrapbook") or not data:
                continue
            mime = next((m for m in RENDER_PRIORITY if m in data), None)
            if mime and not mime.startswith("image/"):
                shown.append((cell.get("id", "?"), mime, "".join(data[mime])))
    return shown


def _leftovers(nb) -> list[str]:
    """What a reader should never see on a page: a Python repr, a build's absolute path, NaN in a table cell,
    pandas' truncation, a doubled word."""
    found = []
    for cell, mime, text in _rendered(nb):
        prose = re.sub(r"`[^`]*`", "", text) if mime == "text/markdown" else ""
        for what, pattern, where in (
            ("a Python repr", REPR, text),
            ("an absolute path", ABSOLUTE, text),
            ("NaN in a table cell", NAN_CELL, text),
            ("pandas' truncation", TRUNCATED, text),
            ("a doubled word", DOUBLED, prose),
        ):
            if (m := pattern.search(where)) is not None:
                found.append(f"cell {cell} ({mime}): {what}: ...{where[max(0, m.start() - 40) : m.end() + 40]!r}...")
    return found


def test_the_leftover_check_finds_what_it_looks_for():
    """Planted cases: each kind is found; a clean page passes."""
    import nbformat

    def page(mime: str, text: str):
        out = nbformat.v4.new_output("display_data", data={mime: text})
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("", outputs=[out])])

    planted = {
        "a Python repr": page("text/plain", "Params(profile='default', device='cpu')"),
        "an absolute path": page("text/markdown", "Photos from `/tmp/ci-clone/data/cam-samples`."),
        "NaN in a table cell": page("text/markdown", "| a | b |\n|---|---|\n| 1.0 | nan |"),
        "pandas' truncation": page("text/html", "<table><tr><td>dining t...</td></tr></table>"),
        "a doubled word": page("text/markdown", "The maps maps are wider."),
    }
    for what, nb in planted.items():
        assert [f for f in _leftovers(nb) if what in f], what
    clean = page("text/markdown", "Photos from `cam-samples`: | 1.0 | 2.0 | and 1/2 of them, e.g. a/b.")
    assert _leftovers(clean) == []
    hidden = page("text/plain", "Params(x=1)")
    hidden.cells[0].metadata["tags"] = ["remove-output"]
    assert _leftovers(hidden) == []


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_leftovers_on_the_page(path, executed):
    assert _leftovers(executed(path.stem)) == []
