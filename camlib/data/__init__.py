"""Finding and reading the study's real data (see ``camlib.data.locate``)."""

from camlib.data.images import read_image
from camlib.data.locate import DATA_ENV, data_roots, find_data

__all__ = ["DATA_ENV", "data_roots", "find_data", "read_image"]
