"""Rebuilding the subsets from the official releases (camlib.data.rebuild), on made releases in the official layouts.

Each test makes a tiny release with images of known sizes and annotations at full size, lists
the subset's images in a made manifest, builds, and reads the result with the study's own
reader: the boxes, parts, quadrilaterals and outlines must come back scaled by hand-worked factors.
"""

from __future__ import annotations

import json

import pytest
from PIL import Image

from camlib.data import COCO, CUB, ICDAR2015, ImageNetVal, manifest
from camlib.data.__main__ import main
from camlib.data.rebuild import build


@pytest.fixture
def listed(tmp_path, monkeypatch):
    """``listed(dataset, paths)``: a made manifest of ``dataset`` that lists ``paths`` (sizes and hashes unused)."""
    folder = tmp_path / "manifest"
    folder.mkdir()
    monkeypatch.setattr(manifest, "MANIFEST_DIR", folder)
    manifest._entries.cache_clear()

    def write(dataset: str, paths: list[str]) -> None:
        (folder / f"{dataset}.tsv").write_text("".join(f"{p}\t1\t{'0' * 64}\n" for p in sorted(paths)))
        manifest._entries.cache_clear()

    yield write
    manifest._entries.cache_clear()


def _image(path, size, colour=(200, 30, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def test_imagenet_from_kaggles_layout(tmp_path, listed):
    release = tmp_path / "kaggle"
    _image(release / "ILSVRC/Data/CLS-LOC/val/ILSVRC2012_val_00000002.JPEG", (500, 375))
    _image(release / "ILSVRC/Data/CLS-LOC/val/ILSVRC2012_val_00000009.JPEG", (300, 300))  # not in the subset
    (release / "LOC_synset_mapping.txt").write_text("n01440764 tench\nn01443537 goldfish\n")
    (release / "LOC_val_solution.csv").write_text(
        "ImageId,PredictionString\n"
        "ILSVRC2012_val_00000002,n01443537 45 49 499 162 n01443537 2 69 437 207 \n"
        "ILSVRC2012_val_00000009,n01440764 1 1 10 10 \n"
    )
    listed("imagenet-val-1300", ["ILSVRC/Data/CLS-LOC/val/ILSVRC2012_val_00000002.JPEG", "LOC_val_solution.csv"])
    out = build("imagenet-val-1300", release, tmp_path / "data")
    # x * 227 / 500, y * 227 / 375: 45 -> 20.43 -> 20, 49 -> 29.66 -> 30, 499 -> 226.5 -> 226 (round half even),
    # 162 -> 98.06 -> 98; 2 -> 0.91 -> 1, 69 -> 41.77 -> 42, 437 -> 198.4 -> 198, 207 -> 125.3 -> 125
    expected = [[20, 30, 226, 98], [1, 42, 198, 125]]
    for source in ("csv", "xml"):
        val = ImageNetVal(out, annotations=source)
        assert len(val) == 1 and val.classes == ["tench", "goldfish"]
        item = val[0]
        assert item.label == 1 and item.size == (227, 227) and item.boxes.tolist() == expected


def test_cub_from_the_official_folder(tmp_path, listed):
    release = tmp_path / "CUB_200_2011"
    _image(release / "images/001.Albatross/a_1.jpg", (500, 400))  # scaled by 320 / 500 = 0.64 to 320 x 256
    _image(release / "images/001.Albatross/a_2.jpg", (200, 150))  # small: kept as it is
    _image(release / "images/051.Gull/g_1.jpg", (500, 400))  # another class: left out
    (release / "images.txt").write_text("1 001.Albatross/a_1.jpg\n2 001.Albatross/a_2.jpg\n3 051.Gull/g_1.jpg\n")
    (release / "image_class_labels.txt").write_text("1 1\n2 1\n3 51\n")
    (release / "train_test_split.txt").write_text("1 1\n2 0\n3 1\n")
    (release / "bounding_boxes.txt").write_text("1 50.0 100.0 250.0 200.0\n2 10.0 20.0 30.0 40.0\n3 1 1 2 2\n")
    (release / "classes.txt").write_text("1 001.Albatross\n51 051.Gull\n")
    (release / "parts").mkdir()
    (release / "parts/parts.txt").write_text("1 back\n2 beak\n")
    (release / "parts/part_locs.txt").write_text("1 1 100.0 50.0 1\n1 2 0.0 0.0 0\n2 1 5.0 6.0 1\n2 2 7.0 8.0 1\n")
    listed(
        "cub-200-2011-50cls", ["CUB_200_2011/images/001.Albatross/a_1.jpg", "CUB_200_2011/images/001.Albatross/a_2.jpg"]
    )
    out = build("cub-200-2011-50cls", release, tmp_path / "data")
    assert (out / "bounding_boxes.txt").read_text() == "1 32.0 64.0 160.0 128.0\n2 10.0 20.0 30.0 40.0\n"
    assert (out / "classes.txt").read_text() == "1 001.Albatross\n"
    train, test = CUB(out, split="train"), CUB(out, split="test")
    assert len(train) == len(test) == 1 and train[0].size == (256, 320) and test[0].size == (150, 200)
    # box 32, 64, 160 x 128: x1 = 32, x2 = floor(32 + 160 + 0.5) - 1 = 191; y1 = 64, y2 = 191
    assert train[0].boxes.tolist() == [[32, 64, 191, 191]]
    assert train.parts(0).tolist() == [[64.0, 32.0, 1.0], [0.0, 0.0, 0.0]]  # 100 x 0.64, 50 x 0.64; invisible kept


def test_icdar_from_the_official_download(tmp_path, listed):
    release = tmp_path / "ch4"
    _image(release / "ch4_test_images/img_1.jpg", (1280, 720))
    gt = release / "Challenge4_Test_Task1_GT/gt_img_1.txt"
    gt.parent.mkdir(parents=True)
    gt.write_bytes("\ufeff100,200,300,200,300,264,100,264,Hello, world\n8,8,16,8,16,16,8,16,###\n".encode())
    (release / "Vocabularies").mkdir()
    (release / "Vocabularies/ch4_test_vocabulary.txt").write_text("HELLO\n")
    listed("icdar2015", ["End2End/TestSet/Imgs/img_1.jpg", "End2End/TestSet/Gts/gt_img_1.txt"])
    out = build("icdar2015", release, tmp_path / "data")
    # x 0.375: 100 -> 37.5, 200 -> 75, 300 -> 112.5, 264 -> 99; 8 -> 3, 16 -> 6; no byte-order mark left
    assert (out / "End2End/TestSet/Gts/gt_img_1.txt").read_text(encoding="utf-8") == (
        "37.5,75,112.5,75,112.5,99,37.5,99,Hello, world\n3,3,6,3,6,6,3,6,###\n"
    )
    words = ICDAR2015(out).words(0)
    assert [w.text for w in words] == ["Hello, world", "###"] and words[0].quad[2] == (112.5, 99.0)
    assert json.loads((out / "manifest.json").read_text())["images"]["img_1.jpg"]["size"] == [480, 270]
    assert (out / "End2End/TestSet/Vocabularies/ch4_test_vocabulary.txt").read_text() == "HELLO\n"


def test_coco_from_the_official_release(tmp_path, listed):
    release = tmp_path / "coco"
    _image(release / "val2017/000000000001.jpg", (640, 480))  # x 0.5 -> 320 x 240
    _image(release / "val2017/000000000002.jpg", (100, 80))  # not in the subset
    crowd = {"size": [480, 640], "counts": [480 * 320, 480 * 320]}  # the right half of the image
    images = [
        {"id": 1, "file_name": "000000000001.jpg", "width": 640, "height": 480, "license": 1},
        {"id": 2, "file_name": "000000000002.jpg", "width": 100, "height": 80, "license": 1},
    ]
    instances = {
        "images": images,
        "categories": [{"id": 5, "name": "airplane", "supercategory": "vehicle"}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 5, "iscrowd": 0, "area": 400.0, "bbox": [100.0, 50.0, 40.0, 20.0],
             "segmentation": [[100.0, 50.0, 140.0, 50.0, 140.0, 70.0, 100.0, 70.0]]},
            {"id": 11, "image_id": 1, "category_id": 5, "iscrowd": 1, "area": 153600.0,
             "bbox": [320.0, 0.0, 320.0, 480.0], "segmentation": crowd},
            {"id": 12, "image_id": 2, "category_id": 5, "iscrowd": 0, "area": 1.0, "bbox": [1, 1, 1, 1],
             "segmentation": [[1, 1, 2, 1, 2, 2]]},
        ],
    }  # fmt: skip
    captions = {"images": images, "annotations": [{"id": 3, "image_id": 1, "caption": "A plane."}]}
    (release / "annotations").mkdir()
    (release / "annotations/instances_val2017.json").write_text(json.dumps(instances))
    (release / "annotations/captions_val2017.json").write_text(json.dumps(captions))
    for name in ("instances_train2017.json", "captions_train2017.json"):
        (release / "annotations" / name).write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    listed("coco-mini", ["val2017/000000000001.jpg", "annotations/instances_val2017.json"])
    out = build("coco-mini", release, tmp_path / "data")
    coco = COCO(out, split="val2017")
    assert len(coco) == 1 and coco[0].size == (240, 320) and coco.captions(0) == ("A plane.",)
    plain, group = coco.instances(0)
    assert plain.area == 100.0 and plain.segmentation == [[50.0, 25.0, 70.0, 25.0, 70.0, 35.0, 50.0, 35.0]]
    assert group.crowd and group.segmentation == {"size": [240, 320], "counts": [240 * 160, 240 * 160]}
    mask = coco.category_mask(0, plain.category)  # the crowd half and the small box, at the new size
    assert mask[:, 160:].all() and not mask[:, :50].any()
    stored = json.loads((out / "annotations/instances_val2017.json").read_text())["images"][0]
    assert (stored["width"], stored["height"], stored["orig_width"], stored["orig_height"]) == (320, 240, 640, 480)


def test_a_missing_image_or_an_unknown_dataset_is_named(tmp_path, listed, capsys):
    release = tmp_path / "kaggle"
    (release / "ILSVRC/Data/CLS-LOC/val").mkdir(parents=True)
    (release / "LOC_synset_mapping.txt").write_text("n01440764 tench\n")
    (release / "LOC_val_solution.csv").write_text(
        "ImageId,PredictionString\nILSVRC2012_val_00000002,n01440764 1 1 2 2\n"
    )
    listed("imagenet-val-1300", ["ILSVRC/Data/CLS-LOC/val/ILSVRC2012_val_00000002.JPEG"])
    with pytest.raises(FileNotFoundError, match=r"`release` must hold the image ILSVRC2012_val_00000002.JPEG"):
        build("imagenet-val-1300", release, tmp_path / "data")
    with pytest.raises(ValueError, match=r"`dataset` must be one of imagenet-val-1300, .* but got 'weights'"):
        build("weights", release, tmp_path / "data")
    _image(release / "ILSVRC/Data/CLS-LOC/val/ILSVRC2012_val_00000002.JPEG", (10, 10))
    assert main(["build", "imagenet-val-1300", "--from", str(release), "--to", str(tmp_path / "data")]) == 0
    assert "`verify` names them as different" in capsys.readouterr().out
