"""camlib.book.perf: the benchmarks' timing, inputs, the wsolevaluation-style peer and the chapters' times."""

from __future__ import annotations

import json

import pytest
import torch

from camlib.book.perf import chapter_times, contours_max_box_acc_v2, median_seconds, smooth_maps


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


def test_contours_largest_boxes_rank_by_polygon_area():
    from camlib.book.perf import contours_largest_boxes

    m = torch.zeros(2, 10, 10, dtype=torch.bool)
    m[0, 1:3, 1:3] = True  # a 2 x 2 block (contour area 1) ...
    m[0, 8, :7] = True  # ... against a 7-pixel line (area 0): the block
    assert contours_largest_boxes(m).tolist() == [[1, 1, 2, 2], [0, 0, 0, 0]]


def test_demo_cam_boxes_scale_by_the_range_not_the_max():
    from camlib.book.perf import demo_cam_boxes

    # One unit, one class, a 1 x 3 map (0, 5, 10): min-max gives (0, 127, 255); after a nearest-free resize to
    # 1 x 3 (no change), 20% of 255 keeps the last two pixels.
    f = torch.tensor([[[[0.0, 5.0, 10.0]]]])
    assert demo_cam_boxes(f, torch.ones(1, 1), torch.tensor([[0]]), (1, 3)).tolist() == [[[1, 0, 2, 0]]]
    # Shifted by +100: the max rule would keep all three pixels; the range rule still keeps two.
    assert demo_cam_boxes(f + 100, torch.ones(1, 1), torch.tensor([[0]]), (1, 3)).tolist() == [[[1, 0, 2, 0]]]


def test_read_results_skips_a_half_written_line(tmp_path):
    from camlib.book.perf import read_results

    (tmp_path / "pipeline-cpu.jsonl").write_text('{"method": "forward", "batch": 1}\n{"method": "cam')
    (tmp_path / "notes.txt").write_text("ignored")
    assert read_results(tmp_path) == {"pipeline-cpu": [{"method": "forward", "batch": 1}]}
    assert read_results(tmp_path / "missing") == {}


def test_performance_targets_grade_the_recorded_gpu_runs():
    from camlib.book.perf import performance_targets

    def row(method, batch, seconds, date="2026-12-01T10:00:00+00:00"):
        return {
            "method": method,
            "batch": batch,
            "seconds_median": seconds,
            "images_per_second": batch / seconds,
            "date": date,
        }

    old = [row("forward", 256, 1.0, "2026-11-01T10:00:00+00:00"), row("camlib", 256, 9.0, "2026-11-01T10:00:00+00:00")]
    cuda = old + [
        row("forward", 256, 0.100),
        row("camlib", 256, 0.104),
        row("torchcam", 256, 0.11),
        row("grad-cam", 256, 0.9),
    ]
    boxes = [
        {
            "operation": "maxboxacc+v2 tree (host)",
            "maps": 1000,
            "seconds_median": 1.5,
            "finished": "2026-12-01T10:00:00Z",
        }
    ]
    rows = performance_targets(
        tree_speedup=12.0,
        tree_ns_per_pixel=20.0,
        runs_speedup=0.5,
        chain_speedup=3.0,
        pipeline_cuda=cuda,
        boxes_cuda=boxes,
    )
    assert [r["grade"] for r in rows] == ["met", "missed", "missed", "met", "missed", "missed"]
    assert rows[3]["measured"] == "+4.0% at batch 256"  # the latest run only, not November's +800%
    assert rows[4]["measured"].startswith("75 s")  # 1.5 s for 1,000 maps, scaled to 50,000: over 60 s
    assert rows[5]["measured"] == "1.1× at batch 256"  # against TorchCAM, the fastest peer: 0.11 / 0.104


def test_performance_targets_state_the_memory_floor():
    from camlib.book.perf import copy_bandwidth, performance_targets

    rows = performance_targets(
        tree_speedup=5.0,
        tree_ns_per_pixel=30.0,
        runs_speedup=2.0,
        chain_speedup=2.0,
        pixels=50_000,
        bandwidth_gbs=10.0,
        ms_per_map={"tree": 1.5, "runs": 0.03, "chain": 0.2},
    )
    # runs: 1 byte x 50,000 pixels at 10 GB/s = 5 µs; chain: 14 bytes -> 70 µs; tree: 16 bytes -> 80 µs.
    assert rows[1]["bound"].endswith("memory floor 5 µs per map (1 byte per pixel at 10.0 GB/s) against 30 µs measured")
    assert "memory floor 70 µs per map" in rows[2]["bound"] and "against 200 µs measured" in rows[2]["bound"]
    assert "memory floor 80 µs per map" in rows[0]["bound"]
    plain = performance_targets(tree_speedup=5.0, tree_ns_per_pixel=30.0, runs_speedup=2.0, chain_speedup=2.0)
    assert "floor" not in plain[1]["bound"]
    assert 0.1 < copy_bandwidth(16, repeats=1) < 10_000  # GB/s: any machine's


def test_latest_run_groups_by_the_run_mark_or_by_the_hour():
    from camlib.book.perf import latest_run

    marked = [
        {"m": "a", "run": "2026-11-30T10:58"},
        {"m": "b", "run": "2026-11-30T10:58"},
        {"m": "a", "run": "2026-11-01T09:00"},
    ]
    assert latest_run(marked) == marked[:2]  # a run across 11:00 stays whole
    unmarked = [
        {"m": "a", "date": "2026-11-30T10:58:00+00:00"},
        {"m": "b", "date": "2026-11-30T11:03:00+00:00"},
        {"m": "a", "date": "2026-11-01T09:00:00+00:00"},
        {"m": "c", "finished": "2026-11-30T11:01:00Z"},
    ]
    assert [r["m"] for r in latest_run(unmarked)] == ["a", "b", "c"]
    assert latest_run([]) == []
