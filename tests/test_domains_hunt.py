"""The fundus and MRI domains end to end: studio, import, export and rendering as their users meet them."""

from __future__ import annotations


import numpy as np
import pytest

pytest.importorskip("pytestqt")


from synthgui.core.card import Encoding, LabelClass, ModelCard  # noqa: E402
from synthgui.core.networks import GeneratorSpec  # noqa: E402
from tests.gui_input import load, stroke  # noqa: E402
from tests.helpers import fundus_card, write_model  # noqa: E402
from tests.studio_fixtures import wait_proposed  # noqa: E402

pytestmark = pytest.mark.usefixtures("temp_settings")  # fixtures: tests/studio_fixtures.py


def mri_card(name: str = "tiny-mri", resolution: int = 256, brain: str = "brain") -> ModelCard:
    return ModelCard(name=name, domain="mri", encoding=Encoding("palette"), resolution=resolution,
                     classes=[LabelClass(0, "background", (0, 0, 0)), LabelClass(1, brain, (128, 128, 128)),
                              LabelClass(2, "abnormality", (255, 255, 255))])


@pytest.fixture
def fundus_model(tmp_path):
    return write_model(tmp_path / "fundus", GeneratorSpec(input_nc=2, ngf=4), fundus_card(), name="fundus")


def brain_with_tumour(size: int = 256, centre=(128, 128), r: int = 12) -> np.ndarray:
    import cv2

    lm = np.zeros((size, size), np.uint8)
    cv2.ellipse(lm, (size // 2, size // 2), (int(size * 0.35), int(size * 0.42)), 0, 0, 360, 1, -1)
    cv2.circle(lm, centre, r, 2, -1)
    return lm


# --- studio ---------------------------------------------------------------------------------------------


def test_an_mri_model_from_the_prepare_template_gets_its_head_outline_and_abnormality_brush(window, qtbot, tmp_path):
    """``synthgui prepare mri`` names class 1 "head": a model trained from it must start like any MRI
    model, with the outline to draw in and the brush on the abnormality, not on the head."""
    from synthgui.core.prepare import mri_card_template

    path = write_model(tmp_path, GeneratorSpec(ngf=4), mri_card_template("tiny-brain"), name="brain")
    w = load(window, qtbot, path)
    lm = w.doc.label_map
    assert lm[128, 128] == 1 and lm[0, 0] == 0
    assert w.canvas.label == 2


def test_the_eraser_on_a_fundus_mask_leaves_the_retina(window, qtbot, fundus_model):
    """Erasing a stray vessel must give back retina, not punch an 'outside the eye' hole into the
    field of view (the generator renders that as a black spot in the fundus)."""
    w = load(window, qtbot, fundus_model)
    w.set_tool("brush")
    stroke(w.canvas, [(100, 128), (160, 128)])
    assert w.doc.label_map[128, 130] == 2
    w.set_tool("eraser")
    stroke(w.canvas, [(100, 128), (160, 128)])
    lm = w.doc.label_map
    assert lm[128, 130] == 1 and not (lm[120:137, 95:166] == 0).any()
    stroke(w.canvas, [(3, 3), (6, 6)])  # outside the field of view: stays outside
    assert w.doc.label_map[4, 4] == 0


def test_the_move_tool_on_an_mri_slice_moves_the_tumour_not_the_brain(window, qtbot, tmp_path):
    path = write_model(tmp_path, GeneratorSpec(ngf=4), mri_card(), name="mri")
    w = load(window, qtbot, path)
    w.doc.replace(brain_with_tumour(), "test")
    brain = w.doc.label_map > 0
    assert w.doc.select_at(128, 128)
    assert w.doc.selected.sum() == (w.doc.label_map == 2).sum()  # the tumour, not the whole head
    w.lesion_panel.x.setValue(w.lesion_panel.x.value() + 40)
    lm = w.doc.label_map
    assert np.array_equal(lm > 0, brain)  # no hole where the tumour was, no brain moved
    assert lm[128, 128] == 1 and lm[128, 168] == 2


# --- export ---------------------------------------------------------------------------------------------


def _export(tmp_path, model_path, masks: dict[str, np.ndarray], card, sweep, **options):
    from synthgui.core.engine import Engine
    from synthgui.core.export import ExportJob, ExportOptions, folder_sources
    from synthgui.core.export import manifest
    from synthgui.core.masks import save_mask
    from synthgui.core.models import load_model

    folder = tmp_path / "masks"
    for name, lm in masks.items():
        save_mask(folder / f"{name}.png", lm, card)
    model = load_model(model_path)
    engine = Engine(model, device="cpu", threads=1)
    out = tmp_path / "out"
    job = ExportJob.create(out, model, folder_sources(folder), sweep, ExportOptions(**options))
    job.run(engine)
    return out, manifest.read_journal(out)


def test_an_mri_size_sweep_scales_the_tumour_inside_the_same_brain(tmp_path):
    from PIL import Image

    from synthgui.core.export import Sweep

    card = mri_card(resolution=64)
    path = write_model(tmp_path / "m", GeneratorSpec(ngf=4, num_downs=6), card, name="mri")
    lm = brain_with_tumour(64, (32, 32), 5)
    out, rows = _export(tmp_path, path, {"slice": lm}, card, Sweep(sizes=[2.0], locations=[(8.0, 0.0)]))
    got = np.asarray(Image.open(out / rows[0]["mask"]))
    assert np.array_equal(got > 0, lm > 0)  # the brain is where it was, with no hole
    assert 3.0 < (got == 2).sum() / (lm == 2).sum() < 5.0  # the tumour twice as wide
    ys, xs = np.nonzero(got == 2)
    assert abs(xs.mean() - 40) < 1.5 and abs(ys.mean() - 32) < 1.5


def test_a_dicom_export_of_a_grey_generator_is_monochrome(tmp_path):
    import pydicom

    from synthgui.core.export import Sweep

    card = mri_card(resolution=64)
    path = write_model(tmp_path / "m", GeneratorSpec(input_nc=1, output_nc=1, ngf=4, num_downs=6), card, name="mri")
    out, rows = _export(tmp_path, path, {"slice": brain_with_tumour(64, (32, 32), 5)}, card, Sweep(), format="dicom")
    ds = pydicom.dcmread(out / rows[0]["image"])
    assert ds.PhotometricInterpretation == "MONOCHROME2" and ds.SamplesPerPixel == 1
    assert ds.pixel_array.shape == (64, 64)


# --- import ---------------------------------------------------------------------------------------------


def test_an_antialiased_vessel_mask_imports_as_vessels():
    """A vessel mask with soft edges (resized, or saved from a drawing program) is binary by
    threshold: what is bright is vessel, not the fundus card's first class (the retina)."""
    from synthgui.core.masks import label_map_from_array

    grey = np.zeros((32, 32), np.uint8)
    grey[10:22, 15] = 255
    grey[10:22, 14] = 140
    grey[10:22, 16] = 60
    lm = label_map_from_array(grey, fundus_card())
    assert lm[15, 15] == 2 and lm[15, 14] == 2 and lm[15, 16] == 0


def test_a_binary_vessel_mask_imports_into_the_field_of_view(window, qtbot, fundus_model, tmp_path):
    """CHASE_DB1 / HRF style: white vessels on black. The fundus generator needs a field of view to
    draw a retina in: the vessels go onto the canvas's retina, not onto 'outside the eye'."""
    from PIL import Image

    w = load(window, qtbot, fundus_model)
    grey = np.zeros((256, 256), np.uint8)
    grey[60:200, 128] = 255
    Image.fromarray(grey).save(tmp_path / "vessels.png")
    assert w.import_mask(tmp_path / "vessels.png")
    lm = w.doc.label_map
    assert lm[100, 128] == 2 and lm[100, 100] == 1 and lm[2, 2] == 0


# --- conditions and proposals -----------------------------------------------------------------------------


def nested_mri_card(resolution: int = 64) -> ModelCard:
    return ModelCard(name="tiny-nested", domain="mri", encoding=Encoding("palette"), resolution=resolution,
                     classes=[LabelClass(0, "background", (0, 0, 0)), LabelClass(1, "brain", (90, 90, 90)),
                              LabelClass(2, "oedema", (255, 255, 0)), LabelClass(3, "enhancing", (255, 0, 0)),
                              LabelClass(4, "necrosis", (0, 0, 255))])


def test_a_condition_recolours_the_tumour_not_the_brain():
    """Render as "necrosis": the abnormality takes that class, the brain it lies in stays brain."""
    from synthgui.core.encoding import apply_condition

    lm = brain_with_tumour(64, (32, 32), 5)
    out = apply_condition(lm, nested_mri_card(), "necrosis")
    assert np.array_equal(out == 1, lm == 1) and np.array_equal(out == 4, lm == 2)


def test_a_fundus_model_offers_no_condition_that_floods_the_field_of_view(window, qtbot, fundus_model):
    """The retina is the ground the vessels lie on, not a condition to render them as: picking it
    (or "vessel") turned the whole field of view into one class."""
    w = load(window, qtbot, fundus_model)
    conditions = [w.render_panel.condition.itemData(i) for i in range(w.render_panel.condition.count())]
    assert "retina" not in conditions
    assert not w.render_panel.condition.isEnabled()  # one class to draw: nothing to choose


def test_propose_nested_on_a_model_without_the_nested_classes_keeps_a_renderable_mask(window, qtbot, tmp_path):
    pytest.importorskip("synthgui.core.geometry")
    path = write_model(tmp_path, GeneratorSpec(ngf=4), mri_card(), name="mri")
    w = load(window, qtbot, path)
    w.propose({"nested": True, "tumour_diameter": 0.3}, seed=1)
    wait_proposed(w, qtbot)
    assert set(np.unique(w.doc.label_map).tolist()) <= {0, 1, 2}
    assert w.last_error and "nested" in w.last_error  # said why, and how to get one


def test_switching_to_an_mri_model_with_fewer_classes_keeps_the_tumour_a_tumour(window, qtbot, tmp_path):
    """Nested tumour classes the new model lacks become its abnormality, not brain: the tumour
    must not silently vanish into the brain around it."""
    nested = write_model(tmp_path / "n", GeneratorSpec(ngf=4), nested_mri_card(256), name="nested")
    plain = write_model(tmp_path / "p", GeneratorSpec(ngf=4), mri_card(), name="plain")
    w = load(window, qtbot, nested)
    lm = brain_with_tumour(256, (128, 128), 20)
    lm[lm == 2] = 3
    lm[120:136, 120:136] = 4
    w.doc.replace(lm, "test")
    load(w, qtbot, plain)
    got = w.doc.label_map
    assert np.array_equal(got == 2, lm >= 2) and np.array_equal(got == 1, lm == 1)


def test_a_random_location_keeps_an_mri_tumour_inside_the_brain():
    """``--locations random`` on an MRI slice: the tumour moves within the brain, never onto the
    black outside the head (what the generator never saw)."""
    from synthgui.core.export import Plan, Sweep
    from synthgui.core.export.sweep import apply_variant

    lm = brain_with_tumour(64, (32, 32), 4)
    brain = lm > 0
    plan = Plan(1, Sweep(locations=["random"], seeds=12))
    offsets = set()
    for v in plan:
        out, offset = apply_variant(lm, v, 64, export_seed=3, context=1)
        offsets.add(offset)
        assert (out == 2).sum() == (lm == 2).sum() and not ((out == 2) & ~brain).any(), offset
    assert len(offsets) > 3  # it does move
