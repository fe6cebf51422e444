"""Export: sweep expansion, manifest/file consistency, resume after a crash, bad masks, DICOM, cancel."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from synthgui.core.engine import Engine
from synthgui.core.errors import SynthguiError
from synthgui.core.export import ExportJob, ExportOptions, Plan, Sweep, folder_sources, parse_locations, parse_skin_tones
from synthgui.core.export import manifest, sources as sources_mod
from synthgui.core.export.sweep import apply_variant
from synthgui.core.masks import disk_label_map, ellipse_label_map, load_mask, save_mask
from synthgui.core.models import load_model
from synthgui.core.networks import GeneratorSpec

from helpers import skin_card, write_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def mask_dir(tmp_path):
    folder = tmp_path / "masks"
    card = skin_card()
    save_mask(folder / "a_disk.png", disk_label_map(128, 0.2), card)
    save_mask(folder / "b_ellipse.png", ellipse_label_map(300, (60, 25), 30, label=2), card)
    (folder / "c_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return folder


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def assert_consistent(out: Path) -> list[dict]:
    """Every journal row's files exist, every image/mask file has exactly one row, no temp files."""
    rows = manifest.read_journal(out)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "duplicate rows"
    images = {r["image"] for r in rows}
    masks = {r["mask"] for r in rows}
    assert {f for f in _files(out) if f.startswith("images/")} == images
    assert {f for f in _files(out) if f.startswith("masks/")} == masks
    assert not [f for f in _files(out) if f.endswith(".tmp")]
    return rows


def test_sweep_product_and_sample():
    sweep = Sweep(skin_tones=["I", "VI"], conditions=[None, "nevus"], sizes=[0.5, 1.0, 2.0],
                  locations=[(0.0, 0.0), "random"], rotations=[0.0, 90.0], seeds=3)
    plan = Plan(2, sweep)
    assert plan.total == 2 * 2 * 2 * 3 * 2 * 2 * 3
    variants = list(plan)
    combos = {(v.source, v.skin_tone, v.condition, v.size, v.location, v.rotation, v.seed) for v in variants}
    assert len(combos) == plan.total  # every combination exactly once
    assert variants[0].seed == 0 and variants[1].seed == 1 and variants[3].rotation == 90.0
    assert variants[-1].source == 1
    sampled = Plan(2, Sweep(**{**sweep.__dict__, "sample": 10, "sample_seed": 4}))
    again = Plan(2, Sweep(**{**sweep.__dict__, "sample": 10, "sample_seed": 4}))
    picked = [(v.source, v.skin_tone, v.size, v.seed) for v in sampled]
    assert sampled.total == 10 and picked == [(v.source, v.skin_tone, v.size, v.seed) for v in again]
    assert len(set((v.source, v.skin_tone, v.condition, v.size, v.location, v.rotation, v.seed) for v in sampled)) == 10


def test_sweep_parsing_and_validation():
    assert parse_skin_tones(["all"]) == ["I", "II", "III", "IV", "V", "VI"]
    assert parse_skin_tones(["type 3", "#112233"]) == ["III", "#112233"]
    assert parse_locations(["10,-5", "random"]) == [(10.0, -5.0), "random"]
    with pytest.raises(SynthguiError, match="skin tone"):
        parse_skin_tones(["XI"])
    with pytest.raises(SynthguiError, match="location"):
        parse_locations(["left"])
    with pytest.raises(SynthguiError, match="size"):
        Plan(1, Sweep(sizes=[0.0]))


