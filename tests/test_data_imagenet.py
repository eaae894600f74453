"""Tests of camlib.data.imagenet on a small Kaggle-layout fixture built in tmp_path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from PIL import Image

from camlib.data import ImageNetVal, PreprocessWithBoxes, read_synsets

SYNSETS = ["n01440764 tench, Tinca tinca", "n01443537 goldfish, Carassius auratus", "n02951358 canoe"]
# image id: (PIL size (W, H), wnid, boxes). Several boxes, boxes on every border, a one-pixel box.
IMAGES = {
    "ILSVRC2012_val_00000003": ((20, 10), "n02951358", [(0, 0, 19, 9)]),
    "ILSVRC2012_val_00000001": ((16, 12), "n01443537", [(1, 2, 5, 6), (10, 0, 15, 11), (0, 11, 3, 11)]),
    "ILSVRC2012_val_00000002": ((8, 8), "n01440764", [(3, 3, 3, 3)]),
}
LABELS = {"n01440764": 0, "n01443537": 1, "n02951358": 2}


def xml_text(image_id, size, wnid, boxes):
    objects = "".join(
        f"<object><name>{wnid}</name><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin>"
        f"<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>\n"
        for x1, y1, x2, y2 in boxes
    )
    return (
        f"<annotation>\n<folder>val</folder>\n<filename>{image_id}</filename>\n"
        f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>\n{objects}</annotation>\n"
    )


def make_kaggle(root: Path, images=IMAGES) -> Path:
    """The Kaggle layout with ``images``; CSV rows in the dict's (unsorted) order."""
    (root / "ILSVRC/Data/CLS-LOC/val").mkdir(parents=True)
    (root / "ILSVRC/Annotations/CLS-LOC/val").mkdir(parents=True)
    (root / "LOC_synset_mapping.txt").write_text("\n".join(SYNSETS) + "\n")
    rows = ["ImageId,PredictionString"]
    for i, (image_id, (size, wnid, boxes)) in enumerate(images.items()):
        Image.new("RGB", size, (40 * i, 100, 200)).save(root / f"ILSVRC/Data/CLS-LOC/val/{image_id}.JPEG")
        (root / f"ILSVRC/Annotations/CLS-LOC/val/{image_id}.xml").write_text(xml_text(image_id, size, wnid, boxes))
        rows.append(f"{image_id}," + " ".join(f"{wnid} {x1} {y1} {x2} {y2}" for x1, y1, x2, y2 in boxes) + " ")
    (root / "LOC_val_solution.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture
def kaggle(tmp_path) -> Path:
    return make_kaggle(tmp_path / "imagenet")


@pytest.mark.parametrize("annotations", ["csv", "xml"])
def test_labels_and_boxes_exactly(kaggle, annotations):
    val = ImageNetVal(kaggle, annotations=annotations)
    assert len(val) == 3 and val.annotations == annotations
    assert val.wnids == ["n01440764", "n01443537", "n02951358"]
    assert val.classes == ["tench, Tinca tinca", "goldfish, Carassius auratus", "canoe"]
    assert [val[i].image_id for i in range(3)] == sorted(IMAGES)  # sorted ids, whatever the CSV's order
    for item in val:
        size, wnid, boxes = IMAGES[item.image_id]
        assert item.label == LABELS[wnid] and val.wnids[item.label] == wnid
        assert item.boxes.tolist() == [list(b) for b in boxes]
        assert item.image.size == size and item.size == (size[1], size[0])
    assert val.labels == [1, 0, 2]


def test_csv_and_xml_agree(kaggle):
    csv, xml = ImageNetVal(kaggle), ImageNetVal(kaggle, annotations="xml")
    for a, b in zip(csv, xml):
        assert (a.image_id, a.label, a.size) == (b.image_id, b.label, b.size)
        assert torch.equal(a.boxes, b.boxes)


def test_xml_only_needs_no_csv(kaggle):
    (kaggle / "LOC_val_solution.csv").unlink()
    assert len(ImageNetVal(kaggle, annotations="xml")) == 3
    with pytest.raises(FileNotFoundError, match=re.escape(f"{kaggle} lacks LOC_val_solution.csv")):
        ImageNetVal(kaggle)


def test_xml_size_rescales_the_boxes(tmp_path):
    # The XML says 10 x 5, the image is 20 x 10: the boxes double, as the image was.
    root = make_kaggle(tmp_path / "k", {"ILSVRC2012_val_00000001": ((20, 10), "n02951358", [(0, 0, 19, 9)])})
    xml = root / "ILSVRC/Annotations/CLS-LOC/val/ILSVRC2012_val_00000001.xml"
    xml.write_text(xml_text("ILSVRC2012_val_00000001", (10, 5), "n02951358", [(2, 1, 4, 3)]))
    # edges [2, 5) x [1, 4) -> [4, 10) x [2, 8)
    assert ImageNetVal(root, annotations="xml")[0].boxes.tolist() == [[4, 2, 9, 7]]


def test_transform_resizes_image_and_boxes(kaggle):
    val = ImageNetVal(kaggle, transform=PreprocessWithBoxes((20, 32), "caffe"))
    item = val[0]  # ILSVRC2012_val_00000001, 16 x 12 -> 32 x 20: x doubles, y by 5/3
    assert item.image.shape == (3, 20, 32) and item.size == (12, 16)
    # (1, 2, 5, 6): x edges [1, 6) -> [2, 12); y edges [2, 7) -> [3.33, 11.67) -> 3 and 12.
    # (10, 0, 15, 11): the right, top and bottom borders stay borders.
    # (0, 11, 3, 11): y edges [11, 12) -> [18.33, 20) -> 18 and 20.
    assert item.boxes.tolist() == [[2, 3, 11, 11], [20, 0, 31, 19], [0, 18, 7, 19]]


def test_relative_root_under_data_root(kaggle, monkeypatch):
    monkeypatch.setenv("CAMLIB_DATA", "/does/not/matter")
    assert ImageNetVal("imagenet", data_root=kaggle.parent).root == kaggle
    monkeypatch.setenv("CAMLIB_DATA", str(kaggle.parent))
    assert len(ImageNetVal("imagenet")) == 3


def test_missing_folder(tmp_path):
    looked_at = tmp_path / "nothing-here"
    with pytest.raises(FileNotFoundError, match=re.escape(f"{looked_at} does not exist")) as info:
        ImageNetVal(looked_at)
    layout = "Kaggle's ImageNet localization layout: LOC_synset_mapping.txt, LOC_val_solution.csv, ILSVRC/Data/CLS-LOC/val/*.JPEG"
    assert layout in str(info.value)


def test_incomplete_folder(kaggle):
    (kaggle / "LOC_synset_mapping.txt").unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(f"{kaggle} lacks LOC_synset_mapping.txt")):
        ImageNetVal(kaggle)


