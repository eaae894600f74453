"""A user's own images: one folder per class, boxes optional.

The layout (torchvision's ``ImageFolder``, plus an optional box file)::

    <root>/<class>/**/<file>.jpg         one sub-folder per class, any depth below it
    <root>/boxes.csv                     optional: <class>/<file>.jpg,<x1>,<y1>,<x2>,<y2>
                                         one line per box, inclusive corners
"""

from __future__ import annotations

import os
from pathlib import Path

from camlib.data.common import AnnotatedImages, Record, Transform, read_lines
from camlib.data.locate import find_data

__all__ = ["ImageFolder"]

EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


class ImageFolder(AnnotatedImages):
    """Images in one folder per class (see the module docstring).

    Classes are the sub-folders of ``root`` in sorted order (label ``i`` is
    the ``i``-th, hidden folders skipped); items are the image files below
    them, ordered by ``image_id``, the path relative to ``root`` with ``/``
    (``"cat/0001.jpg"``). Without a box file every image has no boxes.

    Args:
        root: the folder: a name under the data root or an absolute path.
        boxes: None, or a box file (relative to ``root``, or absolute) with
            lines ``<image_id>,<x1>,<y1>,<x2>,<y2>`` (inclusive corners, in the
            pixels of the image file; wsolevaluation's ``localization.txt``
            format); images may have several lines or none.
        transform: None, or ``(image, boxes) -> (image, boxes)`` such as
            ``PreprocessWithBoxes(224)``.
        extensions: the file name endings taken as images (any case).
        data_root: the data root for a relative ``root`` (see ``camlib.data.data_roots``).

    Raises:
        FileNotFoundError: ``root`` or the box file is missing, or ``root``
            holds no class folder with an image.
        ValueError: a malformed line of the box file (file and line named),
            or a box for an image that is not in the folders.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        boxes: str | os.PathLike | None = None,
        transform: Transform | None = None,
        extensions: tuple[str, ...] = EXTENSIONS,
        data_root: str | os.PathLike | None = None,
    ) -> None:
        layout = "one sub-folder of images per class: <class>/<file>.jpg"
        self.root = find_data(root, root=data_root, layout=layout)
        ends = tuple(e.lower() for e in extensions)
        classes = sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        found: dict[str, tuple[Path, int]] = {}
        for label, name in enumerate(classes):
            visited: set[str] = set()  # real paths of the folders walked: a link back up is a loop, not more images
            for dirpath, dirnames, filenames in os.walk(self.root / name, followlinks=True):
                real = os.path.realpath(dirpath)
                if real in visited:
                    raise ValueError(
                        f"The class folder {str(self.root / name)!r} holds a symbolic link loop: {dirpath!r} is "
                        f"{real!r} again, so its images would be listed many times. Remove the link."
                    )
                visited.add(real)
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                for filename in filenames:
                    if filename.lower().endswith(ends) and not filename.startswith("."):
                        path = Path(dirpath) / filename
                        found[path.relative_to(self.root).as_posix()] = (path, label)
        if not found:
            raise FileNotFoundError(
                f"Could not find any image in {self.root} ({layout}; file endings {', '.join(ends)}): "
                f"{_what_is_there(self.root, classes, ends)}"
            )
        empty = sorted(set(range(len(classes))) - {label for _, label in found.values()})
        if empty:
            names = ", ".join(repr(classes[i]) for i in empty[:3]) + (", ..." if len(empty) > 3 else "")
            raise ValueError(
                f"Every class folder of {str(self.root)!r} must hold an image (file endings {', '.join(ends)}), but "
                f"{len(empty)} hold none ({names}): an empty class would still take a label. Remove or fill them."
            )
        box_lists: dict[str, list] = {image_id: [] for image_id in found}
        source = ""
        if boxes is not None:
            box_file = self.root / boxes  # an absolute `boxes` stays as it is
            if not box_file.is_file():
                raise FileNotFoundError(
                    f"`boxes` must be a file of lines <image_id>,<x1>,<y1>,<x2>,<y2>, "
                    f"but {str(box_file)!r} does not exist."
                )
            source = repr(str(box_file))
            for line in read_lines(box_file, sep=",", count=5, expected="`<image_id>,<x1>,<y1>,<x2>,<y2>`"):
                if line.fields[0] not in box_lists:
                    raise line.error(f"the id of an image under {self.root}, such as {next(iter(sorted(found)))!r}")
                box_lists[line.fields[0]].append(line.box([line.integer(i) for i in range(1, 5)]))
        records = [
            Record(found[image_id][0], found[image_id][1], tuple(box_lists[image_id]), image_id, source=source)
            for image_id in sorted(found)
        ]
        super().__init__(records, classes, transform)


def _what_is_there(root: Path, classes: list[str], ends: tuple[str, ...]) -> str:
    """What a folder without class images holds, and what to do: the end of ``ImageFolder``'s message."""
    loose = sum(
        1 for p in root.iterdir() if p.is_file() and p.name.lower().endswith(ends) and not p.name.startswith(".")
    )
    images = f"{loose:,} image{'s' if loose != 1 else ''}"
    if classes:
        folders = f"{len(classes)} class folder{'s' if len(classes) != 1 else ''}"
        there = f"it has {folders} and no image in {'them' if len(classes) != 1 else 'it'}"
        if not loose:
            return there + "."
        there += f", and {images} directly in it, outside any class folder"
    elif loose:
        there = f"it holds {images} directly but no class sub-folder"
    else:
        return "it holds no image and no class sub-folder."
    return (
        f"{there}. Put each class's images in a sub-folder of its own, {root}/<class>/<image>; "
        f"for images without classes, list the flat folder with camlib.data.list_images."
    )
