"""Procedurally generated benchmarks with exact ground truth: boxes, masks, parts, words, answers.

Five map-style datasets, ``Dataset(size, *, seed, image_size=..., ...)``,
whose item ``i`` is a pure function of ``(seed, i)``, the same on every
machine (see ``camlib.data.synthetic.common`` for the conventions):

- ``Localization``: one object with its box, mask and part masks (``ObjectItem``);
- ``FineGrained``: small objects that differ in one part (``ObjectItem``);
- ``Scenes``: several annotated objects; the scene is which categories co-occur (``SceneItem``);
- ``Text``: words on backgrounds, with word boxes and masks (``TextItem``);
- ``SortOfClevr``: coloured shapes, a question, its answer and the object it is read from (``VQAItem``).

``collate`` batches items of any of them for a ``DataLoader``: it is
``camlib.data.collate``, which makes a ``camlib.data.Batch``.
"""

from camlib.data.batch import collate
from camlib.data.synthetic.common import GENERATOR_VERSION, InMemory, dataset_spec
from camlib.data.synthetic.finegrained import FineGrained
from camlib.data.synthetic.localization import Localization, ObjectItem, center_box_accuracy
from camlib.data.synthetic.scenes import SceneItem, Scenes
from camlib.data.synthetic.show import draw_item, show_samples, summarize
from camlib.data.synthetic.text import Text, TextItem
from camlib.data.synthetic.vqa import ANSWERS, QUESTION_WORDS, SortOfClevr, VQAItem, bag_of_words

__all__ = [
    "GENERATOR_VERSION",
    "dataset_spec",
    "ANSWERS",
    "QUESTION_WORDS",
    "FineGrained",
    "InMemory",
    "Localization",
    "ObjectItem",
    "SceneItem",
    "Scenes",
    "SortOfClevr",
    "Text",
    "TextItem",
    "VQAItem",
    "bag_of_words",
    "center_box_accuracy",
    "collate",
    "draw_item",
    "show_samples",
    "summarize",
]