def test_missing_image(kaggle):
    (kaggle / "ILSVRC/Data/CLS-LOC/val/ILSVRC2012_val_00000002.JPEG").unlink()
    folder = kaggle / "ILSVRC/Data/CLS-LOC/val"
    message = f"{folder} lacks 1 of the 3 images that {str(kaggle / 'LOC_val_solution.csv')!r} lists for it (ILSVRC2012_val_00000002.JPEG)"
    with pytest.raises(FileNotFoundError, match=re.escape(message)):
        ImageNetVal(kaggle)


def test_unreadable_image(kaggle):
    path = kaggle / "ILSVRC/Data/CLS-LOC/val/ILSVRC2012_val_00000002.JPEG"
    path.write_bytes(b"\xff\xd8 not really a jpeg")
    val = ImageNetVal(kaggle)
    with pytest.raises(OSError, match=re.escape(f"Could not read the image {str(path)!r}")):
        val[1]


CSV_EXPECTED = "`ImageId,PredictionString` with `wnid x1 y1 x2 y2` repeated"


@pytest.mark.parametrize(
    "line, why",
    [
        ("ILSVRC2012_val_00000009,n02951358 1 2 3", " (five fields per box)"),
        ("ILSVRC2012_val_00000009,n02951358 1 2 3 x", " ('x' is not an integer)"),
        ("ILSVRC2012_val_00000009,n02951358 1 2 3 4,extra", ""),
        (
            "ILSVRC2012_val_00000009,n02951358 5 2 3 4",
            " (a box with 0 <= x1 <= x2 and 0 <= y1 <= y2, not (5, 2, 3, 4))",
        ),
        ("ILSVRC2012_val_00000009,", " (at least one box)"),
        (
            "ILSVRC2012_val_00000009,n02951358 1 2 3 4 n01440764 1 2 3 4",
            " (the boxes of one image to name one class, not n01440764, n02951358)",
        ),
        ("ILSVRC2012_val_00000009,n99999999 1 2 3 4", " (a class listed in LOC_synset_mapping.txt, not 'n99999999')"),
        (
            "ILSVRC2012_val_00000001,n01443537 1 2 3 4",
            " (each image on one line; ILSVRC2012_val_00000001 is also on line 3)",
        ),
    ],
)
def test_malformed_csv_line(kaggle, line, why):
    csv = kaggle / "LOC_val_solution.csv"
    csv.write_text(csv.read_text() + line + "\n")  # line 5
    message = f"Malformed line 5 of {str(csv)!r}: expected {CSV_EXPECTED}{why}, but got "
    with pytest.raises(ValueError, match=re.escape(message)):
        ImageNetVal(kaggle)