def test_variant_geometry_scales_moves_and_keeps_ids():
    lm = disk_label_map(256, 0.1, label=2)
    small = Plan(1, Sweep(sizes=[0.5])).variant(0)
    moved = Plan(1, Sweep(locations=[(40.0, 0.0)])).variant(0)
    out_small, _ = apply_variant(lm, small, 256)
    out_moved, offset = apply_variant(lm, moved, 256)
    assert 0.2 < np.count_nonzero(out_small) / np.count_nonzero(lm) < 0.3
    assert offset == (40.0, 0.0) and set(np.unique(out_moved)) == {0, 2}
    assert np.nonzero(out_moved)[1].mean() == pytest.approx(np.nonzero(lm)[1].mean() + 40, abs=1)
    rnd = Plan(1, Sweep(locations=["random"])).variant(0)
    a, off_a = apply_variant(lm, rnd, 256, export_seed=1)
    b, off_b = apply_variant(lm, rnd, 256, export_seed=1)
    assert off_a == off_b and np.array_equal(a, b) and np.count_nonzero(a) == np.count_nonzero(lm)


def _export(out, engine, mask_dir, **opts):
    sweep = opts.pop("sweep", Sweep(skin_tones=["I", "VI"], sizes=[0.75, 1.0], seeds=2))
    options = ExportOptions(**{"batch": 3, "workers": 2, "aligned": True, **opts})
    job = ExportJob.create(out, engine.model, folder_sources(mask_dir), sweep, options)
    warnings = []
    return job, job.run(engine, warn=warnings.append), warnings


def test_export_writes_images_masks_manifest_and_card(tmp_path, engine, mask_dir):
    out = tmp_path / "out"
    job, result, warnings = _export(out, engine, mask_dir)
    assert result.complete and result.total == 16 and result.done == 16
    assert len(warnings) == 1 and "c_broken.png" in warnings[0]
    rows = assert_consistent(out)
    assert len(rows) == 16
    row = next(r for r in rows if r["source"] == "b_ellipse.png" and r["skin_tone"] == "VI" and r["size"] == 0.75 and r["seed"] == 1)
    assert row["model_sha256"] == engine.model.sha256 and row["mode"] == "reference"
    assert row["skin_tone_rgb"] == "#634433" and row["synthgui_version"]
    # the saved mask is exactly the conditioning mask: re-rendering it gives the same image
    mask = load_mask(out / row["mask"], engine.card)
    assert mask.shape == (256, 256) and set(np.unique(mask)) == {0, 2}
    from synthgui.core.encoding import EncodeRequest
    again = engine.render(mask, EncodeRequest(skin_tone=(0x63, 0x44, 0x33)), seed=1, mode="reference")
    from PIL import Image
    assert np.array_equal(np.asarray(Image.open(out / row["image"]).convert("RGB")), again)
    pair = np.asarray(Image.open(out / row["aligned"]).convert("RGB"))
    assert pair.shape == (256, 512, 3) and np.array_equal(pair[:, 256:], again)
    for name in (row["image"], row["aligned"]):  # the file itself says it is synthetic, and made by what
        text = Image.open(out / name).text
        assert text["Comment"].startswith("SYNTHETIC IMAGE") and engine.model.name in text["Comment"]
        assert text["Software"].startswith("synthgui")
    assert tuple(pair[0, 0]) == (0x63, 0x44, 0x33)  # A side: the semantic map with the skin tone
    csv_lines = (out / "manifest.csv").read_text().splitlines()
    assert len(csv_lines) == 17 and csv_lines[0].startswith("id,image,mask")
    card = (out / "README.md").read_text()
    assert "synthetic" in card.lower() and "Status: complete" in card and "c_broken.png" in card
    assert engine.model.sha256 in card


def test_items_that_differ_only_by_seed_share_one_encoded_input(tmp_path, engine, mask_dir):
    """The producer encodes a mask and tone once for all its seeds; every image must still be the
    render of its own row's mask, tone and seed."""
    calls = []
    real_encode = engine.encode
    engine.encode = lambda lm, request=None: calls.append(request) or real_encode(lm, request)
    out = tmp_path / "out"
    _, result, _ = _export(out, engine, mask_dir, sweep=Sweep(skin_tones=["I", "VI"], sizes=[0.75, 1.0], seeds=3))
    engine.encode = real_encode
    assert result.complete and result.done == 24
    assert len(calls) == 2 * 2 * 2  # masks x tones x sizes
    from PIL import Image

    from synthgui.core.encoding import EncodeRequest
    from synthgui.core.skin_tones import parse_skin_tone
    for row in assert_consistent(out):
        again = engine.render(load_mask(out / row["mask"], engine.card), EncodeRequest(skin_tone=parse_skin_tone(row["skin_tone"])),
                              seed=row["seed"], mode="reference")
        assert np.array_equal(np.asarray(Image.open(out / row["image"]).convert("RGB")), again), row["id"]


