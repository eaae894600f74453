"""Connected components of masks: labelling (``labels``), the largest component's box by row runs (``runs``),
every threshold at once by a component tree (``tree``), and OpenCV's contours as wsolevaluation uses them
(``contours``)."""

from camlib.components import contours, labels, runs, tree
from camlib.components.labels import ComponentStats, component_stats, connected_components, measure_components

__all__ = [
    "contours",
    "labels",
    "runs",
    "tree",
    "ComponentStats",
    "component_stats",
    "connected_components",
    "measure_components",
]
