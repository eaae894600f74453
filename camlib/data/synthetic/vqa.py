"""Visual question answering, Sort-of-CLEVR style (Santoro et al. 2017): questions about coloured shapes.

An image holds ``num_objects`` shapes (circle, square or triangle) of
distinct colours on a plain grey ground, one per cell of a 3 x 3 grid (so
they never overlap). Each item asks one question about the object of one
colour, the *queried* object:

=========  ===========================================================  ==============
type       question                                                     answers
=========  ===========================================================  ==============
shape      what shape is the red object?                                circle, square, triangle
left       is the red object on the left or on the right?              left, right
top        is the red object at the top or at the bottom?              top, bottom
count      how many objects have the shape of the red object?          1-6
nearest    what colour is the object nearest to the red object?        a colour
=========  ===========================================================  ==============

"Left" means the object's centre lies left of the image's vertical midline
(and "top" above the horizontal one). The item's ``mask`` is the object the
answer is read from: the queried object, or for *nearest* the nearest one.

With ``num_objects=1`` an image holds one shape, the colour a question names
is the only one present, and only the questions about that object are asked
(``SINGLE_TYPES``: shape, left, top): the answer is read from the image
alone, the setting where a model that cannot bind a word to an object (a
linear layer over a bag of words and GAP features) can still use the image.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from camlib.data.synthetic.common import Benchmark, check_index, check_int, item_rng, mask_box, to_image
from camlib.data.synthetic.render import SHAPES, frame

__all__ = [
    "VQAObject",
    "VQAItem",
    "SortOfClevr",
    "COLOURS",
    "SHAPE_NAMES",
    "QUESTION_TYPES",
    "SINGLE_TYPES",
    "ANSWERS",
    "QUESTION_WORDS",
    "bag_of_words",
]

COLOURS = {
    "red": (0.86, 0.10, 0.10),
    "green": (0.10, 0.65, 0.15),
    "blue": (0.10, 0.25, 0.90),
    "orange": (0.98, 0.55, 0.05),
    "gray": (0.45, 0.45, 0.45),
    "yellow": (0.95, 0.88, 0.10),
}
SHAPE_NAMES = ("circle", "square", "triangle")
_PREDICATE = {"circle": "disc", "square": "square", "triangle": "triangle"}
QUESTION_TYPES = ("shape", "left", "top", "count", "nearest")
SINGLE_TYPES = ("shape", "left", "top")  # the questions a one-object image can answer
_TEMPLATES = {
    "shape": "what shape is the {} object?",
    "left": "is the {} object on the left or on the right?",
    "top": "is the {} object at the top or at the bottom?",
    "count": "how many objects have the shape of the {} object?",
    "nearest": "what colour is the object nearest to the {} object?",
}
ANSWERS = SHAPE_NAMES + ("left", "right", "top", "bottom") + tuple(str(n) for n in range(1, 7)) + tuple(COLOURS)
QUESTION_WORDS = tuple(sorted({w for t in _TEMPLATES.values() for w in re.findall(r"[a-z]+", t)} | set(COLOURS)))
GROUND = (0.85, 0.85, 0.85)


class VQAObject(NamedTuple):
    """One shape of a scene: its colour and shape names, centre (pixels) and box (inclusive)."""

    colour: str
    shape: str
    x: float
    y: float
    box: tuple[int, int, int, int]


class VQAItem(NamedTuple):
    """One image, one question about it and the answer.

    Attributes:
        image (Tensor[3, H, W]): float32 in [0, 1], multiples of 1/255.
        question: the question in words.
        question_type: its index in ``QUESTION_TYPES``.
        answer: the answer's index in ``ANSWERS``.
        mask (BoolTensor[H, W]): the object the answer is read from.
        boxes (LongTensor[1, 4]): the bounding box of ``mask``.
        objects: every object of the scene, a tuple of ``VQAObject``.
    """

    image: Tensor
    question: str
    question_type: int
    answer: int
    mask: Tensor
    boxes: Tensor
    objects: tuple[VQAObject, ...]


class SortOfClevr(Benchmark):
    """Sort-of-CLEVR scenes with one question each; item ``i`` is a pure function of ``(seed, i)``.

    Args:
        size: the number of items.
        seed: any int >= 0.
        image_size: the side in pixels, 32-224 (default 64).
        num_objects: shapes per image, 1-6, each of a different colour (1:
            only ``SINGLE_TYPES`` questions).

    Example:
        >>> item = SortOfClevr(10, seed=0)[1]
        >>> item.question, ANSWERS[item.answer]
        ('how many objects have the shape of the orange object?', '3')
    """

    def __init__(self, size: int, *, seed: int, image_size: int = 64, num_objects: int = 6) -> None:
        self.size = check_int("size", size, min=0)
        self.seed = check_int("seed", seed, min=0)
        self.image_size = check_int("image_size", image_size, min=32, max=224)
        self.num_objects = check_int("num_objects", num_objects, min=1, max=len(COLOURS))

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> VQAItem:
        index = check_index(index, self.size)
        rng = item_rng(self.seed, index)
        side, n = self.image_size, self.num_objects
        cell = side / 3
        r = 0.3 * cell  # the shapes' radius
        colours = [list(COLOURS)[k] for k in rng.permutation(len(COLOURS))[:n]]
        cells = rng.permutation(9)[:n]
        x = rng.random((n, 3)).tolist()
        image = np.empty((side, side, 3), dtype=np.float32)
        image[:] = GROUND
        objects, masks = [], []
        for colour, k, (a, b, kind) in zip(colours, cells, x):
            shape = SHAPE_NAMES[int(kind * 3)]
            # centre anywhere in its cell that keeps a pixel of margin to the cell's sides
            cx = (k % 3) * cell + r + 1 + a * (cell - 2 * r - 2) - 0.5
            cy = (k // 3) * cell + r + 1 + b * (cell - 2 * r - 2) - 0.5
            f = frame((side, side), cx, cy, r)
            mask = np.zeros((side, side), dtype=bool)
            mask[f.rows, f.cols] = SHAPES[_PREDICATE[shape]](f.u, f.v)
            image[mask] = COLOURS[colour]
            objects.append(VQAObject(colour, shape, cx, cy, mask_box(mask)))
            masks.append(mask)
        types = QUESTION_TYPES if n > 1 else SINGLE_TYPES  # (the same draws as before for n > 1)
        kind, which = types[int(rng.integers(len(types)))], int(rng.integers(n))
        q, target = QUESTION_TYPES.index(kind), objects[which]
        answer, shown = self.answer(kind, target, objects)
        mask = masks[objects.index(shown)]
        return VQAItem(
            image=to_image(image),
            question=_TEMPLATES[kind].format(target.colour),
            question_type=q,
            answer=ANSWERS.index(answer),
            mask=torch.from_numpy(mask),
            boxes=torch.tensor([shown.box], dtype=torch.long),  # (1, 4)
            objects=tuple(objects),
        )

    def answer(self, kind: str, target: VQAObject, objects: Sequence[VQAObject]) -> tuple[str, VQAObject]:
        """The answer to a question of ``kind`` about ``target``, and the object it is read from."""
        middle = (self.image_size - 1) / 2
        if kind == "shape":
            return target.shape, target
        if kind == "left":
            return ("left" if target.x < middle else "right"), target
        if kind == "top":
            return ("top" if target.y < middle else "bottom"), target
        if kind == "count":
            return str(sum(o.shape == target.shape for o in objects)), target
        others = [o for o in objects if o is not target]
        nearest = min(others, key=lambda o: (o.x - target.x) ** 2 + (o.y - target.y) ** 2)
        return nearest.colour, nearest

    def __repr__(self) -> str:
        return (
            f"SortOfClevr({self.size}, seed={self.seed}, image_size={self.image_size}, num_objects={self.num_objects})"
        )


def bag_of_words(questions: Sequence[str]) -> Tensor:
    """Questions as word counts over ``QUESTION_WORDS``: ``Tensor[N, V]``, float32.

    The question encoding of the paper's VQA baseline (bag of words).

    Raises:
        ValueError: a question has a word outside ``QUESTION_WORDS``.

    Example:
        >>> bow = bag_of_words(["what shape is the red object?"])
        >>> int(bow.sum()), int(bow[0, QUESTION_WORDS.index("red")])
        (6, 1)
    """
    index = {w: j for j, w in enumerate(QUESTION_WORDS)}
    out = torch.zeros(len(questions), len(QUESTION_WORDS))
    for i, question in enumerate(questions):
        for word in re.findall(r"[a-z]+", question.lower()):
            if word not in index:
                raise ValueError(f"`questions[{i}]` has the word {word!r}, which is not in QUESTION_WORDS.")
            out[i, index[word]] += 1
    return out
