"""An MRI card with a head around its brain: both are anatomy, never lesions (found in review)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from synthgui.core.card import LabelClass, ModelCard


# --- 5. a head around a brain is anatomy for the card, but still a lesion for every pixel operation -----


def test_a_head_around_a_brain_is_not_selected_as_the_lesion(qapp):
    """455bcd6: on an MRI card with a brain and a head, the brain is the context and the head is
    "anatomy too, so neither a lesion class nor the class a brush paints first". README: such a class
    is what a tumour lies on, and "Move and the size sweeps leave it in place". But ``lesion_pixels``,
    ``find_lesions``, ``scale_all``, ``shift_all`` and ``random_offset`` still take only the one
    context id: the head ring is a lesion there, the largest one, so the studio selects it (and Move,
    the size controls and the export's size sweeps and random locations move or scale the skull)."""
    import shiboken6

    from synthgui.gui.document import MaskDocument

    card = ModelCard(name="mri", domain="mri", classes=[
        LabelClass(0, "background", (0, 0, 0)), LabelClass(1, "head", (90, 90, 90)),
        LabelClass(2, "brain", (160, 160, 160)), LabelClass(3, "tumour", (255, 255, 255))])
    assert card.context_class.name == "brain" and [c.name for c in card.lesion_classes] == ["tumour"]
    lm = np.zeros((128, 128), np.uint8)
    cv2.circle(lm, (64, 64), 60, 1, -1)  # the head (scalp and skull) ...
    cv2.circle(lm, (64, 64), 50, 2, -1)  # ... around the brain
    cv2.circle(lm, (50, 60), 8, 3, -1)  # a tumour on the brain
    doc = MaskDocument(128, card)
    try:
        doc.load_clean(lm)
        assert doc.select_largest()
        assert not (doc.selected & (lm == 1)).any(), "the head ring was selected as the lesion"
        assert doc.selected[lm == 3].all()
    finally:
        doc.undo_stack.clear()
        shiboken6.delete(doc)


def test_a_condition_does_not_turn_the_head_around_a_brain_into_tumour():
    """The same gap in rendering: ``apply_condition`` recolours ``lesion_pixels`` (all foreground but
    the one context id), so choosing the card's only condition, "tumour" (studio or ``--conditions``),
    makes the whole skull ring tumour in what the generator sees; and "head", no longer a condition
    for the card, is still accepted as one."""
    from synthgui.core.encoding import apply_condition
    from synthgui.core.errors import SynthguiError

    card = ModelCard(name="mri", domain="mri", classes=[
        LabelClass(0, "background", (0, 0, 0)), LabelClass(1, "brain", (160, 160, 160)),
        LabelClass(2, "head", (90, 90, 90)), LabelClass(3, "tumour", (255, 255, 255)),
        LabelClass(4, "oedema", (255, 255, 0))])
    lm = np.zeros((64, 64), np.uint8)
    cv2.circle(lm, (32, 32), 30, 2, -1)
    cv2.circle(lm, (32, 32), 24, 1, -1)
    cv2.circle(lm, (28, 30), 5, 4, -1)
    out = apply_condition(lm, card, "tumour")
    assert np.array_equal(out == 2, lm == 2), "the head became tumour"
    assert (out[lm == 4] == 3).all()
    with pytest.raises(SynthguiError):
        apply_condition(lm, card, "head")


# --- 6. every pixel operation takes all of a card's anatomy as ground -------------------------------------


def _head_brain_card(order: tuple[str, str] = ("head", "brain")) -> ModelCard:
    colours = {"head": (90, 90, 90), "brain": (160, 160, 160)}
    return ModelCard(name="mri", domain="mri", resolution=128, classes=[
        LabelClass(0, "background", (0, 0, 0)), *(LabelClass(i + 1, n, colours[n]) for i, n in enumerate(order)),
        LabelClass(3, "tumour", (255, 255, 255))])


def _head_brain_map(size: int = 128, head: int = 1, brain: int = 2, tumour=((50, 60), 8)) -> np.ndarray:
    lm = np.zeros((size, size), np.uint8)
    c = size // 2
    cv2.circle(lm, (c, c), int(size * 0.47), head, -1)
    cv2.circle(lm, (c, c), int(size * 0.39), brain, -1)
    if tumour is not None:
        cv2.circle(lm, tumour[0], tumour[1], 3, -1)
    return lm


@pytest.mark.parametrize("order", [("head", "brain"), ("brain", "head")])
def test_a_card_names_its_anatomy_ids_the_class_lesions_lie_on_first(order):
    from tests.helpers import fundus_card, skin_card

    card = _head_brain_card(order)
    assert card.anatomy_ids == (order.index("brain") + 1, order.index("head") + 1)
    assert card.anatomy_ids[0] == card.context_id
    assert [c.name for c in card.anatomy_classes] == ["brain", "head"]
    assert fundus_card().anatomy_ids == (1,) and skin_card().anatomy_ids == ()


def test_lesion_pixels_and_find_lesions_leave_out_every_anatomy_class():
    from synthgui.core.masks import find_lesions, lesion_pixels

    card = _head_brain_card()
    lm = _head_brain_map()
    assert np.array_equal(lesion_pixels(lm, card.anatomy_ids), lm == 3)
    lesions, comp = find_lesions(lm, context=card.anatomy_ids)
    assert len(lesions) == 1 and np.array_equal(comp == lesions[0].index, lm == 3)


@pytest.mark.parametrize("op", ["scale", "shift", "rotate"])
def test_sweeps_scale_move_and_turn_the_tumour_and_leave_the_head_and_brain(op):
    from synthgui.core.masks import rotate_all, scale_all, shift_all

    card = _head_brain_card()
    lm = _head_brain_map(tumour=((50, 60), 8))
    lm[60:64, 40:60] = 3  # not round: a rotation changes it
    out = {"scale": lambda: scale_all(lm, 0.5, card.anatomy_ids),
           "shift": lambda: shift_all(lm, 20, 5, card.anatomy_ids),
           "rotate": lambda: rotate_all(lm, 90, card.anatomy_ids)}[op]()
    assert np.array_equal(out == 1, lm == 1), "the head moved"
    assert not np.array_equal(out == 3, lm == 3)
    assert (np.isin(out, (2, 3)) == np.isin(lm, (2, 3))).all()  # the uncovered brain is brain again
    assert np.count_nonzero(out == 3) > 0


def _hull(region: np.ndarray) -> np.ndarray:
    out = np.zeros(region.shape, np.uint8)
    cv2.fillConvexPoly(out, cv2.convexHull(cv2.findNonZero(region.astype(np.uint8))), 1)
    return out > 0


def test_ground_gives_back_the_brain_in_its_hull_and_the_head_where_it_was():
    """A tumour drawn from the brain across the skull to outside the head: erased or moved, its pixels
    in the brain's hull are brain, the others in the head's hull head, and outside it background; the
    head and brain pixels stay what they are."""
    from synthgui.core.masks import ground

    card = _head_brain_card()
    lm = _head_brain_map(tumour=((64, 6), 12))
    out = ground(lm, card.anatomy_ids)
    tumour, brain_hull, head_hull = lm == 3, _hull(lm == 2), _hull(lm == 1)
    assert np.array_equal(out[lm == 1], lm[lm == 1]) and (out[lm == 2] == 2).all()
    assert (out[tumour & brain_hull] == 2).all() and (tumour & brain_hull).any()
    assert (out[tumour & head_hull & ~brain_hull] == 1).all() and (tumour & head_hull & ~brain_hull).any()
    assert (out[tumour & ~head_hull] == 0).all() and (tumour & ~head_hull).any()
    assert np.array_equal(ground(lm, card.context_id), np.where(brain_hull, 2, 0)), "one id: its hull alone"


def test_one_anatomy_id_works_as_an_int_or_in_a_tuple():
    from synthgui.core.masks import find_lesions, ground, lesion_pixels, rotate_all, scale_all, shift_all

    rng = np.random.default_rng(3)
    for _ in range(5):
        lm = rng.integers(0, 3, (48, 48)).astype(np.uint8)
        cv2.circle(lm, (24, 24), 18, 1, -1)
        cv2.circle(lm, tuple(int(v) for v in rng.integers(10, 38, 2)), 5, 2, -1)
        for f in (lesion_pixels, ground, lambda m, c: find_lesions(m, context=c)[1],
                  lambda m, c: scale_all(m, 0.7, c), lambda m, c: shift_all(m, 3, -2, c),
                  lambda m, c: rotate_all(m, 30, c)):
            assert np.array_equal(f(lm, 1), f(lm, (1,)))
            assert np.array_equal(f(lm, 0), f(lm, ()))


def test_a_random_location_moves_the_tumour_on_the_brain_and_leaves_the_head():
    """With the head counted as a lesion, no shift keeps the skull ring on the brain: "random" left
    every such mask as drawn (or, with the head as ground, would put tumours on the skull)."""
    from synthgui.core.export.sweep import Plan, Sweep, apply_variant, random_offset

    card = _head_brain_card()
    lm = _head_brain_map()
    for seed in range(10):
        dx, dy = random_offset(lm, np.random.default_rng(seed), card.anatomy_ids)
        assert (dx, dy) != (0.0, 0.0)
        ys, xs = np.nonzero(lm == 3)
        assert np.isin(lm[ys + int(dy), xs + int(dx)], (2, 3)).all(), "the tumour left the brain"
    variant = Plan(1, Sweep(sizes=[0.5], locations=["random"])).variant(0)
    out, offset = apply_variant(lm, variant, 128, 0, card.anatomy_ids)
    assert offset != (0.0, 0.0) and np.array_equal(out == 1, lm == 1)


def test_an_export_of_sizes_and_random_locations_keeps_the_head_in_place(tmp_path):
    from synthgui.core.engine import Engine
    from synthgui.core.export import ExportJob, ExportOptions, Sweep, folder_sources, manifest
    from synthgui.core.masks import load_mask, save_mask
    from synthgui.core.models import load_model
    from synthgui.core.networks import GeneratorSpec
    from tests.helpers import write_model

    card = _head_brain_card()
    card.resolution = 256
    card.encoding.kind = "palette"
    model = load_model(write_model(tmp_path / "model", GeneratorSpec(ngf=4), card, name="mri"))
    lm = _head_brain_map(256, tumour=((100, 120), 14))
    save_mask(tmp_path / "masks" / "a.png", lm, card)
    job = ExportJob.create(tmp_path / "out", model, folder_sources(tmp_path / "masks"),
                           Sweep(sizes=[0.5], locations=["random"], conditions=["tumour"]), ExportOptions(workers=1))
    assert job.run(Engine(model, device="cpu", threads=1), warn=lambda _: None).complete
    (row,) = manifest.read_journal(tmp_path / "out")
    out = load_mask(tmp_path / "out" / row["mask"], model.card)
    assert np.array_equal(out == 1, lm == 1), "the head was scaled, moved or recoloured"
    assert 0 < np.count_nonzero(out == 3) < np.count_nonzero(lm == 3)


def test_a_condition_is_never_an_anatomy_class():
    from synthgui.core.encoding import apply_condition
    from synthgui.core.errors import SynthguiError

    card = _head_brain_card()
    lm = _head_brain_map()
    for name in ("head", "brain"):
        with pytest.raises(SynthguiError, match=name):
            apply_condition(lm, card, name)


# --- 7. the studio: selection, Move, size controls and eraser on a head around a brain -----------------


@pytest.fixture
def head_doc(qapp):
    import shiboken6

    from synthgui.gui.document import MaskDocument

    doc = MaskDocument(128, _head_brain_card())
    doc.load_clean(_head_brain_map(tumour=((64, 20), 9)))  # across the brain's edge into the skull
    yield doc
    doc.undo_stack.clear()
    shiboken6.delete(doc)


def test_the_studio_selects_and_moves_the_tumour_not_the_head(head_doc):
    doc = head_doc
    before = doc.label_map.copy()
    head_pixel = tuple(int(v) for v in np.argwhere(before == 1)[0])
    doc.select_seed(head_pixel)
    assert doc.selected is None, "a click on the head selected it"
    assert not doc.select_at(int(head_pixel[1]), int(head_pixel[0]))
    assert doc.select_at(64, 20) and np.array_equal(doc.selected, before == 3)
    doc.begin_transform()
    assert doc.transform(offset=(0, 40), text="Move lesion")
    doc.end_transform()
    after, moved = doc.label_map, np.roll(before == 3, 40, axis=0)
    assert (after[before == 1] == 1).all(), "Move changed the head"
    assert np.array_equal(after == 3, moved) and np.array_equal(after[~moved & (before != 3)], before[~moved & (before != 3)])
    uncovered = (before == 3) & ~moved
    assert (after[uncovered & (_head_brain_map(tumour=None) == 1)] == 1).all(), "the skull under the tumour is not head"
    assert (after[uncovered] == 2).any()
    assert doc.follow_selection() is False and doc.selected is not None
    assert not (doc.selected & (before == 1)).any()


def test_the_eraser_on_a_tumour_across_the_skull_gives_back_brain_and_head(head_doc):
    doc = head_doc
    before = doc.label_map.copy()
    doc.begin_stroke("Erase")
    doc.stroke_segment((64, 20), (64, 20), 14, doc.context, 0)  # what the canvas's eraser sends
    doc.end_stroke()
    after, clean = doc.label_map, _head_brain_map(tumour=None)
    assert not (after == 3).any()
    assert (after[before == 1] == 1).all(), "the eraser took away the head"
    assert (after[(before == 3) & (clean == 1)] == 1).mean() > 0.9, "the eraser did not give back the head"
    assert (after[(before == 3) & (clean == 2)] == 2).mean() > 0.9


# --- 8. a random location tries a few draws before it checks every shift (review: 0.38 -> 4.6 ms) ------


def _drawn_offset(label_map: np.ndarray, rng: np.random.Generator, ground: np.ndarray | None, tries: int = 200):
    """The draws random locations have always made (455bcd6 and before): the first of ``tries`` shifts
    over the image that keeps every lesion pixel on ``ground``, or None when none does."""
    lesions = label_map > 0 if ground is None else (label_map > 0) & ~ground
    ys, xs = np.nonzero(lesions)
    h, w = label_map.shape
    for _ in range(tries):
        dx = int(rng.integers(-int(xs.min()), w - int(xs.max())))
        dy = int(rng.integers(-int(ys.min()), h - int(ys.max())))
        if (dx or dy) and (ground is None or (lesions | ground)[ys + dy, xs + dx].all()):
            return (float(dx), float(dy))
    return None


def _brain_with_tumours(seed: int, size: int = 256) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lm = np.zeros((size, size), np.uint8)
    cv2.ellipse(lm, (size // 2, size // 2), (int(size * 0.35), int(size * 0.42)), 0, 0, 360, 1, -1)
    for _ in range(int(rng.integers(1, 3))):
        centre = tuple(int(v) for v in rng.integers(size // 3, 2 * size // 3, 2))
        cv2.circle(lm, centre, int(rng.integers(4, size // 10)), 3, -1)
    return lm


def test_a_random_location_keeps_the_offsets_it_drew_before():
    from synthgui.core.export.sweep import random_offset

    skin = [np.where(_brain_with_tumours(s, 128) == 3, 3, 0).astype(np.uint8) for s in range(10)]
    for seed in range(30):
        lm = _brain_with_tumours(seed)
        expected = _drawn_offset(lm, np.random.default_rng([7, seed]), lm == 1)
        assert expected is not None
        assert random_offset(lm, np.random.default_rng([7, seed]), 1) == expected
        assert random_offset(skin[seed % 10], np.random.default_rng(seed)) == _drawn_offset(
            skin[seed % 10], np.random.default_rng(seed), None)


def test_a_random_location_checks_every_shift_only_when_its_first_draws_miss(monkeypatch):
    from synthgui.core.export import sweep

    calls = []
    exhaustive = sweep._shifts_that_fit
    monkeypatch.setattr(sweep, "_shifts_that_fit", lambda *a: calls.append(1) or exhaustive(*a))
    lm = _brain_with_tumours(0)
    assert sweep.random_offset(lm, np.random.default_rng(0), 1) != (0.0, 0.0)
    assert sweep.random_offset(np.where(lm == 3, 3, 0).astype(np.uint8), np.random.default_rng(0)) != (0.0, 0.0)
    assert calls == [], "the first draws fitted, but every shift was checked"
    tight = np.zeros((256, 256), np.uint8)
    tight[120:131, 100:111] = 2
    tight[120:131, 140:151] = 1  # the only brain it fits on: 40 px to its right
    assert sweep.random_offset(tight, np.random.default_rng(0), 1) == (40.0, 0.0)
    assert calls == [1]
    from synthgui.core.geometry import propose

    vessels = propose("fundus", 64, 3)  # a vessel tree that fills its retina: one check, then no more draws
    assert sweep.random_offset(vessels, np.random.default_rng(0), 1) == (0.0, 0.0) and calls == [1, 1]


# --- 9. a push onto an undo history under its byte budget does not walk the history -------------------


def test_a_push_under_the_byte_budget_does_not_walk_the_undo_history(qapp):
    import shiboken6

    from synthgui.gui.document import MaskDocument

    doc = MaskDocument(64)
    try:
        for i in range(50):
            assert doc.fill(0, 0, (i + 1) % 2)
        stack = doc.undo_stack
        looked = []
        command = stack.command
        stack.command = lambda i: looked.append(i) or command(i)
        assert doc.fill(0, 0, 1) and stack.count() == 51
        doc.begin_stroke()
        doc.stroke_segment((10, 10), (30, 30), 4, 2)
        doc.end_stroke()
        assert stack.count() == 52 and looked == [], f"a push looked at {len(looked)} steps"
    finally:
        doc.undo_stack.clear()
        shiboken6.delete(doc)


def test_export_refuses_the_head_as_a_condition_before_it_starts(tmp_path, capsys):
    """The head is anatomy as the brain is: refused before any folder is made, not mid-export."""
    from synthgui.cli import main
    from synthgui.core.networks import GeneratorSpec
    from tests.helpers import write_model

    card = ModelCard(name="mri", domain="mri", resolution=64, classes=[
        LabelClass(0, "background", (0, 0, 0)), LabelClass(1, "head", (90, 90, 90)),
        LabelClass(2, "brain", (160, 160, 160)), LabelClass(3, "tumour", (255, 255, 255))])
    path = write_model(tmp_path / "m", GeneratorSpec(input_nc=4, ngf=4, num_downs=6), card, name="mri")
    code = main(["export", "--model", str(path), "--out", str(tmp_path / "out"), "--random", "1",
                 "--conditions", "head"])
    assert code == 2 and "--conditions head" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
