"""Export bugs a user would hit: odd folders, bad masks, odd sweeps, DICOM validity, the dialog's
state and settings. Each test failed before its fix."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from synthgui.core.engine import Engine
from synthgui.core.errors import SynthguiError
from synthgui.core.export import ExportJob, ExportOptions, Plan, Sweep, folder_sources, manifest
from synthgui.core.masks import disk_label_map, save_mask
from synthgui.core.models import load_model
from synthgui.core.networks import GeneratorSpec

from helpers import skin_card, write_model


@pytest.fixture
def mask_dir(tmp_path):
    folder = tmp_path / "masks"
    save_mask(folder / "a_disk.png", disk_label_map(128, 0.2), skin_card())
    return folder


def _cli(*args: str) -> int:
    from synthgui.cli import main

    return main(["export", *args, "--no-progress"])


# --- the output folder ----------------------------------------------------------------------------


def test_exporting_into_a_dataset_folder_never_deletes_its_files(tmp_path, engine):
    """``--masks data/masks --out data``: the export must not delete the user's masks (nor any
    other file in images/ or masks/ that it did not write)."""
    data = tmp_path / "data"
    save_mask(data / "masks" / "ISIC_0001.png", disk_label_map(128, 0.2), skin_card())
    save_mask(data / "masks" / "ISIC_0002.png", disk_label_map(128, 0.3), skin_card())
    (data / "images").mkdir()
    (data / "images" / "ISIC_0001.jpg").write_bytes(b"a photo of a patient")
    before = {p: p.read_bytes() for p in data.rglob("*") if p.is_file()}
    try:
        job = ExportJob.create(data, engine.model, folder_sources(data / "masks"), Sweep(), ExportOptions(mode="eval"))
        job.run(engine)
    except SynthguiError:
        pass  # refusing the folder is fine too
    for path, content in before.items():
        assert path.is_file() and path.read_bytes() == content, f"{path.name} was deleted or changed"
    out = tmp_path / "out"  # nor a file put beside the items of an export, when it is resumed
    ExportJob.create(out, engine.model, folder_sources(data / "masks"), Sweep(), ExportOptions(mode="eval")).run(engine)
    (out / "images" / "notes.txt").write_text("reader notes")
    (out / "masks" / "ISIC_0001.png").write_bytes(b"mine")
    ExportJob.open(out).run(engine)
    assert (out / "images" / "notes.txt").is_file() and (out / "masks" / "ISIC_0001.png").is_file()
    assert len(manifest.read_journal(out)) == 2


def test_an_output_path_that_is_a_file_is_a_clear_error(tmp_path, model_path, mask_dir, capsys):
    (tmp_path / "taken").write_text("not a folder")
    assert _cli("--model", str(model_path), "--out", str(tmp_path / "taken"), "--masks", str(mask_dir)) == 2
    err = capsys.readouterr().err
    assert "taken" in err and "Traceback" not in err
    assert _cli("--model", str(model_path), "--out", str(tmp_path / "taken" / "sub"), "--masks", str(mask_dir)) == 2
    assert "taken" in capsys.readouterr().err



def test_a_wrong_device_leaves_no_export_behind(tmp_path, model_path, mask_dir, capsys):
    """The plan was written before the engine was made: after ``--device cuda`` on a machine
    without one, the corrected command was refused ("already holds an export")."""
    out = tmp_path / "out"
    assert _cli("--model", str(model_path), "--out", str(out), "--masks", str(mask_dir), "--device", "tpu") == 2
    assert "device" in capsys.readouterr().err
    assert not (out / manifest.PLAN).exists()
    assert _cli("--model", str(model_path), "--out", str(out), "--masks", str(mask_dir), "--device", "cpu", "--mode", "eval") == 0


@pytest.mark.parametrize("text", ['{"model": {}}', "[]", '{"model": {"path": "m.pth", "sha256": "ab"}}', '"x"'])
def test_a_folder_with_someone_else_s_export_json_is_a_clear_error(tmp_path, model_path, capsys, text):
    """``export.json`` is a common name: resuming a folder whose file is not an export plan ended in
    a KeyError or TypeError traceback."""
    out = tmp_path / "out"
    out.mkdir()
    (out / manifest.PLAN).write_text(text)
    assert _cli("--out", str(out), "--resume") == 2
    assert _cli("--model", str(model_path), "--out", str(out), "--resume") == 2
    err = capsys.readouterr().err
    assert "not a synthgui export" in err and "Traceback" not in err

# --- bad masks ------------------------------------------------------------------------------------


def test_a_folder_whose_every_mask_is_bad_is_a_failure_not_success(tmp_path, model_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (bad / "y.png").write_bytes(b"")
    code = _cli("--model", str(model_path), "--out", str(tmp_path / "out"), "--masks", str(bad))
    err = capsys.readouterr().err
    assert code != 0, "no image was made, yet the export reported success"
    assert "x.png" in err and "Traceback" not in err


def test_an_oversized_mask_is_skipped_not_fatal(tmp_path, engine, mask_dir):
    """PIL refuses images over ~179 megapixels with its own exception type, not an OSError."""
    from PIL import Image

    Image.new("1", (20000, 20000)).save(mask_dir / "z_huge.png")
    job = ExportJob.create(tmp_path / "out", engine.model, folder_sources(mask_dir), Sweep(), ExportOptions(mode="eval"))
    warnings: list[str] = []
    result = job.run(engine, warn=warnings.append)
    assert result.done == 1 and result.complete
    assert len(warnings) == 1 and "z_huge.png" in warnings[0]


def test_an_engine_failure_is_a_clear_error_in_the_cli(tmp_path, model_path, mask_dir, monkeypatch, capsys):
    """A GPU out of memory (or any engine error) stops the export with a message, not a traceback."""
    def boom(self, *args, **kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(Engine, "submit_inputs", boom)
    code = _cli("--model", str(model_path), "--out", str(tmp_path / "out"), "--masks", str(mask_dir), "--mode", "eval")
    err = capsys.readouterr().err
    assert code == 2 and "out of memory" in err and "--resume" in err


# --- sweeps -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("field,value", [("rotations", [float("nan")]), ("rotations", [float("inf")]),
                                         ("locations", [(float("nan"), 0.0)]), ("locations", [(0.0, float("inf"))])])
def test_non_finite_rotations_and_locations_are_refused(field, value):
    """They rendered images without their lesion, and wrote NaN (not JSON) into the manifest."""
    with pytest.raises(SynthguiError):
        Plan(1, Sweep(**{field: value}))


def test_a_plan_with_many_seeds_is_not_held_in_memory():
    """``--seeds 10000000 --sample 100`` (or a DCGAN's ``--random 10000000``) must not build the
    whole per-mask grid in memory: the items are addressed by index."""
    import tracemalloc

    tracemalloc.start()
    plan = Plan(2, Sweep(skin_tones=["I", "VI"], seeds=1_000_000, sample=100, sample_seed=3))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} MiB for a plan of {plan.total} items"
    last = Plan(2, Sweep(skin_tones=["I", "VI"], seeds=1_000_000)).variant(4_000_000 - 1)
    assert (last.source, last.skin_tone, last.seed) == (1, "VI", 999_999)



def test_a_value_given_twice_does_not_make_every_image_twice(tmp_path, model_path, mask_dir, capsys):
    """``--skin-tones all III --sizes 1 1.0`` rendered byte-identical duplicates (the dialog already
    dropped a repeated tone, the command line did not)."""
    out = tmp_path / "out"
    assert _cli("--model", str(model_path), "--out", str(out), "--masks", str(mask_dir), "--mode", "eval",
                "--skin-tones", "all", "III", "type 3", "--sizes", "1", "1.0", "--rotations", "0,0", "--locations", "0,0", "0:0") == 0
    rows = manifest.read_journal(out)
    combos = [(r["skin_tone"], r["size"], r["rotation"], tuple(r["location"])) for r in rows]
    assert len(combos) == len(set(combos)) == 6


def test_a_sample_larger_than_the_sweep_is_refused_not_filled_with_copies(tmp_path, engine, mask_dir):
    """``--sample 20`` of a 2-item sweep drew items with replacement: 18 byte-identical copies."""
    with pytest.raises(SynthguiError, match="sample"):
        ExportJob.create(tmp_path / "out", engine.model, folder_sources(mask_dir), Sweep(seeds=2, sample=20), ExportOptions())
    job = ExportJob.create(tmp_path / "out", engine.model, folder_sources(mask_dir), Sweep(seeds=2, sample=2), ExportOptions())
    assert job.items.total == 2

# --- DICOM ------------------------------------------------------------------------------------------


def test_dicom_of_a_model_with_a_long_name_is_valid(tmp_path, mask_dir):
    """SeriesDescription is a LO (at most 64 characters): "SYNTHETIC - " and a long model name overran it."""
    import warnings

    import pydicom

    long_name = "isic2018-pix2pix-unet256-fitzpatrick-balanced-v2-finetuned"
    engine = Engine(load_model(write_model(tmp_path / "long", GeneratorSpec(ngf=4), skin_card(name=long_name))), device="cpu", threads=1)
    job = ExportJob.create(tmp_path / "out", engine.model, folder_sources(mask_dir), Sweep(), ExportOptions(format="dicom", mode="eval"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pydicom warns about a value longer than its VR allows
        assert job.run(engine).done == 1
    ds = pydicom.dcmread(tmp_path / "out" / "images" / "000000.dcm")
    assert len(ds.SeriesDescription) <= 64 and ds.SeriesDescription.startswith("SYNTHETIC")


def test_a_dicom_export_resumed_in_a_moved_folder_is_still_one_study(tmp_path, engine, mask_dir):
    """The study and series UIDs came from the folder's name: an export moved or renamed before it
    was finished (or resumed as ``--out .``) was split into two studies."""
    import pydicom

    first = tmp_path / "first"
    cancel = threading.Event()
    job = ExportJob.create(first, engine.model, folder_sources(mask_dir), Sweep(seeds=8),
                           ExportOptions(format="dicom", mode="eval", batch=2, workers=1))
    assert job.run(engine, progress=lambda p: p.written >= 2 and cancel.set(), cancel=cancel).cancelled
    moved = first.rename(tmp_path / "moved")
    assert ExportJob.open(moved).run(engine).complete
    rows = manifest.read_journal(moved)
    datasets = [pydicom.dcmread(moved / r["image"]) for r in rows]
    assert len(datasets) == 8
    assert len({ds.StudyInstanceUID for ds in datasets}) == 1 and len({ds.SeriesInstanceUID for ds in datasets}) == 1
    assert len({ds.SOPInstanceUID for ds in datasets}) == 8
    other = tmp_path / "other" / "moved"  # another export of the same model, in a folder of the same name
    ExportJob.create(other, engine.model, folder_sources(mask_dir), Sweep(seeds=8),
                     ExportOptions(format="dicom", mode="eval")).run(engine)
    assert pydicom.dcmread(other / rows[0]["image"]).StudyInstanceUID != datasets[0].StudyInstanceUID


# --- the dialog -------------------------------------------------------------------------------------


@pytest.fixture
def dialog(qtbot, model_path):
    pytest.importorskip("pytestqt")
    from synthgui.gui.export_dialog import ExportDialog

    dlg = ExportDialog(None, str(model_path), disk_label_map(256, 0.2), (0x8E, 0x63, 0x49))
    qtbot.addWidget(dlg)
    dlg.mode.setCurrentText("eval")
    yield dlg
    dlg.stop()


def _finish(qtbot, dlg, timeout=60000):
    qtbot.waitUntil(lambda: not dlg.is_running() and dlg.start_button.isEnabled(), timeout=timeout)
    return dlg.last_message


def test_exporting_again_with_other_settings_into_the_same_folder_is_not_a_silent_no_op(qtbot, dialog, tmp_path):
    """The dialog suggests one folder per minute: a second export with a changed sweep went to the
    first one's folder, "resumed" it and said Done without making any of the new images."""
    out = tmp_path / "out"
    dialog.out_dir.setText(str(out))
    dialog.start()
    assert _finish(qtbot, dialog).startswith("Done")
    dialog.sizes.setText("0.5, 1")
    dialog.start()
    message = _finish(qtbot, dialog)
    assert not message.startswith("Done"), message
    assert str(out) in message and "another folder" in message
    assert len(manifest.read_journal(out)) == 1
    dialog.sizes.setText("1")  # the same settings again: the folder is resumed (nothing left to do)
    dialog.start()
    assert _finish(qtbot, dialog).startswith("Done")


def test_the_privacy_check_runs_off_the_ui_thread_on_the_export_s_folder(qtbot, dialog, tmp_path, monkeypatch):
    """It ran in the finished slot, on the GUI thread (the window froze while it indexed the
    training images), and on whatever the folder field said by then."""
    from PIL import Image

    import synthgui.core.export as export_pkg

    training = tmp_path / "training"
    training.mkdir()
    for i in range(3):
        Image.fromarray(np.full((32, 32, 3), 40 * i, np.uint8)).save(training / f"{i}.png")
    threads = []
    real_check = export_pkg.run_privacy_check
    monkeypatch.setattr(export_pkg, "run_privacy_check",
                        lambda *a, **k: threads.append(threading.current_thread()) or real_check(*a, **k))
    out = tmp_path / "out"
    dialog.out_dir.setText(str(out))
    dialog.privacy_dir.setText(str(training))
    dialog.start()
    dialog.out_dir.setText(str(tmp_path / "typed-while-it-ran"))
    message = _finish(qtbot, dialog)
    assert message.startswith("Done") and "privacy check failed" not in message, message
    assert (out / manifest.PRIVACY_JSON).is_file()
    assert threads and threads[0] is not threading.main_thread()


def test_cancel_stops_the_privacy_check_on_the_worker(tmp_path, monkeypatch):
    """Now that the check runs on the worker thread, Cancel (and closing the dialog) must stop it."""
    pytest.importorskip("pytestqt")
    import synthgui.core.export as export_pkg
    from synthgui.gui.export_dialog import ExportWorker

    calls = []

    def slow_check(out_dir, training_dir, progress=None, **kwargs):
        for i in range(1000):
            calls.append(i)
            progress("indexing training images", i + 1, 1000)
        raise AssertionError("not stopped")

    monkeypatch.setattr(export_pkg, "run_privacy_check", slow_check)
    worker = ExportWorker("model.pth", str(tmp_path), None, privacy_dir=str(tmp_path))
    worker.cancel.set()
    assert worker._privacy_check(tmp_path) == "; privacy check cancelled" and len(calls) == 1


def test_a_cancelled_canvas_export_can_be_finished_from_a_reopened_dialog(qtbot, tmp_path, monkeypatch):
    """After Cancel the dialog says "Start the export again on the same folder to finish it". The
    studio opens a fresh dialog each time (default sweep, First seed = the studio's seed now), so
    choosing the same folder is refused as "an export with other sweep" unless every setting is
    typed in again from memory. Now the dialog asks, and finishes the export with its own settings."""
    pytest.importorskip("pytestqt")
    from synthgui.gui.export_dialog import ExportDialog

    path = write_model(tmp_path / "model", GeneratorSpec(ngf=4), skin_card())
    canvas, tone = disk_label_map(256, 0.2), (0x8E, 0x63, 0x49)
    out = tmp_path / "out"

    first = ExportDialog(None, str(path), canvas, tone, seed=7)
    qtbot.addWidget(first)
    first.seeds.setValue(3)
    first.mode.setCurrentText("eval")
    first._job_factory(out)(load_model(path))  # the export begun (and cancelled before any image)
    assert manifest.read_plan(out)["total"] == 3

    again = ExportDialog(None, str(path), canvas, tone, seed=8)  # reopened later: the studio's seed moved on
    qtbot.addWidget(again)
    again.out_dir.setText(str(out))
    asked = []
    monkeypatch.setattr(again, "ask_to_finish", lambda text: asked.append(text) or False)
    again.start()  # "No": nothing starts
    assert not again.is_running() and "another folder" in again.last_message
    assert "unfinished export (0 of 3 images)" in asked[0] and "sweep" in asked[0]
    monkeypatch.setattr(again, "ask_to_finish", lambda text: True)
    again.start()
    qtbot.waitUntil(lambda: not again.is_running() and again.start_button.isEnabled(), timeout=60000)
    try:
        assert again.last_message.startswith("Done"), again.last_message
        assert len(manifest.read_journal(out)) == 3
    finally:
        again.stop()
