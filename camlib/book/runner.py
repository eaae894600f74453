"""Execute the study's notebooks with papermill, by profile, with overrides.

    python -m camlib.book.runner all --profile default --output book/chapters
    python -m camlib.book.runner 00 --profile smoke -p device=cuda -p top_k=3

Each notebook ``notebooks/NAME.ipynb`` has its profiles in
``notebooks/NAME.yml`` (``smoke``, ``default``, ``paper``: values that
override the ``parameters`` cell). Names that the notebook does not declare
are refused before any kernel starts. A notebook is executed into
``OUTPUT/.running/`` and moved to ``OUTPUT/NAME.ipynb`` only when every cell
ran, so an interrupted or failed run never leaves a half-written chapter;
a failed one is kept for inspection in ``OUTPUT/failed/``, and ``.running/``
itself is removed once it is empty. The cell that papermill injects with the
run's parameters (tagged ``injected-parameters``) is tagged ``remove-cell``
too, so that the book never shows it.

Each executed notebook records its run in ``metadata["camlib"]``: the
profile, the commit (``camlib.book.provenance.git_commit``) and whether the
run required its real data; the summary (S1) refuses chapters whose runs
differ. ``--require-data`` (or ``$CAMLIB_REQUIRE_DATA=1``) makes absent real
data an error instead of a note; it is implied when ``-p`` names a data
location (``*_dir``, ``*weights``, ``places_*``), since a path the user typed
is not data left out on purpose. The command-line default output is
``_build/runs/<profile>``: only ``make book`` (``--output book/chapters``)
writes the book's chapters.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from camlib._checkout import checkout_root

__all__ = [
    "PROFILES",
    "RUN_KEY",
    "names_data",
    "ROOT",
    "NotebookError",
    "notebook_paths",
    "load_profile",
    "hide_injected_parameters",
    "unlink_missing_targets",
    "execute",
    "main",
    "rerun_command",
]

ROOT = checkout_root() or Path.cwd()  # the study's checkout (the book runs from one)
NOTEBOOKS = ROOT / "notebooks"
PROFILES = ("smoke", "default", "paper")
RUN_KEY = "camlib"  # the executed notebook's metadata key for its run: profile, commit, require_data


def names_data(key: str) -> bool:
    """Whether parameter ``key`` names a data location that a user who types it expects to exist.

    ``data_root`` does not: an empty root, or one holding some datasets only, is how a
    chapter is run without (some of) its real data.

    Example:
        >>> [names_data(k) for k in ("cub_dir", "weights", "reference_weights", "places_mean", "data_root", "top_k")]
        [True, True, True, True, False, False]
    """
    return key.endswith("_dir") or key.endswith("weights") or key.startswith("places_")


class NotebookError(RuntimeError):
    """A notebook failed; the message names it, the cell and the error."""


def notebook_paths(selection: str | list[str] = "all", folder: Path = NOTEBOOKS) -> list[Path]:
    """Notebooks by selector: ``"all"``, a number prefix (``"00"``), a stem or a path.

    Raises:
        ValueError: a selector matches no notebook or several.
    """
    selection = [selection] if isinstance(selection, str) else list(selection)
    # Chapters ("00_...") first, then appendices ("A1_..."), then the summary ("S1_..."), which reads the chapters.
    every = [
        p
        for pattern in ("[0-9][0-9]_*.ipynb", "A[0-9]_*.ipynb", "S[0-9]_*.ipynb")
        for p in sorted(folder.glob(pattern))
    ]
    chosen: list[Path] = []
    for sel in selection:
        if sel == "all":
            chosen += every
            continue
        path = Path(sel)
        if path.suffix == ".ipynb" and path.is_file():
            chosen.append(path.resolve())
            continue
        matches = [p for p in every if p.stem == sel or p.stem.startswith(f"{sel}_")]
        if len(matches) != 1:
            names = ", ".join(p.stem for p in every)
            raise ValueError(
                f"Notebook selector {sel!r} must match exactly one of: {names}; it matched {len(matches)}."
            )
        chosen += matches
    return list(dict.fromkeys(chosen))


def load_profile(notebook: Path, profile: str) -> dict[str, Any]:
    """The parameter values of ``profile`` from the notebook's ``.yml`` file.

    Raises:
        FileNotFoundError: the profile file is missing.
        ValueError: the profile is unknown or malformed.
    """
    if profile not in PROFILES:
        raise ValueError(f"`profile` must be one of {', '.join(PROFILES)}, but got {profile!r}.")
    path = notebook.with_suffix(".yml")
    if not path.is_file():
        raise FileNotFoundError(f"The profile file {path} is missing; it must hold the keys {', '.join(PROFILES)}.")
    profiles = yaml.safe_load(path.read_text()) or {}
    values = profiles.get(profile)
    if not isinstance(values, dict) and values is not None:
        raise ValueError(f"Profile {profile!r} in {path} must be a mapping of parameter values, but got {values!r}.")
    return dict(values or {})


def notebook_parameters(notebook: Path) -> dict[str, Any]:
    """Names and defaults of the notebook's ``parameters`` cell."""
    import papermill

    return {name: info["default"] for name, info in papermill.inspect_notebook(str(notebook)).items()}


