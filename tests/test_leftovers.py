"""Three leftovers of the last session: the undo history's memory bound after a switch to a larger
map, the context class of an MRI card with both a "head" and a "brain" class, and what
``--locations random`` does (and says) on fundus masks, where a vessel tree fills its retina."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

from synthgui.core.card import LabelClass, ModelCard
from synthgui.core.masks import disk_label_map
from tests.helpers import fundus_card, skin_card

# --- 1. the undo history stays within its memory bound on the map in use ----------------------------


@pytest.fixture
def new_doc(qapp):
    """A ``MaskDocument`` without a window, deleted after the test: without a parent, its steps would
    outlive it (the stack holds them, they hold the document) and be counted by later tests."""
    import shiboken6

    from synthgui.gui.document import MaskDocument

    made = []

    def make(size: int) -> MaskDocument:
        made.append(MaskDocument(size))
        return made[-1]

    yield make
    for doc in made:
        doc.undo_stack.clear()
        shiboken6.delete(doc)


def _held(stack) -> int:
    """Bytes the history's steps hold: a region step its atoms, a whole-map step both maps."""
    total = 0
    for i in range(stack.count()):
        step = stack.command(i)
        atoms = getattr(step, "atoms", None)
        total += sum(a.nbytes for a in atoms) if atoms is not None else step._old.nbytes + step._new.nbytes
    return total


def test_an_import_of_a_larger_map_keeps_the_undo_history_within_its_memory_bound(new_doc, monkeypatch):
    """The step count is set for a 64 px map (100 steps); a 512 px map replaces it, and every step
    after that changes the whole map (512 KiB a step). The history must still fit the budget, and
    the steps it keeps undo and redo exactly, the newest first, one drag still one step."""
    from synthgui.gui import document

    budget = 8 * 2**20
    monkeypatch.setattr(document, "UNDO_BUDGET_BYTES", budget)
    doc = new_doc(64)
    stack = doc.undo_stack
    assert stack.undoLimit() == document.UNDO_LIMIT  # the small map: the step count binds, not the budget
    import cv2  # noqa: F401 - imported by the first fill otherwise, inside the measurement
    tracemalloc.start()
    try:
        doc.replace(np.zeros((512, 512), np.uint8), "Import mask")
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        states = [doc.label_map.copy()]
        for i in range(30):
            assert doc.fill(0, 0, (i + 1) % 2)  # flips the whole map: the largest region step there is
            states.append(doc.label_map.copy())
            if i == 25:
                stack.setClean()  # "saved" here
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    whole_step = 2 * 512 * 512
    assert _held(stack) <= budget
    assert document.UNDO_MIN_STEPS <= stack.count() == budget // whole_step  # as many as fit, no fewer
    states_bytes = len(states) * 512 * 512  # the test's own copies
    assert grown - states_bytes <= budget + whole_step  # what the history really holds, not only what it counts
    gc.collect()
    alive = [o for o in gc.get_objects() if type(o) is document.AtomCommand and o.atoms and o._doc is doc]
    assert len(alive) <= stack.count()  # trimmed steps give their regions back

    kept = stack.count()
    for k in range(1, kept + 1):
        stack.undo()
        assert np.array_equal(doc.label_map, states[-1 - k]), k
        assert stack.isClean() == (len(states) - 1 - k == 26)
    assert not stack.canUndo()
    for k in range(kept - 1, -1, -1):
        stack.redo()
        assert np.array_equal(doc.label_map, states[-1 - k]), k
    assert not stack.canRedo()

    before = doc.label_map.copy()  # a drag of many segments is one step, also while steps are trimmed
    doc.begin_stroke()
    for x in range(10, 500, 20):
        doc.stroke_segment((x, 100), (x + 20, 120), 6, 2)
    doc.end_stroke()
    assert _held(stack) <= budget and stack.count() == kept
    drawn = doc.label_map.copy()
    stack.undo()
    assert np.array_equal(doc.label_map, before)
    stack.redo()
    assert np.array_equal(doc.label_map, drawn)


def test_a_lesion_transform_stays_one_step_when_the_history_is_trimmed_under_it(new_doc, monkeypatch):
    """Size changes of one lesion merge into one step; a step trimmed from the bottom of the history
    between two of them must not split the transform into two steps."""
    from synthgui.gui import document

    budget = 6 * 2**20  # 12 whole-map steps of a 512 px map
    monkeypatch.setattr(document, "UNDO_BUDGET_BYTES", budget)
    doc = new_doc(64)
    doc.replace(np.zeros((512, 512), np.uint8), "Import mask")
    for i in range(20):
        doc.fill(0, 0, (i + 1) % 2)
    assert not doc.label_map.any()
    assert doc.ellipse((56, 56), (456, 456), 1)  # a large lesion: each transform step is near a whole map
    before = doc.label_map.copy()
    assert doc.select_largest()
    doc.begin_transform()
    for scale in (0.5, 0.6, 0.7, 0.8):
        assert doc.transform(scale=scale, text="Lesion size")
        assert _held(doc.undo_stack) <= budget
    doc.end_transform()
    moved = doc.label_map.copy()
    doc.undo_stack.undo()
    assert np.array_equal(doc.label_map, before)  # one undo takes back the whole transform
    doc.undo_stack.redo()
    assert np.array_equal(doc.label_map, moved)


# --- 2. an MRI card's tumour lies on its brain, even when it has a head class too ---------------------