def test_the_next_chunk_goes_to_the_engine_before_a_chunk_is_taken(tmp_path, model_path, mask_dir):
    """So the engine's streams never wait for the writers between chunks."""
    engine = Engine(load_model(model_path), device="cpu", threads=2, streams=2)
    log = []
    real_submit = engine.submit_inputs

    class Logged:
        def __init__(self, future, k):
            self.future, self.k = future, k

        def result(self, *args):
            log.append(("take", self.k))
            return self.future.result(*args)

    def submit(*args, **kwargs):
        k = sum(1 for event, _ in log if event == "submit")
        log.append(("submit", k))
        return Logged(real_submit(*args, **kwargs), k)

    engine.submit_inputs = submit
    _, result, _ = _export(tmp_path / "out", engine, mask_dir, batch=2, sweep=Sweep(seeds=4))
    assert result.complete and result.done == 8
    chunks = sum(1 for event, _ in log if event == "submit")
    assert chunks == 4
    for k in range(chunks - 1):
        assert log.index(("submit", k + 1)) < log.index(("take", k)), log
    assert_consistent(tmp_path / "out")


def test_an_engine_that_renders_in_the_call_gets_one_chunk_at_a_time(tmp_path, engine, mask_dir):
    """Looking ahead would only render a chunk that a cancel then throws away."""
    forwards, cancel = [], threading.Event()
    real_forward = engine.forward
    engine.forward = lambda *a, **k: forwards.append(1) or real_forward(*a, **k)
    sweep = Sweep(seeds=6)
    job = ExportJob.create(tmp_path / "out", engine.model, folder_sources(mask_dir), sweep, ExportOptions(batch=2, workers=1))
    result = job.run(engine, progress=lambda p: cancel.set(), cancel=cancel)  # cancelled once the first chunk is handed on
    assert result.cancelled and len(forwards) == 2
    assert_consistent(tmp_path / "out")


def test_an_engine_that_stops_queueing_mid_export_is_no_longer_looked_ahead_of(tmp_path, model_path, mask_dir):
    """An engine that gives up its traced graph (at its first forward) renders in the call from
    then on: looking ahead would again render a chunk that a cancel throws away."""
    engine = Engine(load_model(model_path), device="cpu", threads=2, streams=2)
    answers = iter([True])  # the first chunk goes to the streams; then the engine renders in the call
    engine.queues = lambda n, mode=None: next(answers, False)
    forwards, cancel = [], threading.Event()
    real_forward = engine.forward
    engine.forward = lambda *a, **k: forwards.append(1) or real_forward(*a, **k)
    job = ExportJob.create(tmp_path / "out", engine.model, folder_sources(mask_dir), Sweep(seeds=8), ExportOptions(batch=2, workers=1))
    reports = []
    result = job.run(engine, progress=lambda p: reports.append(1) if len(reports) < 1 else cancel.set(), cancel=cancel)
    assert result.cancelled and len(forwards) == 2 + 2  # the two chunks written, no third rendered
    assert_consistent(tmp_path / "out")


