"""The studio's files: projects (unsaved settings, damaged files, moved underlays, model loads
that race), mask import, underlays (16-bit PNG, colour and palette DICOM), exports and recent files."""

from __future__ import annotations

import json
import shutil
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PIL import Image  # noqa: E402
from PySide6.QtWidgets import QFileDialog, QMessageBox  # noqa: E402

from tests.studio_fixtures import wait_rendered  # noqa: E402
from tests.gui_input import stroke  # noqa: E402
from tests.test_gui_studio import write_grey_dicom  # noqa: E402

pytestmark = pytest.mark.usefixtures("temp_settings")


def qimg_arr(q):
    from PySide6.QtGui import QImage

    q = q.convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = q.width(), q.height(), q.bytesPerLine()
    return np.frombuffer(bytes(q.constBits()), np.uint8).reshape(h, bpl)[:, : w * 3].reshape(h, w, 3)


def other_model(folder: Path, name="other"):
    from synthgui.core.networks import GeneratorSpec
    from tests.helpers import skin_card, write_model

    return write_model(folder, GeneratorSpec(ngf=4, num_downs=8), skin_card(f"{name}-skin", 256), name=name)


def dicom_file(name):
    from pydicom.data import get_testdata_file

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return get_testdata_file(name)


def test_parameter_and_underlay_changes_mark_the_project_modified(loaded, tmp_path, monkeypatch):
    from synthgui.gui.studio import StudioWindow

    w = loaded
    stroke(w.canvas, [(40, 40), (100, 120)])
    assert w.save_project(tmp_path / "a.synthgui")
    w.render_panel.seed.setValue(999)  # saved in the project, now changed
    asked = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.Cancel))
    assert w.isWindowModified(), "seed changed since the save, yet the title shows no [*]"
    assert StudioWindow._confirm_discard(w) is False and asked, "close/open/new discard the change without asking"


def _bitrot(tmp_path):
    from synthgui.core.project import Project, save_project

    p = tmp_path / "rot.synthgui"
    save_project(p, Project(np.zeros((64, 64), np.uint8), seed=3))
    data = bytearray(p.read_bytes())
    info = zipfile.ZipFile(p).getinfo("project.json")
    off = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(5):  # flip bytes inside the deflated project.json
        data[off + i] ^= 0xFF
    p.write_bytes(bytes(data))
    return p


def _newer(tmp_path):
    p = tmp_path / "newer.synthgui"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("project.json", json.dumps({"format": "synthgui-project", "version": "2.0"}))
        z.writestr("mask.png", b"")
    return p


@pytest.mark.parametrize("make", [_bitrot, _newer], ids=["bit-rot", "version-2.0"])
def test_corrupt_or_newer_project_gives_a_message_not_an_exception(window, tmp_path, make):
    p = make(tmp_path)
    assert window.open_project(p) is False  # raises zlib.error / ValueError today
    assert window.last_error


def test_a_failed_project_model_load_does_not_haunt_the_next_model_load(loaded, qtbot, tmp_path, tiny_model):
    from synthgui.core.project import Project, save_project

    w = loaded
    bad = tmp_path / "broken.pth"
    bad.write_bytes(b"junk")
    lm = np.zeros((256, 256), np.uint8)
    lm[50:80, 50:80] = 1
    p = tmp_path / "p.synthgui"
    save_project(p, Project(lm, model={"name": "x", "version": "1", "sha256": "0", "path": str(bad)}, seed=4242))
    with qtbot.waitSignal(w.model_failed, timeout=60000):
        assert w.open_project(p)
    w.render_panel.seed.setValue(7)  # the user goes on working
    with qtbot.waitSignal(w.model_ready, timeout=60000):
        w.load_model_path(str(tiny_model))
    assert w.render_panel.seed.value() == 7  # 4242: the failed project's parameters are applied now


def test_opening_b_while_a_s_model_loads_keeps_b_s_model(loaded, qtbot, tmp_path, tiny_model):
    from synthgui.core.project import Project, save_project

    w = loaded
    other = other_model(tmp_path / "m")
    lm = np.zeros((256, 256), np.uint8)
    lm[50:90, 50:90] = 1
    a, b = tmp_path / "a.synthgui", tmp_path / "b.synthgui"
    save_project(a, Project(lm, model={"name": "other-skin", "version": "1", "sha256": "", "path": str(other)}))
    save_project(b, Project(lm, model=w.model.identity()))
    assert w.open_project(a)
    assert w.open_project(b)  # the user picked the wrong recent project and opens the right one
    qtbot.waitUntil(lambda: not w.model_loading, timeout=60000)
    assert str(w.model.entry.weights) == str(tiny_model)  # B is rendered with A's model


