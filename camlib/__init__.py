"""camlib: an exact, tested library for the study of Class Activation Mapping.

Zhou, Khosla, Lapedriza, Oliva, Torralba. Learning Deep Features for
Discriminative Localization. CVPR 2016.
"""

from camlib import cache, data, models, params, registry, report, surgery
from camlib.boxes import authors_boxes, boxes_from_maps, boxes_from_masks, component_boxes, foreground, top5_heuristic
from camlib.cam import class_activation_maps, normalize_maps, resize_maps
from camlib.components import ComponentStats, component_stats, connected_components, measure_components
from camlib.metrics import (
    BoxAccAccumulator,
    BoxAccuracy,
    PxAP,
    PxAPAccumulator,
    box_iou,
    classification_error,
    gt_known_accuracy,
    localization_error,
    localization_hits,
    max_box_acc,
    max_box_acc_v2,
    pxap,
    threshold_grid,
    top_k_error,
)
from camlib.evaluation import LocalizationResult, evaluate_localization
from camlib.hooks import CAMLayer, CAMOutput, capture_features, compute_cams, find_cam_layer
from camlib.models import BoxNet, CAMNet, ClassifierHead, small_backbone
from camlib.params import Params, check_params, resolve_device
from camlib.registry import build_model
from camlib.preprocess import Preprocess
from camlib.pretrained import imagenet_categories, is_torchvision_weights, load_pretrained
from camlib.provenance import provenance
from camlib.saliency import gradient_saliency
from camlib.viz import overlay_cam, show_box_protocol, show_cams
from camlib import crops, features, stats, svm  # GAP features, linear SVMs, crops (chapter 03)
from camlib import baselines, box_ops  # box geometry; the trivial localization baselines
from camlib.features import Features, extract_features
from camlib.svm import LinearSVM, fit_linear_svm

__version__ = "0.1.0"

# camlib.train is not imported here, so that `python -m camlib.train` runs it
# cleanly; use `import camlib.train`.

__all__ = [
    "authors_boxes",
    "box_iou",
    "BoxAccAccumulator",
    "BoxAccuracy",
    "boxes_from_maps",
    "boxes_from_masks",
    "BoxNet",
    "build_model",
    "cache",
    "CAMLayer",
    "CAMNet",
    "CAMOutput",
    "capture_features",
    "check_params",
    "class_activation_maps",
    "classification_error",
    "ClassifierHead",
    "component_boxes",
    "component_stats",
    "measure_components",
    "ComponentStats",
    "compute_cams",
    "connected_components",
    "data",
    "evaluate_localization",
    "find_cam_layer",
    "foreground",
    "gradient_saliency",
    "gt_known_accuracy",
    "imagenet_categories",
    "is_torchvision_weights",
    "load_pretrained",
    "localization_error",
    "localization_hits",
    "LocalizationResult",
    "max_box_acc",
    "max_box_acc_v2",
    "models",
    "normalize_maps",
    "overlay_cam",
    "params",
    "Params",
    "Preprocess",
    "provenance",
    "registry",
    "PxAP",
    "pxap",
    "PxAPAccumulator",
    "report",
    "resize_maps",
    "resolve_device",
    "show_box_protocol",
    "show_cams",
    "small_backbone",
    "surgery",
    "threshold_grid",
    "top5_heuristic",
    "top_k_error",
]

__all__ += ["crops", "extract_features", "features", "Features", "fit_linear_svm", "LinearSVM", "stats", "svm"]
__all__ += ["baselines", "box_ops"]
from camlib import paper  # the paper's numbers (the single source); verdicts: camlib.stats, claim tables: camlib.report

__all__ += ["paper"]
from camlib import plots  # figures of numbers (camlib.experiments, like camlib.train, is imported on its own)

__all__ += ["plots"]
from camlib import diagnostics  # why a localization fails, image by image; classification errors of a network

__all__ += ["diagnostics"]
from camlib import finegrained  # the crop study of Sec. 4.1: CAM crops, localization against the baselines (chapter 03)

__all__ += ["finegrained"]
from camlib import places  # the Places365 scene SqueezeNet from its named arrays (chapters 04 and 07)

__all__ += ["places"]
from camlib import pointing  # the pointing game and its baselines, region shares, a permutation test (chapters 04-06)

__all__ += ["pointing"]
from camlib import concepts  # weak labels from captions (chapter 04)

__all__ += ["concepts"]
from camlib import discovery  # which objects a scene's CAM discovers, against annotations (chapter 04)

__all__ += ["discovery"]
from camlib.pipeline import Localization, localize  # the batched chain: forward, top-k CAMs, masks, boxes

__all__ += ["Localization", "localize"]
