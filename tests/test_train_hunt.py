"""Bugs found by hunting in training, pair preparation and geometry proposals: each test failed before its fix."""

from __future__ import annotations


import numpy as np
import pytest
from PIL import Image

from synthgui.cli import main
from synthgui.core.errors import SynthguiError
from synthgui.core.train import Trainer
from tests.test_train import config, tiny_pairs, write_folders


def train_args(tmp_path, out, *extra: str) -> list[str]:
    """A tiny CLI training run (64 px, ResNet, ngf 4) on the pairs ``write_folders`` put in ``tmp_path/data``."""
    return ["train", "--masks", str(tmp_path / "data/masks"), "--images", str(tmp_path / "data/images"),
            "--out", str(out), "--ngf", "4", "--ndf", "4", "--resolution", "64", "--netG", "resnet_6blocks",
            "--epochs", "1", "--epochs-decay", "1", "--device", "cpu", "--threads", "1", "--preview-every", "0", *extra]


def gan_args(tmp_path, out, *extra: str) -> list[str]:
    folder = tmp_path / "imgs"
    if not folder.is_dir():
        folder.mkdir()
        for i in range(2):
            Image.fromarray(np.full((20, 20, 3), 100 + 50 * i, np.uint8)).save(folder / f"{i}.png")
    return ["train-gan", "--images", str(folder), "--out", str(out), "--size", "16", "--nz", "8", "--ngf", "4",
            "--ndf", "4", "--batch-size", "2", "--iterations", "2", "--device", "cpu", "--threads", "1",
            "--preview-every", "0", *extra]


# --- training ------------------------------------------------------------------------------------


def test_a_run_without_a_card_template_writes_a_card_with_its_name_and_resolution(tmp_path):
    """Before: no card was written, so the app loaded the model as 'latest_net_G' at 256 px with a
    'no model card' warning, although it was trained at 64 px under --name."""
    from synthgui.core.models import load_model

    write_folders(tmp_path / "data", tiny_pairs(2))
    out = tmp_path / "run"
    assert main(train_args(tmp_path, out, "--name", "my-model")) == 0
    model = load_model(out / "latest_net_G.pth")
    assert model.card.name == "my-model" and model.card.resolution == 64 and not model.warnings
    assert model.card.encoding.kind == "rgb"  # the mask image went in as RGB, as it does when rendering
    assert model.card.metrics["training"]["iterations"] == 4


def test_snapshots_load_with_the_runs_card(tmp_path):
    """Before: iter_NNNNNN_net_G.pth had no card beside it, so a skin model's snapshot loaded as a generic RGB model."""
    from synthgui.core.models import load_model
    from synthgui.core.prepare import skin_card_template, skin_semantic_map
    from synthgui.core.skin_tones import FITZPATRICK_LAB

    pairs = tiny_pairs()
    card = skin_card_template("snap-skin")
    card.resolution = 64
    skin = np.array(FITZPATRICK_LAB["III"], np.float32)
    pairs.masks[:] = np.stack([skin_semantic_map((m[..., 0] > 0).astype(np.uint8), skin, card) for m in pairs.masks])
    Trainer(config(tmp_path, max_iterations=2, snapshot_every=2), pairs, card).run()
    model = load_model(tmp_path / "run" / "iter_000002_net_G.pth")
    assert model.card.name == "snap-skin" and model.card.uses_skin_tone and not model.warnings
    assert model.card.metrics["training"]["iterations"] == 2


def test_a_new_run_refuses_a_folder_that_holds_another_run(tmp_path, capsys):
    """Before: a second run in the same --out silently overwrote the first and appended to its loss log
    (the same iterations twice)."""
    write_folders(tmp_path / "data", tiny_pairs(2))
    out = tmp_path / "run"
    assert main(train_args(tmp_path, out)) == 0
    log = (out / "loss_log.csv").read_text()
    capsys.readouterr()
    assert main(train_args(tmp_path, out)) == 2
    assert "--resume" in capsys.readouterr().err
    assert (out / "loss_log.csv").read_text() == log
    gan_out = tmp_path / "gan"
    assert main(gan_args(tmp_path, gan_out)) == 0
    capsys.readouterr()
    assert main(gan_args(tmp_path, gan_out)) == 2
    assert "--resume" in capsys.readouterr().err