def test_resaving_a_project_whose_underlay_moved_keeps_the_reference(loaded, tmp_path):
    from synthgui.core.project import load_project

    w = loaded
    dcm = write_grey_dicom(tmp_path / "scan.dcm")
    assert w.open_underlay(str(dcm))
    w.window_centre.setValue(700)
    p = tmp_path / "u.synthgui"
    assert w.save_project(p)
    shutil.move(dcm, tmp_path / "elsewhere.dcm")  # share unmounted, folder renamed...
    assert w.open_project(p)  # "Underlay not opened: file not found"; title still clean
    assert w.save_project(p)  # Ctrl+S
    back = load_project(p)
    assert back.underlay == str(dcm) and back.underlay_window == (700.0, 1000.0)  # both silently dropped


def test_mask_opacity_100_round_trips_with_an_underlay(loaded, tmp_path):
    w = loaded
    assert w.open_underlay(str(write_grey_dicom(tmp_path / "scan.dcm")))
    w.mask_opacity.setValue(100)
    p = tmp_path / "o.synthgui"
    assert w.save_project(p)
    assert w.open_project(p)
    assert w.mask_opacity.value() == 100  # 60


def test_grey_mask_with_an_unknown_class_id_is_not_imported_as_empty(window, tmp_path):
    a = np.zeros((64, 64), np.uint8)
    a[10:30, 10:30] = 1
    a[40:50, 40:50] = 3  # class 3: not one the (no-model / skin) card knows
    p = tmp_path / "ids.png"
    Image.fromarray(a).save(p)
    ok = window.import_mask(p)
    assert not ok or window.doc.label_map.any()  # today: True and an all-zero mask, no message


def test_16bit_grey_png_underlay_is_not_saturated(window, tmp_path):
    p = tmp_path / "g16.png"
    Image.fromarray(np.tile(np.linspace(0, 65535, 64), (64, 1)).astype(np.uint16)).save(p)
    assert window.open_underlay(str(p))
    white = (qimg_arr(window.canvas.underlay) == 255).all(axis=2).mean()
    assert white < 0.1, white  # 0.98: everything above 255/65535 is clipped to white


@pytest.mark.parametrize("name", ["SC_ybr_full_422_uncompressed.dcm", "SC_rgb_jpeg_dcmtk.dcm"])
def test_ybr_colour_dicom_is_not_converted_twice(name):
    from synthgui.core.dicom import read_dicom

    px = read_dicom(dicom_file(name)).to_uint8()
    assert np.abs(px[0, 0].astype(int) - (255, 0, 0)).max() < 10, px[0, 0]  # (75, 255, 27): red shows green


def test_16bit_rgb_dicom_is_scaled_not_clipped():
    from synthgui.core.dicom import read_dicom

    eight = read_dicom(dicom_file("SC_rgb_rle.dcm")).to_uint8().astype(int)
    sixteen = read_dicom(dicom_file("SC_rgb_rle_16bit.dcm")).to_uint8().astype(int)  # same picture, 16 bits
    assert np.abs(sixteen - eight).max() <= 2  # mid greys become 255


def test_palette_colour_dicom_shows_its_colours():
    from synthgui.core.dicom import read_dicom

    assert not read_dicom(dicom_file("examples_palette.dcm")).is_grey  # palette indices windowed as grey


def test_export_mask_writes_the_chosen_file_and_nothing_else(loaded, tmp_path):
    w = loaded
    (tmp_path / "patient.png").write_bytes(b"precious")
    w.export("mask", tmp_path / "patient.01")
    assert (tmp_path / "patient.png").read_bytes() == b"precious"  # overwritten by the mask
    ok = w.export("mask", tmp_path / "m.tif")
    assert not ok or (tmp_path / "m.tif").is_file()  # writes m.png, says "Exported .../m.tif"


def test_export_both_does_not_pair_a_stale_render_with_the_current_mask(loaded, qtbot, tmp_path):
    w = loaded
    stroke(w.canvas, [(100, 100), (150, 120)])
    wait_rendered(w, qtbot)
    stale = w.last_image.copy()
    stroke(w.canvas, [(20, 200), (60, 230)])  # export before the preview caught up
    ok = w.export("both", tmp_path / "case.png")
    exported = np.asarray(Image.open(tmp_path / "case.png").convert("RGB")) if ok else None
    assert not ok or not np.array_equal(exported, stale)  # case.png: old mask's render; case_mask.png: new mask


