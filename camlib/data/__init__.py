"""The study's data: finding it, reading images, and the dataset readers.

Readers (map-style datasets whose items are ``Item(image, label, boxes,
image_id, size)``): ``ImageNetVal`` (Kaggle's ILSVRC layout), ``WSOLDataset``
(wsolevaluation's metadata), ``CUB`` (CUB-200-2011's layout), ``COCO``
(instances and captions, COCO's layout), ``ICDAR2015`` (scene-text words), ``VQA`` (questions about COCO images, VQA v1/v2) and
``ImageFolder`` (one folder per class). ``collate`` batches their items, and
those of the synthetic benchmarks, into one ``Batch`` type (``camlib.data.batch``);
``PreprocessWithBoxes`` resizes an image with its boxes and normalizes it.
Finding the data: ``camlib.data.locate``.
"""

from camlib.data.batch import Batch, collate
from camlib.data.coco import COCO, coco_box
from camlib.data.common import AnnotatedImages, Item, Record
from camlib.data.cub import CUB, cub_box
from camlib.data.folder import ImageFolder
from camlib.data.icdar import ICDAR2015
from camlib.data.imagenet import ImageNetVal, read_synsets
from camlib.data.images import IMAGE_SUFFIXES, list_images, read_image
from camlib.data.locate import DATA_ENV, DataAbsent, data_roots, find_data, require_data
from camlib.data.subsets import first_classes, first_items, image_path, source_index
from camlib.data.transforms import PreprocessWithBoxes, clip_boxes, resize_boxes
from camlib.data.vqa import VQA
from camlib.data.wsol import WSOLDataset

__all__ = [
    "COCO",
    "CUB",
    "DATA_ENV",
    "ICDAR2015",
    "IMAGE_SUFFIXES",
    "VQA",
    "AnnotatedImages",
    "Batch",
    "DataAbsent",
    "ImageFolder",
    "ImageNetVal",
    "Item",
    "PreprocessWithBoxes",
    "Record",
    "WSOLDataset",
    "clip_boxes",
    "coco_box",
    "collate",
    "cub_box",
    "data_roots",
    "find_data",
    "first_classes",
    "first_items",
    "image_path",
    "list_images",
    "read_image",
    "read_synsets",
    "require_data",
    "resize_boxes",
    "source_index",
]