def test_ctrl_c_while_waiting_for_a_chunk_cancels_it(tmp_path, model_path, mask_dir):
    engine = Engine(load_model(model_path), device="cpu", threads=2, streams=2)
    real_submit, cancelled = engine.submit_inputs, []

    class Interrupted:
        def __init__(self, future):
            self.future = future

        def result(self, *args):
            raise KeyboardInterrupt

        def cancel(self):
            cancelled.append(1)
            return self.future.cancel()

    engine.submit_inputs = lambda *a, **k: Interrupted(real_submit(*a, **k))
    job = ExportJob.create(tmp_path / "out", engine.model, folder_sources(mask_dir), Sweep(seeds=4), ExportOptions(batch=2))
    with pytest.raises(KeyboardInterrupt):
        job.run(engine)
    assert len(cancelled) == 2  # the chunk waited for, and the one queued behind it
    engine.submit_inputs = real_submit
    assert ExportJob.open(tmp_path / "out").run(engine).complete
    assert len(assert_consistent(tmp_path / "out")) == 8


def test_cancel_and_resume_on_parallel_streams_give_the_images_of_one_stream(tmp_path, model_path, mask_dir):
    streams = Engine(load_model(model_path), device="cpu", threads=2, streams=2)
    sweep = Sweep(skin_tones=["II", "V"], seeds=4)
    cancel = threading.Event()
    out = tmp_path / "streams"
    job = ExportJob.create(out, streams.model, folder_sources(mask_dir), sweep, ExportOptions(batch=3, workers=2))
    first = job.run(streams, progress=lambda p: p.written >= 3 and cancel.set(), cancel=cancel)
    assert first.cancelled and 3 <= first.done < 16
    assert_consistent(out)
    assert ExportJob.open(out).run(streams).complete
    _, single, _ = _export(tmp_path / "single", Engine(load_model(model_path), device="cpu", threads=1), mask_dir, sweep=sweep, aligned=False)
    assert single.complete
    rows = assert_consistent(out)
    assert len(rows) == 16
    for row in rows:
        assert (out / row["image"]).read_bytes() == (tmp_path / "single" / row["image"]).read_bytes(), row["id"]


def test_export_is_deterministic(tmp_path, engine, mask_dir):
    _export(tmp_path / "one", engine, mask_dir, aligned=False)
    _export(tmp_path / "two", engine, mask_dir, aligned=False)
    for name in sorted(_files(tmp_path / "one")):
        if name.startswith(("images/", "masks/")):
            assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


def test_items_that_share_a_mask_share_its_file(tmp_path, engine, mask_dir, monkeypatch):
    """Tones and seeds of one mask: one file on disk (or one per writer thread), hard-linked under
    each item's name; where links fail (FAT, network shares) each item gets its own copy of the same bytes."""
    out = tmp_path / "linked"
    _export(out, engine, mask_dir, aligned=False)
    rows = manifest.read_journal(out)
    by_mask: dict[tuple, list[Path]] = {}
    for r in rows:
        by_mask.setdefault((r["source"], r["size"]), []).append(out / r["mask"])
    assert len(by_mask) == 4 and all(len(paths) == 4 for paths in by_mask.values())
    for paths in by_mask.values():  # two writer threads may both write a mask's first file
        assert len({p.stat().st_ino for p in paths}) <= 2 and max(p.stat().st_nlink for p in paths) >= 2
    monkeypatch.setattr(os, "link", lambda *a, **k: (_ for _ in ()).throw(OSError("links not supported")))
    copied = tmp_path / "copied"
    _export(copied, engine, mask_dir, aligned=False)
    for r in rows:
        assert (copied / r["mask"]).read_bytes() == (out / r["mask"]).read_bytes()
        assert (copied / r["mask"]).stat().st_nlink == 1


def test_the_journal_syncs_the_folders_before_itself(tmp_path, monkeypatch):
    """Renames are not synced one by one: a row that survives a power cut must find its files."""
    calls = []
    monkeypatch.setattr(manifest, "sync_folder", lambda folder: calls.append(Path(folder).name))
    real_fsync = os.fsync
    monkeypatch.setattr(manifest.os, "fsync", lambda fd: (calls.append("journal"), real_fsync(fd)))
    (tmp_path / "images").mkdir()
    journal = manifest.Journal(tmp_path, sync_every=2, folders=(tmp_path / "images", tmp_path / "masks"))
    for i in range(3):
        journal.append({"id": f"{i:06d}"})
    journal.close()
    assert calls == ["images", "journal", "images", "journal"]


