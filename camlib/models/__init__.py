"""Networks: GAP/GMP heads and small backbones (``heads``), the paper's -GAP surgery (``surgery``), the one
constructor by name (``registry``), pretrained weights (``pretrained``; timm's networks in ``timm_models``), input
conventions (``preprocess``) and the Places365 scene SqueezeNet (``places``)."""

from camlib.models import heads, places, preprocess, pretrained, registry, surgery, timm_models
from camlib.models.heads import BoxNet, CAMNet, ClassifierHead, small_backbone
from camlib.models.preprocess import Preprocess
from camlib.models.pretrained import imagenet_categories, is_torchvision_weights, load_pretrained
from camlib.models.registry import build_model

__all__ = [
    "heads",
    "places",
    "preprocess",
    "pretrained",
    "registry",
    "surgery",
    "timm_models",
    "BoxNet",
    "CAMNet",
    "ClassifierHead",
    "Preprocess",
    "build_model",
    "imagenet_categories",
    "is_torchvision_weights",
    "load_pretrained",
    "small_backbone",
]
