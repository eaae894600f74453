"""benchmarks/bench_pipeline.py on a tiny network: the user's box step, the rows it writes, the peers it skips."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from camlib.book.perf import smooth_maps
from camlib.boxes.from_maps import boxes_from_maps

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_pipeline.py"
# A ResNet-18 with 100 classes on 128 x 128 images (4 x 4 CAMs), 2 images: each method in well under a second.
TINY = [
    "--device",
    "cpu",
    "--arch",
    "resnet18",
    "--classes",
    "100",
    "--size",
    "128",
    "--batches",
    "2",
    "--repeats",
    "1",
]


def _load():
    spec = importlib.util.spec_from_file_location("bench_pipeline", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return _load()


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _documented_keys(bench) -> tuple[set[str], set[str], set[str]]:
    """The keys that the script's docstring promises: of a row, of its ``machine``, of its ``versions``."""
    doc = " ".join(bench.__doc__.split())
    row = re.search(r"with the keys ``([^`]+)``", doc).group(1)
    machine = re.search(r"``machine`` holds ``([^`]+)``", doc).group(1)
    versions = re.search(r"``versions`` those of ``([^`]+)``", doc).group(1)
    return set(row.split()), set(machine.split()), set(versions.split())


def test_user_box_step_is_the_papers_protocol(bench):
    # Two components above 0.2 * 1.0: three pixels at (x 2..3, y 1..2) beat the lone pixel at (0, 0).
    m = np.array([[0.9, 0.0, 0.0, 0.0],
                  [0.0, 0.0, 1.0, 0.5],
                  [0.0, 0.0, 0.6, 0.0]], dtype=np.float32)  # fmt: skip
    assert bench.opencv_largest_box(m > 0.2 * m.max()) == [2, 1, 3, 2]
    assert bench.opencv_largest_box(np.zeros((5, 5), dtype=bool)) == [0, 0, 0, 0]  # no foreground
    # A Python loop over OpenCV's labelling against camlib's batched boxes, on smooth random maps.
    maps = smooth_maps(8, 48, seed=3)  # (n, H, W)
    assert torch.equal(bench.user_boxes(maps[:, None].numpy())[:, 0], boxes_from_maps(maps))


def test_patch_images_hold_noise_in_one_rectangle(bench):
    images = bench.make_images(3, 64, 0, torch.device("cpu"), "patch")
    assert images.shape == (3, 3, 64, 64)
    for image in images:
        rows, cols = image.abs().sum(0).nonzero().unbind(1)
        h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert 16 <= h <= 32 and 16 <= w <= 32  # sides from size // 4 to size // 2
        assert (image[:, rows.min() : rows.max() + 1, cols.min() : cols.max() + 1] != 0).all()  # noise fills it
    assert torch.equal(images, bench.make_images(3, 64, 0, torch.device("cpu"), "patch"))  # seeded


def test_rows_hold_the_documented_keys_and_the_authors_boxes_agree(bench, tmp_path, one_thread):
    out = tmp_path / "pipeline.jsonl"
    assert bench.main([*TINY, "--in-process", "--methods", "forward", "camlib", "authors-demo", "--out", str(out)]) == 0
    rows = _rows(out)
    assert [r["method"] for r in rows] == ["forward", "camlib", "authors-demo"]
    keys, machine, versions = _documented_keys(bench)
    for r in rows:
        assert set(r) == keys and set(r["machine"]) == machine and set(r["versions"]) == versions
        assert r["batch"] == 2 and r["size"] == 128 and r["images"] == "patch" and r["top_k"] == 5
        assert r["seconds_median"] > 0 and r["images_per_second"] == pytest.approx(2 / r["seconds_median"], rel=1e-3)
        assert r["memory_kind"] is None  # in one process, the CPU has no per-method peak
        assert r["machine"]["torch_threads"] == 1 and r["versions"]["torch"] == torch.__version__.split("+")[0]
    forward, camlib, authors = rows
    assert forward["agreement"] is None and camlib["agreement"] is None
    # The demo's min-max shift and uint8 quantization move box sides by a pixel or so:
    # rarely equal, but the same box by the paper's IoU >= 0.5 on most of the 2 x 5 maps.
    assert authors["agreement_iou50"] >= 0.8
    assert 0 <= authors["agreement"] <= authors["agreement_iou50"]


@pytest.mark.parametrize("method, module", [("torchcam", "torchcam.methods"), ("grad-cam", "pytorch_grad_cam")])
def test_peers_box_what_camlib_boxes(bench, tmp_path, one_thread, method, module):
    pytest.importorskip(module, reason="the bench extra is not installed")
    out = tmp_path / "pipeline.jsonl"
    assert bench.main([*TINY, "--in-process", "--methods", method, "--out", str(out)]) == 0
    (row,) = _rows(out)
    assert row["versions"][method] is not None
    if method == "torchcam":  # the same maps, summed in another order: the same boxes
        assert row["agreement"] == 1.0
    else:  # ReLU(CAM) / (h w), shifted by its minimum and resized by OpenCV: the same box by IoU
        assert row["agreement_iou50"] >= 0.8


def test_a_missing_peer_is_skipped_with_a_note(bench, tmp_path, monkeypatch, capsys, one_thread):
    monkeypatch.setitem(sys.modules, "torchcam", None)  # `import torchcam...` raises ImportError
    monkeypatch.setitem(sys.modules, "torchcam.methods", None)
    monkeypatch.setattr(bench, "RESULTS", tmp_path)  # where the default --out goes
    assert bench.main([*TINY, "--in-process", "--methods", "torchcam", "forward"]) == 0
    assert "note: skipping torchcam: torchcam is not installed" in capsys.readouterr().out
    assert [r["method"] for r in _rows(tmp_path / "pipeline-cpu.jsonl")] == ["forward"]


def test_each_method_runs_in_its_own_process_on_the_cpu(bench, tmp_path):
    out = tmp_path / "pipeline.jsonl"
    assert bench.main([*TINY, "--methods", "forward", "--threads", "1", "--out", str(out)]) == 0
    (row,) = _rows(out)
    assert row["method"] == "forward" and row["machine"]["torch_threads"] == 1
    assert row["memory_kind"] in ("VmHWM", "ru_maxrss")
    assert 0 < row["memory_base_mib"] <= row["memory_peak_mib"]
    assert row["memory_delta_mib"] == pytest.approx(row["memory_peak_mib"] - row["memory_base_mib"], abs=0.11)


def test_bad_arguments_name_the_flag(bench, tmp_path, capsys):
    with pytest.raises(SystemExit):
        bench.main(["--out", str(tmp_path / "x.jsonl"), "--repeats", "0"])
    assert "--repeats must be a positive int, but got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--out", str(tmp_path / "x.jsonl"), "--classes", "3"])
    assert "--classes must be at least 5" in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()
