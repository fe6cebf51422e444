"""Mask painting: region-bounded edits and exact undo atoms."""

import numpy as np

from synthgui.core.painting import (
    atom_between, diff_box, fill_ellipse, fill_polygon, flood_fill, paint_segment, stamp_disk,
)


def test_disk_stamp_touches_only_its_box_and_undoes_exactly():
    lm = np.zeros((1000, 1000), np.uint8)
    before = lm.copy()
    atom = stamp_disk(lm, (500, 400), 5, 2)
    assert atom is not None
    x0, y0, x1, y1 = atom.box
    assert (x1 - x0) <= 13 and (y1 - y0) <= 13  # O(brush), not O(image)
    assert lm[400, 500] == 2 and lm[400, 506] == 0
    assert np.count_nonzero(lm) == np.count_nonzero(lm[atom.slices])
    assert 60 < np.count_nonzero(lm) < 130  # about pi * 5^2
    atom.undo(lm)
    assert np.array_equal(lm, before)
    atom.redo(lm)
    assert lm[400, 500] == 2


def test_segment_is_continuous_and_repainting_is_a_no_op():
    lm = np.zeros((64, 64), np.uint8)
    paint_segment(lm, (5, 10), (55, 10), 2, 1)
    assert lm[10, 5:56].all() and not lm[20].any()
    assert paint_segment(lm, (5, 10), (55, 10), 2, 1) is None


def test_stamp_outside_the_image_is_clipped():
    lm = np.zeros((32, 32), np.uint8)
    atom = stamp_disk(lm, (0, 0), 4, 1)
    assert atom is not None and lm[0, 0] == 1
    assert stamp_disk(lm, (-50, -50), 4, 1) is None


def test_flood_fill_stops_at_other_classes():
    lm = np.zeros((40, 40), np.uint8)
    lm[10:30, 10] = lm[10:30, 30] = lm[10, 10:31] = lm[30, 10:31] = 1
    atom = flood_fill(lm, 20, 20, 2)
    assert atom is not None
    assert (lm[11:30, 11:30] == 2).all() and lm[5, 5] == 0 and lm[10, 20] == 1
    assert atom.box == (11, 11, 30, 30)
    assert flood_fill(lm, 20, 20, 2) is None


def test_polygon_and_ellipse_fill():
    lm = np.zeros((50, 50), np.uint8)
    fill_polygon(lm, [(10, 10), (40, 10), (40, 40), (10, 40)], 1)
    assert lm[25, 25] == 1 and lm[5, 5] == 0 and np.count_nonzero(lm) == 31 * 31
    lm2 = np.zeros((50, 50), np.uint8)
    fill_ellipse(lm2, (10, 20), (40, 30), 3)
    ys, xs = np.nonzero(lm2)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (10, 40, 20, 30)


def test_atom_between_covers_the_difference():
    a = np.zeros((20, 20), np.uint8)
    b = a.copy()
    b[3:5, 7:9] = 1
    assert diff_box(a, b) == (7, 3, 9, 5)
    atom = atom_between(a, b)
    assert atom.old.shape == (2, 2) and atom_between(a, a) is None
    c = a.copy()
    atom.redo(c)
    assert np.array_equal(c, b)


def test_merged_atoms_undo_and_redo_both_edits_as_one():
    from synthgui.core.painting import UndoAtom, merge_atoms

    rng = np.random.default_rng(1)
    lm = rng.integers(0, 3, (64, 64), dtype=np.uint8)
    start = lm.copy()
    a = paint_segment(lm, (10, 10), (20, 12), 3, 1)
    b = paint_segment(lm, (18, 11), (40, 50), 4, 2)  # overlaps a's box
    end = lm.copy()
    merged = merge_atoms(a, b, lm)
    assert merged.box == (min(a.box[0], b.box[0]), min(a.box[1], b.box[1]), max(a.box[2], b.box[2]), max(a.box[3], b.box[3]))
    merged.undo(lm)
    assert np.array_equal(lm, start)
    merged.redo(lm)
    assert np.array_equal(lm, end)
    assert not np.array_equal(merged.old, merged.new)
    # an edit and its exact reverse merge into an atom that changes nothing (a drag that went home)
    there = paint_segment(lm, (30, 30), (31, 30), 2, 0)
    back = UndoAtom(there.box, there.new.copy(), there.old.copy())
    back.redo(lm)
    home = merge_atoms(there, back, lm)
    assert np.array_equal(home.old, home.new)
