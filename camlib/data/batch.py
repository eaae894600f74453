"""One batch type for every dataset, made by one collate.

Every dataset of camlib returns items that are NamedTuples: the readers of
``camlib.data`` an ``Item``, the synthetic benchmarks an ``ObjectItem``,
``SceneItem``, ``TextItem`` or ``VQAItem``, ``camlib.study.training.Squares`` an
``Item``. ``collate(items)`` turns a list of items of one type into a
``Batch``, for ``DataLoader(dataset, collate_fn=camlib.data.collate)``;
training (``camlib.study.training``), evaluation (``camlib.evaluate_localization``) and
feature extraction (``camlib.study.features.extract_features``) read that ``Batch``.

How item fields become batch fields (``FIELDS``): fixed-size values are
stacked (``image`` -> ``images (Tensor[N, 3, H, W])``, ``label`` ->
``labels (LongTensor[N])``); values whose size varies from image to image
(boxes, masks, parts, words, ...) become lists of ``N``, one entry per image,
even when they happen to share a shape, so that a field has one type
whatever the batch. A one-object ``mask (BoolTensor[H, W])`` becomes
``masks[i] (BoolTensor[1, H, W])``, so that ``masks[i][j]`` is always the
mask of ``boxes[i][j]``.

Boxes are ``(x1, y1, x2, y2)`` inclusive pixel indices (``camlib.data.common``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

__all__ = ["Batch", "FIELDS", "check_batch", "collate"]


@dataclass(frozen=True)
class Batch:
    """``N`` images with their labels and whatever ground truth their dataset has.

    Attributes:
        images: ``Tensor[N, 3, H, W]``; a list of ``N`` PIL images when the
            items hold PIL images (a reader without a transform).
        labels (LongTensor[N]): the class of each image; for ``SortOfClevr``
            the answer (an index of ``camlib.data.synthetic.ANSWERS``).
        boxes: ``N`` tensors ``LongTensor[m_i, 4]``, ``(x1, y1, x2, y2)``
            inclusive pixel indices of the images as batched; ``m_i`` may be 0.
        masks: ``N`` tensors ``BoolTensor[m_i, H, W]``, the pixels of the
            object of each box (Localization, FineGrained, Scenes, the words
            of Text, the object a SortOfClevr answer is read from).
        parts: ``N`` tensors ``BoolTensor[P_i, H, W]``, the object's part
            masks (Localization, FineGrained).
        box_labels: ``N`` tensors ``LongTensor[m_i]``, the category of each
            box (Scenes).
        words: ``N`` tuples of the ``m_i`` words of the boxes (Text).
        questions: ``N`` questions in words (SortOfClevr).
        question_types (LongTensor[N]): their indices in ``QUESTION_TYPES`` (SortOfClevr).
        objects: ``N`` tuples of ``VQAObject``, the scene's shapes (SortOfClevr).
        image_ids: ``N`` ids (the readers of ``camlib.data``, ``Squares``).
        sizes (LongTensor[N, 2]): ``(H, W)`` of each image file, before any transform.

    A field that the dataset's items do not have is None.

    Raises:
        TypeError: ``images`` or ``labels`` is not a tensor (or ``images`` a list).
        ValueError: ``images`` is not ``[N, 3, H, W]``, ``labels`` not ``[N]``,
            or another field does not hold ``N`` entries.

    Example:
        >>> b = Batch(torch.zeros(2, 3, 4, 4), torch.tensor([1, 0]), boxes=[torch.tensor([[0, 0, 3, 3]])] * 2)
        >>> len(b), b.masks is None, b.to("cpu").boxes[1].tolist()
        (2, True, [[0, 0, 3, 3]])
    """

    images: Tensor | list
    labels: Tensor
    boxes: list[Tensor] | None = None
    masks: list[Tensor] | None = None
    parts: list[Tensor] | None = None
    box_labels: list[Tensor] | None = None
    words: list[tuple[str, ...]] | None = None
    questions: list[str] | None = None
    question_types: Tensor | None = None
    objects: list[tuple] | None = None
    image_ids: list[str] | None = None
    sizes: Tensor | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.labels, Tensor) or self.labels.ndim != 1:
            shown = tuple(self.labels.shape) if isinstance(self.labels, Tensor) else type(self.labels).__name__
            raise TypeError(f"`labels` must be a 1-D tensor (N,), but got {shown}.")
        n = self.labels.shape[0]
        if isinstance(self.images, Tensor):
            if self.images.ndim != 4 or self.images.shape[0] != n:
                raise ValueError(
                    f"`images` must be a 4-D tensor (N, 3, H, W) with N = {n} labels, "
                    f"but got shape {tuple(self.images.shape)}."
                )
        elif not isinstance(self.images, list):
            raise TypeError(f"`images` must be a tensor (N, 3, H, W) or a list, but got {type(self.images).__name__}.")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is not None and len(value) != n:
                raise ValueError(f"`{f.name}` must hold one entry per image (N = {n}), but got {len(value)}.")

    def __len__(self) -> int:
        return self.labels.shape[0]

    def _apply(self, fn: Callable[[Tensor], Tensor]) -> Batch:
        def move(value: Any) -> Any:
            if isinstance(value, Tensor):
                return fn(value)
            if isinstance(value, list) and value and all(isinstance(v, Tensor) for v in value):
                return [fn(v) for v in value]
            return value  # None, PIL images, strings, VQAObjects

        return dataclasses.replace(self, **{f.name: move(getattr(self, f.name)) for f in dataclasses.fields(self)})

    def to(self, device: str | torch.device, *, non_blocking: bool = False) -> Batch:
        """A batch whose tensors (and lists of tensors) are on ``device``; the rest is shared."""
        return self._apply(lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> Batch:
        """A batch in pinned memory (``DataLoader(..., pin_memory=True)`` calls it)."""
        return self._apply(Tensor.pin_memory)


# item field -> (batch field, how): "stack" the tensors, "long" make a LongTensor[N], "list" keep a list,
# "one" a list of one-object masks [H, W] as [1, H, W], "size" a LongTensor[N, 2].
FIELDS: dict[str, tuple[str, str]] = {
    "image": ("images", "stack"),
    "label": ("labels", "long"),
    "answer": ("labels", "long"),
    "boxes": ("boxes", "list"),
    "mask": ("masks", "one"),
    "masks": ("masks", "list"),
    "parts": ("parts", "list"),
    "labels": ("box_labels", "list"),
    "words": ("words", "list"),
    "question": ("questions", "list"),
    "question_type": ("question_types", "long"),
    "objects": ("objects", "list"),
    "image_id": ("image_ids", "list"),
    "size": ("sizes", "size"),
}


def _stack(values: list) -> Tensor | list:
    if not all(isinstance(v, Tensor) for v in values):
        return values  # PIL images
    shapes = {tuple(v.shape) for v in values}
    if len(shapes) > 1:
        raise ValueError(
            f"`items` must hold images of one shape to be stacked, but got shapes {sorted(shapes)}; "
            f"resize them to one size (e.g. camlib.data.PreprocessWithBoxes(224))."
        )
    return torch.stack(values)  # (N, 3, H, W)


def collate(items: Sequence[tuple]) -> Batch:
    """Collate items of one type, from any camlib dataset, into a ``Batch``.

    For ``torch.utils.data.DataLoader(dataset, collate_fn=collate)``: the
    default collate cannot stack boxes whose count differs from image to
    image. ``camlib.data.collate`` and ``camlib.data.synthetic.collate`` are
    this one function. Each item field becomes the batch field that
    ``FIELDS`` names (see the module docstring).

    Args:
        items: NamedTuples of one type with an ``image`` and a ``label`` (or
            an ``answer``) field; their other fields must be in ``FIELDS``.

    Returns:
        The ``Batch``; the fields the items lack are None.

    Raises:
        TypeError: an item is not a NamedTuple.
        ValueError: ``items`` is empty, mixes item types, has a field that
            ``FIELDS`` does not know or lacks ``image`` or ``label``, or its
            image tensors differ in shape.

    Example:
        >>> from camlib.data import Item
        >>> a = Item(torch.zeros(3, 2, 2), 4, torch.tensor([[0, 0, 1, 1]]), "a", (5, 5))
        >>> b = Item(torch.ones(3, 2, 2), 7, torch.zeros(0, 4, dtype=torch.long), "b", (6, 8))
        >>> batch = collate([a, b])
        >>> batch.images.shape, batch.labels.tolist(), [len(x) for x in batch.boxes], batch.image_ids
        (torch.Size([2, 3, 2, 2]), [4, 7], [1, 0], ['a', 'b'])
        >>> batch.masks is None
        True
    """
    if len(items) == 0:
        raise ValueError("`items` must hold at least one item, but got none.")
    kinds = {type(item) for item in items}
    if len(kinds) > 1:
        raise ValueError(f"`items` must be of one type, but got {sorted(k.__name__ for k in kinds)}.")
    kind = kinds.pop()
    names = getattr(kind, "_fields", None)
    if not isinstance(items[0], tuple) or names is None:
        raise TypeError(
            f"`items` must be NamedTuples such as camlib.data.Item, but got {kind.__name__}; "
            f"make the dataset return one."
        )
    unknown = [name for name in names if name not in FIELDS]
    if unknown:
        raise ValueError(
            f"`items` must have only the fields of camlib.data.batch.FIELDS, but {kind.__name__} has {unknown}."
        )
    if "image" not in names or not {"label", "answer"} & set(names):
        raise ValueError(f"`items` must have an `image` and a `label` field, but {kind.__name__} has {list(names)}.")
    fields: dict[str, Any] = {}
    for name in names:
        values = [getattr(item, name) for item in items]
        target, how = FIELDS[name]
        if how == "stack":
            fields[target] = _stack(values)
        elif how == "long":
            fields[target] = torch.tensor(values, dtype=torch.long)  # (N,)
        elif how == "size":
            fields[target] = torch.tensor([tuple(v) for v in values], dtype=torch.long).reshape(-1, 2)  # (N, 2)
        elif how == "one":
            fields[target] = [v[None] for v in values]  # N x (1, H, W)
        else:
            fields[target] = list(values)
    return Batch(**fields)


def check_batch(batch: object) -> Batch:
    """``batch`` itself, checked to be a ``Batch``.

    Raises:
        TypeError: it is not; the message says how loaders make one.
    """
    if not isinstance(batch, Batch):
        raise TypeError(
            f"`batch` must be a camlib.data.Batch (DataLoader(dataset, collate_fn=camlib.data.collate)), "
            f"but got {type(batch).__name__}."
        )
    return batch
