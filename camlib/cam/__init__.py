"""Class activation maps: the pure kernels, the extractor, the batched chain, the gradient baseline.

``kernel`` holds the formulas (``class_activation_maps`` for an FC head after
GAP, ``nin_class_activation_maps`` for a NIN-style head), ``extractor`` the
one way to get them from a network (``CAM``: hooks, maps, boxes; and
``find_cam_layer``, ``compute_cams``), ``pipeline`` runs images -> top-k maps
-> boxes in one pass (``localize``), ``saliency`` the gradient baseline
(Simonyan et al.).
"""

from camlib.cam.extractor import (
    CAM,
    CAMLayer,
    CAMOutput,
    capture_features,
    compute_cams,
    find_cam_layer,
    score_identity,
)
from camlib.cam.kernel import class_activation_maps, nin_class_activation_maps, normalize_maps, resize_maps
from camlib.cam.pipeline import CAMBoxes, cam_masks, localize
from camlib.cam.saliency import gradient_saliency, simonyan_boxes

__all__ = [
    "CAM",
    "CAMBoxes",
    "CAMLayer",
    "CAMOutput",
    "cam_masks",
    "capture_features",
    "class_activation_maps",
    "compute_cams",
    "find_cam_layer",
    "gradient_saliency",
    "localize",
    "nin_class_activation_maps",
    "normalize_maps",
    "resize_maps",
    "score_identity",
    "simonyan_boxes",
]
