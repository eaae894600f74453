"""camlib.data.COCO: COCO's layout read from small files the tests write, and the study's coco-mini."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import requires_data
from PIL import Image

from camlib.data import COCO, collate
from camlib.data.coco import coco_box


def _write_coco(root, *, split="val2017", instances=None, captions=True):
    """Two images (10 x 8 and 6 x 4), categories with COCO's gappy ids (1 'person', 3 'car'): a polygon square,
    a crowd RLE and a box-only car."""
    (root / "annotations").mkdir(parents=True)
    (root / split).mkdir()
    Image.new("RGB", (10, 8)).save(root / split / "a.png")
    Image.new("RGB", (3, 4)).save(root / split / "b.png")
    data = instances or {
        "images": [
            {"id": 7, "file_name": "b.png", "height": 4, "width": 3},
            {"id": 5, "file_name": "a.png", "height": 8, "width": 10},
        ],
        "categories": [
            {"id": 3, "name": "car", "supercategory": "vehicle"},
            {"id": 1, "name": "person", "supercategory": "person"},
        ],
        "annotations": [
            {
                "id": 1,
                "image_id": 5,
                "category_id": 1,
                "bbox": [2.0, 2.0, 4.0, 4.0],
                "area": 16.0,
                "iscrowd": 0,
                "segmentation": [[2, 2, 6, 2, 6, 6, 2, 6]],
            },
            {
                "id": 2,
                "image_id": 5,
                "category_id": 3,
                "bbox": [7.5, 0.2, 1.0, 2.0],
                "area": 2.0,
                "iscrowd": 0,
                "segmentation": [[7.5, 0.2, 8.5, 0.2, 8.5, 2.2, 7.5, 2.2]],
            },
            {
                "id": 3,
                "image_id": 7,
                "category_id": 1,
                "bbox": [0.0, 0.0, 2.0, 4.0],
                "area": 3.0,
                "iscrowd": 1,
                "segmentation": {"size": [4, 3], "counts": [2, 3, 7]},
            },
        ],
    }
    (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(data))
    if captions:
        caps = {
            "annotations": [
                {"id": 1, "image_id": 5, "caption": " A person by a car. "},
                {"id": 2, "image_id": 5, "caption": "Someone standing."},
            ]
        }
        (root / "annotations" / f"captions_{split}.json").write_text(json.dumps(caps))
    return root


def test_coco_box():
    assert coco_box(2.0, 2.0, 4.0, 4.0) == (2, 2, 5, 5)
    assert coco_box(7.5, 0.2, 1.0, 2.0) == (7, 0, 8, 2)
    with pytest.raises(ValueError, match="A COCO box must have a width and height >= 0, but got -1.0 and 2.0"):
        coco_box(0.0, 0.0, -1.0, 2.0)


def test_reads_images_instances_masks_and_captions(tmp_path):
    coco = COCO(_write_coco(tmp_path / "coco"))
    assert coco.classes == ["person", "car"] and coco.category_ids == [1, 3]  # ordered by COCO's id
    assert coco.supercategories == ["person", "vehicle"]
    assert [r.image_id for r in coco.records] == ["5", "7"]  # ordered by image id
    item = coco[0]
    assert item.label == -1 and item.size == (8, 10)
    assert item.boxes.tolist() == [[2, 2, 5, 5], [7, 0, 8, 2]]
    assert coco[1].boxes.shape == (0, 4)  # the crowd region is not a box of the item
    inst = coco.instances(1)
    assert len(inst) == 1 and inst[0].crowd and inst[0].category == 0
    assert coco.categories_of(0) == {0, 1} and coco.captions(0) == ("A person by a car.", "Someone standing.")
    assert coco.captions(1) == ()
    masks = coco.masks(0)
    assert masks.dtype == torch.bool and masks.shape == (2, 8, 10)
    square = torch.zeros(8, 10, dtype=torch.bool)
    square[2:6, 2:6] = True
    assert torch.equal(masks[0], square) and torch.equal(coco.category_mask(0, 0), square)
    assert masks[1].sum() == 2 and masks[1, 0:2, 8].all()  # the car's sliver: pixel centres (8.0, 0.5), (8.0, 1.5)
    crowd = coco.masks(1)[0]  # uncompressed RLE, column-major: 2 zeros, 3 ones, 7 zeros
    assert crowd.nonzero().tolist() == [[0, 1], [2, 0], [3, 0]]
    assert not coco.category_mask(1, 1).any()
    batch = collate([coco[0], coco[1]])
    assert batch.labels.tolist() == [-1, -1] and len(batch.boxes) == 2


def test_refuses_what_coco_does_not_define(tmp_path):
    base = {
        "images": [{"id": 5, "file_name": "a.png", "height": 8, "width": 10}],
        "categories": [{"id": 1, "name": "person"}],
        "annotations": [],
    }
    bad_image = {**base, "annotations": [{"id": 9, "image_id": 6, "category_id": 1, "bbox": [0, 0, 1, 1]}]}
    with pytest.raises(ValueError, match=r"annotation 9 names image 6, which the file does not list"):
        COCO(_write_coco(tmp_path / "a", instances=bad_image), captions=False)
    bad_category = {**base, "annotations": [{"id": 9, "image_id": 5, "category_id": 2, "bbox": [0, 0, 1, 1]}]}
    with pytest.raises(ValueError, match=r"annotation 9 names category 2, which the file does not list"):
        COCO(_write_coco(tmp_path / "b", instances=bad_category), captions=False)
    root = _write_coco(tmp_path / "c", instances={"images": []}, captions=False)
    with pytest.raises(
        ValueError,
        match=r"must hold COCO's keys \['images', 'annotations', 'categories'\], but it "
        r"lacks \['annotations', 'categories'\]",
    ):
        COCO(root, captions=False)
    root = _write_coco(tmp_path / "d")
    (root / "annotations" / "captions_val2017.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"captions_val2017.json' must be a JSON file of COCO's layout"):
        COCO(root)
    root = _write_coco(tmp_path / "e")
    (root / "val2017" / "b.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks 1 of the 2 images .* \(b.png\)"):
        COCO(root)
    with pytest.raises(FileNotFoundError, match=r"COCO's layout: annotations/instances_train2017.json"):
        COCO(root, split="train2017")
    coco = COCO(_write_coco(tmp_path / "f"))
    with pytest.raises(ValueError, match=r"`category` must be an index in \[0, 2\), but got 2"):
        coco.category_mask(0, 2)


@pytest.mark.realdata
@requires_data("coco-mini")
def test_coco_mini_as_its_readme_describes_it():
    # data/README.md: 79 val + 80 train images, 5 captions each, 1,363 instances (13 crowd RLEs), 80 categories
    val, train = COCO(split="val2017"), COCO(split="train2017")
    assert (len(val), len(train)) == (79, 80) and len(val.classes) == 80 and val.classes[0] == "person"
    instances = [inst for d in (val, train) for i in range(len(d)) for inst in d.instances(i)]
    assert len(instances) == 1363 and sum(inst.crowd for inst in instances) == 13
    assert all(len(d.captions(i)) == 5 for d in (val, train) for i in range(len(d)))
    # one image per category per split, says the README; val has no hot dog and no teddy bear, train has all 80
    assert set(range(80)) - set().union(*(val.categories_of(i) for i in range(len(val)))) == {52, 77}
    assert (val.classes[52], val.classes[77]) == ("hot dog", "teddy bear")
    assert set().union(*(train.categories_of(i) for i in range(len(train)))) == set(range(80))
    # the masks agree with COCO's own areas (rescaled polygons are exact; the README warns areas are approximate)
    masks, item = val.masks(0), val[0]
    areas = torch.tensor([inst.area for inst in val.instances(0)])
    assert masks.shape[1:] == item.size
    assert torch.allclose(masks.flatten(1).sum(1).double(), areas.double(), rtol=0.15, atol=30)
