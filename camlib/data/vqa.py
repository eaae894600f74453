"""A reader for the VQA v1 and v2 layouts: questions and answers about COCO images.

The layout of the VQA downloads (visualqa.org), beside the COCO images::

    <root>/v2_OpenEnded_mscoco_<split>_questions.json    {"questions": [{"image_id", "question", "question_id"}]}
    <root>/v2_mscoco_<split>_annotations.json            {"annotations": [{"question_id", "image_id",
                                                            "multiple_choice_answer", "answers", ...}]}
    <root>/<split>/COCO_<split>_<image_id:012d>.jpg       the COCO 2014 images

VQA v1 names the files without the ``v2_`` prefix. One item per question:
``label`` is the index of its ``multiple_choice_answer`` among the answers
kept (``answers``: the ``top_answers`` most frequent in the file, the
classes of the paper's softmax), or -1 for an answer outside them; ``boxes``
is empty (VQA has none). The question text and all ten answers are read by
index.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

from camlib.data.common import AnnotatedImages, Record, Transform, entry_field, read_text, require_files
from camlib.data.locate import find_data

__all__ = ["VQA"]


def _load(path: Path, key: str) -> list:
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise ValueError(f"{str(path)!r} is not valid JSON: {err}.") from None
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise ValueError(f"{str(path)!r} must hold a JSON object with a list {key!r}, as VQA's files do.")
    return data[key]


class VQA(AnnotatedImages):
    """VQA questions about COCO images, one item per question (see the module's docstring for the layout).

    Args:
        root: the folder of the JSON files and the image folder, under the data root (default ``"vqa"``) or a path.
        split: ``"val2014"``, ``"train2014"``, ...
        version: 1 or 2.
        top_answers: the answers kept as classes, the most frequent first (ties: alphabetical).
        transform: as ``AnnotatedImages``.
        data_root: an explicit data root (``camlib.data.find_data``).

    Attributes:
        answers: the answers kept, by class index.

    Raises:
        FileNotFoundError: a JSON file or images are missing.
        ValueError: a file that does not parse, a question without its annotation or the other way round.
    """

    @staticmethod
    def annotation_files(split: str = "val2014", *, version: int = 2) -> list[str]:
        """The question and annotation files this reader reads, relative to its root (provenance hashes them).

        Example:
            >>> VQA.annotation_files("val2014", version=1)
            ['OpenEnded_mscoco_val2014_questions.json', 'mscoco_val2014_annotations.json']
        """
        prefix = "v2_" if version == 2 else ""
        return [f"{prefix}OpenEnded_mscoco_{split}_questions.json", f"{prefix}mscoco_{split}_annotations.json"]

    def __init__(
        self,
        root: str | os.PathLike = "vqa",
        *,
        split: str = "val2014",
        version: int = 2,
        top_answers: int = 1000,
        transform: Transform | None = None,
        data_root: str | os.PathLike | None = None,
    ) -> None:
        if version not in (1, 2):
            raise ValueError(f"`version` must be 1 or 2, but got {version!r}.")
        if isinstance(top_answers, bool) or not isinstance(top_answers, int) or top_answers < 1:
            raise ValueError(f"`top_answers` must be a positive int, but got {top_answers!r}.")
        files = self.annotation_files(split, version=version)
        layout = f"VQA v{version}'s layout: " + ", ".join(files) + f", {split}/COCO_{split}_<image_id>.jpg"
        self.root = find_data(root, root=data_root, expect=[*files, split], layout=layout)
        self.split, self.version = split, version
        qpath, apath = self.root / files[0], self.root / files[1]
        questions = _load(qpath, "questions")
        by_question: dict[int, dict] = {}
        for k, q in enumerate(questions):
            what = f"question {q.get('question_id', '?') if isinstance(q, dict) else '?'} (position {k})"
            qid = entry_field(q, "question_id", what=what, path=qpath, kind=int)
            entry_field(q, "image_id", what=what, path=qpath, kind=int)
            entry_field(q, "question", what=what, path=qpath, kind=str)
            if qid in by_question:
                raise ValueError(f"{str(qpath)!r} must list each question_id once, but {qid} appears twice.")
            by_question[qid] = q
        annotations: dict[int, dict] = {}
        for k, a in enumerate(_load(apath, "annotations")):
            what = f"annotation of question {a.get('question_id', '?') if isinstance(a, dict) else '?'} (position {k})"
            qid = entry_field(a, "question_id", what=what, path=apath, kind=int)
            image = entry_field(a, "image_id", what=what, path=apath, kind=int)
            entry_field(a, "multiple_choice_answer", what=what, path=apath, kind=str)
            if qid in annotations:
                raise ValueError(f"{str(apath)!r} must annotate each question_id once, but {qid} is annotated twice.")
            if qid in by_question and by_question[qid]["image_id"] != image:
                raise ValueError(
                    f"{str(apath)!r}: the annotation of question {qid} is about image {image}, but "
                    f"{files[0]!r} asks it about image {by_question[qid]['image_id']}: the files disagree."
                )
            annotations[qid] = a
        if not questions:
            raise ValueError(f"{str(qpath)!r} must list at least one question, but it lists none.")
        missing = [qid for qid in by_question if qid not in annotations]
        if missing or len(annotations) != len(questions):
            raise ValueError(
                f"{str(apath)!r} must annotate exactly the questions of "
                f"{files[0]!r}: {len(missing)} questions lack an annotation (first: {missing[:3]}), "
                f"{len(annotations)} annotations for {len(questions)} questions."
            )
        counts = Counter(str(a["multiple_choice_answer"]) for a in annotations.values())
        self.answers = [a for a, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top_answers]]
        index = {a: i for i, a in enumerate(self.answers)}
        questions = sorted(questions, key=lambda q: int(q["question_id"]))
        self._questions = [str(q["question"]) for q in questions]
        self._annotations = [annotations[int(q["question_id"])] for q in questions]
        records = [
            Record(
                self.root / split / f"COCO_{split}_{int(q['image_id']):012d}.jpg",
                index.get(str(a["multiple_choice_answer"]), -1),
                (),
                str(q["question_id"]),
            )
            for q, a in zip(questions, self._annotations)
        ]
        require_files(records, listed_in=self.root / files[0])
        super().__init__(records, self.answers, transform)

    def question(self, index: int) -> str:
        """The text of question ``index``."""
        return self._questions[index]

    def all_answers(self, index: int) -> tuple[str, ...]:
        """The ten answers the annotators gave to question ``index`` (VQA's accuracy counts matches among them)."""
        return tuple(str(a["answer"]) for a in self._annotations[index].get("answers", ()))

    def image_id(self, index: int) -> int:
        """The COCO image id that question ``index`` is about."""
        return int(self._annotations[index]["image_id"])
