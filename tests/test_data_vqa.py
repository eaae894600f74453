"""camlib.data.VQA: VQA v1 and v2 layouts read from small files the tests write."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from camlib.data import VQA, collate


def _write(root, *, version=2, split="val2014", drop_annotation=False):
    prefix = "v2_" if version == 2 else ""
    (root / split).mkdir(parents=True)
    for image_id in (42, 7):
        Image.new("RGB", (8, 6)).save(root / split / f"COCO_{split}_{image_id:012d}.jpg")
    questions = [
        {"image_id": 42, "question": "What colour is the cat?", "question_id": 420},
        {"image_id": 7, "question": "How many dogs?", "question_id": 70},
        {"image_id": 42, "question": "Is it raining?", "question_id": 421},
    ]
    answers = {420: "white", 70: "2", 421: "no"}
    annotations = [
        {
            "question_id": q,
            "image_id": 42 if q != 70 else 7,
            "multiple_choice_answer": a,
            "answers": [{"answer": a, "answer_id": k} for k in range(1, 11)],
        }
        for q, a in answers.items()
    ]
    annotations.append({"question_id": 71, "image_id": 7, "multiple_choice_answer": "2", "answers": []})
    if drop_annotation:
        annotations = annotations[1:]
    questions.append({"image_id": 7, "question": "How many cats?", "question_id": 71})
    (root / f"{prefix}OpenEnded_mscoco_{split}_questions.json").write_text(json.dumps({"questions": questions}))
    (root / f"{prefix}mscoco_{split}_annotations.json").write_text(json.dumps({"annotations": annotations}))
    return root


@pytest.mark.parametrize("version", [1, 2])
def test_both_versions_one_item_per_question(tmp_path, version):
    data = VQA(_write(tmp_path, version=version), version=version, top_answers=2)
    assert len(data) == 4 and [r.image_id for r in data.records] == ["70", "71", "420", "421"]  # by question id
    assert data.answers == ["2", "no"]  # the most frequent first ("2" twice), ties alphabetical ("no" < "white")
    assert [r.label for r in data.records] == [0, 0, -1, 1]  # "white" is outside the kept answers
    assert data.question(2) == "What colour is the cat?" and data.image_id(2) == 42
    assert data.all_answers(2) == ("white",) * 10 and data.all_answers(1) == ()
    item = data[2]
    assert item.size == (6, 8) and item.boxes.shape == (0, 4) and item.label == -1
    assert collate([data[0], data[3]]).labels.tolist() == [0, 1]


def test_errors_name_what_is_wrong(tmp_path):
    with pytest.raises(ValueError, match=r"must annotate exactly the questions of .*1 questions lack an annotation"):
        VQA(_write(tmp_path / "a", drop_annotation=True))
    root = _write(tmp_path / "b")
    (root / "val2014" / "COCO_val2014_000000000007.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks 2 of the 4 images"):
        VQA(root)
    with pytest.raises(FileNotFoundError, match=r"VQA v1's layout"):
        VQA(root, version=1)
    with pytest.raises(ValueError, match=r"`version` must be 1 or 2, but got 3"):
        VQA(root, version=3)
    (root / "v2_mscoco_val2014_annotations.json").write_text("{")
    with pytest.raises(ValueError, match=r"is not valid JSON"):
        VQA(root)
