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

__all__ = ["COCO_SYNONYMS", "IMAGENET_FOR_COCO", "caption_labels"]

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


IMAGENET_FOR_COCO: dict[str, tuple[int, ...]] = {  # COCO category -> ImageNet-1k class indices that are instances of it
    "dog": tuple(range(151, 269)),  # the 118 dog breeds, Chihuahua .. Mexican hairless
    "cat": tuple(range(281, 286)),  # tabby .. Egyptian cat
    "bear": (294, 295, 296, 297), "zebra": (340,), "elephant": (101, 385, 386), "sheep": (348,), "horse": (339,),
    "cow": (345,), "airplane": (404, 895), "bus": (654, 779, 874), "train": (466, 547, 565, 820),
    "truck": (555, 569, 675, 717, 864, 867), "car": (436, 468, 511, 609, 627, 656, 751, 817),
    "boat": (472, 484, 510, 554, 576, 625, 628, 724, 780, 814, 833, 871, 914), "bicycle": (444, 671),
    "motorcycle": (665, 670), "traffic light": (920,), "parking meter": (704,), "bench": (703,),
    "umbrella": (879,), "backpack": (414,), "tie": (906,), "sports ball": (429, 430, 574, 768, 805, 852, 890),
    "tennis racket": (752,), "bottle": (440, 720, 737, 898, 907), "cup": (504, 968), "bowl": (659, 809),
    "banana": (954,), "orange": (950,), "broccoli": (937,), "hot dog": (934,), "pizza": (963,),
    "chair": (423, 559, 765), "couch": (831,), "dining table": (532,), "toilet": (861,), "tv": (851,),
    "laptop": (620,), "mouse": (673,), "remote": (761,), "keyboard": (508,), "cell phone": (487,),
    "microwave": (651,), "oven": (827,), "toaster": (859,), "sink": (896,), "refrigerator": (760,),
    "clock": (409, 892), "vase": (883,), "teddy bear": (850,), "hair drier": (589,),
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
