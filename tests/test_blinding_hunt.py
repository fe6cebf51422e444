"""Blinding leaks: ways a reader could tell real from synthetic without judging the picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from synthgui.cli import main as cli_main
from synthgui.core.study.analysis import analyse
from synthgui.core.study.build import BuildRequest, build_study
from synthgui.core.study.design import StudyOptions
from synthgui.core.study.key import load_key
from synthgui.core.study.normalise import normalise, read_pixels
from synthgui.core.study.report import html_report
from synthgui.core.study.session_log import Judgment
from tests.helpers import write_image_folders


def creation_order(folder: Path) -> list[Path]:
    """What ``ls -tc``, ``ls -i`` or a zip of the folder shows: the order files were written in."""
    return sorted(folder.iterdir(), key=lambda p: (p.stat().st_ctime_ns, p.stat().st_ino))


def test_write_order_is_not_the_seeded_draw(tmp_path):
    """The images used to be written in an order drawn from --seed (default 0), so a reader with
    synthgui, who knows how many images there are, could replay the draw, line it up with the
    files' creation order (ctime, inode numbers, tmpfs or zip listing order) and read off the class.
    Two builds with the same seed show it: their classes came out in the same creation order."""
    paths = write_image_folders(tmp_path, 15)
    in_creation_order = []
    for name in ("a", "b"):
        result = build_study(BuildRequest(paths["real"], paths["syn"], tmp_path / name, seed=0,
                                          options=StudyOptions(size=16)))
        truth = load_key(result.key_path).truth()
        written = creation_order(tmp_path / name / "images")
        assert [p.name for p in written] == sorted(p.name for p in written)  # no more than the random names say
        in_creation_order.append([truth[p.stem] for p in written])
    assert in_creation_order[0] != in_creation_order[1]  # equal by chance once in C(30, 15) = 1.6e8


def test_sixteen_bit_images_are_not_auto_contrasted(tmp_path):
    """The same picture stored with 16 bits (a scanner, a microscope camera) and with 8 bits must come
    out the same; a per-image min-max stretch gave every 16-bit image full contrast."""
    grey = np.random.default_rng(0).integers(100, 180, (24, 24), dtype=np.uint8)
    eight, sixteen, tiff = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.tif"
    Image.fromarray(grey).save(eight)
    Image.fromarray(grey.astype(np.uint16) * 257).save(sixteen)
    Image.fromarray(grey.astype(np.uint16) * 257).save(tiff)
    assert np.array_equal(read_pixels(sixteen), read_pixels(eight))
    assert np.array_equal(read_pixels(tiff), read_pixels(eight))
    assert normalise(sixteen, 16) == normalise(eight, 16)


def test_a_leak_audit_too_small_to_see_a_leak_does_not_say_there_is_none(tmp_path, capsys):
    """Two scored images per class: real JPEG photos keep their compression smoothing, so every real
    study image is far smaller than every synthetic one, yet with four images not even a perfect
    split is significant; the build said 'no file-level feature ... separates' all the same."""
    for name in ("real", "syn"):
        (tmp_path / name).mkdir()
    rng = np.random.default_rng(0)

    def grain() -> np.ndarray:
        return np.clip(rng.normal(140, 12, (32, 32, 3)), 0, 255).astype(np.uint8)

    for i in range(2):
        Image.fromarray(grain()).save(tmp_path / "real" / f"{i}.jpg", quality=30)
        Image.fromarray(grain()).save(tmp_path / "syn" / f"{i}.png")
    assert cli_main(["study", "build", "--real", str(tmp_path / "real"), "--synthetic", str(tmp_path / "syn"),
                     "--out", str(tmp_path / "st"), "--size", "32"]) == 0
    truth = load_key(tmp_path / "st.key.json").truth()
    sizes = {t: [p.stat().st_size for p in (tmp_path / "st" / "images").iterdir() if truth[p.stem] == t]
             for t in ("real", "synthetic")}
    assert max(sizes["real"]) < min(sizes["synthetic"])  # the leak is there: file size gives the class
    out = capsys.readouterr().out
    assert "no file-level feature" not in out
    assert "too few" in out
    key = load_key(tmp_path / "st.key.json")  # and the report does not say it either
    judgments = [Judgment(key.study_id, "r1", "main", i, e.case_id, e.truth, 3) for i, e in enumerate(key.entries)]
    html = html_report(analyse(judgments, key.truth(), key.study_id), key.leak_audit, "t")
    assert "No file-level feature separates" not in html and "Too few scored images" in html


def fine_detail(path: Path) -> float:
    """Share of the image's spectral energy in the upper half of its frequencies: an enlarged image has
    almost none there, which is what makes it look soft."""
    grey = np.asarray(Image.open(path).convert("L"), dtype=np.float64)
    power = np.abs(np.fft.fftshift(np.fft.fft2(grey - grey.mean()))) ** 2
    k = np.abs(np.arange(grey.shape[0]) - grey.shape[0] // 2)
    return float(power[np.maximum.outer(k, k) > grey.shape[0] // 4].sum() / power.sum())


def test_enlarging_one_class_only_is_caught_by_the_audit(tmp_path):
    """The default --size 512 with a 256 px generator and 512 px photos: every synthetic image is
    enlarged twice, every real one is not, and enlarged images look soft. Here the very same pictures
    go in as 64 px 'real' and 32 px 'synthetic' files; the synthetic copy of each comes out softer,
    and bytes, sizes and colours all overlap, so the audit used to call the study images clean."""
    rng = np.random.default_rng(0)
    for name in ("real", "syn"):
        (tmp_path / name).mkdir()
    for i in range(12):  # the pictures differ in how much coarse structure they have, so byte sizes spread
        coarse = rng.normal(140, 5 + 5 * i, (16, 16, 3))
        base = np.asarray(Image.fromarray(np.clip(coarse, 0, 255).astype(np.uint8)).resize((64, 64), Image.BICUBIC))
        picture = Image.fromarray(np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8))
        picture.save(tmp_path / "real" / f"{i}.png")
        picture.resize((32, 32), Image.LANCZOS).save(tmp_path / "syn" / f"{i}.png")
    result = build_study(BuildRequest(sorted((tmp_path / "real").iterdir()), sorted((tmp_path / "syn").iterdir()),
                                      tmp_path / "st", options=StudyOptions(size=64)))
    detail = {(Path(e.source).name, e.truth): fine_detail(tmp_path / "st" / "images" / f"{e.case_id}.png")
              for e in load_key(result.key_path).entries}
    assert all(detail[f"{i}.png", "synthetic"] < 0.9 * detail[f"{i}.png", "real"] for i in range(12))
    images = next(a for a in result.audits if a.stage == "study images")
    assert images.leaks and any("'enlargement'" in w for w in images.warnings())


def test_the_all_clear_is_given_only_when_the_audit_could_have_seen_a_leak():
    """One sentence for the CLI and the wizard alike (the wizard gave the all-clear on any audit)."""
    from synthgui.core.study.leak_audit import LeakAudit

    assert "too few scored images (2 real, 2 synthetic)" in LeakAudit("study images", 2, 2).all_clear()
    assert LeakAudit("study images", 20, 20).all_clear().startswith("no file-level feature")
    assert LeakAudit("study images", 20, 20, classifier_leaks=True).all_clear() is None
