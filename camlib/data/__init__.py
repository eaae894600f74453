"""The study's data: finding it, reading images, and the dataset readers.

Readers (map-style datasets whose items are ``Item(image, label, boxes,
image_id, size)``): ``ImageNetVal`` (Kaggle's ILSVRC layout), ``WSOLDataset``
(wsolevaluation's metadata), ``CUB`` (CUB-200-2011's layout) and
``ImageFolder`` (one folder per class). ``collate`` batches their items;
``PreprocessWithBoxes`` resizes an image with its boxes and normalizes it.
Finding the data: ``camlib.data.locate``.
"""

from camlib.data.common import AnnotatedImages, Batch, Item, Record, collate
from camlib.data.cub import CUB, cub_box
from camlib.data.folder import ImageFolder
from camlib.data.images import read_image
from camlib.data.imagenet import ImageNetVal, read_synsets
from camlib.data.locate import DATA_ENV, data_roots, find_data
from camlib.data.transforms import PreprocessWithBoxes, clip_boxes, resize_boxes
from camlib.data.wsol import WSOLDataset

__all__ = [
    "AnnotatedImages",
    "Batch",
    "CUB",
    "DATA_ENV",
    "ImageFolder",
    "ImageNetVal",
    "Item",
    "PreprocessWithBoxes",
    "Record",
    "WSOLDataset",
    "clip_boxes",
    "collate",
    "cub_box",
    "data_roots",
    "find_data",
    "read_image",
    "read_synsets",
    "resize_boxes",
]