def test_an_engine_that_batches_per_image_exports_the_same_images(tmp_path, engine, model_path, mask_dir):
    """A GPU engine renders the set in per-image batches, a CPU one image by image on streams; the
    export (here both on the CPU, so bit for bit) must not depend on which."""
    _export(tmp_path / "streams", engine, mask_dir, aligned=False)
    batched = Engine(load_model(model_path), device="cpu", threads=1, trace=False, batch_per_image=True)
    _export(tmp_path / "batched", batched, mask_dir, aligned=False)
    names = sorted(n for n in _files(tmp_path / "streams") if n.startswith("images/"))
    assert len(names) == 16
    for name in names:
        assert (tmp_path / "streams" / name).read_bytes() == (tmp_path / "batched" / name).read_bytes(), name


def test_resume_after_full_disk_and_crash_debris(tmp_path, engine, mask_dir, monkeypatch):
    from synthgui.core.export import run as run_mod

    clean = tmp_path / "clean"
    _export(clean, engine, mask_dir, aligned=False)
    out = tmp_path / "out"
    real_write = run_mod.write_bytes_atomic
    calls = {"n": 0}

    def flaky(path, data, **kwargs):
        calls["n"] += 1
        if calls["n"] > 5:
            raise SynthguiError(f"cannot write {path}: No space left on device")
        real_write(path, data, **kwargs)

    monkeypatch.setattr(run_mod, "write_bytes_atomic", flaky)
    with pytest.raises(SynthguiError, match="--resume"):
        _export(out, engine, mask_dir, aligned=False)
    partial = assert_consistent(out)
    assert 0 < len(partial) < 16
    assert "INCOMPLETE" in (out / "README.md").read_text()
    monkeypatch.setattr(run_mod, "write_bytes_atomic", real_write)
    # what a SIGKILL can leave: a torn journal line, a temp file, an image whose row never came
    with open(out / "manifest.jsonl", "ab") as fh:
        fh.write(b'{"id": "000015", "image": "images/0000')
    (out / "images" / ".000014.png.abc.tmp").write_bytes(b"half")
    (out / "images" / "000013.png").write_bytes(b"torn?")
    result = ExportJob.open(out).run(engine)
    assert result.complete and result.done == 16
    rows = assert_consistent(out)
    assert len(rows) == 16
    for name in _files(clean):
        if name.startswith(("images/", "masks/")):
            assert (out / name).read_bytes() == (clean / name).read_bytes(), name
    assert "Status: complete" in (out / "README.md").read_text()


def test_cancel_leaves_a_resumable_folder(tmp_path, engine, mask_dir):
    out = tmp_path / "out"
    job = ExportJob.create(out, engine.model, folder_sources(mask_dir), Sweep(seeds=12), ExportOptions(batch=2))
    cancel = threading.Event()
    seen = []

    def progress(p):
        seen.append(p)
        if p.written >= 2:
            cancel.set()

    result = job.run(engine, progress=progress, cancel=cancel)
    assert result.cancelled and 2 <= result.done < 24
    assert seen[-1].rate > 0 and seen[-1].total == 36  # the broken mask is not reached yet
    assert len(assert_consistent(out)) == result.done
    assert ExportJob.open(out).run(engine).complete
    assert len(assert_consistent(out)) == 24


def test_existing_export_needs_resume_and_same_model(tmp_path, engine, mask_dir):
    out = tmp_path / "out"
    _export(out, engine, mask_dir, sweep=Sweep())
    with pytest.raises(SynthguiError, match="resume"):
        _export(out, engine, mask_dir, sweep=Sweep())
    other = load_model(write_model(tmp_path / "other", GeneratorSpec(ngf=4), skin_card(), name="other"))
    with pytest.raises(SynthguiError, match="weights differ"):
        ExportJob.open(out).check_model(other)