def test_deleted_recent_project_is_dropped_or_disabled(loaded, tmp_path):
    w = loaded
    for n in ("a", "b"):
        assert w.save_project(tmp_path / f"{n}.synthgui")
    (tmp_path / "a.synthgui").unlink()
    w._fill_recent_menu()
    stale = [a for a in w.recent_menu.actions() if a.text().endswith("a.synthgui")]
    if stale:
        stale[0].trigger()  # "project not found"
        w._fill_recent_menu()
    assert all(not a.isEnabled() for a in w.recent_menu.actions() if a.text().endswith("a.synthgui"))


def test_save_as_does_not_double_an_upper_case_suffix(window, tmp_path, monkeypatch):
    target = str(tmp_path / "Case.SYNTHGUI")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (target, "")))
    assert window._save_as()
    assert not (tmp_path / "Case.SYNTHGUI.synthgui").exists()


def test_project_model_with_a_different_hash_is_reported(window, qtbot, tmp_path):
    import torch

    from synthgui.gui.studio import StudioWindow

    mp = other_model(tmp_path / "models")
    with qtbot.waitSignal(window.model_ready, timeout=60000):
        window.load_model_path(str(mp))
    p = tmp_path / "h.synthgui"
    assert window.save_project(p)
    sd = torch.load(mp, map_location="cpu", weights_only=True)  # the model is retrained in place: same path, new weights
    key = next(k for k, v in sd.items() if v.dtype.is_floating_point)
    sd[key] = sd[key] + 1
    torch.save(sd, mp)
    w2 = StudioWindow()
    w2._confirm_discard = lambda: True  # no modal prompt at teardown
    qtbot.addWidget(w2)
    with qtbot.waitSignal(w2.model_ready, timeout=60000):
        assert w2.open_project(p)
    assert w2.model.sha256 != w2.loaded_project.model["sha256"]
    said = ((w2.last_error or "") + w2.statusBar().currentMessage()).lower()
    w2.shutdown()
    assert any(k in said for k in ("differ", "changed", "sha", "not the model")), f"silent: {said!r}"



def test_imported_mask_lines_up_with_its_own_photo_as_underlay(window, shared_data):
    from synthgui.core.masks import resize_label_map

    img, ves = shared_data / "fundus-hrf/images/01_h.jpg", shared_data / "fundus-hrf/vessels/01_h.png"  # 1168x779
    assert window.open_underlay(str(img))  # shown as the centred 779x779 square
    assert window.import_mask(ves)  # stretched 1168x779 -> 256x256
    v = np.asarray(Image.open(ves)) > 127
    h, wd = v.shape
    s = min(h, wd)
    t, l = (h - s) // 2, (wd - s) // 2
    expect = resize_label_map(v[t:t + s, l:l + s].astype(np.uint8), 256) > 0
    got = window.doc.label_map > 0
    iou = (expect & got).sum() / (expect | got).sum()
    assert iou > 0.9, iou  # 0.086


def test_dicom_with_a_sub_unit_value_range_can_be_windowed(window, tmp_path):
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    path = tmp_path / "map.dcm"
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.Rows, ds.Columns = 32, 32
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.RescaleSlope, ds.RescaleIntercept = "0.0001", "0"  # values 0 .. 0.1 (a parametric map)
    ds.PixelData = np.tile(np.linspace(0, 1000, 32), (32, 1)).astype(np.uint16).tobytes()
    ds.save_as(str(path), enforce_file_format=True)
    assert window.open_underlay(str(path))
    row = qimg_arr(window.canvas.underlay)[0, :, 0].astype(int)
    assert row.max() - row.min() > 200, row  # 115..138 and width can't go below 1.0 (1 decimal)



def test_a_freshly_opened_project_is_not_modified_when_its_mask_size_differs(qtbot, tmp_path, tiny_model):
    from synthgui.core.models import load_model
    from synthgui.core.project import Project, save_project
    from synthgui.gui.studio import StudioWindow

    lm = np.zeros((128, 128), np.uint8)
    lm[30:60, 30:60] = 1
    p = tmp_path / "s.synthgui"
    save_project(p, Project(lm, model=load_model(tiny_model).identity()))
    w = StudioWindow()
    w._confirm_discard = lambda: True  # no modal prompt at teardown
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.model_ready, timeout=60000):
        assert w.open_project(p)
    modified = w.isWindowModified()
    w.shutdown()
    assert not modified  # "Fit mask to model" step: prompt on close right after opening


