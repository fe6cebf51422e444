"""Editing a label map in place, one region at a time, with an undo atom for each edit.

Every operation touches only the bounding box of what it paints, so a brush dab costs
O(brush area) however large the mask is, and its undo atom holds only that box's old and new
values (napari's approach; see ../shared/STYLE.md). OpenCV does the rasterising.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive ends)


@dataclass
class UndoAtom:
    """One edit: the box it covers and the values there before and after."""

    box: Box
    old: np.ndarray
    new: np.ndarray

    @property
    def slices(self) -> tuple[slice, slice]:
        x0, y0, x1, y1 = self.box
        return slice(y0, y1), slice(x0, x1)

    @property
    def nbytes(self) -> int:
        return int(self.old.nbytes + self.new.nbytes)

    def redo(self, label_map: np.ndarray) -> None:
        label_map[self.slices] = self.new

    def undo(self, label_map: np.ndarray) -> None:
        label_map[self.slices] = self.old


def clip_box(shape: tuple[int, ...], x0: float, y0: float, x1: float, y1: float) -> Box | None:
    """Integer box inside an image of ``shape`` (h, w), or None when it misses the image."""
    h, w = shape[:2]
    bx0, by0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
    bx1, by1 = min(w, int(np.ceil(x1)) + 1), min(h, int(np.ceil(y1)) + 1)
    if bx0 >= bx1 or by0 >= by1:
        return None
    return bx0, by0, bx1, by1


def union_box(a: Box | None, b: Box | None) -> Box | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _apply_stamp(label_map: np.ndarray, box: Box, stamp: np.ndarray, value: int | np.ndarray,
                 keep: int | None = None) -> UndoAtom | None:
    """Write ``value`` (a class, or a map of them as big as ``label_map``) where ``stamp`` is set
    inside ``box``, except over class ``keep``; the atom covers the box."""
    x0, y0, x1, y1 = box
    crop = label_map[y0:y1, x0:x1]
    if isinstance(value, np.ndarray):
        value = value[y0:y1, x0:x1]
    touched = stamp.astype(bool) & (crop != value)
    if keep is not None:
        touched &= crop != keep
    if not touched.any():
        return None
    old = crop.copy()
    crop[touched] = value[touched] if isinstance(value, np.ndarray) else value
    return UndoAtom(box, old, crop.copy())


def paint_segment(
    label_map: np.ndarray, p0: tuple[float, float], p1: tuple[float, float], radius: float, value: int | np.ndarray,
    keep: int | None = None,
) -> UndoAtom | None:
    """Paint a round-ended line of ``radius`` from p0 to p1 (image x, y). A dab is p0 == p1.
    Pixels of class ``keep`` stay as they are (an eraser that gives back the retina leaves the
    outside of the eye outside)."""
    import cv2

    r = max(0.0, float(radius))
    box = clip_box(label_map.shape, min(p0[0], p1[0]) - r - 1, min(p0[1], p1[1]) - r - 1,
                   max(p0[0], p1[0]) + r + 1, max(p0[1], p1[1]) + r + 1)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    stamp = np.zeros((y1 - y0, x1 - x0), np.uint8)
    a = (int(round(p0[0])) - x0, int(round(p0[1])) - y0)
    b = (int(round(p1[0])) - x0, int(round(p1[1])) - y0)
    ri = int(round(r))
    if ri == 0:
        cv2.line(stamp, a, b, 1, thickness=1)
    else:
        if a != b:
            cv2.line(stamp, a, b, 1, thickness=2 * ri)
        cv2.circle(stamp, a, ri, 1, thickness=-1)
        cv2.circle(stamp, b, ri, 1, thickness=-1)
    return _apply_stamp(label_map, box, stamp, value, keep)


def stamp_disk(label_map: np.ndarray, centre: tuple[float, float], radius: float, value: int) -> UndoAtom | None:
    return paint_segment(label_map, centre, centre, radius, value)


def flood_fill(label_map: np.ndarray, x: int, y: int, value: int) -> UndoAtom | None:
    """Fill the 4-connected region of equal class around (x, y) with ``value``."""
    import cv2

    h, w = label_map.shape
    if not (0 <= x < w and 0 <= y < h) or label_map[y, x] == value:
        return None
    mask = np.zeros((h + 2, w + 2), np.uint8)
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8)
    _, _, _, rect = cv2.floodFill(label_map.copy(), mask, (int(x), int(y)), 0, 0, 0, flags)
    rx, ry, rw, rh = rect
    box = (rx, ry, rx + rw, ry + rh)
    return _apply_stamp(label_map, box, mask[1 + ry : 1 + ry + rh, 1 + rx : 1 + rx + rw], value)


def fill_polygon(label_map: np.ndarray, points: Sequence[tuple[float, float]], value: int) -> UndoAtom | None:
    """Fill a closed polygon given by image (x, y) vertices."""
    import cv2

    if len(points) < 3:
        return None
    pts = np.asarray(points, np.float64)
    box = clip_box(label_map.shape, pts[:, 0].min() - 1, pts[:, 1].min() - 1, pts[:, 0].max() + 1, pts[:, 1].max() + 1)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    stamp = np.zeros((y1 - y0, x1 - x0), np.uint8)
    local = np.round(pts - (x0, y0)).astype(np.int32)
    cv2.fillPoly(stamp, [local], 1)
    return _apply_stamp(label_map, box, stamp, value)


def fill_ellipse(label_map: np.ndarray, corner_a: tuple[float, float], corner_b: tuple[float, float], value: int) -> UndoAtom | None:
    """Fill the axis-aligned ellipse inscribed in the box spanned by two corners."""
    import cv2

    (ax, ay), (bx, by) = corner_a, corner_b
    box = clip_box(label_map.shape, min(ax, bx) - 1, min(ay, by) - 1, max(ax, bx) + 1, max(ay, by) + 1)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    stamp = np.zeros((y1 - y0, x1 - x0), np.uint8)
    centre = (int(round((ax + bx) / 2 - x0)), int(round((ay + by) / 2 - y0)))
    axes = (max(0, int(round(abs(bx - ax) / 2))), max(0, int(round(abs(by - ay) / 2))))
    cv2.ellipse(stamp, centre, axes, 0, 0, 360, 1, thickness=-1)
    return _apply_stamp(label_map, box, stamp, value)


def diff_box(before: np.ndarray, after: np.ndarray) -> Box | None:
    """Bounding box of the pixels that differ between two label maps of one shape."""
    changed = before != after
    rows = np.flatnonzero(changed.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(changed.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def atom_between(before: np.ndarray, after: np.ndarray, box: Box | None = None) -> UndoAtom | None:
    """The atom that turns ``before`` into ``after``, limited to ``box`` when the caller knows it."""
    box = diff_box(before, after) if box is None else box
    if box is None:
        return None
    x0, y0, x1, y1 = box
    old, new = before[y0:y1, x0:x1], after[y0:y1, x0:x1]
    if np.array_equal(old, new):
        return None
    return UndoAtom(box, old.copy(), new.copy())


def merge_atoms(first: UndoAtom, then: UndoAtom, label_map: np.ndarray) -> UndoAtom:
    """One atom for ``first`` followed by ``then``, both already applied to ``label_map``: its box is
    the union of theirs, its old values the map before ``first``, its new values the map now. A
    drag merges an atom per mouse event, so its step stays one box, not a list that grows (and
    costs more to undo) with every event; ``old == new`` says the drag ended where it began."""
    x0, y0, x1, y1 = box = union_box(first.box, then.box)
    new = label_map[y0:y1, x0:x1].copy()
    old = new.copy()
    for atom in (then, first):  # first last: where both changed a pixel, its value before first wins
        ax0, ay0, ax1, ay1 = atom.box
        old[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0] = atom.old
    return UndoAtom(box, old, new)
