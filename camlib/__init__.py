"""camlib: an exact, tested library for the study of Class Activation Mapping.

Zhou, Khosla, Lapedriza, Oliva, Torralba. Learning Deep Features for
Discriminative Localization. CVPR 2016.
"""

from camlib import data, params, report
from camlib.cam import class_activation_maps, normalize_maps, resize_maps
from camlib.hooks import CAMLayer, CAMOutput, capture_features, compute_cams, find_cam_layer
from camlib.params import Params, check_params, resolve_device
from camlib.preprocess import Preprocess
from camlib.pretrained import imagenet_categories, is_torchvision_weights, load_pretrained
from camlib.provenance import provenance
from camlib.viz import overlay_cam, show_cams

__version__ = "0.1.0"

__all__ = [
    "CAMLayer",
    "CAMOutput",
    "Params",
    "Preprocess",
    "capture_features",
    "check_params",
    "class_activation_maps",
    "compute_cams",
    "data",
    "find_cam_layer",
    "imagenet_categories",
    "is_torchvision_weights",
    "load_pretrained",
    "normalize_maps",
    "overlay_cam",
    "params",
    "provenance",
    "report",
    "resize_maps",
    "resolve_device",
    "show_cams",
]