def test_an_unusable_out_folder_is_a_clear_error(tmp_path, capsys):
    """Before: FileExistsError / NotADirectoryError tracebacks."""
    write_folders(tmp_path / "data", tiny_pairs(2))
    (tmp_path / "a-file").write_text("x")
    for out in (tmp_path / "a-file", tmp_path / "a-file" / "run"):
        assert main(train_args(tmp_path, out)) == 2
        assert "a-file" in capsys.readouterr().err
        assert main(gan_args(tmp_path, out)) == 2
        assert "a-file" in capsys.readouterr().err


def test_resume_with_another_discriminator_width_is_a_clear_error(tmp_path, capsys):
    """Before: a RuntimeError traceback listing every size mismatch of D."""
    write_folders(tmp_path / "data", tiny_pairs(2))
    out = tmp_path / "run"
    assert main(train_args(tmp_path, out, "--max-iterations", "1")) == 0
    capsys.readouterr()
    args = train_args(tmp_path, out, "--resume")
    args[args.index("--ndf") + 1] = "8"
    assert main(args) == 2
    assert "ndf" in capsys.readouterr().err


def test_resume_after_the_training_pairs_changed_is_a_clear_error(tmp_path, capsys):
    """Before: an IndexError traceback mid-run (the saved epoch order points at pairs that are gone)."""
    write_folders(tmp_path / "data", tiny_pairs(3))
    out = tmp_path / "run"
    assert main(train_args(tmp_path, out, "--max-iterations", "1")) == 0
    for name in ("p1", "p2"):
        (tmp_path / f"data/masks/{name}.png").unlink()
        (tmp_path / f"data/images/{name}.png").unlink()
    capsys.readouterr()
    assert main(train_args(tmp_path, out, "--resume")) == 2
    assert "pairs" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--batch-size", "--ngf", "--ndf"])
def test_sizes_below_one_are_clear_errors(tmp_path, capsys, option):
    """Before: --batch-size 0 raised ZeroDivisionError (train) or ValueError (train-gan); ngf/ndf 0 a torch error."""
    write_folders(tmp_path / "data", tiny_pairs(2))
    args = train_args(tmp_path, tmp_path / "run")
    if option in args:
        args[args.index(option) + 1] = "0"
    else:
        args += [option, "0"]
    assert main(args) == 2
    assert option in capsys.readouterr().err
    args = gan_args(tmp_path, tmp_path / "gan")
    args[args.index(option) + 1] = "0"
    assert main(args) == 2
    assert option in capsys.readouterr().err


# --- preparing pairs -----------------------------------------------------------------------------


def _skin_raw(root, mask: np.ndarray, image: np.ndarray, name: str = "ISIC_0000001") -> None:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    Image.fromarray(image).save(root / "images" / f"{name}.png")
    Image.fromarray(mask).save(root / "masks" / f"{name}_segmentation.png")


