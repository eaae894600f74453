"""The paper's own numbers: the single source for every value the book compares with.

Zhou, Khosla, Lapedriza, Oliva, Torralba. *Learning Deep Features for
Discriminative Localization.* CVPR 2016 (arXiv:1512.04150); and the later
reference the study reports beside it, Choe et al. CVPR 2020
(*Evaluating Weakly Supervised Object Localization Methods Right*); and, as context, the published
ImageNet accuracy of the pretrained networks the study runs (``"networks"``).

Every number is keyed by ``(table, row, metric)`` and carries where it comes
from. Chapters and the book's pages read them from here (``get``, ``value``);
none is typed anywhere else. Errors and accuracies are in percent, as printed
in the paper. Table 5 (generic features on eight datasets) is not here: the
study has neither its numbers nor its datasets.

Example:
    >>> value("table2", "GoogLeNet-GAP", "loc_top1_err")
    56.4
    >>> n = get("table3", "GoogLeNet-GAP (heuristics)", "loc_top5_err")
    >>> n.value, n.source
    (37.1, 'Zhou et al. 2016, Table 3 (ILSVRC test, top-5 localization error, weak supervision)')
    >>> round(difference("table1", ("GoogLeNet-GMP", "GoogLeNet-GAP"), "cls_top1_err"), 2)
    0.6
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["METRICS", "PaperEffect", "PaperNumber", "TABLES", "difference", "get", "rows", "value"]


@dataclass(frozen=True)
class PaperNumber:
    """One number of the paper (or of a later reference), with where it comes from.

    Attributes:
        table: the table key (``"table1"``, ..., ``"sec4.1"``, ``"choe2020"``).
        row: the row as the paper names it (``"GoogLeNet-GAP"``).
        metric: the column (``"cls_top1_err"``, ``"accuracy"``, ...).
        value: the number as printed (percent).
        source: the reference: paper, table or section, and what the column measures.
    """

    table: str
    row: str
    metric: str
    value: float
    source: str

    def __float__(self) -> float:
        return float(self.value)

    def __str__(self) -> str:
        """The number as the paper prints it: two decimals in Table 2, one elsewhere ("43.00", "63.0")."""
        return f"{self.value:.{2 if self.table == 'table2' else 1}f}"


class PaperEffect(float):
    """The paper's effect: a difference of two of its numbers on one metric, as ``difference`` returns it.

    A ``float`` (it adds, rounds and compares as one) that keeps the metric and the rows it was taken from, so
    that a row standing beside it as a reproduction can be checked to measure the same thing
    (``camlib.book.report.ClaimTable.add`` refuses a *paper* row whose registered metric is another).

    Example:
        >>> e = difference("table4", ("CAM crop", "full image"), "accuracy")
        >>> round(e, 1), e.metric, e.rows, e.table
        (4.8, 'accuracy', ('CAM crop', 'full image'), 'table4')
        >>> round(-e, 1), type(-e).__name__          # arithmetic gives a plain float: the metric is not carried
        (-4.8, 'float')
    """

    table: str
    rows: tuple[str, str]
    metric: str

    def __new__(cls, value: float, table: str, rows_: tuple[str, str], metric: str) -> PaperEffect:
        out = super().__new__(cls, value)
        out.table, out.rows, out.metric = table, tuple(rows_), metric  # type: ignore[assignment]
        return out

    def __repr__(self) -> str:
        return f"PaperEffect({float(self)!r}, table={self.table!r}, rows={self.rows!r}, metric={self.metric!r})"


# table key -> (what the table measures, {row: {metric: value}})
_SOURCES = {
    "table1": (
        "Zhou et al. 2016, Table 1 (ILSVRC val, classification error)",
        {
            "VGGnet-GAP": {"cls_top1_err": 33.4, "cls_top5_err": 12.2},
            "GoogLeNet-GAP": {"cls_top1_err": 35.0, "cls_top5_err": 13.2},
            "AlexNet*-GAP": {"cls_top1_err": 44.9, "cls_top5_err": 20.9},
            "AlexNet-GAP": {"cls_top1_err": 51.1, "cls_top5_err": 26.3},
            "GoogLeNet": {"cls_top1_err": 31.9, "cls_top5_err": 11.3},
            "VGGnet": {"cls_top1_err": 31.2, "cls_top5_err": 11.4},
            "AlexNet": {"cls_top1_err": 42.6, "cls_top5_err": 19.5},
            "NIN": {"cls_top1_err": 41.9, "cls_top5_err": 19.6},
            "GoogLeNet-GMP": {"cls_top1_err": 35.6, "cls_top5_err": 13.9},
        },
    ),
    "table2": (
        "Zhou et al. 2016, Table 2 (ILSVRC val, localization error)",
        {
            "GoogLeNet-GAP": {"loc_top1_err": 56.40, "loc_top5_err": 43.00},
            "VGGnet-GAP": {"loc_top1_err": 57.20, "loc_top5_err": 45.14},
            "GoogLeNet": {"loc_top1_err": 60.09, "loc_top5_err": 49.34},
            "AlexNet*-GAP": {"loc_top1_err": 63.75, "loc_top5_err": 49.53},
            "AlexNet-GAP": {"loc_top1_err": 67.19, "loc_top5_err": 52.16},
            "NIN": {"loc_top1_err": 65.47, "loc_top5_err": 54.19},
            "Backprop on GoogLeNet": {"loc_top1_err": 61.31, "loc_top5_err": 50.55},
            "Backprop on VGGnet": {"loc_top1_err": 61.12, "loc_top5_err": 51.46},
            "Backprop on AlexNet": {"loc_top1_err": 65.17, "loc_top5_err": 52.64},
            "GoogLeNet-GMP": {"loc_top1_err": 57.78, "loc_top5_err": 45.26},
        },
    ),
    "table3": (
        "Zhou et al. 2016, Table 3 (ILSVRC test, top-5 localization error, {supervision} supervision)",
        {
            "GoogLeNet-GAP (heuristics)": {"loc_top5_err": 37.1},
            "GoogLeNet-GAP": {"loc_top5_err": 42.9},
            "Backprop": {"loc_top5_err": 46.4},
            "GoogLeNet": {"loc_top5_err": 26.7},
            "OverFeat": {"loc_top5_err": 29.9},
            "AlexNet": {"loc_top5_err": 34.2},
        },
    ),
    "table4": (
        "Zhou et al. 2016, Table 4 (CUB-200-2011, GoogLeNet-GAP features + linear SVM, accuracy)",
        {
            "full image": {"accuracy": 63.0},
            "CAM crop": {"accuracy": 67.8},
            "GT box crop": {"accuracy": 70.5},
        },
    ),
    "sec4.1": (
        "Zhou et al. 2016, Sec. 4.1 (CUB-200-2011 test, box at IoU >= 0.5)",
        {
            "CAM box": {"loc_acc_iou50": 41.0},
            "random box": {"loc_acc_iou50": 5.5},
        },
    ),
    "networks": (
        "Published ILSVRC2012 val accuracy (all 50,000 images, resize and centre crop) of the pretrained networks "
        "the study runs: EfficientNet-Lite0 by Google (tensorflow/tpu, models/official/efficientnet/lite, README; "
        "224 px, float), SqueezeNet 1.0 by Iandola et al. 2016 (Table 2; the Deep Compression weights)",
        {
            "EfficientNet-Lite0": {"cls_top1_acc": 75.1},
            "SqueezeNet 1.0": {"cls_top1_acc": 57.5, "cls_top5_acc": 80.3},
        },
    ),
    "choe2020": (
        "Choe et al. 2020, Table 5 (vanilla CAM, MaxBoxAccV2)",
        {
            "ImageNet VGG16": {"maxboxaccv2": 60.0},
            "ImageNet InceptionV3": {"maxboxaccv2": 63.4},
            "ImageNet ResNet50": {"maxboxaccv2": 63.7},
            "CUB VGG16": {"maxboxaccv2": 63.7},
            "CUB InceptionV3": {"maxboxaccv2": 56.7},
            "CUB ResNet50": {"maxboxaccv2": 63.0},
        },
    ),
}
_WEAK = {"GoogLeNet-GAP (heuristics)", "GoogLeNet-GAP", "Backprop"}


def _source(table: str, row: str) -> str:
    text = _SOURCES[table][0]
    return text.format(supervision="weak" if row in _WEAK else "full") if table == "table3" else text


TABLES: dict[str, dict[str, dict[str, PaperNumber]]] = {
    table: {
        row: {metric: PaperNumber(table, row, metric, v, _source(table, row)) for metric, v in metrics.items()}
        for row, metrics in body.items()
    }
    for table, (_, body) in _SOURCES.items()
}
# Every metric the paper's numbers are given in: a pre-registered row's ``metric`` must be one of them.
METRICS = frozenset(m for body in TABLES.values() for metrics in body.values() for m in metrics)


def get(table: str, row: str, metric: str) -> PaperNumber:
    """The paper's number at ``(table, row, metric)``.

    Raises:
        KeyError: no such table, row or metric; the message lists what exists.
    """
    if table not in TABLES:
        raise KeyError(f"`table` must be one of {sorted(TABLES)}, but got {table!r}.")
    if row not in TABLES[table]:
        raise KeyError(f"`row` must be one of {list(TABLES[table])} for {table}, but got {row!r}.")
    if metric not in TABLES[table][row]:
        raise KeyError(f"`metric` must be one of {list(TABLES[table][row])} for {table}/{row}, but got {metric!r}.")
    return TABLES[table][row][metric]


def value(table: str, row: str, metric: str) -> float:
    """The paper's number at ``(table, row, metric)`` as a float (see ``get``)."""
    return get(table, row, metric).value


