"""The notebook runner: selection, profiles, overrides, atomic outputs, failures."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import nbformat
import pytest

from camlib.book import runner


def _notebook(folder, source: str, name: str = "99_tiny") -> object:
    """A tiny notebook (no torch: fast kernel) with a parameters cell and one more cell."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('profile = "default"\nx = 1')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(source)]
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    path.with_suffix(".yml").write_text("smoke:\n  x: 2\ndefault: {}\npaper:\n  x: 3\n")
    return path


def test_notebook_selection():
    (first,) = runner.notebook_paths("00")
    assert first.name == "00_class_activation_maps.ipynb"
    assert runner.notebook_paths([first.stem]) == [first]
    assert runner.notebook_paths("all")[0] == first
    with pytest.raises(ValueError, match=r"Notebook selector '99' must match exactly one"):
        runner.notebook_paths("99")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("top_k=3", ("top_k", 3)),
        ("device=cuda", ("device", "cuda")),
        ("alpha=0.5", ("alpha", 0.5)),
        ("flag=true", ("flag", True)),
        ("data_root=", ("data_root", "")),
        ("sizes=[1, 2]", ("sizes", [1, 2])),
    ],
)
def test_parse_override(text, expected):
    assert runner.parse_override(text) == expected


def test_parse_override_needs_key_and_equals():
    with pytest.raises(ValueError, match="KEY=VALUE"):
        runner.parse_override("top_k")


def test_profiles(tmp_path):
    path = _notebook(tmp_path, "y = x")
    assert runner.load_profile(path, "smoke") == {"x": 2}
    assert runner.load_profile(path, "default") == {}
    with pytest.raises(ValueError, match="`profile` must be one of smoke, default, paper, but got 'fast'"):
        runner.load_profile(path, "fast")
    path.with_suffix(".yml").unlink()
    with pytest.raises(FileNotFoundError, match="profile file .*99_tiny.yml is missing"):
        runner.load_profile(path, "smoke")


def test_unknown_parameter_is_refused_before_a_kernel_starts(tmp_path, monkeypatch):
    path = _notebook(tmp_path, "y = x")
    import papermill

    def no_execution(*args, **kwargs):
        raise AssertionError("papermill must not run")

    monkeypatch.setattr(papermill, "execute_notebook", no_execution)
    with pytest.raises(
        ValueError, match=r"Unknown parameter\(s\) 'z' for 99_tiny.ipynb; its parameters are: profile, x"
    ):
        runner.execute(path, overrides={"z": 1}, output_dir=tmp_path / "out")
    assert not (tmp_path / "out" / path.name).exists()


def test_success_writes_the_output_only_when_complete(tmp_path):
    path = _notebook(tmp_path, "import os\nprint('x is', x)\nprint('cache:', os.environ.get('CAMLIB_CACHE'))")
    result = runner.execute(path, profile="paper", overrides={"x": 7}, output_dir=tmp_path / "out")
    assert result.output == tmp_path / "out" / path.name
    nb = nbformat.read(result.output, as_version=4)
    text = "".join(o["text"] for o in nb.cells[-1].outputs)
    assert "x is 7" in text  # override wins over the profile's x = 3
    # the kernel inherits the test session's cache (tests/conftest.py), so chapters share it, not the repository's
    assert f"cache: {os.environ['CAMLIB_CACHE']}\n" in text and "camlib-test-cache-" in text
    assert not (tmp_path / "out" / ".running").exists()  # the empty temporary folder is removed too
    # papermill's injected cell is hidden from the book; the chapter's own cells keep their tags
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and injected[0].metadata["tags"] == ["injected-parameters", "remove-cell"]
    assert nb.cells[0].metadata["tags"] == ["parameters"]