def _lesion_image(h: int, w: int, box: tuple[slice, slice]) -> tuple[np.ndarray, np.ndarray]:
    image = np.full((h, w, 3), (200, 160, 140), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    mask[box] = 255
    image[mask > 0] = (90, 55, 40)
    return image, mask


def test_prepare_reads_masks_stored_as_class_ids_0_and_1(tmp_path):
    """Before: a 0/1 mask was thresholded at 127, so every pair was prepared without its lesion."""
    image, mask = _lesion_image(96, 96, (slice(30, 60), slice(30, 60)))
    _skin_raw(tmp_path / "raw", (mask > 0).astype(np.uint8), image)
    assert main(["prepare", "skin", "--data", str(tmp_path / "raw"), "--out", str(tmp_path / "o"), "--size", "64",
                 "--val-fraction", "0"]) == 0
    labels = np.asarray(Image.open(tmp_path / "o/train/labels/ISIC_0000001.png"))
    assert 0.05 < (labels > 0).mean() < 0.15  # the 30 x 30 lesion of a 96 x 96 image


def test_prepare_scales_a_mask_of_another_size_onto_its_image(tmp_path):
    """Before: a half-resolution mask of a non-square image was cropped with the image's pixel
    coordinates, so the lesion landed beside the real one."""
    image, mask = _lesion_image(96, 160, (slice(30, 60), slice(100, 130)))
    small = np.asarray(Image.fromarray(mask).resize((80, 48), Image.NEAREST))
    _skin_raw(tmp_path / "raw", small, image)
    assert main(["prepare", "skin", "--data", str(tmp_path / "raw"), "--out", str(tmp_path / "o"), "--size", "64",
                 "--val-fraction", "0"]) == 0
    labels = np.asarray(Image.open(tmp_path / "o/train/labels/ISIC_0000001.png")) > 0
    dark = np.asarray(Image.open(tmp_path / "o/train/images/ISIC_0000001.png"))[..., 0] < 150
    assert labels.sum() > 0 and (labels & dark).sum() >= 0.8 * labels.sum()


def test_prepare_skips_a_mask_whose_shape_does_not_fit_its_image(tmp_path, capsys):
    """A mask of another aspect ratio than its image belongs to another picture: skipped and named,
    not stretched onto it (before, it was stretched silently)."""
    image, mask = _lesion_image(96, 96, (slice(30, 60), slice(30, 60)))
    _skin_raw(tmp_path / "raw", mask, image)
    Image.fromarray(image).save(tmp_path / "raw/images/ISIC_0000002.png")
    Image.fromarray(mask[:, :40]).save(tmp_path / "raw/masks/ISIC_0000002_segmentation.png")
    assert main(["prepare", "skin", "--data", str(tmp_path / "raw"), "--out", str(tmp_path / "o"), "--size", "64",
                 "--val-fraction", "0"]) == 0
    assert "skipped ISIC_0000002" in capsys.readouterr().err
    assert not (tmp_path / "o/train/masks/ISIC_0000002.png").exists()


# --- geometry proposals --------------------------------------------------------------------------


@pytest.mark.parametrize("domain", ["skin", "fundus", "mri"])
@pytest.mark.parametrize("end", ["minimum", "maximum"])
def test_every_value_the_propose_form_offers_is_accepted(qtbot, domain, end):
    """Before: the form offered multipliers up to 5 (the generator takes 0 to 4) and MRI depths of 0 to 5
    (the generator needs them inside 0..1), so 'No proposal' errors followed the form's own limits."""
    from PySide6.QtWidgets import QDoubleSpinBox, QSpinBox

    from synthgui.core.geometry import propose
    from synthgui.gui.propose_dialog import ProposeDialog

    dialog = ProposeDialog(domain)
    qtbot.addWidget(dialog)
    for row in dialog.rows:
        if row.fit is not None:
            row.fit.setChecked(False)
        boxes = getattr(row, "parts", [row.editor])
        for box in boxes:
            if isinstance(box, (QSpinBox, QDoubleSpinBox)):
                box.setValue(getattr(box, end)())
    if domain == "mri":  # the depths must also be in order: the form's own defaults are
        rows = {row.name: row for row in dialog.rows}
        rows["enhancing_depth"].editor.setValue(rows["enhancing_depth"].editor.minimum())
        rows["necrosis_depth"].editor.setValue(rows["necrosis_depth"].editor.maximum())
    mask = propose(domain, 32, 3, **dialog.controls())
    assert mask.shape == (32, 32)


def test_mri_depths_matter_only_for_nested_regions():
    """Before: depths out of order were refused even with nested regions off, where they are not used
    (the Propose form always sends them)."""
    from synthgui.core.geometry import propose

    plain = propose("mri", 32, 1, nested=False, enhancing_depth=0.9, necrosis_depth=0.5)
    assert np.array_equal(plain, propose("mri", 32, 1))
    with pytest.raises(SynthguiError, match="nested"):
        propose("mri", 32, 1, nested=True, enhancing_depth=0.9, necrosis_depth=0.5)


@pytest.mark.parametrize("domain,name", [("skin", "centre"), ("mri", "tumour_centre")])
@pytest.mark.parametrize("text", ["0.5", "0.5,0.5,0.5", "1.5,0.5", "-0.2,0.5"])
def test_a_centre_must_be_two_fractions_of_the_image(tmp_path, domain, name, text):
    """Before: one number gave an IndexError traceback, three were taken silently, and a centre off the
    image gave an empty mask."""
    from synthgui.core.geometry import parse_controls, propose

    with pytest.raises(SynthguiError, match=name.replace("_", " ")):
        parse_controls(domain, [f"{name}={text}"])
    with pytest.raises(SynthguiError, match=name.replace("_", " ")):
        propose(domain, 32, 1, **{name: tuple(float(v) for v in text.split(","))})
    assert propose(domain, 32, 1, **{name: (0.0, 1.0)}).shape == (32, 32)  # the edges are fine


def test_a_negative_seed_is_a_clear_error(tmp_path, capsys):
    """Before: ValueError('expected non-negative integer') from numpy, e.g. a traceback from
    'export --random N --sample-seed -1'."""
    from synthgui.core.geometry import propose
    from tests.helpers import skin_card, write_model
    from synthgui.core.networks import GeneratorSpec

    for domain in ("skin", "fundus", "mri"):
        with pytest.raises(SynthguiError, match="seed"):
            propose(domain, 32, -1)
    weights = write_model(tmp_path / "m", GeneratorSpec(ngf=4, num_downs=6), skin_card(resolution=64))
    assert main(["export", "--model", str(weights), "--out", str(tmp_path / "set"), "--random", "1",
                 "--sample-seed", "-1", "--device", "cpu"]) == 2
    assert "seed" in capsys.readouterr().err


def test_16_bit_grey_training_images_keep_their_contrast(tmp_path):
    """Before: 16-bit grey images (MRI, X-ray and ultrasound exports) were clipped at 255, so the
    generator was trained on white squares (99.6% of this ramp's pixels)."""
    from synthgui.core.datasets import load_pair_folders
    from synthgui.core.train_gan import load_image_folder

    ramp = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)  # 0 .. 65520
    for sub in ("masks", "images"):
        (tmp_path / sub).mkdir()
    Image.fromarray(ramp).save(tmp_path / "images" / "a.png")
    Image.fromarray(np.where(ramp > 30000, 255, 0).astype(np.uint8)).save(tmp_path / "masks" / "a.png")
    pairs = load_pair_folders(tmp_path / "masks", tmp_path / "images", 64)
    assert (pairs.images[0] == 255).mean() < 0.05 and pairs.images[0, 32, :, 0].std() > 0
    assert abs(int(pairs.images[0, 32, 0, 0]) - 128) < 4  # mid-ramp is mid-grey
    assert set(np.unique(pairs.masks).tolist()) == {0, 255}
    grey = load_image_folder(tmp_path / "images", 32, 1)
    assert (grey == 255).mean() < 0.05


