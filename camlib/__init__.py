"""camlib: an exact, tested library for Class Activation Mapping.

Zhou, Khosla, Lapedriza, Oliva, Torralba. Learning Deep Features for
Discriminative Localization. CVPR 2016.

Three layers, one direction of dependency (``tests/test_imports.py``):

- **the library**, what ``import camlib`` gives: ``camlib.cam`` (the kernel,
  hooks and extractor, the batched ``localize``, gradient saliency),
  ``camlib.boxes`` (box geometry, boxes from maps, trivial baselines),
  ``camlib.components`` (connected components, the component tree, OpenCV's
  contours), ``camlib.metrics`` (localization and classification metrics, the
  evaluation of a network), ``camlib.models`` (heads, surgery, the registry,
  pretrained weights, preprocessing), ``camlib.data`` (readers, the synthetic
  benchmarks) and ``camlib.viz`` (figures of maps and boxes);
- **the study** (``camlib.study``): one chapter's science per module; it
  imports the library, never the book;
- **the book's machinery** (``camlib.book``): the paper's numbers, the
  verdict rule, claim tables, parameters, the runner, provenance and timing.

The top-level names below and the subpackages load on first use, so that
``import camlib`` loads neither numba, scikit-learn, pycocotools nor
matplotlib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> the module that defines it
_EXPORTS = {
    "CAM": "camlib.cam.extractor",
    "class_activation_maps": "camlib.cam.kernel",
    "nin_class_activation_maps": "camlib.cam.kernel",
    "normalize_maps": "camlib.cam.kernel",
    "resize_maps": "camlib.cam.kernel",
    "compute_cams": "camlib.cam.extractor",
    "capture_features": "camlib.cam.extractor",
    "find_cam_layer": "camlib.cam.extractor",
    "localize": "camlib.cam.pipeline",
    "gradient_saliency": "camlib.cam.saliency",
    "boxes_from_maps": "camlib.boxes.from_maps",
    "boxes_from_masks": "camlib.boxes.from_maps",
    "foreground": "camlib.boxes.from_maps",
    "top5_heuristic": "camlib.boxes.from_maps",
    "box_iou": "camlib.boxes.geometry",
    "BoxAccAccumulator": "camlib.metrics.accuracy",
    "max_box_acc": "camlib.metrics.accuracy",
    "max_box_acc_v2": "camlib.metrics.accuracy",
    "max_box_accs": "camlib.metrics.accuracy",
    "gt_known_accuracy": "camlib.metrics.accuracy",
    "localization_error": "camlib.metrics.accuracy",
    "top_k_error": "camlib.metrics.accuracy",
    "evaluate_localization": "camlib.metrics.evaluate",
    "build_model": "camlib.models.registry",
    "load_pretrained": "camlib.models.pretrained",
    "imagenet_categories": "camlib.models.pretrained",
    "Preprocess": "camlib.models.preprocess",
}
_SUBPACKAGES = ("cam", "boxes", "components", "metrics", "models", "data", "viz", "study", "book")

__all__ = [
    "box_iou",
    "BoxAccAccumulator",
    "boxes_from_maps",
    "boxes_from_masks",
    "build_model",
    "CAM",
    "capture_features",
    "class_activation_maps",
    "compute_cams",
    "evaluate_localization",
    "find_cam_layer",
    "foreground",
    "gradient_saliency",
    "gt_known_accuracy",
    "imagenet_categories",
    "load_pretrained",
    "localization_error",
    "localize",
    "max_box_acc",
    "max_box_acc_v2",
    "max_box_accs",
    "nin_class_activation_maps",
    "normalize_maps",
    "Preprocess",
    "resize_maps",
    "top5_heuristic",
    "top_k_error",
    "cam",
    "boxes",
    "components",
    "metrics",
    "models",
    "data",
    "viz",
    "study",
    "book",
]  # the names of _EXPORTS and _SUBPACKAGES (tests/test_imports.py)

if TYPE_CHECKING:  # the same names, for type checkers and editors
    from camlib import book, boxes, cam, components, data, metrics, models, study, viz
    from camlib.boxes.from_maps import boxes_from_maps, boxes_from_masks, foreground, top5_heuristic
    from camlib.boxes.geometry import box_iou
    from camlib.cam.extractor import capture_features, compute_cams, find_cam_layer
    from camlib.cam.kernel import class_activation_maps, normalize_maps, resize_maps
    from camlib.cam.pipeline import localize
    from camlib.cam.saliency import gradient_saliency
    from camlib.metrics.accuracy import (
        BoxAccAccumulator,
        gt_known_accuracy,
        localization_error,
        max_box_acc,
        max_box_acc_v2,
        max_box_accs,
        top_k_error,
    )
    from camlib.metrics.evaluate import evaluate_localization
    from camlib.models.preprocess import Preprocess
    from camlib.models.pretrained import imagenet_categories, load_pretrained
    from camlib.models.registry import build_model


def __getattr__(name: str) -> Any:
    """Load a subpackage or a top-level name on first use (PEP 562)."""
    if name in _SUBPACKAGES:
        return importlib.import_module(f"camlib.{name}")
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'camlib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
