"""Boxes: their geometry (``geometry``), boxes from maps and masks (``from_maps``), trivial baselines (``baselines``).

Box format everywhere: ``(x1, y1, x2, y2)`` in inclusive pixel indices
(``geometry``'s docstring owns the convention).
"""

from camlib.boxes.baselines import centre_box, random_boxes
from camlib.boxes.from_maps import (
    authors_boxes,
    boxes_from_maps,
    boxes_from_masks,
    component_boxes,
    foreground,
    top5_heuristic,
)
from camlib.boxes.geometry import best_iou, box_area, box_iou, check_boxes, clip_boxes, resize_boxes

__all__ = [
    "authors_boxes",
    "best_iou",
    "box_area",
    "box_iou",
    "boxes_from_maps",
    "boxes_from_masks",
    "centre_box",
    "check_boxes",
    "clip_boxes",
    "component_boxes",
    "foreground",
    "random_boxes",
    "resize_boxes",
    "top5_heuristic",
]