def versus(table: str, rows_: Sequence[str], metric: str) -> str:
    """The paper's numbers of several rows for one metric, as a table cell: ``"A 56.40 vs B 57.78"``.

    Example:
        >>> versus("table2", ("GoogLeNet-GAP", "GoogLeNet-GMP"), "loc_top1_err")
        'GoogLeNet-GAP 56.40 vs GoogLeNet-GMP 57.78'
    """
    return " vs ".join(f"{row} {get(table, row, metric)}" for row in rows_)


def difference(table: str, rows_: tuple[str, str], metric: str) -> PaperEffect:
    """``value(first row) - value(second row)`` for one metric of one table (e.g. GMP - GAP), as a ``PaperEffect``
    (a float that names its metric)."""
    first, second = rows_
    return PaperEffect(value(table, first, metric) - value(table, second, metric), table, (first, second), metric)


def rows(table: str) -> list[str]:
    """The rows of ``table`` in the paper's order."""
    if table not in TABLES:
        raise KeyError(f"`table` must be one of {sorted(TABLES)}, but got {table!r}.")
    return list(TABLES[table])


__all__ += ["SETUP"]

# The paper's setting per chapter of the study, in the paper's own terms (Zhou et al. 2016, Secs. 2-5): the
# discussion page sets it beside the setting each chapter ran (camlib.book.discussion.deviations).
SETUP: dict[str, dict[str, str]] = {
    "00_class_activation_maps": {
        "networks and data": "GoogLeNet-GAP and others on ILSVRC images (Figs. 1, 3, 4)",
        "training": "fine-tuned on ILSVRC's 1.3 million training images",
        "metric": "shown on examples",
    },
    "01_gap_vs_gmp": {
        "networks and data": "GoogLeNet-GAP and GoogLeNet-GMP, ILSVRC 2014 val (50,000 images), 224 px, 14 × 14 maps",
        "training": "fine-tuned on ILSVRC's 1.3 million training images, one run each",
        "metric": "classification and localization error (Tables 1, 2), boxes at 20% of the map's maximum",
    },
    "02_ilsvrc_localization": {
        "networks and data": "AlexNet, VGG16, GoogLeNet cut and given a GAP head; ILSVRC val and test, 224 px, "
        "14 × 14 maps (AlexNet 13 × 13)",
        "training": "fine-tuned on ILSVRC's 1.3 million training images, one run each",
        "metric": "top-1 / top-5 localization error, boxes at 20% of the map's maximum (Tables 2, 3)",
    },
    "03_cub_fine_grained": {
        "networks and data": "GoogLeNet-GAP features, CUB-200-2011 (200 species, 5,794 test images)",
        "training": "a linear SVM on the GAP features (no fine-tuning)",
        "metric": "accuracy with a crop around the CAM box; boxes at IoU >= 0.5 against a random box (Table 4)",
    },
    "04_pattern_discovery": {
        "networks and data": "GoogLeNet-GAP features, SUN scenes with full object annotations (Fig. 9), weakly "
        "tagged images (Fig. 10), eight datasets (Fig. 8)",
        "training": "one-vs-all linear SVMs on the GAP features",
        "metric": "shown on examples (Figs. 8-10)",
    },
    "05_text_detection": {
        "networks and data": "GoogLeNet-GAP features; 350 Street View Text images against SUN outdoor images",
        "training": "a linear SVM on the GAP features",
        "metric": "shown on examples (Fig. 11)",
    },
    "06_vqa": {
        "networks and data": "a bag-of-words and GAP-feature VQA baseline on COCO VQA",
        "training": "the answer classifier on VQA's training questions",
        "metric": "shown on examples (Fig. 12)",
    },
    "07_class_specific_units": {
        "networks and data": "a GAP network's last convolutional units on scene images (Fig. 13: a living room's "
        "sofa, table and fireplace units)",
        "training": "the network as trained by the authors",
        "metric": "shown on examples, segmentations thresholded on the units' top images (Zhou et al. 2015)",
    },
}
