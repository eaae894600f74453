"""Which objects a scene's CAM discovers (Zhou et al. 2016, Sec. 4.2, Fig. 9), measured against annotations.

The paper shows, per scene class, the objects that most often overlap the
high-CAM region. With annotated objects the question can be asked with a
chance level: a region that ignored the objects would still cover each one in
proportion to its area.

- ``object_shares``: one row per (image, category present): the share of the
  image's region on the category's pixels, the category's share of the image
  (the chance level), and whether the region touches it at all.
- ``category_lift``: per category, the mean share against the mean chance
  (their ratio, the *lift*) and how often the region touches it.
- ``top_objects``: per scene class, the categories ranked by how often the
  region touches them (the paper's Fig. 9 ranking), with the counts behind.
- ``precision_at_k``: a ranking against known defining objects (the controlled
  scenes benchmark, where they are known by construction).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import torch
from torch import Tensor

__all__ = ["category_lift", "object_shares", "precision_at_k", "top_objects"]


def object_shares(
    regions: Tensor, masks: Sequence[Tensor], categories: Sequence[Sequence[int]], scenes: Sequence[int] | None = None
) -> list[dict]:
    """One row per (image, category present in it).

    Args:
        regions: ``BoolTensor[N, H, W]``, each image's high-CAM region (e.g. ``camlib.foreground(maps, 0.2)``).
        masks: per image, ``BoolTensor[m_i, H, W]``, one mask per object, in the regions' frame.
        categories: per image, the ``m_i`` objects' categories.
        scenes: per image, its scene class (the map's class), kept in the rows.

    Returns:
        Rows ``{"image", "scene", "category", "share", "chance", "touches"}``: ``share`` is
        ``|R ∩ M_c| / |R|`` with ``M_c`` the union of the category's objects
        (NaN for an empty region), ``chance`` is ``|M_c| / (H W)``, and
        ``touches`` is ``|R ∩ M_c| > 0``.

    Example:
        >>> r = torch.zeros(1, 2, 4, dtype=torch.bool); r[0, :, :2] = True          # the left half
        >>> m = torch.zeros(2, 2, 4, dtype=torch.bool); m[0, 0, 0] = True; m[1, :, 3] = True
        >>> [(row["category"], row["share"], row["chance"], row["touches"]) for row in object_shares(r, [m], [[7, 9]])]
        [(7, 0.25, 0.125, True), (9, 0.0, 0.25, False)]
    """
    if regions.ndim != 3 or regions.dtype != torch.bool:
        raise ValueError(
            f"`regions` must be a BoolTensor[N, H, W], but got {regions.dtype} of shape {tuple(regions.shape)}."
        )
    N, H, W = regions.shape
    if len(masks) != N or len(categories) != N or (scenes is not None and len(scenes) != N):
        raise ValueError(
            f"`masks`, `categories` (and `scenes`) must have one entry per region ({N}), but got "
            f"{len(masks)}, {len(categories)}" + ("" if scenes is None else f", {len(scenes)}") + "."
        )
    rows = []
    for i in range(N):
        m, cats = masks[i], [int(c) for c in categories[i]]
        if m.shape != (len(cats), H, W) or m.dtype != torch.bool:
            raise ValueError(
                f"`masks[{i}]` must be a BoolTensor[{len(cats)}, {H}, {W}] (one mask per category "
                f"entry), but got {m.dtype} of shape {tuple(m.shape)}."
            )
        region = regions[i].cpu()
        size = int(region.sum())
        for c in sorted(set(cats)):
            union = m[[j for j, k in enumerate(cats) if k == c]].any(0).cpu()
            inter = int((region & union).sum())
            rows.append(
                {
                    "image": i,
                    "scene": None if scenes is None else int(scenes[i]),
                    "category": c,
                    "share": inter / size if size else float("nan"),
                    "chance": int(union.sum()) / (H * W),
                    "touches": inter > 0,
                }
            )
    return rows


def category_lift(rows: Sequence[Mapping], *, min_images: int = 1) -> list[dict]:
    """Per category with at least ``min_images`` images: the mean share, the mean chance, their ratio, touches.

    Rows with a NaN share (empty regions) are left out. Sorted by lift, highest first.

    Example:
        >>> rows = [{"category": 1, "share": 0.5, "chance": 0.1, "touches": True},
        ...         {"category": 1, "share": 0.3, "chance": 0.3, "touches": True},
        ...         {"category": 2, "share": 0.0, "chance": 0.2, "touches": False}]
        >>> [(r["category"], r["images"], round(r["lift"], 2), r["touched"]) for r in category_lift(rows)]
        [(1, 2, 2.0, 1.0), (2, 1, 0.0, 0.0)]
    """
    by: dict[int, list[Mapping]] = {}
    for row in rows:
        if row["share"] == row["share"]:  # not NaN
            by.setdefault(int(row["category"]), []).append(row)
    out = []
    for c, group in by.items():
        if len(group) < min_images:
            continue
        share = sum(r["share"] for r in group) / len(group)
        chance = sum(r["chance"] for r in group) / len(group)
        out.append(
            {
                "category": c,
                "images": len(group),
                "share": share,
                "chance": chance,
                "lift": share / chance if chance > 0 else float("nan"),
                "touched": sum(bool(r["touches"]) for r in group) / len(group),
            }
        )
    return sorted(out, key=lambda r: (-(r["lift"] if r["lift"] == r["lift"] else -1.0), r["category"]))


def top_objects(rows: Sequence[Mapping], *, k: int = 5, min_images: int = 1) -> dict[int, list[tuple[int, int, int]]]:
    """Per scene, the ``k`` categories the region touches most often: ``(category, touched, present)`` each.

    Ties are broken by the share of images touched, then by category index.
    Scenes with fewer than ``min_images`` images are left out.

    Example:
        >>> rows = [{"image": 0, "scene": 3, "category": 1, "touches": True},
        ...         {"image": 0, "scene": 3, "category": 2, "touches": False},
        ...         {"image": 1, "scene": 3, "category": 2, "touches": True},
        ...         {"image": 1, "scene": 3, "category": 1, "touches": True}]
        >>> top_objects(rows, k=2)
        {3: [(1, 2, 2), (2, 1, 2)]}
    """
    images: dict[int, set[int]] = {}
    counts: dict[int, dict[int, list[int]]] = {}
    for row in rows:
        s, c = int(row["scene"]), int(row["category"])
        images.setdefault(s, set()).add(int(row["image"]))
        touched_present = counts.setdefault(s, {}).setdefault(c, [0, 0])
        touched_present[0] += bool(row["touches"])
        touched_present[1] += 1
    out = {}
    for s in sorted(counts):
        if len(images[s]) < min_images:
            continue
        ranked = sorted(counts[s].items(), key=lambda kv: (-kv[1][0], -kv[1][0] / kv[1][1], kv[0]))
        out[s] = [(c, t, p) for c, (t, p) in ranked[:k]]
    return out


def precision_at_k(ranked: Mapping[int, Sequence[int]], truth: Mapping[int, set[int]], k: int) -> Tensor:
    """``DoubleTensor[S]``: per scene (in ``ranked``'s order), the share of its first ``k`` ranked categories in ``truth``.

    Example:
        >>> precision_at_k({0: [4, 1, 2], 1: [3, 5]}, {0: {1, 4}, 1: {0}}, k=2).tolist()
        [1.0, 0.0]
    """
    if k < 1:
        raise ValueError(f"`k` must be >= 1, but got {k!r}.")
    return torch.tensor(
        [sum(c in truth[s] for c in list(cats)[:k]) / k for s, cats in ranked.items()], dtype=torch.float64
    )


__all__ += ["SubsetShare", "subset_share"]


class SubsetShare(NamedTuple):
    """Per image: the share of the region's object pixels on the chosen objects, and their share of all object pixels.

    ``keep`` marks the images whose region touches some object (the others have no share).
    """

    share: Tensor
    chance: Tensor
    keep: Tensor


def subset_share(regions: Tensor, masks: Sequence[Tensor], chosen: Sequence[Tensor]) -> SubsetShare:
    """Does the region prefer some of an image's objects (e.g. those that define its scene) over the others?

    Per image ``i`` with objects ``masks[i]`` (``BoolTensor[m_i, H, W]``) of
    which ``chosen[i]`` (``BoolTensor[m_i]``) are the chosen ones:
    ``share = |R ∩ C| / |R ∩ O|`` and ``chance = |C| / |O|``, with ``O`` the
    union of all objects and ``C`` that of the chosen. A region that does not
    care which object it covers has, on average, ``share = chance``.

    Example:
        >>> r = torch.zeros(1, 2, 4, dtype=torch.bool); r[0, 0] = True       # the top row
        >>> m = torch.zeros(2, 2, 4, dtype=torch.bool); m[0, 0, :2] = True; m[1, 1] = True
        >>> subset_share(r, [m], [torch.tensor([True, False])])             # all its object pixels are chosen ones
        SubsetShare(share=tensor([1.], dtype=torch.float64), chance=tensor([0.3333], dtype=torch.float64), keep=tensor([True]))
    """
    if regions.ndim != 3 or regions.dtype != torch.bool or len(masks) != len(regions) or len(chosen) != len(regions):
        raise ValueError(
            f"`regions` must be a BoolTensor[N, H, W] with one entry of `masks` and `chosen` per image, but "
            f"got {regions.dtype} {tuple(regions.shape)}, {len(masks)} and {len(chosen)}."
        )
    objects = torch.stack([m.any(0) for m in masks]).cpu()
    picked = torch.stack([m[c].any(0) if c.any() else torch.zeros_like(m[0]) for m, c in zip(masks, chosen)]).cpu()
    regions = regions.cpu()
    on_objects = (regions & objects).flatten(1).sum(1).double()
    share = (regions & picked).flatten(1).sum(1).double() / on_objects.clamp(min=1)
    chance = picked.flatten(1).sum(1).double() / objects.flatten(1).sum(1).double().clamp(min=1)
    return SubsetShare(share, chance, on_objects > 0)