_EXPONENT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")  # a number YAML 1.1 leaves a string


def parse_override(text: str) -> tuple[str, Any]:
    """``"key=value"`` with the value read as YAML (``3`` is an int, ``cuda`` a string).

    Two readings of YAML 1.1 that surprise on a command line are corrected:
    a number in exponent form without a dot (``1e-1``) is a float, not the
    string ``"1e-1"``, and ``~`` is the string ``"~"`` (a home folder), not null.

    Raises:
        ValueError: not ``KEY=VALUE``, ``profile`` (the runner's ``--profile`` sets it), or a value that is
            not YAML; the message names the override.

    Example:
        >>> parse_override("top_k=3"), parse_override("device=cuda"), parse_override("lr=1e-1")
        (('top_k', 3), ('device', 'cuda'), ('lr', 0.1))
    """
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"An override must read KEY=VALUE, but got {text!r}.")
    if key == "profile":
        raise ValueError(f"An override cannot set the profile ({text!r}): use --profile (make: PROFILE=...).")
    value = value.strip()
    if not value:
        return key, ""
    if value == "~":
        return key, "~"
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as err:
        problem = str(err).splitlines()[0]
        raise ValueError(
            f"The override {text!r} must hold a YAML value, but {value!r} is not one ({problem})."
        ) from None
    return key, _numbers(parsed)


def _numbers(value: Any) -> Any:
    """``value`` with every string YAML 1.1 left in exponent form (``"1e-1"``) read as the float it means."""
    if isinstance(value, str) and _EXPONENT.fullmatch(value):
        return float(value)
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    return value


INJECTED = "injected-parameters"  # papermill's tag of the cell it adds
HIDDEN = "remove-cell"  # the book's tag for a cell it leaves out (input and output)


def hide_injected_parameters(nb) -> int:
    """Tag papermill's injected-parameters cell(s) of ``nb`` with ``remove-cell``, in place.

    The cell only repeats the run's parameters, which the chapter's
    parameter table shows; the book leaves out a cell tagged ``remove-cell``.
    Tags already there are kept, and a cell is never tagged twice.

    Args:
        nb: an nbformat notebook (``NotebookNode``).

    Returns:
        How many cells are tagged (0 when papermill injected none).

    Example:
        >>> import nbformat
        >>> cell = nbformat.v4.new_code_cell("x = 2", metadata={"tags": ["injected-parameters"]})
        >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), cell])
        >>> hide_injected_parameters(nb), nb.cells[1].metadata["tags"], nb.cells[0].metadata.get("tags")
        (1, ['injected-parameters', 'remove-cell'], None)
    """
    count = 0
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if INJECTED in tags:
            if HIDDEN not in tags:
                cell.metadata["tags"] = [*tags, HIDDEN]
            count += 1
    return count


_NUMREF = re.compile(r"(\s?\()?\{numref\}`([\w-]+)`(\))?")
_DEFINED_TABLE = re.compile(r"^:name: (tbl-[\w-]+)$", re.MULTILINE)
MISSING_TARGET = "a figure or table shown with the real data"