def test_a_project_with_another_mask_size_fits_the_loaded_model_and_stays_clean(loaded, tmp_path):
    from synthgui.core.project import Project, save_project

    w = loaded
    lm = np.zeros((128, 128), np.uint8)
    lm[30:60, 30:60] = 1
    p = tmp_path / "s.synthgui"
    save_project(p, Project(lm, model=w.model.identity()))
    assert w.open_project(p)
    assert w.doc.label_map.shape == (256, 256) and w.doc.label_map[90, 90] == 1
    assert not w.isWindowModified()



def lesion():
    lm = np.zeros((256, 256), np.uint8)
    lm[50:90, 50:90] = 1
    return lm

def test_a_project_without_a_model_keeps_a_model_load_under_way(window, qtbot, tmp_path, tiny_model):
    from synthgui.core.project import Project, save_project
    p = tmp_path / "nomodel.synthgui"
    save_project(p, Project(lesion(), model=None, seed=5))
    window.load_model_path(str(tiny_model))        # startup / user load in flight
    assert window.open_project(p)                  # e.g. from File > Open recent
    qtbot.waitUntil(lambda: not window.model_loading, timeout=60000)
    qtbot.wait(200)
    assert window.model is not None, "the in-flight model load was silently dropped"

def test_a_device_switch_keeps_the_settings(loaded, qtbot, tmp_path):
    w = loaded
    stroke(w.canvas, [(40, 40), (100, 120)])
    w.tone_panel.set_tone((60, 40, 30))
    w.render_panel.seed.setValue(77)
    assert w.save_project(tmp_path / "a.synthgui")
    assert not w.isWindowModified()
    with qtbot.waitSignal(w.model_ready, timeout=60000):
        w.set_device("cpu")
    assert not w.isWindowModified(), "device switch reads as an unsaved settings change"
    assert w.tone_panel.tone == (60, 40, 30) and w.render_panel.seed.value() == 77

def test_a_model_picked_right_after_opening_a_project_gets_none_of_its_settings(loaded, qtbot, tmp_path, tiny_model):
    from synthgui.core.project import Project, save_project
    w = loaded
    other = other_model(tmp_path / "m")
    p = tmp_path / "p.synthgui"
    save_project(p, Project(lesion(), model={"name": "other-skin", "version": "1", "sha256": "", "path": str(other)}, seed=4242))
    assert w.open_project(p)             # pending: P, loading other
    w.render_panel.seed.setValue(9)      # user edit
    w.load_model_path(str(tiny_model))   # user picks a model from the Model menu at once
    qtbot.waitUntil(lambda: not w.model_loading, timeout=60000)
    qtbot.wait(200)
    assert w.render_panel.seed.value() == 9, "P's parameters were re-applied to the user's model"

def test_an_unreadable_underlay_stays_in_the_project(loaded, tmp_path):
    from synthgui.core.project import Project, load_project, save_project
    w = loaded
    bad = tmp_path / "scan.dcm"
    bad.write_bytes(b"\0" * 128 + b"DICM" + b"junk")
    p = tmp_path / "u.synthgui"
    save_project(p, Project(lesion(), model=w.model.identity(), underlay=str(bad), underlay_window=(40.0, 400.0)))
    assert w.open_project(p)
    stroke(w.canvas, [(40, 40), (100, 120)])
    assert w.save_project(p)
    assert load_project(p).underlay == str(bad), "underlay reference dropped"

def test_no_image_is_exported_after_the_lesion_is_erased(loaded, qtbot, tmp_path):
    w = loaded
    stroke(w.canvas, [(40, 40), (100, 120)])
    wait_rendered(w, qtbot)
    w.doc.undo_stack.undo()                      # lesion gone: the preview shows a hint, not an image
    qtbot.waitUntil(lambda: w._dirty_since is None and w.bridge.idle_for_gui(), timeout=30000)
    assert not w.doc.label_map.any()
    assert not w.export("image", tmp_path / "x.png"), "exported a render of a lesion that is no longer in the mask"

def test_a_mask_exported_without_a_suffix_gets_png(loaded, tmp_path):
    assert loaded.export("mask", tmp_path / "mymask"), loaded.last_error


def test_a_16_bit_label_mask_keeps_its_class_ids(tmp_path):
    from synthgui.core.card import LabelClass
    from synthgui.core.masks import load_mask
    from tests.helpers import skin_card

    card = skin_card()
    card.classes = [*card.classes, LabelClass(2, "scale", (0, 0, 255))]
    lm = np.zeros((64, 64), np.uint16)
    lm[10:20, 10:20] = 1
    lm[30:40, 30:40] = 2
    Image.fromarray(lm).save(tmp_path / "lab16.png")
    out = load_mask(tmp_path / "lab16.png", card)
    assert out[15, 15] == 1 and out[35, 35] == 2 and out[0, 0] == 0
