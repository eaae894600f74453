"""Metrics: classification and localization accuracy, MaxBoxAcc(V2), PxAP (``accuracy``), the IoU of boolean
masks (``masks``), and the evaluation of a network's CAMs on a dataset (``evaluate``)."""

from camlib.metrics.accuracy import (
    BoxAccAccumulator,
    BoxAccuracy,
    PxAP,
    PxAPAccumulator,
    classification_error,
    gt_known_accuracy,
    localization_error,
    localization_hits,
    max_box_acc,
    max_box_acc_v2,
    max_box_accs,
    pxap,
    threshold_grid,
    top_k_error,
)
from camlib.metrics.evaluate import LocalizationResult, evaluate_localization
from camlib.metrics.masks import iou_from_counts, mask_intersection_union, mask_iou

__all__ = [
    "BoxAccAccumulator",
    "BoxAccuracy",
    "LocalizationResult",
    "PxAP",
    "PxAPAccumulator",
    "classification_error",
    "evaluate_localization",
    "gt_known_accuracy",
    "iou_from_counts",
    "localization_error",
    "localization_hits",
    "mask_intersection_union",
    "mask_iou",
    "max_box_acc",
    "max_box_acc_v2",
    "max_box_accs",
    "pxap",
    "threshold_grid",
    "top_k_error",
]
