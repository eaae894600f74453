"""The import graph of camlib: no two modules import each other, directly or through others.

Every module is parsed with ``ast`` (imports inside functions count: they
run, only later). The graph's nodes are module names; an edge ``a -> b``
means that ``a`` needs the namespace of ``b``:

- ``import camlib.x.y`` and ``from camlib.x import y`` where ``y`` is a
  submodule: an edge to ``camlib.x.y`` only. Python initializes the parent
  packages first, but it needs nothing from them (it binds the submodule on
  a partially initialized parent), so a submodule reached through
  ``camlib/__init__.py`` is not an edge to that ``__init__``.
- ``from camlib.x import name`` where ``name`` is not a submodule, and a
  plain ``import camlib``: an edge to the package ``camlib.x`` (its
  ``__init__.py``), whose re-exports must then be complete.

Imports under ``if TYPE_CHECKING:`` never run and are not edges.

The package has three layers (``camlib/__init__.py``): the library
(everything outside ``camlib.study`` and ``camlib.book``), the study and the
book. The library never imports the study or the book, the study never
imports the book.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import camlib

ROOT = Path(camlib.__file__).resolve().parent  # camlib/
PACKAGE = ROOT.name


def module_name(path: Path) -> str:
    parts = (PACKAGE, *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _imported(name: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The camlib modules that one import statement of module ``name`` needs (see the module docstring)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in MODULES}
    base = node.module or ""
    if node.level:  # relative: from the package of `name`
        package = name.split(".") if _is_package(name) else name.split(".")[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join(package + ([base] if base else []))
    if base not in MODULES:
        return set()
    found = set()
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        found.add(sub if sub in MODULES else base)
    return found


def _runtime_imports(tree: ast.AST):
    """Every import statement of ``tree`` that can run: not under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in _runtime_imports(ast.Module(body=[child], type_ignores=[])))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _runtime_imports(node)


def import_graph() -> dict[str, set[str]]:
    """``{module: the camlib modules it imports}`` over every module of camlib (top level and inside functions)."""
    graph = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        imports = _runtime_imports(tree)
        graph[name] = set().union(*(_imported(name, n) for n in imports)) - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle ``[a, b, ..., a]`` of ``graph`` (depth-first search), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for succ in sorted(graph.get(node, ())):
            if state.get(succ) == 1:
                return path[path.index(succ) :] + [succ]
            if succ not in state and (cycle := visit(succ)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_reads_imports_as_documented():
    graph = import_graph()
    assert {"camlib.models.heads", "camlib.models.surgery", "camlib.data.synthetic.common", "camlib.data"} <= set(
        MODULES
    )
    # a function-level import counts; a submodule import is an edge to the submodule, not to its package
    assert "camlib.study.features" in graph["camlib.study.crops"]
    assert "camlib.data.common" in graph["camlib.study.crops"] and "camlib.data" not in graph["camlib.study.crops"]
    # a package re-exports its submodules; camlib's own namespace loads them lazily (no import statement runs)
    assert {"camlib.models.heads", "camlib.models.registry"} <= graph["camlib.models"]
    assert graph["camlib"] == set()


def test_find_cycle_on_hand_made_graphs():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"x": {"y"}, "y": {"y2"}, "y2": {"y"}}) == ["y", "y2", "y"]


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, f"camlib has an import cycle: {' -> '.join(cycle)}"


def test_models_and_surgery_do_not_import_the_registry():
    graph = import_graph()
    assert graph["camlib.models.registry"] >= {"camlib.models.heads", "camlib.models.surgery"}
    assert (
        "camlib.models.surgery" not in graph["camlib.models.heads"]
        and "camlib.models.registry" not in graph["camlib.models.heads"]
    )
    assert (
        "camlib.models.heads" in graph["camlib.models.surgery"]
        and "camlib.models.registry" not in graph["camlib.models.surgery"]
    )


def test_code_fingerprint_scope_is_closed_under_imports():
    # A cached result computed by a module in the scope may run any code that module imports: that code is in
    # the scope too, or an edit of it would leave stale entries in the cache (camlib.study.cache, `code_fingerprint`).
    from camlib.study.cache import CODE_MODULES

    scope = {m for m in MODULES if any(m == c or m.startswith(c + ".") for c in CODE_MODULES)}
    assert {"camlib.study.training", "camlib.models.registry", "camlib.data.synthetic.localization"} <= scope
    assert not {"camlib", "camlib.viz", "camlib.book.report", "camlib.metrics.evaluate"} & scope
    graph = import_graph()
    outside = {f"{m} imports {n}" for m in scope for n in graph[m] if n not in scope}
    assert not outside, f"add to camlib.study.cache.CODE_MODULES (or move the import): {', '.join(sorted(outside))}"


def layer(module: str) -> str:
    """``"book"``, ``"study"`` or ``"library"``: the layer of a camlib module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ("study", "book") else "library"


def test_layers_depend_in_one_direction():
    allowed = {"library": {"library"}, "study": {"library", "study"}, "book": {"library", "study", "book"}}
    graph = import_graph()
    assert layer("camlib.cam.kernel") == "library" and layer("camlib.study.units") == "study"
    assert layer("camlib.book.report") == "book" and layer("camlib") == "library"
    wrong = sorted(
        f"{m} ({layer(m)}) imports {n} ({layer(n)})"
        for m in graph
        for n in graph[m]
        if layer(n) not in allowed[layer(m)]
    )
    assert not wrong, "the library never imports the study or the book; the study never imports the book: " + "; ".join(
        wrong
    )


def test_the_layer_check_can_fail():
    # A hand-made edge from the library to the book is reported.
    graph = {"camlib.cam.kernel": {"camlib.book.report"}, "camlib.study.units": {"camlib.cam.kernel"}}
    wrong = [(m, n) for m in graph for n in graph[m] if layer(n) == "book" and layer(m) != "book"]
    assert wrong == [("camlib.cam.kernel", "camlib.book.report")]


def test_import_camlib_is_light():
    # A fresh interpreter: `import camlib` loads no heavy optional dependency, nor the study or the book.
    import subprocess
    import sys

    code = (
        "import sys, camlib\n"
        "heavy = ('numba', 'sklearn', 'pycocotools', 'matplotlib', 'pandas', 'cv2', 'camlib.study', 'camlib.book')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"import camlib loaded {out}"


def test_the_namespace_is_slim_and_complete():
    import camlib

    assert len(camlib._EXPORTS) <= 30 and len(camlib.__all__) <= 40  # about 25 names and the 9 subpackages
    assert sorted(camlib.__all__) == sorted([*camlib._EXPORTS, *camlib._SUBPACKAGES])
    for name in camlib.__all__:
        assert getattr(camlib, name) is not None, name
    assert camlib.class_activation_maps is camlib.cam.kernel.class_activation_maps
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        camlib.nope  # noqa: B018
