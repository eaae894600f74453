"""benchmarks/bench_boxes.py: it runs, and writes one JSON line per operation and size."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_boxes.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_boxes", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_writes_one_row_per_operation_and_size(tmp_path, one_thread):
    out = tmp_path / "boxes.jsonl"
    assert _load().main(["--out", str(out), "--sizes", "16", "24", "--maps", "2", "--repeats", "1"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    ops = [
        "maxboxacc+v2 tree",
        "maxboxacc+v2 labelling",
        "maxboxaccv2 contours loop",
        "maxboxacc+v2 wsolevaluation",
        "components measure",
        "components label+stats",
        "authors boxes",
        "boxes runs",
        "boxes labelling",
        "boxes contours loop",
    ]
    assert [(r["operation"], r["size"]) for r in rows] == [(op, s) for s in (16, 24) for op in ops]
    assert all(r["maps"] == 2 and r["seconds_median"] > 0 and r["torch_threads"] == 1 for r in rows)
    tree, labelling, loop, wsol = (r["maxboxaccv2"] for r in rows[:4])
    assert tree == labelling and 0 <= tree <= 100  # the same accuracy, two ways
    assert loop == wsol  # wsolevaluation's convention, two ways


def test_bad_arguments_name_the_flag(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _load().main(["--out", str(tmp_path / "x.jsonl"), "--maps", "0"])
    assert "--maps must be a positive int, but got 0" in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()