def test_csv_header(kaggle):
    csv = kaggle / "LOC_val_solution.csv"
    csv.write_text("image,boxes\n" + csv.read_text().split("\n", 1)[1])
    message = f"Malformed line 1 of {str(csv)!r}: expected {CSV_EXPECTED} (this header), but got 'image,boxes'"
    with pytest.raises(ValueError, match=re.escape(message)):
        ImageNetVal(kaggle)


@pytest.mark.parametrize(
    "replace, why",
    [
        (("<xmin>1</xmin>", "<xmin>one</xmin>"), "expected a number in <xmin>, not 'one'"),
        (("<xmin>1</xmin>", ""), "expected a number in <xmin>, not None"),
        (("<xmin>1</xmin>", "<xmin>1.5</xmin>"), "expected an integer in <xmin>, not '1.5'"),
        (
            ("<xmin>1</xmin>", "<xmin>7</xmin>"),
            "expected a box with 0 <= xmin <= xmax and 0 <= ymin <= ymax, not (7, 2, 5, 6)",
        ),
        (("n01443537", "n12345678"), "expected a class listed in LOC_synset_mapping.txt, not 'n12345678'"),
        (("<width>16</width>", "<width>0</width>"), "expected a positive <width> and <height> in <size>, not 0 x 12"),
        (("<folder>val</folder>", "<folder>val</fold>"), "mismatched tag: line 2, column 13"),
    ],
)
def test_malformed_xml(kaggle, replace, why):
    xml = kaggle / "ILSVRC/Annotations/CLS-LOC/val/ILSVRC2012_val_00000001.xml"
    xml.write_text(xml.read_text().replace(*replace))
    with pytest.raises(ValueError, match=re.escape(f"Malformed XML file {str(xml)!r}: {why}")):
        ImageNetVal(kaggle, annotations="xml")


def test_xml_integral_floats_are_accepted(kaggle):
    xml = kaggle / "ILSVRC/Annotations/CLS-LOC/val/ILSVRC2012_val_00000001.xml"
    xml.write_text(xml.read_text().replace("<xmin>1</xmin>", "<xmin>1.0</xmin>"))
    assert ImageNetVal(kaggle, annotations="xml")[0].boxes[0].tolist() == [1, 2, 5, 6]


def test_read_synsets(tmp_path):
    path = tmp_path / "LOC_synset_mapping.txt"
    path.write_text("n01440764 tench, Tinca tinca\n\nn01443537   goldfish\n")
    assert read_synsets(path) == (["n01440764", "n01443537"], ["tench, Tinca tinca", "goldfish"])
    path.write_text("n01440764 tench\nn01443537\n")
    with pytest.raises(
        ValueError,
        match=re.escape(f"Malformed line 2 of {str(path)!r}: expected `<wnid> <names>`, but got 'n01443537'"),
    ):
        read_synsets(path)
    path.write_text("n01440764 tench\nn01443537 goldfish\nn01440764 tench again\n")
    message = "expected `<wnid> <names>` (n01440764 is already on line 1), but got 'n01440764 tench again'"
    with pytest.raises(ValueError, match=re.escape(message)):
        read_synsets(path)


def test_bad_annotations_argument(kaggle):
    with pytest.raises(ValueError, match=r"`annotations` must be one of 'csv', 'xml', but got 'json'"):
        ImageNetVal(kaggle, annotations="json")