def _log_rows(path) -> list[dict]:
    import csv

    with open(path, newline="") as fh:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(fh)]


def test_an_interrupted_run_resumes_its_loss_log_exactly(tmp_path):
    """Before: the losses since the last log row were dropped at a stop, so the first row after a
    resume averaged fewer iterations than the same row of an uninterrupted run."""
    from synthgui.core.train_gan import GanTrainer
    from tests.test_train_gan import bright_images, config as gan_config

    pairs = tiny_pairs(3)
    kw = dict(log_every=4, epochs=2, epochs_decay=1)
    straight = Trainer(config(tmp_path / "a", **kw), pairs, None)
    straight.run()
    first = Trainer(config(tmp_path / "b", max_iterations=3, **kw), pairs, None)
    first.run()
    second = Trainer(config(tmp_path / "b", **kw), pairs, None)
    second.load_resume()
    second.run()
    assert _log_rows(tmp_path / "b/run/loss_log.csv") == _log_rows(tmp_path / "a/run/loss_log.csv")

    data = bright_images()
    GanTrainer(gan_config(tmp_path / "c", iterations=6, log_every=4), data).run()
    GanTrainer(gan_config(tmp_path / "d", iterations=6, log_every=4, max_iterations=3), data).run()
    resumed = GanTrainer(gan_config(tmp_path / "d", iterations=6, log_every=4), data)
    resumed.load_resume()
    resumed.run()
    assert _log_rows(tmp_path / "d/run/loss_log.csv") == _log_rows(tmp_path / "c/run/loss_log.csv")