def _mri_card(order: list[str]) -> ModelCard:
    colours = {"head": (90, 90, 90), "brain": (160, 160, 160)}
    classes = [LabelClass(0, "background", (0, 0, 0))]
    classes += [LabelClass(i + 1, name, colours[name]) for i, name in enumerate(order)]
    classes.append(LabelClass(3, "tumour", (255, 255, 255)))
    return ModelCard(name="mri", domain="mri", classes=classes)


@pytest.mark.parametrize("order", [["head", "brain"], ["brain", "head"]])
def test_brain_is_the_context_of_an_mri_card_with_a_head_class_too_in_either_order(order):
    """The tumour lies on the brain; the head (skull and scalp around it) is neither what a tumour lies
    on nor a lesion: never a condition, never what the brush paints first."""
    card = _mri_card(order)
    assert card.context_class.name == "brain"
    assert card.context_id == order.index("brain") + 1
    assert [c.name for c in card.lesion_classes] == ["tumour"]
    assert card.drawn_class.name == "tumour"


def test_a_head_alone_is_still_the_context_of_a_prepare_mri_card():
    from synthgui.core.prepare import mri_card_template

    card = mri_card_template()
    assert card.context_class.name == "head" and card.drawn_class.name == "abnormality"
    assert [c.name for c in card.lesion_classes] == ["abnormality"]


# --- 3. --locations random on masks that cannot move ------------------------------------------------


def test_a_random_location_moves_a_lesion_whenever_some_shift_keeps_it_on_its_context():
    """The tumour fits only where it is and 40 px to the right: a random location
    must find that shift (blind tries over the whole image almost never hit it), so that a 0,0 offset
    under "random" means that no shift fits."""
    from synthgui.core.export.sweep import random_offset

    lm = np.zeros((256, 256), np.uint8)
    lm[120:131, 100:111] = 2  # the tumour
    lm[120:131, 140:151] = 1  # the only brain it fits on: a patch as large, 40 px to its right
    for seed in range(5):
        assert random_offset(lm, np.random.default_rng(seed), context=1) == (40.0, 0.0)


def test_a_random_location_never_draws_no_shift_when_a_shift_fits():
    """Only 0 and 1 px fit across, and any row down: "random" must never land on 0,0, which the
    export's report counts as "could not be moved"."""
    from synthgui.core.export.sweep import random_offset

    lm = np.zeros((8, 8), np.uint8)
    lm[:, 0:7] = 1  # a lesion 7 px wide, 8 px high: 1 px of room, across only
    offsets = {random_offset(lm, np.random.default_rng(seed)) for seed in range(50)}
    assert offsets == {(1.0, 0.0)}
    full = np.ones((8, 8), np.uint8)  # fills the image: nowhere to go
    assert random_offset(full, np.random.default_rng(0)) == (0.0, 0.0)


def test_a_vessel_tree_that_fills_its_retina_cannot_take_a_random_location():
    from synthgui.core.export.sweep import random_offset
    from synthgui.core.geometry import propose

    lm = propose("fundus", 64, 3)
    assert random_offset(lm, np.random.default_rng(0), context=1) == (0.0, 0.0)
    disk = disk_label_map(64, 0.1, label=1)  # a small skin lesion moves
    assert random_offset(disk, np.random.default_rng(0)) != (0.0, 0.0)


def test_the_location_note_counts_the_random_items_left_as_drawn():
    from synthgui.core.export.sweep import unmoved_note

    rows = [{"location": "random", "offset": [0.0, 0.0]}, {"location": "random", "offset": [0, 0]},
            {"location": "random", "offset": [3.0, -2.0]}, {"location": [0.0, 0.0], "offset": [0.0, 0.0]}]
    note = unmoved_note(rows, fundus_card())
    assert note.startswith("2 of 3 images with a random location are as drawn (offset 0,0)")
    assert "vessel" in note and "retina" in note
    assert "lesions" in unmoved_note(rows, skin_card()) and "retina" not in unmoved_note(rows, skin_card())
    assert unmoved_note(rows[2:], fundus_card()) is None  # every random item moved, or none asked for
    assert unmoved_note([], None) is None


def test_a_fundus_export_with_random_locations_says_that_no_vessel_tree_moved(tmp_path):
    """End to end on a fundus model: the manifest records the offset each image used (0,0 for every
    random one, honestly), and the note that the export's report shows counts them."""
    from synthgui.core.engine import Engine
    from synthgui.core.export import ExportJob, ExportOptions, Sweep, manifest, random_sources
    from synthgui.core.export.sweep import unmoved_note
    from synthgui.core.models import load_model
    from synthgui.core.networks import GeneratorSpec
    from tests.helpers import write_model

    card = fundus_card(resolution=64)
    path = write_model(tmp_path / "m", GeneratorSpec(input_nc=2, ngf=4, num_downs=6), card, name="fundus")
    model = load_model(path)
    sweep = Sweep(locations=["random", (0.0, 0.0)])
    job = ExportJob.create(tmp_path / "out", model, random_sources(3, 0), sweep, ExportOptions(batch=2, workers=1))
    result = job.run(Engine(model, device="cpu", threads=1))
    rows = manifest.read_journal(tmp_path / "out")
    assert len(rows) == 6 and all(r["offset"] == [0.0, 0.0] for r in rows)
    note = unmoved_note(rows, model.card)
    assert note.startswith("3 of 3 images with a random location are as drawn")
    assert result.notes == [note]  # what the CLI and the dialog print
    assert f"- Note: {note}" in (tmp_path / "out" / manifest.CARD).read_text()  # and the dataset card says
