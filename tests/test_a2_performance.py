"""Appendix A2 (performance) on its smoke profile: the tree and the reference agree, the peer is beside them,
and the cost table reads the executed chapters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_notebooks import _glued, _text

from camlib.book import runner

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.notebook
def test_a2_box_accuracies_agree_and_are_timed(executed):
    nb = executed("A2_performance")
    g = _glued(nb)
    assert g["a2_same"] == "identical"  # the tree and the labelling: the same MaxBoxAccV2
    assert g["a2_tree_ms"] > 0 and g["a2_speedup"] > 0 and g["a2_speedup_labelling"] > 0
    assert g["a2_wsol_same"] == "the same"  # wsolevaluation's convention equals the contours loop
    assert g["a2_runs_speedup"] > 0 and g["a2_runs_labelling"] > 0 and g["a2_chain_speedup"] > 0
    text = _text(nb)
    for method in (
        "component tree",
        "labelling per threshold",
        "contours loop",
        "wsolevaluation's convention",
        "camlib.components.runs",
        "OpenCV contours, per map",
        "whole chain (ms per image)",
    ):
        assert method in text
    assert "| camlib.components.runs |" in text and "| 100% |" in text  # the labelling's boxes are camlib's exactly
    assert "MaxBoxAccV2 over 50,000 maps" in text  # the targets table, graded
    if not (ROOT / "benchmarks" / "results" / "pipeline-cuda.jsonl").exists():
        assert "no GPU run is recorded yet" in text and "not measured" in text
    assert "no executed chapter in" in text  # the smoke run's chapters_dir holds no executed chapter


@pytest.mark.notebook
def test_a2_cost_table_reads_the_chapters_of_a_build(tmp_path):
    done = {
        "cells": [],
        "metadata": {"papermill": {"duration": 90.0, "parameters": {"profile": "default"}}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (tmp_path / "00_class_activation_maps.ipynb").write_text(json.dumps(done))
    path = runner.notebook_paths("A2")[0]
    out = runner.execute(path, profile="smoke", overrides={"chapters_dir": str(tmp_path)}, output_dir=tmp_path / "out")
    import nbformat

    text = _text(nbformat.read(out.output, as_version=4))
    assert "| 00_class_activation_maps | default | 90 | 1.5 |" in text
    assert "| 1 | 1.5 |" in text  # one chapter, 1.5 minutes in all
