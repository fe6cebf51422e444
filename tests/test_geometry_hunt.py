"""Geometry generators, the Propose form and DCGAN loading: bugs a user hit, each with the behaviour before.

Every test here failed on the code before its fix (see the docstrings)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from synthgui.core.errors import CheckpointError
from synthgui.core.geometry import fitted, parse_controls, propose
from tests.studio_fixtures import wait_proposed


def _components(mask: np.ndarray) -> list[np.ndarray]:
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return [labels == i for i in range(1, n)]


def _touches_frame(region: np.ndarray) -> bool:
    return bool(region[0].any() or region[-1].any() or region[:, 0].any() or region[:, -1].any())


# --- controls ------------------------------------------------------------------------------------


def test_fit_on_a_multiplier_or_count_control_means_the_fitted_default():
    """Before: ``--geometry asymmetry=fit`` (the docs: "a control left out, or =fit, is drawn from the
    fitted statistics") crashed with TypeError ('<=' not supported ... NoneType), as did lesions=fit and
    density=fit; ``tumour=fit`` proposed MRI slices without a tumour."""
    assert parse_controls("skin", ["asymmetry=fit", "lesions=none", "diameter=0.3"]) == {"diameter": 0.3}
    assert parse_controls("fundus", ["density=fit", "tortuosity=none", "eye=fit"]) == {"eye": None}
    mri = parse_controls("mri", ["tumour=fit", "border_irregularity=fit"])
    assert (propose("mri", 64, 2, **mri) == 2).any()
    assert np.array_equal(propose("skin", 64, 3, asymmetry=None, lesions=None), propose("skin", 64, 3))
    assert np.array_equal(propose("mri", 64, 2, tumour=None), propose("mri", 64, 2))


# --- vessels -------------------------------------------------------------------------------------


def test_calibre_scales_every_vessel_and_keeps_the_tree():
    """Before: calibre below about 0.15 (the form offers 0 to 4) proposed a retina with no vessels at all,
    and a large calibre grew a different, bigger tree (up to the 30,000-segment cap, seconds on the UI
    thread, whole trunks left out) instead of the same tree drawn thicker."""
    from synthgui.core.geometry.vessels import VesselControls, VesselParams, grow_tree

    params = VesselParams.from_json(fitted()["vessels"])

    def tree(calibre):
        segments, _, _ = grow_tree(np.random.default_rng(4), params, VesselControls(eye="left", calibre=calibre))
        return segments

    plain = tree(1.0)
    for calibre in (0.0, 0.1, 4.0):
        scaled = tree(calibre)
        assert len(scaled) == len(plain)
        assert all(np.array_equal(a, a2) and np.array_equal(b, b2) and w2 == pytest.approx(w * calibre)
                   for (a, b, w), (a2, b2, w2) in zip(plain, scaled))
    for calibre in (0.0, 0.1):
        lm = propose("fundus", 256, 4, calibre=calibre)
        assert (lm == 2).sum() > 0.3 * (propose("fundus", 256, 4) == 2).sum()


@pytest.mark.parametrize("seed", [231, 324, 785])
def test_the_optic_disc_lies_inside_the_field_of_view(seed):
    """Before: about 1 seed in 250 drew the optic disc outside the field of view (the fit's offset
    distribution is wide), every trunk left the retina at its first step, and Propose showed a fundus
    without a single vessel (these seeds). Real discs lie at most 0.67 radii from the centre."""
    from synthgui.core.geometry.vessels import VesselControls, VesselParams, grow_tree

    params = VesselParams.from_json(fitted()["vessels"])
    _, disc, _ = grow_tree(np.random.default_rng(seed), params, VesselControls())
    assert np.hypot(*disc) <= 0.8
    lm = propose("fundus", 128, seed)
    assert (lm == 2).sum() / (lm > 0).sum() > 0.03


# --- lesions -------------------------------------------------------------------------------------


@pytest.mark.parametrize("count,diameter", [(2, None), (3, None), (5, None), (3, 0.2)])
def test_several_lesions_are_that_many_separate_lesions(count, diameter):
    """Before: 'Lesions: 2' gave two separate lesions in 23 % of proposals and 'Lesions: 5' never
    (on average 1.9 blobs): lesions were dropped anywhere, on top of each other."""
    controls = {"lesions": count, "satellites": 0} | ({} if diameter is None else {"diameter": diameter})
    for seed in range(8):
        lm = propose("skin", 256, seed, **controls)
        assert set(np.unique(lm).tolist()) <= {0, 1}
        assert len(_components(lm == 1)) == count, (seed, len(_components(lm == 1)))


@pytest.mark.parametrize("size,count", [(128, 1), (128, 3), (256, 3), (512, 3), (128, 6), (256, 6), (512, 6)])
def test_satellites_are_that_many_separate_spots_in_the_image(size, count):
    """Before: 'Satellites: 6' showed 4.7 spots on average at 256 px and 3 or fewer at 128 px: spots
    touched the lesion or each other, or fell off the image."""
    for seed in range(8):
        lm = propose("skin", size, seed, satellites=count, diameter=0.3, centre=(0.5, 0.5))
        parts = sorted(_components(lm == 1), key=lambda r: -int(r.sum()))
        assert len(parts) == count + 1, (seed, len(parts))
        assert not any(_touches_frame(p) for p in parts[1:]), seed


# --- MRI -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("controls", [{"tumour_centre": (1.0, 1.0)}, {"tumour_centre": (0.0, 0.5)},
                                      {"tumour_centre": (0.5, 0.02), "tumour_diameter": 0.1}])
def test_a_tumour_centre_off_the_brain_still_proposes_a_tumour(controls):
    """Before: a tumour centre the form accepts (x, y from 0 to 1) but outside the drawn brain gave a
    slice with no abnormality at all, with no message."""
    for seed in range(4):
        lm = propose("mri", 128, seed, **controls)
        assert (lm == 2).sum() >= 4, seed
        assert set(np.unique(lm).tolist()) == {0, 1, 2}


def test_a_tiny_tumour_is_not_lost():
    """Before: a tumour of a few pixels (small diameter, small model) never passed the 'four pixels
    inside the brain' test, and the last try, outside the brain, was kept: no abnormality."""
    for size in (16, 32):
        for seed in range(6):
            assert (propose("mri", size, seed, tumour_diameter=0.02) == 2).any(), (size, seed)


@pytest.mark.parametrize("size", [64, 128])
def test_nested_regions_wrap_each_other_at_model_resolutions(size):
    """Before: at 64 px 40 % of nested proposals had a necrotic core touching oedema or the brain, or an
    enhancing rim touching the brain, and 12 % had no oedema at all (small tumours came out as solid
    necrosis): the BraTS nesting oedema > enhancing > necrosis was broken."""
    square = np.ones((3, 3), np.uint8)
    for seed in range(30):
        lm = propose("mri", size, seed, nested=True)
        necrosis, enhancing = (lm == 4).astype(np.uint8), (lm == 3).astype(np.uint8)
        assert not (cv2.dilate(necrosis, square).astype(bool) & (lm <= 2)).any(), seed
        assert not (cv2.dilate(enhancing, square).astype(bool) & (lm <= 1)).any(), seed
        assert (lm == 2).any(), seed


# --- Propose form ---------------------------------------------------------------------------------


def _studio_like_parent(card):
    from PySide6.QtWidgets import QWidget

    parent = QWidget()
    parent.card = card
    return parent


def test_the_form_does_not_offer_nested_regions_to_a_model_without_them(qtbot):
    """Before: with the MRI card of ``synthgui prepare`` (background, head, abnormality) the form
    offered 'Nested'; ticking it closed the form and said 'No proposal' (classes 3 and 4 unknown)."""
    from synthgui.core.prepare import mri_card_template
    from synthgui.gui.propose_dialog import ProposeDialog

    parent = _studio_like_parent(mri_card_template())
    qtbot.addWidget(parent)
    dialog = ProposeDialog("mri", parent)
    rows = {row.name: row for row in dialog.rows}
    assert not rows["nested"].editor.isEnabled() and not rows["nested"].value()
    assert "enhancing" in rows["nested"].widget.toolTip()
    assert "nested" not in dialog.controls() or dialog.controls()["nested"] is False

    card = mri_card_template()
    from synthgui.core.card import LabelClass

    card.classes += [LabelClass(3, "enhancing", (255, 0, 0)), LabelClass(4, "necrosis", (0, 0, 255))]
    parent2 = _studio_like_parent(card)
    qtbot.addWidget(parent2)
    assert {row.name: row for row in ProposeDialog("mri", parent2).rows}["nested"].editor.isEnabled()


def test_a_setting_the_generator_refuses_keeps_the_form_open(qtbot):
    """Before: nested regions with the enhancing depth below the necrosis depth closed the form, then an
    error said so, and every setting (and the seed) was lost when the form was opened again."""
    from PySide6.QtWidgets import QDialog

    from synthgui.gui.propose_dialog import ProposeDialog

    dialog = ProposeDialog("mri")
    qtbot.addWidget(dialog)
    accepted = []
    dialog.accepted.connect(lambda: accepted.append(True))
    dialog.open()
    rows = {row.name: row for row in dialog.rows}
    rows["nested"].editor.setChecked(True)
    rows["enhancing_depth"].editor.setValue(0.8)
    rows["necrosis_depth"].editor.setValue(0.4)
    dialog.accept()
    assert dialog.isVisible() and not accepted and dialog.result() != QDialog.DialogCode.Accepted
    assert "necrosis" in dialog.error.text() and dialog.error.isVisible()
    rows["necrosis_depth"].editor.setValue(0.9)
    dialog.accept()
    assert accepted and not dialog.isVisible()


# --- DCGAN ---------------------------------------------------------------------------------------


def test_a_dcgan_discriminator_is_named_as_such():
    """Before: the PyTorch DCGAN example saves netD_epoch_N.pth beside netG_epoch_N.pth; loading the
    discriminator said 'DCGAN layer main.2 takes 16 channels but the previous layer gives 3'."""
    from torch import nn

    from synthgui.core.checkpoints import infer_spec

    nc, ndf = 3, 8
    net = nn.Module()
    net.main = nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False), nn.Sigmoid(),
    )
    with pytest.raises(CheckpointError, match="discriminator.*netG"):
        infer_spec(net.state_dict())