def unlink_missing_targets(nb, label: str) -> list[str]:
    """Drop the prose's references to this notebook's figures and tables that the run did not draw, in place.

    A chapter run without its real data draws no figure or table from them, and a ``{numref}`` to one
    would be a broken reference (``-W`` fails the build). A reference in parentheses, ``" ({numref}`x`)"``,
    is removed; any other becomes "a figure or table shown with the real data". Only the notebook's own
    targets are touched: the figures its cells caption (``mystnb.figure.name``) and the names that carry
    its label (``fig-03-...``, ``tbl-03-...`` for ``label="03"``).

    Returns:
        The names unlinked.

    Example:
        >>> import nbformat
        >>> fig = nbformat.v4.new_code_cell("plot()", metadata={"mystnb": {"figure": {"name": "fig-x", "caption": "c"}}})
        >>> text = nbformat.v4.new_markdown_cell("The maps ({numref}`fig-x`). See {numref}`fig-x`.")
        >>> nb = nbformat.v4.new_notebook(cells=[text, fig])
        >>> unlink_missing_targets(nb, "03"), nb.cells[0].source
        (['fig-x'], 'The maps. See a figure or table shown with the real data.')
    """
    prefixes = (f"fig-{label.lower()}-", f"tbl-{label.lower()}-")
    owned, drawn = set(), set()
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            owned.update(n for _, n, _ in _NUMREF.findall(cell.source) if n.startswith(prefixes))
            continue
        name = cell.metadata.get("mystnb", {}).get("figure", {}).get("name")
        shown = [o for o in cell.get("outputs", []) if o.get("output_type") in ("display_data", "execute_result")]
        if name:
            owned.add(name)
            if any(k.startswith("image/") for o in shown for k in o.get("data", {})):
                drawn.add(name)
        for o in shown:
            drawn.update(_DEFINED_TABLE.findall("".join(o.get("data", {}).get("text/markdown", ""))))
    missing = owned - drawn

    def replace(m: re.Match) -> str:
        if m.group(2) not in missing:
            return m.group(0)
        if m.group(1) and m.group(3):  # " (ref)": the parenthesis goes with it
            return ""
        return (m.group(1) or "") + MISSING_TARGET + (m.group(3) or "")

    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = _NUMREF.sub(replace, cell.source)
    return sorted(missing)


@dataclass
class Result:
    notebook: Path
    output: Path
    seconds: float


def execute(
    notebook: Path,
    *,
    profile: str = "default",
    overrides: dict[str, Any] | None = None,
    output_dir: Path = ROOT / "book" / "chapters",
    progress: bool = False,
    require_data: bool = False,
) -> Result:
    """Execute one notebook on ``profile`` + ``overrides``; see the module docstring.

    With ``require_data``, the kernel runs with ``$CAMLIB_REQUIRE_DATA=1``: a real
    part whose data are absent fails the notebook (``camlib.book.realdata``).

    Raises:
        ValueError: an override or profile value names no parameter of the notebook.
        NotebookError: a cell failed (names the notebook, the cell and the error).
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    notebook = Path(notebook).resolve()
    params = {**load_profile(notebook, profile), **(overrides or {}), "profile": profile}
    declared = notebook_parameters(notebook)
    if "chapters_dir" in declared and "chapters_dir" not in params:
        out = Path(output_dir).resolve()  # the summary reads the chapters run beside it; shown relative when it can be
        params["chapters_dir"] = out.relative_to(ROOT).as_posix() if out.is_relative_to(ROOT) else str(out)
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise ValueError(
            f"Unknown parameter(s) {', '.join(map(repr, unknown))} for {notebook.name}; "
            f"its parameters are: {', '.join(declared)}."
        )
    output_dir = Path(output_dir).resolve()
    running = output_dir / ".running" / notebook.name
    failed = output_dir / "failed" / notebook.name
    final = output_dir / notebook.name
    running.parent.mkdir(parents=True, exist_ok=True)
    from camlib.book.provenance import RERUN_ENV
    from camlib.data.locate import REQUIRE_ENV
    from camlib.data.locate import require_data as required_by_environment

    require_data = require_data or required_by_environment()
    saved = {name: os.environ.get(name) for name in (REQUIRE_ENV, RERUN_ENV)}
    os.environ[REQUIRE_ENV] = "1" if require_data else "0"  # the kernel inherits the runner's environment
    os.environ[RERUN_ENV] = rerun_command(notebook, profile, overrides)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(notebook),
            str(running),
            parameters=params,
            cwd=str(ROOT),
            kernel_name="python3",
            progress_bar=progress,
            log_output=False,
        )
    except BaseException as err:
        failed.parent.mkdir(parents=True, exist_ok=True)
        if running.exists():
            os.replace(running, failed)
        _remove_if_empty(running.parent)
        if isinstance(err, PapermillExecutionError):
            raise NotebookError(
                f"{notebook.name} failed in cell {err.cell_index} (execution count {err.exec_count}): "
                f"{err.ename}: {err.evalue}\nThe partially executed notebook is kept at {failed}."
            ) from None
        raise
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    import nbformat

    from camlib.book.provenance import git_commit

    executed = nbformat.read(running, as_version=4)
    hide_injected_parameters(executed)
    unlink_missing_targets(executed, notebook.stem.split("_", 1)[0])  # a run without its data drew less
    executed.metadata[RUN_KEY] = {"profile": profile, "commit": git_commit(), "require_data": require_data}
    nbformat.write(executed, running)
    os.replace(running, final)
    _remove_if_empty(running.parent)
    failed.unlink(missing_ok=True)
    _remove_if_empty(failed.parent)  # a good rerun leaves no empty failed/ behind
    return Result(notebook, final, time.perf_counter() - start)


def _override_text(value: Any) -> str:
    """One override's value as ``parse_override`` reads it back: plain, or JSON (which YAML reads) without spaces."""
    if isinstance(value, str):
        plain = not re.search(r"[\s'\"]", value) and yaml.safe_load(value) == value
        return value if plain else "'" + value.replace("'", "''") + "'"
    return json.dumps(value, separators=(",", ":"))


