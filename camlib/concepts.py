"""Weak labels from captions: an image is a positive for a concept when one of its captions names it.

Zhou et al. (2016, Sec. 4.2, Fig. 10) learn concept detectors from image-level
tags. COCO's captions play the tags here: ``caption_labels`` marks image ``i``
as a positive for concept ``c`` when a caption of ``i`` contains one of ``c``'s
words (``COCO_SYNONYMS``: a small table from COCO's category names to the
words captions use for them, shown in the chapter that uses it) as a whole word
or phrase, case-insensitive, in the singular or with an ``s``/``es`` plural.
Matching is deliberately simple and visible; its errors (a "hot dog stand"
with no hot dog, a "man" who is on a poster) are the weak labels' noise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

__all__ = ["COCO_SYNONYMS", "caption_labels"]

COCO_SYNONYMS: dict[str, tuple[str, ...]] = {  # COCO category -> the words that name it in captions
    "person": ("person", "people", "man", "men", "woman", "women", "boy", "girl", "child", "children", "kid",
               "player", "guy", "lady", "skier", "surfer", "skateboarder"),
    "bicycle": ("bicycle", "bike"), "car": ("car",), "motorcycle": ("motorcycle", "motorbike"),
    "airplane": ("airplane", "plane", "jet", "aircraft"), "bus": ("bus",), "train": ("train",),
    "truck": ("truck",), "boat": ("boat", "ship"), "traffic light": ("traffic light", "stop light"),
    "fire hydrant": ("fire hydrant", "hydrant"), "stop sign": ("stop sign",), "parking meter": ("parking meter",),
    "bench": ("bench",), "bird": ("bird",), "cat": ("cat", "kitten"), "dog": ("dog", "puppy"),
    "horse": ("horse",), "sheep": ("sheep", "lamb"), "cow": ("cow", "cattle"), "elephant": ("elephant",),
    "bear": ("bear",), "zebra": ("zebra",), "giraffe": ("giraffe",), "backpack": ("backpack",),
    "umbrella": ("umbrella",), "handbag": ("handbag", "purse"), "tie": ("tie",), "suitcase": ("suitcase", "luggage"),
    "frisbee": ("frisbee",), "skis": ("ski", "skis"), "snowboard": ("snowboard",), "sports ball": ("ball",),
    "kite": ("kite",), "baseball bat": ("baseball bat", "bat"), "baseball glove": ("baseball glove", "glove", "mitt"),
    "skateboard": ("skateboard",), "surfboard": ("surfboard",), "tennis racket": ("tennis racket", "racket", "racquet"),
    "bottle": ("bottle",), "wine glass": ("wine glass",), "cup": ("cup", "mug"), "fork": ("fork",),
    "knife": ("knife", "knives"), "spoon": ("spoon",), "bowl": ("bowl",), "banana": ("banana",), "apple": ("apple",),
    "sandwich": ("sandwich",), "orange": ("orange",), "broccoli": ("broccoli",), "carrot": ("carrot",),
    "hot dog": ("hot dog",), "pizza": ("pizza",), "donut": ("donut", "doughnut"), "cake": ("cake",),
    "chair": ("chair",), "couch": ("couch", "sofa"), "potted plant": ("potted plant", "plant"), "bed": ("bed",),
    "dining table": ("dining table", "table"), "toilet": ("toilet",), "tv": ("tv", "television"),
    "laptop": ("laptop", "computer"), "mouse": ("mouse",), "remote": ("remote", "controller"),
    "keyboard": ("keyboard",), "cell phone": ("cell phone", "phone", "cellphone"), "microwave": ("microwave",),
    "oven": ("oven", "stove"), "toaster": ("toaster",), "sink": ("sink",), "refrigerator": ("refrigerator", "fridge"),
    "book": ("book",), "clock": ("clock",), "vase": ("vase",), "scissors": ("scissors",),
    "teddy bear": ("teddy bear", "stuffed animal"), "hair drier": ("hair drier", "hair dryer", "blow dryer"),
    "toothbrush": ("toothbrush",),
}


def _pattern(words: Sequence[str]) -> re.Pattern:
    """A whole-word match of any of ``words`` (each a word or a phrase), with an optional plural ``s``/``es``."""
    alternatives = sorted((re.escape(w.lower()).replace(r"\ ", r"\s+") for w in words), key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")(?:e?s)?\b")


def caption_labels(captions: Sequence[Sequence[str]], concepts: Sequence[str],
                   synonyms: Mapping[str, Sequence[str]] = COCO_SYNONYMS) -> Tensor:
    """``BoolTensor[N, C]``: image ``i`` is a positive for concept ``c`` when a caption of ``i`` names it.

    Args:
        captions: per image, its captions.
        concepts: the concepts, keys of ``synonyms``.
        synonyms: concept -> the words and phrases that name it.

    Raises:
        ValueError: a concept that ``synonyms`` does not define.

    Example:
        >>> caption_labels([["Two dogs run on a beach."], ["A hot dog stand."], ["A man on a bicycle."]],
        ...                ["dog", "person", "bicycle"]).int().tolist()
        [[1, 0, 0], [1, 0, 0], [0, 1, 1]]
    """
    unknown = [c for c in concepts if c not in synonyms]
    if unknown:
        raise ValueError(f"`concepts` must be keys of `synonyms`, but got {unknown[:5]}.")
    patterns = [_pattern(synonyms[c]) for c in concepts]
    out = torch.zeros(len(captions), len(concepts), dtype=torch.bool)
    for i, texts in enumerate(captions):
        text = " ".join(t.lower() for t in texts)
        for j, pattern in enumerate(patterns):
            out[i, j] = pattern.search(text) is not None
    return out