def test_the_propose_form_keeps_its_settings_between_openings(loaded):
    w = loaded
    dialog = w._propose_with_controls()
    rows = {row.name: row for row in dialog.rows}
    rows["lesions"].editor.setValue(3)
    dialog.seed.setValue(11)
    dialog.reject()
    again = w._propose_with_controls()
    assert again is dialog and again.controls()["lesions"] == 3 and again.seed.value() == 11
    assert len([d for d in w.findChildren(type(dialog))]) == 1  # no new hidden form per opening
    again.reject()


def test_proposing_the_same_mask_again_is_no_step(loaded, qtbot):
    """The form remembers its seed: OK twice proposed the same mask and pushed an empty step that
    marked the project modified (found in review)."""
    w = loaded
    w.propose({}, 5)
    wait_proposed(w, qtbot)
    steps = w.doc.undo_stack.count()
    w.doc.undo_stack.setClean()
    w.propose({}, 5)
    wait_proposed(w, qtbot)
    assert w.doc.undo_stack.count() == steps and w.doc.undo_stack.isClean()



def test_a_slow_proposal_leaves_the_window_responsive_and_the_newest_wins(loaded, qtbot, monkeypatch):
    """Propose ran on the UI thread (up to 0.3 s for a dense tree or many lesions, frozen); now a pool
    thread draws it, and a request made while one runs supersedes it."""
    import threading
    import time

    from synthgui.core import geometry

    w = loaded
    real = geometry.propose
    release = threading.Event()

    def slow(domain, size, seed, **controls):
        if seed == 1:
            release.wait(10)  # the first request: still drawing when the second is made
        return real(domain, size, seed, **controls)

    monkeypatch.setattr(geometry, "propose", slow)
    steps = w.doc.undo_stack.count()
    t0 = time.perf_counter()
    w.propose({}, 1)
    assert time.perf_counter() - t0 < 0.2 and w.proposing  # returned at once; the window goes on
    w.propose({}, 2)
    wait_proposed(w, qtbot)
    second = w.doc.label_map.copy()
    release.set()
    qtbot.wait(200)  # the first answer arrives late, and is dropped
    assert np.array_equal(w.doc.label_map, second) and np.array_equal(second, real("skin", 256, 2))
    assert w.doc.undo_stack.count() == steps + 1