def rerun_command(notebook: Path, profile: str, overrides: Mapping[str, Any] | None = None) -> str:
    """The command that runs ``notebook`` again with ``profile`` and the same ``overrides``.

    ``make notebook NB=.. PROFILE=.. P="key=value ..."``; ``make`` splits ``P`` at spaces, so a value
    with a space in it gets the runner's own command line instead, one quoted ``-p`` per override.

    Example:
        >>> rerun_command(Path("notebooks/03_cub_fine_grained.ipynb"), "default")
        'make notebook NB=03 PROFILE=default'
        >>> print(rerun_command(Path("03_cub.ipynb"), "smoke", {"seeds": [0, 1], "device": "cuda", "lr": 0.01}))
        make notebook NB=03 PROFILE=smoke P="seeds=[0,1] device=cuda lr=0.01"
        >>> print(rerun_command(Path("00_cam.ipynb"), "default", {"image_dir": "/my photos"}))
        python -m camlib.book.runner 00 --profile default -p 'image_dir='"'"'/my photos'"'"''
    """
    label = Path(notebook).stem.split("_", 1)[0]
    said = [f"{key}={_override_text(value)}" for key, value in (overrides or {}).items()]
    if not said:
        return f"make notebook NB={label} PROFILE={profile}"
    if not any(re.search(r"\s", s) for s in said):
        return f'make notebook NB={label} PROFILE={profile} P="{" ".join(said)}"'
    import shlex

    return f"python -m camlib.book.runner {label} --profile {profile} " + " ".join(f"-p {shlex.quote(s)}" for s in said)


def _writable_folder(folder: Path) -> Path:
    """``folder``, created if needed, after checking that executed notebooks can be written there.

    Raises:
        ValueError: ``folder`` is a file, cannot be created, or is not writable (the message names it).
    """
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"`--output` must be a folder, but {folder} is a file.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"`--output` must be a folder that can be created, but {folder}: {err.strerror}.") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"`--output` must be a writable folder, but {folder} is not writable.")
    return folder


def _remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` if it is empty; a folder that still holds another run's notebook stays."""
    try:
        folder.rmdir()
    except OSError:  # not empty (another run writes there), or already gone
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m camlib.book.runner", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", default=["all"], help="'all', '00', a notebook stem or path")
    parser.add_argument("--profile", default="default", choices=PROFILES)
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a parameter (value read as YAML); repeatable",
    )
    parser.add_argument(
        "--output",
        default=None,
        help="folder for the executed notebooks (default _build/runs/<profile>; the book's is book/chapters)",
    )
    parser.add_argument("--progress", action="store_true", help="show papermill's per-cell progress bar")
    parser.add_argument(
        "--require-data",
        action="store_true",
        help="fail when a chapter's real data are absent (implied by -p naming a data location)",
    )
    args = parser.parse_args(argv)
    try:
        paths = notebook_paths(args.notebooks)
        overrides = dict(parse_override(p) for p in args.param)
        output = _writable_folder(Path(args.output or ROOT / "_build" / "runs" / args.profile))
        from camlib.data.locate import require_data as required_by_environment

        require = args.require_data or required_by_environment() or any(map(names_data, overrides))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    total = time.perf_counter()
    for i, path in enumerate(paths, 1):
        print(f"[{i}/{len(paths)}] {path.stem} (profile {args.profile}) ...", flush=True)
        try:
            result = execute(
                path,
                profile=args.profile,
                overrides=overrides,
                output_dir=output,
                progress=args.progress,
                require_data=require,
            )
        except (ValueError, FileNotFoundError, NotebookError) as err:
            print(f"FAILED: {err}", file=sys.stderr, flush=True)
            return 1
        except KeyboardInterrupt:
            print(f"interrupted: {path.stem} was not finished; nothing of it was written to {output}", file=sys.stderr)
            return 130
        print(f"[{i}/{len(paths)}] {path.stem} done in {result.seconds:.1f} s -> {result.output}", flush=True)
    print(f"{len(paths)} notebook(s) executed in {time.perf_counter() - total:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
