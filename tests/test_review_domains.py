"""Review of the context class (retina, brain) added to fundus and MRI cards: what a user still
needs to be able to do, and what must come back as it was."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")


from synthgui.core.card import Encoding, LabelClass, ModelCard  # noqa: E402
from synthgui.core.networks import GeneratorSpec  # noqa: E402
from tests.gui_input import load, stroke  # noqa: E402
from tests.helpers import fundus_card, write_model  # noqa: E402

pytestmark = pytest.mark.usefixtures("temp_settings")  # fixtures: tests/studio_fixtures.py


def binary_vessel_card(name: str = "tiny-vessels", resolution: int = 256) -> ModelCard:
    """A plain binary vessel model: outside 0, vessel 1, no retina class."""
    return ModelCard(name=name, domain="fundus", encoding=Encoding("palette"), resolution=resolution,
                     classes=[LabelClass(0, "outside", (0, 0, 0)), LabelClass(1, "vessel", (255, 255, 255))])


@pytest.fixture
def fundus_model(tmp_path):
    return write_model(tmp_path / "fundus", GeneratorSpec(input_nc=2, ngf=4), fundus_card(), name="fundus")


def fov_disk(size: int = 256) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    return np.hypot(xx - size // 2, yy - size // 2) <= size * 0.46


# --- the eraser and the field of view -------------------------------------------------------------


def test_erasing_a_vessel_stroke_that_overshot_the_field_of_view_gives_the_mask_back(window, qtbot, fundus_model):
    """A vessel drawn to the edge of the eye often overshoots it. Erasing the stroke must not leave a
    bump of retina outside the eye (the generator renders fundus there); the mask should be as
    it was before the stroke."""
    w = load(window, qtbot, fundus_model)
    before = w.doc.label_map.copy()
    assert before[128, 250] == 0 and before[128, 200] == 1  # the blank disk: outside at x=250
    w.set_tool("brush")
    stroke(w.canvas, [(200, 128), (254, 128)])
    assert w.doc.label_map[128, 250] == 2
    w.set_tool("eraser")
    stroke(w.canvas, [(200, 128), (254, 128)])
    lm = w.doc.label_map
    assert not ((lm == 1) & (before == 0)).any(), "the eraser grew the field of view outside the eye"
    # What lay under the stroke is not stored: the eye is taken as the convex hull of the retina the
    # stroke left, which can miss a pixel of the disc's rim where the stroke crossed it.
    assert int((lm != before).sum()) <= 2


def test_the_user_can_still_cut_back_the_field_of_view(window, qtbot, fundus_model):
    """Before the context class the eraser painted 'outside'; now it paints retina and the palette
    and the eyedropper offer no 'outside' either, so no tool can shrink the field of view or the
    brain outline any more. Picking 'outside' (with the eyedropper, or from the palette) and
    brushing, or the eraser as before, must paint it."""
    w = load(window, qtbot, fundus_model)
    assert w.doc.label_map[128, 128] == 1
    w.set_tool("eraser")  # what did it before
    stroke(w.canvas, [(120, 128), (136, 128)])
    if w.doc.label_map[128, 128] == 0:
        return
    w.set_tool("eyedropper")
    stroke(w.canvas, [(2, 2)])
    button = w.palette_panel._group.button(0)
    if button is not None:
        button.click()
    w.set_tool("brush")
    stroke(w.canvas, [(120, 128), (136, 128)])
    assert w.doc.label_map[128, 128] == 0, "no tool paints 'outside' on a fundus mask"


def test_an_eraser_stroke_undoes_exactly(window, qtbot, fundus_model):
    w = load(window, qtbot, fundus_model)
    w.set_tool("brush")
    stroke(w.canvas, [(100, 128), (160, 128)])
    painted = w.doc.label_map.copy()
    w.set_tool("eraser")
    stroke(w.canvas, [(90, 120), (170, 135)])
    w.undo()
    assert np.array_equal(w.doc.label_map, painted)


# --- moving and scaling what crosses the field of view ----------------------------------------------


def test_a_size_sweep_does_not_grow_retina_outside_the_eye():
    """Vessels reach the edge of the field of view (an imported CHASE_DB1 mask overshoots the
    canvas's disk). Shrinking them must not turn their old pixels outside the eye into retina."""
    from synthgui.core.masks import scale_all, shift_all

    disk = fov_disk()
    lm = np.where(disk, 1, 0).astype(np.uint8)
    lm[126:131, 100:254] = 2  # a vessel from inside the eye out past its edge (x > 245)
    for out in (scale_all(lm, 0.5, context=1), shift_all(lm, -60, 0, context=1)):
        assert not ((out == 1) & ~disk).any(), "retina appeared outside the field of view"


# --- switching models -----------------------------------------------------------------------------


def test_switching_to_a_binary_vessel_model_keeps_vessels_vessels_and_the_retina_not(window, qtbot, tmp_path):
    """The bundled fundus card (retina 1, vessel 2) to a plain vessel model (vessel 1): class ids
    are kept by number, so the whole retina becomes vessel and the render is one white disc.
    The context class tells what the retina is: it has no counterpart, so it becomes outside."""
    three = write_model(tmp_path / "a", GeneratorSpec(input_nc=2, ngf=4), fundus_card(), name="fundus")
    two = write_model(tmp_path / "b", GeneratorSpec(ngf=4), binary_vessel_card(), name="vessels")
    w = load(window, qtbot, three)
    lm = w.doc.label_map.copy()
    lm[126:131, 60:200] = 2
    w.doc.replace(lm, "test")
    load(w, qtbot, two)
    got = w.doc.label_map
    assert np.array_equal(got == 1, lm == 2), "the retina became vessel"


# --- the CLI and the export read binary vessel masks as the studio does ----------------------------------


def test_a_binary_vessel_mask_exports_within_a_field_of_view(tmp_path):
    """The studio now puts a CHASE_DB1-style white-on-black vessel mask onto a field of view; an
    export of the same file (``export --masks``, or the export dialog's mask folder) and ``render``
    still give the generator vessels on 'outside the eye', so the same mask renders differently."""
    from PIL import Image

    from synthgui.core.export.sources import MaskSource, load_source

    grey = np.zeros((256, 256), np.uint8)
    grey[60:200, 128] = 255
    Image.fromarray(grey).save(tmp_path / "vessels.png")
    lm = load_source(MaskSource(kind="file", name="vessels.png", path=str(tmp_path / "vessels.png")), fundus_card())
    assert lm[100, 128] == 2
    assert lm[100, 100] == 1, "the vessels were given no field of view"


def test_export_refuses_the_context_class_as_a_condition_before_it_starts(tmp_path):
    """``--conditions retina`` passes the name check, then every item fails inside the run."""
    from synthgui.cli import main
    from synthgui.core.masks import save_mask

    card = fundus_card(resolution=64)
    path = write_model(tmp_path / "m", GeneratorSpec(input_nc=2, ngf=4, num_downs=6), card, name="fundus")
    lm = np.where(fov_disk(64), 1, 0).astype(np.uint8)
    lm[30:34, 10:50] = 2
    (tmp_path / "masks").mkdir()
    save_mask(tmp_path / "masks" / "a.png", lm, card)
    out = tmp_path / "out"
    rc = main(["export", "--model", str(path), "--out", str(out), "--masks", str(tmp_path / "masks"),
               "--conditions", "retina", "--no-progress"])
    assert rc == 2
    assert not out.exists() or not any(out.iterdir()), "an export folder was started before the refusal"