def test_dicom_and_jpeg_formats(tmp_path, engine, mask_dir):
    import pydicom
    from synthgui.core.dicom_write import missing_required

    _, result, _ = _export(tmp_path / "dcm", engine, mask_dir, format="dicom", sweep=Sweep())
    rows = assert_consistent(tmp_path / "dcm")
    assert result.done == 2 and all(r["image"].endswith(".dcm") for r in rows)
    ds = pydicom.dcmread(tmp_path / "dcm" / rows[0]["image"])
    assert missing_required(ds) == [] and ds.Modality == "XC" and "SYNTHETIC" in ds.ImageComments
    assert ds.pixel_array.shape == (256, 256, 3)
    _, result, _ = _export(tmp_path / "jpg", engine, mask_dir, format="jpeg", quality=80, sweep=Sweep())
    rows = assert_consistent(tmp_path / "jpg")
    assert all(r["image"].endswith(".jpg") for r in rows)
    from PIL import Image
    jpeg = Image.open(tmp_path / "jpg" / rows[0]["image"])
    assert jpeg.info["comment"].startswith(b"SYNTHETIC IMAGE") and jpeg.size == (256, 256)
    _, result, _ = _export(tmp_path / "tif", engine, mask_dir, format="tiff", sweep=Sweep())
    rows = assert_consistent(tmp_path / "tif")
    tiff = Image.open(tmp_path / "tif" / rows[0]["image"])
    assert tiff.tag_v2[270].startswith("SYNTHETIC IMAGE") and tiff.tag_v2[305].startswith("synthgui")


def test_random_masks_need_the_geometry_module(monkeypatch):
    monkeypatch.setattr(sources_mod, "geometry_module", lambda: None)
    with pytest.raises(SynthguiError, match="geometry"):
        sources_mod.random_sources(3)


def _cli(*args, **kw):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "synthgui", "export", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_cli_sigkill_then_resume(tmp_path, model_path, mask_dir):
    out = tmp_path / "out"
    args = ["--model", str(model_path), "--out", str(out), "--masks", str(mask_dir), "--seeds", "10",
            "--batch", "2", "--mode", "eval", "--no-progress"]
    proc = _cli(*args)
    deadline = time.time() + 120
    journal = out / "manifest.jsonl"
    while time.time() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_bytes().count(b"\n") >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    rows = manifest.read_journal(out)
    assert 3 <= len(rows) < 20
    proc = _cli(*args, "--resume")
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert "20 of 20 done" in stdout
    assert len(assert_consistent(out)) == 20
    proc = _cli(*args)  # without --resume, a folder that holds an export is refused
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "--resume" in stderr and "Traceback" not in stderr


def test_project_files_are_a_mask_source(tmp_path, engine):
    from synthgui.core.project import Project, save_project

    folder = tmp_path / "projects"
    folder.mkdir()
    save_project(folder / "case.synthgui", Project(label_map=disk_label_map(256, 0.15, label=2)))
    save_project(folder / "alien.synthgui", Project(label_map=np.full((64, 64), 7, np.uint8)))
    sources = folder_sources(folder)
    assert [s.kind for s in sources] == ["project", "project"]
    job = ExportJob.create(tmp_path / "out", engine.model, sources, Sweep(), ExportOptions(mode="eval"))
    warnings = []
    result = job.run(engine, warn=warnings.append)
    assert result.done == 1 and len(warnings) == 1 and "alien" in warnings[0] and "unknown" in warnings[0]
    row = manifest.read_journal(tmp_path / "out")[0]
    assert row["source"] == "case.synthgui" and set(np.unique(load_mask(tmp_path / "out" / row["mask"], engine.card))) == {0, 2}


