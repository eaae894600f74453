"""The readers on the study's real subsets (data/; their sources: camlib/data/sources.yml).

Skipped, with the reason, when the data is absent. The SqueezeNet test checks
the reader, the labels, the Caffe preprocessing and the weights together
against the accuracy that data/README.md reports.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import torch
from torch.utils.data import DataLoader

import camlib
from camlib.data import CUB, ImageNetVal, PreprocessWithBoxes, collate, find_data

IMAGENET = "imagenet-val-1300"
CUB_ROOT = "cub-200-2011-50cls/CUB_200_2011"
WEIGHTS = "weights/squeezenet1_0-deepcompression-caffe.pth"


def _present(relative: str, expect=()) -> bool:
    try:
        find_data(relative, expect=expect)
    except FileNotFoundError:
        return False
    return True


ABSENT = "real data absent: link data/ to the study's data or set $CAMLIB_DATA (needs {})"
needs_imagenet = pytest.mark.skipif(
    not _present(IMAGENET, ["LOC_synset_mapping.txt", "LOC_val_solution.csv", "ILSVRC"]), reason=ABSENT.format(IMAGENET)
)
needs_cub = pytest.mark.skipif(not _present(CUB_ROOT, ["images.txt"]), reason=ABSENT.format(CUB_ROOT))
needs_weights = pytest.mark.skipif(not _present(WEIGHTS), reason=ABSENT.format(WEIGHTS))
pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def imagenet() -> ImageNetVal:
    return ImageNetVal(IMAGENET)


@needs_imagenet
def test_imagenet_counts(imagenet):
    assert len(imagenet) == 1300 and len(imagenet.classes) == 1000
    assert sum(len(r.boxes) for r in imagenet.records) == 1943
    assert [r.image_id for r in imagenet.records] == sorted(r.image_id for r in imagenet.records)


@needs_imagenet
def test_imagenet_labels_are_the_xml_classes_in_torchvision_order(imagenet):
    # An independent reading of every XML file: each box's <name> is the image's class.
    assert imagenet.wnids == sorted(imagenet.wnids)  # torchvision's order
    names = camlib.imagenet_categories()
    assert names[imagenet.wnids.index("n03792782")] == "mountain bike"
    for record in imagenet.records:
        tree = ET.parse(imagenet.root / "ILSVRC/Annotations/CLS-LOC/val" / f"{record.image_id}.xml")
        assert {obj.findtext("name") for obj in tree.iter("object")} == {imagenet.wnids[record.label]}


@needs_imagenet
def test_imagenet_csv_and_xml_agree_on_every_image(imagenet):
    xml = ImageNetVal(IMAGENET, annotations="xml")
    assert len(xml) == len(imagenet)
    for a, b in zip(imagenet.records, xml.records):
        assert (a.image_id, a.label, a.boxes) == (b.image_id, b.label, b.boxes)
        assert b.box_size == (227, 227)


@needs_imagenet
def test_imagenet_items_are_227_with_boxes_inside(imagenet):
    for i in (0, 649, 1299):
        item = imagenet[i]
        assert item.size == (227, 227) and item.image.size == (227, 227)
        assert item.boxes.min() >= 0 and item.boxes.max() <= 226
        assert item.boxes.tolist() == [list(b) for b in imagenet.records[i].boxes]  # no clipping needed


@needs_cub
def test_cub_counts_and_split():
    train, test, every = CUB(CUB_ROOT, split="train"), CUB(CUB_ROOT, split="test"), CUB(CUB_ROOT, split="all")
    assert (len(train), len(test), len(every)) == (1500, 1389, 2889)
    assert len(every.classes) == 50 and sorted(set(every.labels)) == list(range(50))
    assert {r.image_id for r in train.records}.isdisjoint(r.image_id for r in test.records)
    assert every.classes[0] == "001.Black_footed_Albatross" and every.classes[49] == "050.Eared_Grebe"
    assert all(r.image_id.startswith(every.classes[r.label] + "/") for r in every.records)
    assert all(len(r.boxes) == 1 for r in every.records)


@needs_cub
def test_cub_boxes_inside_the_images():
    data = CUB(CUB_ROOT, split="test")
    for i in range(0, len(data), 97):  # a spread of images; reading all 2,889 takes longer
        item = data[i]
        (x1, y1, x2, y2), (H, W) = item.boxes[0].tolist(), item.size
        assert 0 <= x1 <= x2 <= W - 1 and 0 <= y1 <= y2 <= H - 1 and max(H, W) <= 320


@needs_imagenet
@needs_weights
def test_squeezenet_accuracy_on_the_imagenet_subset(imagenet):
    # data/README.md: 71.5% top-1 and 90.8% top-5 with Caffe's preprocessing at 227 x 227.
    # Speed on a 2-core CPU: channels-last convolutions run about twice as fast, and batches
    # of 16 beat 64, whose large activations are freed and page-faulted again every batch.
    net = camlib.load_pretrained("squeezenet1_0", find_data(WEIGHTS)).to(memory_format=torch.channels_last)
    data = ImageNetVal(IMAGENET, transform=PreprocessWithBoxes(227, "caffe"))
    top1 = top5 = 0
    with torch.inference_mode():
        for batch in DataLoader(data, batch_size=16, collate_fn=collate, num_workers=0):
            best = net(batch.images.contiguous(memory_format=torch.channels_last)).topk(5, dim=1).indices  # (N, 5)
            top1 += (best[:, 0] == batch.labels).sum().item()
            top5 += (best == batch.labels[:, None]).any(dim=1).sum().item()
    top1, top5 = 100 * top1 / len(data), 100 * top5 / len(data)
    assert abs(top1 - 71.5) <= 0.2 and abs(top5 - 90.8) <= 0.2, (top1, top5)
