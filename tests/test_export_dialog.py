"""The export dialog: runs an export from the canvas on a worker thread, shows progress, cancels."""

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pytestqt")

from synthgui.core.export import manifest
from synthgui.core.masks import disk_label_map
from synthgui.core.networks import GeneratorSpec
from synthgui.gui.export_dialog import ExportDialog

from helpers import skin_card, write_model


@pytest.fixture
def dialog(qtbot, tmp_path):
    path = write_model(tmp_path / "model", GeneratorSpec(ngf=4), skin_card())
    dlg = ExportDialog(None, str(path), disk_label_map(256, 0.2), (0x8E, 0x63, 0x49))
    qtbot.addWidget(dlg)
    yield dlg
    dlg.stop()


def test_canvas_export_with_sweep_and_progress(qtbot, dialog, tmp_path):
    out = tmp_path / "out"
    dialog.tone_boxes["I"].setChecked(True)
    dialog.sizes.setText("0.5, 1")
    dialog.mode.setCurrentText("eval")
    dialog.out_dir.setText(str(out))
    seen = []
    dialog._on_progress = (lambda f: (lambda *a: (seen.append(a), f(*a))))(dialog._on_progress)
    dialog.start()
    qtbot.waitUntil(lambda: dialog.last_message.startswith("Done"), timeout=60000)
    rows = manifest.read_journal(out)
    assert len(rows) == 4  # (I, current tone) x (0.5, 1)
    assert {r["skin_tone"] for r in rows} == {"I", "#8e6349"}
    assert (out / "sources" / "canvas.png").is_file()
    assert dialog.progress.value() == 4 and dialog.status.text().startswith("Done")
    assert seen and seen[-1][0] == 4 and seen[-1][1] == 4 and seen[-1][2] > 0  # done, total, rate
    assert dialog.start_button.isEnabled() and not dialog.cancel_button.isEnabled()


def test_cancel_then_restart_resumes(qtbot, dialog, tmp_path):
    out = tmp_path / "out"
    dialog.seeds.setValue(30)
    dialog.out_dir.setText(str(out))
    dialog.start()
    qtbot.waitUntil(lambda: dialog.progress.value() >= 1, timeout=60000)
    dialog.cancel()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=60000)
    assert dialog.last_message.startswith("Cancelled")
    done = len(manifest.read_journal(out))
    assert 1 <= done < 30
    dialog.start()
    qtbot.waitUntil(lambda: dialog.last_message.startswith("Done"), timeout=120000)
    assert len(manifest.read_journal(out)) == 30


def test_bad_input_is_reported_not_fatal(qtbot, dialog, tmp_path):
    dialog.out_dir.setText(str(tmp_path / "out"))
    dialog.sizes.setText("big")
    dialog.start()
    assert "not a number" in dialog.last_message and not dialog.is_running()
    dialog.sizes.setText("1")
    dialog.use_folder.setChecked(True)
    dialog.mask_folder.setText(str(tmp_path / "nowhere"))
    dialog.start()
    assert "not found" in dialog.last_message and not dialog.is_running()


def test_random_geometry_with_a_random_sample_of_the_sweep(qtbot, dialog, tmp_path):
    out = tmp_path / "out"
    dialog.use_random.setChecked(True)
    dialog.random_count.setValue(3)
    dialog.random_seed.setValue(7)
    dialog.sizes.setText("0.5, 1, 1.5")
    dialog.sample.setValue(4)  # 4 of the 3 masks x 3 sizes
    dialog.mode.setCurrentText("eval")
    dialog.out_dir.setText(str(out))
    dialog.start()
    qtbot.waitUntil(lambda: dialog.last_message.startswith("Done"), timeout=60000)
    rows = manifest.read_journal(out)
    assert len(rows) == 4
    assert {r["source"] for r in rows} <= {"random-7", "random-8", "random-9"}
    masks = [np.asarray(Image.open(out / r["mask"])) for r in rows]
    assert all(m.max() > 0 for m in masks)  # every proposed mask has a lesion


def test_seeds_start_at_the_studio_s_seed(qtbot, tmp_path):
    path = write_model(tmp_path / "model", GeneratorSpec(ngf=4), skin_card())
    dlg = ExportDialog(None, str(path), disk_label_map(256, 0.2), (0x8E, 0x63, 0x49), seed=706480935)
    qtbot.addWidget(dlg)
    dlg.seeds.setValue(2)
    out = tmp_path / "out"
    dlg.out_dir.setText(str(out))
    dlg.start()
    qtbot.waitUntil(lambda: dlg.last_message.startswith("Done"), timeout=60000)
    assert sorted(r["seed"] for r in manifest.read_journal(out)) == [706480935, 706480936]
    dlg.stop()


def test_the_dialog_says_how_many_images_the_settings_make(qtbot, dialog, tmp_path):
    assert dialog.image_count() == 1 and "<b>1</b> image" in dialog.count_label.text()
    dialog.tone_boxes["I"].setChecked(True)
    dialog.sizes.setText("0.5, 1")
    dialog.seeds.setValue(3)
    assert dialog.image_count() == 12 and "<b>12</b> images" in dialog.count_label.text()
    dialog.use_random.setChecked(True)
    dialog.random_count.setValue(5)
    assert "<b>60</b> images" in dialog.count_label.text()
    dialog.sample.setValue(7)
    assert "<b>7</b> images" in dialog.count_label.text()
    dialog.sample.setValue(61)
    assert "more than the 60 combinations" in dialog.count_label.text()
    dialog.sample.setValue(0)
    dialog.sizes.setText("big")
    assert "not a number" in dialog.count_label.text()
    dialog.sizes.setText("1")
    folder = tmp_path / "masks"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(disk_label_map(64, 0.3)).save(folder / f"m{i}.png")
    dialog.use_folder.setChecked(True)
    assert "choose the masks" in dialog.count_label.text()
    dialog.mask_folder.setText(str(folder))
    dialog.mask_folder.editingFinished.emit()
    assert "<b>24</b> images" in dialog.count_label.text()  # 4 masks x 2 tones x 3 seeds


def test_a_blank_canvas_is_not_offered_to_a_skin_model(qtbot, tmp_path):
    path = write_model(tmp_path / "model", GeneratorSpec(ngf=4), skin_card())
    dlg = ExportDialog(None, str(path), np.zeros((256, 256), np.uint8), (0x8E, 0x63, 0x49))
    qtbot.addWidget(dlg)
    assert not dlg.use_canvas.isEnabled() and dlg.use_random.isChecked()
    assert "no lesion" in dlg.use_canvas.toolTip()


def test_the_dialog_says_when_the_settings_pass_the_export_s_limit(qtbot, dialog):
    from synthgui.core.export.run import MAX_IMAGES

    dialog.use_random.setChecked(True)
    dialog.random_count.setValue(100000)
    dialog.seeds.setValue(11)  # 1,100,000 images
    assert "at most 1,000,000 images" in dialog.count_label.text()
    dialog.sample.setValue(5000)
    assert "<b>5,000</b> images" in dialog.count_label.text()
    assert dialog.sample.maximum() == MAX_IMAGES
