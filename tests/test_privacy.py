"""Privacy check: a planted copy of a training image is flagged, genuinely different images are not."""

import json

import cv2
import numpy as np
import pytest

from synthgui.core.privacy import DEFAULT_THRESHOLD, TrainingIndex, check_images, fingerprint, image_files, read_rgb


def blobs(seed: int, size: int = 256) -> np.ndarray:
    """A smooth random 'skin with lesions' picture: different seeds give different images."""
    rng = np.random.default_rng(seed)
    img = np.full((size, size, 3), rng.integers(120, 220, 3), np.float32)
    for _ in range(6):
        centre = tuple(int(c) for c in rng.integers(20, size - 20, 2))
        axes = tuple(int(a) for a in rng.integers(8, size // 3, 2))
        cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, 360, tuple(float(c) for c in rng.integers(20, 160, 3)), -1)
    return np.clip(cv2.GaussianBlur(img, (0, 0), 3), 0, 255).astype(np.uint8)


@pytest.fixture
def training(tmp_path):
    folder = tmp_path / "train"
    folder.mkdir()
    for i in range(30):
        cv2.imwrite(str(folder / f"t{i:02d}.jpg"), blobs(i)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
    return folder


def test_planted_copies_are_flagged_and_new_images_are_not(training):
    index = TrainingIndex.build(image_files(training))
    original = read_rgb(training / "t07.jpg")
    rng = np.random.default_rng(0)
    copy = cv2.resize(original, (256, 256))
    noisy = np.clip(copy.astype(np.float32) + rng.normal(0, 8, copy.shape), 0, 255).astype(np.uint8)
    flipped = copy[:, ::-1]
    exported = [("copy.png", copy), ("noisy.png", noisy), ("flipped.png", flipped)]
    exported += [(f"new{i}.png", blobs(1000 + i)) for i in range(10)]
    report = check_images(exported, index, str(training))
    flagged = {r.image for r in report.flagged}
    assert flagged == {"copy.png", "noisy.png", "flipped.png"}
    assert all(r.nearest_training_image.endswith("t07.jpg") for r in report.flagged)
    new = [r.distance for r in report.rows if r.image.startswith("new")]
    assert min(new) > 2 * DEFAULT_THRESHOLD
    assert any("3 near-copies" in line for line in report.summary_lines())


def test_fingerprint_ignores_brightness_and_size():
    img = blobs(3)
    brighter = np.clip(img.astype(np.float32) * 1.1 + 5, 0, 255).astype(np.uint8)
    a, b = fingerprint(img), fingerprint(cv2.resize(brighter, (500, 500)))
    assert np.sqrt(((a - b) ** 2).mean()) < 0.05
    assert np.sqrt(((fingerprint(blobs(4)) - a) ** 2).mean()) > 0.3


def test_privacy_check_on_an_export_folder(tmp_path, training):
    """End to end: an export whose images include a training image gets it flagged in its card."""
    from helpers import skin_card, write_model
    from synthgui.core.engine import Engine
    from synthgui.core.export import ExportJob, ExportOptions, Sweep, folder_sources, run_privacy_check
    from synthgui.core.masks import disk_label_map, save_mask
    from synthgui.core.models import load_model
    from synthgui.core.networks import GeneratorSpec

    engine = Engine(load_model(write_model(tmp_path / "m", GeneratorSpec(ngf=4), skin_card())), device="cpu", threads=1)
    save_mask(tmp_path / "masks" / "a.png", disk_label_map(256), engine.card)
    out = tmp_path / "out"
    ExportJob.create(out, engine.model, folder_sources(tmp_path / "masks"), Sweep(seeds=2), ExportOptions()).run(engine)
    planted = cv2.resize(read_rgb(training / "t11.jpg"), (256, 256))
    cv2.imwrite(str(out / "images" / "000001.png"), planted[..., ::-1])  # pretend the model memorised it
    report = run_privacy_check(out, training)
    assert [r.image for r in report.flagged] == ["images/000001.png"]
    card = (out / "README.md").read_text()
    assert "1 near-copies flagged" in card and "t11.jpg" in card
    assert json.loads((out / "privacy.json").read_text())["checked"] == 2
    assert (out / "privacy.csv").read_text().count("\n") == 3


def test_isic_distinct_images_are_not_near_copies(shared_data):
    files = sorted((shared_data / "skin-isic2018" / "images").glob("*.jpg"))[:60]
    if len(files) < 10:
        pytest.skip("ISIC images not present")
    index = TrainingIndex.build(files[:40])
    report = check_images(((f.name, read_rgb(f)) for f in files[40:]), index, "isic")
    assert report.flagged == []