def test_failure_names_notebook_cell_and_error_and_keeps_the_partial_notebook(tmp_path):
    path = _notebook(tmp_path, "raise ValueError('boom')")
    out = tmp_path / "out"
    (out).mkdir()
    (out / path.name).write_text("earlier complete run")
    with pytest.raises(runner.NotebookError, match=r"99_tiny.ipynb failed in cell \d+ .*ValueError: boom"):
        runner.execute(path, output_dir=out)
    assert (out / "failed" / path.name).is_file()
    assert (out / path.name).read_text() == "earlier complete run"  # nothing lost
    assert not (out / ".running").exists()


def test_running_folder_of_another_run_is_kept(tmp_path):
    path = _notebook(tmp_path, "y = x")
    other = tmp_path / "out" / ".running" / "98_other.ipynb"  # another run, still writing into the same folder
    other.parent.mkdir(parents=True)
    other.write_text("half-written")
    runner.execute(path, output_dir=tmp_path / "out")
    assert (tmp_path / "out" / path.name).is_file()
    assert other.read_text() == "half-written" and list(other.parent.iterdir()) == [other]


def test_cli_exit_codes(tmp_path, capsys):
    assert runner.main(["99", "--output", str(tmp_path)]) == 2
    assert "must match exactly one" in capsys.readouterr().err
    assert runner.main(["00", "-p", "nonsense=1", "--output", str(tmp_path)]) == 1
    assert "Unknown parameter(s) 'nonsense'" in capsys.readouterr().err