def test_random_masks_use_the_geometry_generators(tmp_path, engine, monkeypatch):
    import types

    calls = []

    def propose(domain, size, seed):
        calls.append((domain, size, seed))
        return disk_label_map(size, 0.05 + 0.05 * seed)

    monkeypatch.setattr(sources_mod, "geometry_module", lambda: types.SimpleNamespace(propose=propose))
    sources = sources_mod.random_sources(3, seed=5)
    job = ExportJob.create(tmp_path / "out", engine.model, sources, Sweep(), ExportOptions(mode="eval"))
    assert job.run(engine).done == 3
    assert sorted(calls) == [("skin", 256, 5), ("skin", 256, 6), ("skin", 256, 7)]
    assert [r["source"] for r in sorted(manifest.read_journal(tmp_path / "out"), key=lambda r: r["id"])] == ["random-5", "random-6", "random-7"]


def test_cli_user_errors_are_one_line(tmp_path, model_path, capsys):
    from synthgui.cli import main

    assert main(["export", "--model", str(model_path), "--out", str(tmp_path / "o"), "--masks", str(tmp_path / "none")]) == 2
    assert "mask folder not found" in capsys.readouterr().err
    assert main(["export", "--model", str(model_path), "--out", str(tmp_path / "o")]) == 2
    assert "--masks DIR or --random N" in capsys.readouterr().err
    (tmp_path / "m").mkdir()
    save_mask(tmp_path / "m" / "a.png", disk_label_map(64), skin_card())
    assert main(["export", "--model", str(model_path), "--out", str(tmp_path / "o"), "--masks", str(tmp_path / "m"),
                 "--skin-tones", "VII"]) == 2
    assert "skin tone" in capsys.readouterr().err
    assert main(["export", "--model", str(model_path), "--out", str(tmp_path / "o"), "--masks", str(tmp_path / "m"),
                 "--format", "dicom", "--mode", "eval", "--no-progress"]) == 0
    assert "1 of 1 done" in capsys.readouterr().out
    assert (tmp_path / "o" / "images" / "000000.dcm").is_file()


def test_one_export_process_per_folder(tmp_path, engine, mask_dir):
    from synthgui.core.export.run import _folder_lock

    out = tmp_path / "out"
    job = ExportJob.create(out, engine.model, folder_sources(mask_dir), Sweep(), ExportOptions())
    with _folder_lock(out):
        with pytest.raises(SynthguiError, match="another export"):
            job.run(engine)
    assert job.run(engine).done == 2
    assert not (out / ".export.lock").exists()  # a finished export leaves no lock file behind


def test_writer_threads_follow_the_machine(monkeypatch):
    from synthgui.core.export import run as export_run

    for cores, expected in ((1, 2), (2, 2), (6, 3), (16, 8), (64, 8), (None, 2)):
        monkeypatch.setattr(export_run.os, "cpu_count", lambda cores=cores: cores)
        assert export_run.default_workers() == expected, cores
    for cores, expected in ((2, 2), (16, 14), (64, 16)):  # a GPU renders: the cores are the writers'
        monkeypatch.setattr(export_run.os, "cpu_count", lambda cores=cores: cores)
        assert export_run.default_workers("cuda") == expected, cores
    assert ExportOptions().workers is None  # resolved where the export runs, so a resume on another machine adapts


def test_save_image_labels_only_when_asked(tmp_path):
    """Studio and render exports say they are synthetic; a blinded study's images must not."""
    from PIL import Image

    from synthgui.core.imagefiles import save_image, synthetic_note

    img = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    for suffix in (".png", ".tif", ".jpg"):
        save_image(tmp_path / f"labelled{suffix}", img, note=synthetic_note("m", "2"))
        save_image(tmp_path / f"plain{suffix}", img)
    assert "SYNTHETIC" in Image.open(tmp_path / "labelled.png").text["Comment"]
    assert "SYNTHETIC" in Image.open(tmp_path / "labelled.tif").tag_v2[270]
    assert b"SYNTHETIC" in Image.open(tmp_path / "labelled.jpg").info["comment"]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "labelled.png")), img)
    assert not Image.open(tmp_path / "plain.png").text and "comment" not in Image.open(tmp_path / "plain.jpg").info
    assert 270 not in Image.open(tmp_path / "plain.tif").tag_v2
