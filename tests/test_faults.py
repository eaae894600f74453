"""Fault injection: corrupted copies of each reader's layout, wrong paths and interrupted runs fail loudly.

Each case builds a small layout with one fault (the readers' own test files build the good layouts), and
checks the exception's type and the words of its message: the file, the entry and what was expected. Nothing
here may be silent: partial data is not absent data, a bad box is not clipped away.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from conftest import requires_data
from PIL import Image
from test_data_coco import _write_coco
from test_data_cub import make_cub
from test_data_icdar import _write as write_icdar
from test_data_imagenet import make_kaggle
from test_data_vqa import _write as write_vqa
from test_data_wsol import make_wsol

from camlib.book import runner
from camlib.data import COCO, CUB, ICDAR2015, VQA, DataAbsent, ImageNetVal, WSOLDataset, read_image

ROOT = Path(__file__).resolve().parents[1]


# -- images -------------------------------------------------------------------------------------------------


def test_a_16_bit_image_is_scaled_not_saturated(tmp_path):
    values = np.array([[0, 257, 32896], [65535, 1000, 60000]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)  # a 16-bit grey PNG (PIL mode I;16)
    with Image.open(path) as image:
        assert image.mode.startswith("I")
    grey = np.asarray(read_image(path))[..., 0]
    assert grey.tolist() == [[0, 1, 128], [255, 4, 233]]  # round(v / 257); PIL's own convert would give 255s


def test_a_decompression_bomb_names_its_file(tmp_path, monkeypatch):
    path = tmp_path / "huge.png"
    Image.new("RGB", (64, 64)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 64 * 64 // 4)  # PIL refuses images over twice this
    with pytest.raises(OSError, match=re.escape(f"Could not read the image {str(path)!r}: Image size (4096 pixels)")):
        read_image(path)


# -- partial data is not absent data -------------------------------------------------------------------------


def test_a_missing_image_is_an_error_naming_it_not_absent_data(tmp_path):
    root = make_cub(tmp_path / "CUB_200_2011")
    (root / "images" / "002.Laysan_Albatross" / "b_0003.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks 1 of the 1 images .* \(b_0003.jpg\)") as info:
        CUB(root, split="train")
    assert not isinstance(info.value, DataAbsent)


def test_a_missing_annotation_file_is_an_error_not_absent_data(tmp_path):
    root = make_cub(tmp_path / "CUB_200_2011")
    (root / "bounding_boxes.txt").unlink()
    with pytest.raises(
        FileNotFoundError, match=r"lacks bounding_boxes.txt\. The data are there but incomplete"
    ) as info:
        CUB(root, split="train")
    assert not isinstance(info.value, DataAbsent)
    with pytest.raises(DataAbsent, match="does not exist"):  # only a folder that is not there at all is absent
        CUB("CUB_200_2011", split="train", data_root=tmp_path / "nothing-here")


@pytest.mark.parametrize("reader", ["cub", "wsol", "imagenet", "coco", "vqa"])
def test_an_empty_annotation_file_is_an_error_not_an_empty_dataset(tmp_path, reader):
    if reader == "cub":
        root = make_cub(tmp_path / "CUB_200_2011")
        for name in ("images.txt", "image_class_labels.txt", "train_test_split.txt", "bounding_boxes.txt"):
            (root / name).write_text("")
        read, file = (lambda: CUB(root, split="all")), "images.txt"
    elif reader == "wsol":
        meta, images = make_wsol(tmp_path)
        for name in ("image_ids.txt", "class_labels.txt", "image_sizes.txt", "localization.txt"):
            (meta / name).write_text("")
        read, file = (lambda: WSOLDataset(meta, images)), "image_ids.txt"
    elif reader == "imagenet":
        root = make_kaggle(tmp_path / "kaggle")
        (root / "LOC_val_solution.csv").write_text("ImageId,PredictionString\n")
        read, file = (lambda: ImageNetVal(root)), "LOC_val_solution.csv"
    elif reader == "coco":
        root = tmp_path / "coco"
        _write_coco(root, captions=False)
        (root / "annotations" / "instances_val2017.json").write_text(
            json.dumps({"images": [], "annotations": [], "categories": []})
        )
        read, file = (lambda: COCO(root, captions=False)), "instances_val2017.json"
    else:
        root = write_vqa(tmp_path / "vqa")
        (root / "v2_OpenEnded_mscoco_val2014_questions.json").write_text(json.dumps({"questions": []}))
        (root / "v2_mscoco_val2014_annotations.json").write_text(json.dumps({"annotations": []}))
        read, file = (lambda: VQA(root)), "questions.json"
    with pytest.raises(ValueError, match=rf"{re.escape(file)}' must list at least one"):
        read()


# -- boxes are checked, never silently moved ------------------------------------------------------------------


def test_a_cub_box_outside_its_image_names_file_line_box_and_size(tmp_path):
    root = make_cub(tmp_path / "CUB_200_2011")
    lines = (root / "bounding_boxes.txt").read_text().splitlines()
    number = next(k for k, line in enumerate(lines, 1) if line.startswith("5 "))
    lines[number - 1] = "5 40.0 7.0 5.0 5.0"  # image 5 is 30 x 20: x from 40 lies outside it
    (root / "bounding_boxes.txt").write_text("\n".join(lines) + "\n")
    data = CUB(root, split="train")
    index = [r.image_id for r in data.records].index("003.Sooty_Albatross/c_0005.jpg")
    where = f"line {number} of {str(root / 'bounding_boxes.txt')!r}"
    with pytest.raises(
        ValueError,
        match=re.escape("(40, 7, 44, 11) of ")
        + ".*c_0005.jpg"
        + re.escape(f"' ({where}) lies wholly outside the image (30 x 20)"),
    ):
        data[index]
    with pytest.raises(ValueError, match="lies wholly outside"):
        data.box_report()  # the whole dataset's check, from the files' headers


def test_an_icdar_word_outside_its_image_is_refused_not_a_one_pixel_box(tmp_path):
    root = write_icdar(tmp_path, lines="20,20,30,20,30,25,20,25,FAR\n")  # img_2 is 12 x 10
    data = ICDAR2015(root)
    with pytest.raises(
        ValueError, match=r"The box \(20, 20, 29, 24\) of .*img_2.jpg' \(.*gt_img_2.txt'\) lies wholly outside"
    ):
        data[[r.image_id for r in data.records].index("img_2")]


def test_upper_case_icdar_names_are_read(tmp_path):
    root = write_icdar(tmp_path)
    gts, images = root / "Challenge4_Test_Task1_GT", root / "ch4_test_images"
    (gts / "gt_img_10.txt").rename(gts / "GT_IMG_10.TXT")
    (images / "img_10.jpg").rename(images / "img_10.JPG")
    data = ICDAR2015(root)
    assert [r.image_id for r in data.records] == ["img_2", "IMG_10"] and data[1].size == (4, 6)


# -- readers reject contradictions --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["class_labels.txt", "image_sizes.txt"])
def test_wsol_duplicate_lines_are_refused_not_overwritten(tmp_path, name):
    meta, images = make_wsol(tmp_path)
    first = (meta / name).read_text().splitlines()[0]
    (meta / name).write_text((meta / name).read_text() + first.replace(",1,", ",0,") + "\n")
    count = len((meta / name).read_text().splitlines())
    with pytest.raises(
        ValueError, match=rf"Malformed line {count} of .*{name}'.*one line per image; 'b/2.png' is also on line 1"
    ):
        WSOLDataset(meta, images)


def test_coco_sizes_that_disagree_with_the_image_file_are_refused(tmp_path):
    root = tmp_path / "coco"
    _write_coco(root)
    Image.new("RGB", (20, 16)).save(root / "val2017" / "a.png")  # the JSON says 10 x 8
    data = COCO(root)
    a = [r.image_id for r in data.records].index("5")
    message = re.escape(
        f"is 20 x 16, but its annotation (image 5 of {str(root / 'annotations' / 'instances_val2017.json')!r}) says 10 x 8"
    )
    with pytest.raises(ValueError, match=message):
        data[a]
    with pytest.raises(ValueError, match=message):
        data.masks(a)  # masks drawn in the JSON's frame would not fit the image


@pytest.mark.parametrize(
    "entry, key, words",
    [
        ("annotations", "bbox", "annotation 1 (position 0) must have the key 'bbox'"),
        ("images", "height", "image 7 (position 0) must have the key 'height'"),
        ("annotations", "category_id", "annotation 1 (position 0) must have the key 'category_id'"),
    ],
)
def test_coco_entries_without_a_key_name_the_entry_and_the_key(tmp_path, entry, key, words):
    root = tmp_path / "coco"
    _write_coco(root, captions=False)
    path = root / "annotations" / "instances_val2017.json"
    data = json.loads(path.read_text())
    del data[entry][0][key]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=re.escape(f"{str(path)!r}: {words}, but it has only [")):
        COCO(root, captions=False)


def test_vqa_contradictions_are_refused(tmp_path):
    root = write_vqa(tmp_path / "vqa")
    qpath, apath = root / "v2_OpenEnded_mscoco_val2014_questions.json", root / "v2_mscoco_val2014_annotations.json"
    good_q, good_a = qpath.read_text(), apath.read_text()

    def change(path, edit):
        data = json.loads(path.read_text())
        edit(data)
        path.write_text(json.dumps(data))

    change(qpath, lambda d: d["questions"].append(dict(d["questions"][0])))
    with pytest.raises(ValueError, match=r"questions.json' must list each question_id once, but 420 appears twice"):
        VQA(root)
    qpath.write_text(good_q)
    change(apath, lambda d: d["annotations"].append(dict(d["annotations"][0])))
    with pytest.raises(
        ValueError, match=r"annotations.json' must annotate each question_id once, but 420 is annotated twice"
    ):
        VQA(root)
    apath.write_text(good_a)
    change(apath, lambda d: d["annotations"][0].update(image_id=7))
    with pytest.raises(
        ValueError, match=r"the annotation of question 420 is about image 7, but .* asks it about image 42"
    ):
        VQA(root)
    apath.write_text(good_a)
    change(apath, lambda d: d["annotations"][1].pop("multiple_choice_answer"))
    with pytest.raises(
        ValueError, match=r"annotation of question 70 \(position 1\) must have the key 'multiple_choice_answer'"
    ):
        VQA(root)


# -- parse errors name their file ---------------------------------------------------------------------------


@pytest.mark.parametrize("reader", ["cub", "icdar", "imagenet", "coco"])
def test_a_file_that_is_not_utf8_names_the_file_and_line(tmp_path, reader):
    if reader == "cub":
        root = make_cub(tmp_path / "CUB_200_2011")
        path, read = root / "classes.txt", lambda: CUB(root, split="train")
    elif reader == "icdar":
        root = write_icdar(tmp_path)
        path, read = root / "Challenge4_Test_Task1_GT" / "gt_img_10.txt", lambda: ICDAR2015(root)
    elif reader == "imagenet":
        root = make_kaggle(tmp_path / "kaggle")
        path, read = root / "LOC_synset_mapping.txt", lambda: ImageNetVal(root)
    else:
        root = tmp_path / "coco"
        _write_coco(root)
        path, read = root / "annotations" / "captions_val2017.json", lambda: COCO(root)
    lines = path.read_bytes().split(b"\n")
    lines[min(1, len(lines) - 1)] += b" caf\xe9"  # Latin-1, not UTF-8
    path.write_bytes(b"\n".join(lines))
    line = 2 if len(lines) > 1 else 1
    with pytest.raises(ValueError, match=re.escape(f"{str(path)!r} must be UTF-8") + r".*" + f"line {line} is not"):
        read()


# -- the runner: absent, required, recorded -----------------------------------------------------------------


def _notebook(tmp_path, body: str, parameters: str, name: str = "99_tiny") -> Path:
    """A chapter of two cells (its parameters, then ``body``) with its three profiles, in ``tmp_path``."""
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell(body),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    path.with_suffix(".yml").write_text("smoke: {}\ndefault: {}\npaper: {}\n")
    return path


def _tiny(tmp_path, body: str) -> Path:
    return _notebook(tmp_path, body, 'profile = "default"\ndata_root = ""\ncub_dir = "CUB_200_2011"')


REAL_PART = (
    "import camlib.book.realdata, camlib.data\n"
    "with camlib.book.realdata.RealPart('the real part') as part:\n"
    "    reader = camlib.data.CUB(cub_dir, split='train', data_root=data_root)\n"
    "print('present' if part.present else 'ABSENT: ' + part.missing)\n"
)


def test_a_run_records_its_profile_commit_and_whether_it_required_data(tmp_path):
    path = _tiny(tmp_path, REAL_PART)
    out = runner.execute(path, profile="smoke", overrides={"data_root": str(tmp_path)}, output_dir=tmp_path / "o")
    nb = nbformat.read(out.output, as_version=4)
    from camlib.book.provenance import git_commit

    assert nb.metadata[runner.RUN_KEY] == {"profile": "smoke", "commit": git_commit(), "require_data": False}
    assert "ABSENT: Could not find the data 'CUB_200_2011'" in nb.cells[-1].outputs[0]["text"]
    with pytest.raises(
        runner.NotebookError, match=r"DataAbsent: Could not find the data 'CUB_200_2011'.*requires the real data"
    ):
        runner.execute(path, overrides={"data_root": str(tmp_path)}, output_dir=tmp_path / "o", require_data=True)


def test_a_partial_dataset_fails_the_run_naming_the_image(tmp_path, capsys):
    root = make_cub(tmp_path / "CUB_200_2011")
    (root / "images" / "001.Black_footed_Albatross" / "a_0002.jpg").unlink()
    path = _tiny(tmp_path, REAL_PART)
    code = runner.main([str(path), "-p", f"data_root={tmp_path}", "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1 and "lacks 1 of the 1 images" in err and "(a_0002.jpg)" in err
    assert not (tmp_path / "o" / path.name).exists()


def test_a_data_location_typed_in_p_implies_require_data(tmp_path, monkeypatch):
    seen = {}

    def fake(path, **kwargs):
        seen.update(kwargs)
        return runner.Result(path, kwargs["output_dir"] / path.name, 0.0)

    monkeypatch.setattr(runner, "execute", fake)
    monkeypatch.setattr(runner, "ROOT", tmp_path / "checkout")  # the default output folder is made under it
    path = _tiny(tmp_path, "pass")
    assert runner.main([str(path), "--profile", "smoke"]) == 0
    assert seen["require_data"] is False and seen["output_dir"] == tmp_path / "checkout" / "_build" / "runs" / "smoke"
    assert runner.main([str(path), "-p", "cub_dir=CUB_typo", "--output", str(tmp_path)]) == 0
    assert seen["require_data"] is True  # a path the user typed is not data left out on purpose
    assert runner.main([str(path), "-p", f"data_root={tmp_path}", "--output", str(tmp_path)]) == 0
    assert seen["require_data"] is False
    assert runner.main([str(path), "--require-data", "--output", str(tmp_path)]) == 0 and seen["require_data"] is True


def test_make_book_requires_the_data_when_it_is_there():
    makefile = (ROOT / "Makefile").read_text()
    assert "--output $(or $(OUT),book/chapters) $(REQUIRE_DATA)" in makefile
    assert "--output $(or $(OUT),_build/runs/$(PROFILE))" in makefile  # make notebook: outside the book
    assert 'test -d data || test -n "$${CAMLIB_DATA:-}"' in makefile


@requires_data("imagenet-val-1300")
def test_chapter02_with_one_image_deleted_exits_non_zero_naming_it(tmp_path):
    """A full copy of the data but for one image: the chapter stops, naming it, instead of reading as absent."""
    from camlib.data import find_data

    source = find_data("imagenet-val-1300")
    copy = tmp_path / "data" / "imagenet-val-1300"
    images = copy / "ILSVRC" / "Data" / "CLS-LOC" / "val"
    images.mkdir(parents=True)
    for name in ("LOC_synset_mapping.txt", "LOC_val_solution.csv"):
        (copy / name).symlink_to(source / name)
    for image in sorted((source / "ILSVRC" / "Data" / "CLS-LOC" / "val").iterdir())[1:]:  # all but the first
        (images / image.name).symlink_to(image)
    gone = sorted((source / "ILSVRC" / "Data" / "CLS-LOC" / "val").iterdir())[0].name
    shutil.copytree(find_data("weights"), tmp_path / "data" / "weights", symlinks=True)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "camlib.book.runner",
            "02",
            "--profile",
            "smoke",
            "-p",
            f"data_root={tmp_path / 'data'}",
            "--output",
            str(tmp_path / "out"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "lacks 1 of the 1300 images" in run.stderr, run.stderr
    assert gone in run.stderr and "Real data absent" not in run.stdout
    assert not (tmp_path / "out" / "02_ilsvrc_localization.ipynb").exists()


# -- the cache ----------------------------------------------------------------------------------------------


def test_stale_temporary_files_of_killed_runs_are_removed_on_start(tmp_path, monkeypatch):
    from camlib.study import cache

    old, young = tmp_path / ".abc.pt.x1.tmp", tmp_path / ".def.pt.x2.tmp"
    for f in (old, young):
        f.write_bytes(b"\0" * 100)
    two_days = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days, two_days))
    monkeypatch.setattr(cache, "_swept", set())
    value, hit = cache.memoize({"what": "faults"}, lambda: 3, cache_root=tmp_path)
    assert (value, hit) == (3, False)
    assert not old.exists() and young.exists()  # a young one may be another run's, still writing
    assert cache.memoize({"what": "faults"}, lambda: 4, cache_root=tmp_path) == (3, True)


# -- interrupted runs ---------------------------------------------------------------------------------------

SLOW = (
    "import time, pathlib, camlib.study.cache as c\n"
    "pathlib.Path(marker).write_text('started')\n"
    "value, hit = c.memoize({'what': 'interrupted'}, lambda: (time.sleep(sleep), 7)[1], cache_root=cache_root)\n"
    "print('value', value, 'hit', hit)\n"
)


def _slow_notebook(tmp_path) -> Path:
    return _notebook(tmp_path, SLOW, 'profile = "default"\nmarker = ""\ncache_root = ""\nsleep = 0', "98_slow")


def test_a_killed_run_leaves_nothing_and_a_rerun_succeeds(tmp_path):
    """A kill (SIGKILL to the runner and its kernel) in the middle of a memoized cell: no chapter, no cache entry.

    Ctrl-C's exit code 130 is tested below; a SIGINT sent here from outside raced papermill's own handling
    of the kernel on a loaded machine (CI), so this test kills, which nothing can intercept.
    """
    path, out, cache_root = _slow_notebook(tmp_path), tmp_path / "out", tmp_path / "cache"
    args = [
        sys.executable,
        "-m",
        "camlib.book.runner",
        str(path),
        "--output",
        str(out),
        "-p",
        f"cache_root={cache_root}",
    ]
    marker = tmp_path / "started"
    proc = subprocess.Popen(
        [*args, "-p", f"marker={marker}", "-p", "sleep=120"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 120
        while not marker.exists() and time.time() < deadline:
            time.sleep(0.2)
        assert marker.exists(), "the kernel never started the cell"
        os.killpg(proc.pid, signal.SIGKILL)  # runner and kernel at once: nothing can clean up
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=60)
    assert not (out / path.name).exists()  # no chapter
    assert not list(cache_root.glob("*.pt"))  # no cache entry (a killed run may leave a temporary file)
    rerun = subprocess.run(
        [*args, "-p", f"marker={tmp_path / 'again'}"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    nb = nbformat.read(out / path.name, as_version=4)
    assert "value 7 hit False" in nb.cells[-1].outputs[0]["text"]
    assert len(list(cache_root.glob("*.pt"))) == 1
    assert not (out / ".running").exists() and not (out / "failed").exists()  # nothing partial left


def test_ctrl_c_exits_130_in_one_line(tmp_path, monkeypatch, capsys):
    def interrupted(path, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "execute", interrupted)
    path = _tiny(tmp_path, "pass")
    assert runner.main([str(path), "--output", str(tmp_path / "out")]) == 130
    err = capsys.readouterr().err
    assert err.strip() == f"interrupted: 99_tiny was not finished; nothing of it was written to {tmp_path / 'out'}"


# -- the fused localization path ----------------------------------------------------------------------------


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_features_raise_on_both_paths_never_empty_masks(fused, bad):
    from torch import nn

    from camlib.cam.extractor import CAMLayer
    from camlib.cam.pipeline import cam_masks

    features = torch.rand(2, 3, 4, 4)
    features[1, 2, 0, 3] = bad
    layer = CAMLayer(nn.Identity(), torch.eye(3), None)
    kind = "NaN" if bad != bad else "an infinite value"
    with pytest.raises(
        ValueError, match=re.escape(f"`features` must hold finite values, but map (1, 2) holds {kind}.")
    ):
        cam_masks(features, layer, torch.tensor([[0], [1]]), size=8, fused=fused)


# -- metrics check the boxes' frame -------------------------------------------------------------------------


def test_localization_hits_refuse_ground_truth_outside_the_frame_when_told_it():
    from camlib.metrics.accuracy import localization_error, localization_hits

    classes, boxes = torch.tensor([[3]]), torch.tensor([[[0, 0, 9, 9]]])
    photo = [torch.tensor([[100, 50, 300, 200]])]  # the photograph's pixels, not the 224 x 224 input's
    assert localization_hits(classes, boxes, torch.tensor([3]), photo).tolist() == [[False]]  # silent without size
    with pytest.raises(
        ValueError,
        match=r"`gt_boxes` must lie inside the maps' frame \(224 x 224\), but image 0 has the box \[100, 50, 300, 200\]",
    ):
        localization_hits(classes, boxes, torch.tensor([3]), photo, size=(224, 224))
    with pytest.raises(ValueError, match="were the boxes given in the photograph's pixels"):
        localization_error(classes, boxes, torch.tensor([3]), photo, size=(224, 224))
    inside = [torch.tensor([[0, 0, 9, 9]])]
    assert localization_hits(classes, boxes, torch.tensor([3]), inside, size=(224, 224)).tolist() == [[True]]