def test_cli_explicit_path_that_does_not_exist_fails_naming_the_parameter(tmp_path, capsys):
    # `make notebook NB=00 P="image_dir=/does/not/exist"`: the check cell stops the run, exit code 1
    code = runner.main(["00", "--profile", "default", "-p", "image_dir=/does/not/exist", "--output", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 1
    assert (
        "Parameter `image_dir` must be a path under the data root or an existing folder of photos, "
        "but /does/not/exist does not exist." in err
    )
    assert err.startswith("FAILED: 00_class_activation_maps.ipynb failed in cell ")
    assert "$CAMLIB_DATA" not in err and "data/`" not in err  # no advice on the default data folders
    assert " done in " not in out and "notebook(s) executed" not in out
    name = "00_class_activation_maps.ipynb"
    assert not (tmp_path / name).exists() and not (tmp_path / ".running").exists()
    kept = nbformat.read(tmp_path / "failed" / name, as_version=4)  # as for any failed notebook
    ran = [c for c in kept.cells if c.cell_type == "code" and c.execution_count is not None]
    assert len(ran) <= 3 and ran[-1].outputs[-1]["ename"] == "ValueError"  # parameters, injected, check: no more


def test_hide_injected_parameters_tags_only_the_injected_cells():
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters", "remove-cell"]})
    injected = nbformat.v4.new_code_cell("x = 2", metadata={"tags": ["injected-parameters"]})
    hidden = nbformat.v4.new_code_cell("x = 3", metadata={"tags": ["injected-parameters", "remove-cell"]})
    plain = nbformat.v4.new_code_cell("y = x")
    nb.cells = [params, injected, nbformat.v4.new_markdown_cell("text"), plain, hidden]
    assert runner.hide_injected_parameters(nb) == 2
    assert injected.metadata["tags"] == ["injected-parameters", "remove-cell"]
    assert hidden.metadata["tags"] == ["injected-parameters", "remove-cell"]  # not tagged twice
    assert params.metadata["tags"] == ["parameters", "remove-cell"] and "tags" not in plain.metadata
    assert runner.hide_injected_parameters(nb) == 2 and injected.metadata["tags"].count("remove-cell") == 1
    nbformat.validate(nb)
    assert runner.hide_injected_parameters(nbformat.v4.new_notebook(cells=[plain])) == 0


def test_overrides_read_numbers_as_numbers_and_refuse_what_they_cannot_read():
    from camlib.book.runner import parse_override

    assert parse_override("lr=1e-1") == ("lr", 0.1) and parse_override("lr=2E3") == ("lr", 2000.0)
    assert parse_override("data_root=~") == ("data_root", "~")  # a home folder, not null
    assert parse_override("arch=nan") == ("arch", "nan") and parse_override("x=1e") == ("x", "1e")  # not numbers
    assert parse_override("lrs=[0.1, 1e-2]") == ("lrs", [0.1, 0.01])  # inside lists too
    with pytest.raises(ValueError, match=r"The override 'lrs=\[0.1' must hold a YAML value, but '\[0.1' is not one"):
        parse_override("lrs=[0.1")
    with pytest.raises(ValueError, match="cannot set the profile .* use --profile"):
        parse_override("profile=smoke")


def test_an_output_that_is_a_file_or_not_writable_is_refused_before_running(tmp_path, capsys):
    from camlib.book.runner import main

    afile = tmp_path / "out"
    afile.write_text("x")
    assert main(["00", "--output", str(afile)]) == 2
    assert f"`--output` must be a folder, but {afile} is a file." in capsys.readouterr().err
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if not os.access(locked, os.W_OK):  # root can write anywhere: nothing to check then
        assert main(["00", "--output", str(locked / "sub")]) == 2
        assert "must be a folder that can be created" in capsys.readouterr().err


def test_the_rerun_command_reads_back_as_the_same_overrides():
    from camlib.book.runner import parse_override, rerun_command

    overrides = {"seeds": [0, 1, 2], "lr": 0.001, "device": "cuda", "flag": True, "scale": [[0.6, 0.95]], "n": "7"}
    command = rerun_command(Path("notebooks/01_gap_vs_gmp.ipynb"), "default", overrides)
    assert command.startswith('make notebook NB=01 PROFILE=default P="') and command.endswith('"')
    said = command.split('P="', 1)[1][:-1].split(" ")  # make splits P at spaces: every value must hold none
    assert dict(parse_override(s) for s in said) == overrides  # "7" stays a string, 0.001 a number
    spaced = rerun_command(Path("00_x.ipynb"), "smoke", {"image_dir": "/my photos"})
    assert spaced.startswith("python -m camlib.book.runner 00 --profile smoke -p ")

    assert dict(parse_override(s) for s in shlex.split(spaced)[7::2]) == {"image_dir": "/my photos"}


def test_a_run_without_its_data_leaves_no_reference_to_what_it_did_not_draw():
    from camlib.book.runner import MISSING_TARGET, unlink_missing_targets

    new = nbformat.v4
    fig = {"mystnb": {"figure": {"name": "fig-03-maps", "caption": "c"}}}
    drawn = new.new_code_cell("plot()", metadata={"mystnb": {"figure": {"name": "fig-03-drawn", "caption": "c"}}})
    drawn.outputs = [new.new_output("display_data", data={"image/png": "iVBOR"})]
    table = new.new_code_cell('display(Table(rows).titled("Crops", "tbl-03-crops"))')
    shown = new.new_code_cell('display(Table(rows, caption="Boxes", name="tbl-03-boxes"))')
    shown.outputs = [
        new.new_output("display_data", data={"text/markdown": ":::{table} Boxes\n:name: tbl-03-boxes\n\n|a|\n:::"})
    ]
    prose = new.new_markdown_cell(
        "Maps ({numref}`fig-03-maps`), crops ({numref}`tbl-03-crops`): see {numref}`fig-03-maps`; boxes "
        "({numref}`tbl-03-boxes`), drawn ({numref}`fig-03-drawn`), elsewhere ({numref}`fig-01-other`)."
    )
    nb = new.new_notebook(cells=[prose, new.new_code_cell("plot()", metadata=fig), drawn, table, shown])
    assert unlink_missing_targets(nb, "03") == ["fig-03-maps", "tbl-03-crops"]
    assert nb.cells[0].source == (
        f"Maps, crops: see {MISSING_TARGET}; boxes ({{numref}}`tbl-03-boxes`), drawn ({{numref}}`fig-03-drawn`), "
        "elsewhere ({numref}`fig-01-other`)."  # another page's figure is not this notebook's to judge
    )
