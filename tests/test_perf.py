"""camlib.perf: the benchmarks' timing, inputs, the wsolevaluation-style peer and the chapters' times."""

from __future__ import annotations

import json

import pytest
import torch

from camlib.perf import chapter_times, contours_max_box_acc_v2, median_seconds, smooth_maps


def test_contours_peer_by_hand():
    # Two 3 x 3 blobs on a 12 x 12 map; the ground truth is the second. All contours are boxed (V2), so the
    # second blob's box (x, y, x + w, y + h) = (7, 7, 10, 10) meets the truth (7, 7, 10, 10): IoU 1 at every delta.
    m = torch.zeros(1, 12, 12)
    m[0, 1:4, 1:4] = 1.0
    m[0, 7:10, 7:10] = 0.8
    assert contours_max_box_acc_v2(m, [torch.tensor([[7, 7, 10, 10]])], [0.5]) == 1.0
    # The tight box (7, 7, 9, 9) has IoU 9 / 16 with the +1 box: a hit at 0.3 and 0.5, not at 0.7 -> 2/3.
    assert contours_max_box_acc_v2(m, [torch.tensor([[7, 7, 9, 9]])], [0.5]) == pytest.approx(2 / 3)
    # At tau 0.9 only the first blob (value 1) remains: its box (1, 1, 4, 4) misses (7, 7, 9, 9); the best tau wins.
    assert contours_max_box_acc_v2(m, [torch.tensor([[7, 7, 9, 9]])], [0.5, 0.9]) == pytest.approx(2 / 3)
    assert contours_max_box_acc_v2(m, [torch.tensor([[7, 7, 9, 9]])], [0.9]) == 0.0


def test_smooth_maps_and_timing():
    a, b = smooth_maps(3, 16, seed=1), smooth_maps(3, 16, seed=1)
    assert a.shape == (3, 16, 16) and a.dtype == torch.float32 and torch.equal(a, b)
    calls = []
    assert median_seconds(lambda: calls.append(1), repeats=3, warmup=2) >= 0 and len(calls) == 5
    with pytest.raises(ValueError, match="`repeats` must be at least 1, but got 0"):
        median_seconds(lambda: None, repeats=0)


def test_chapter_times_read_papermills_duration(tmp_path):
    done = {"cells": [], "metadata": {"papermill": {"duration": 12.5, "parameters": {"profile": "smoke"}}}}
    (tmp_path / "00_a.ipynb").write_text(json.dumps(done))
    (tmp_path / "01_b.ipynb").write_text(json.dumps({"cells": [], "metadata": {}}))  # never executed
    rows = chapter_times([tmp_path / "00_a.ipynb", tmp_path / "01_b.ipynb"])
    assert rows == [{"notebook": "00_a", "profile": "smoke", "seconds": 12.5}]
