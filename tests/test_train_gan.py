"""DCGAN training: it learns, checkpoints load as noise models, resume is exact, the CLI works end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from synthgui.cli import main
from synthgui.core.engine import Engine
from synthgui.core.errors import SynthguiError
from synthgui.core.models import load_model
from synthgui.core.train_gan import GanConfig, GanTrainer

SIZE = 16


def bright_images(n=8) -> np.ndarray:
    """Light grey squares with a dark bar: far from what an untrained generator gives (mid grey)."""
    img = np.full((n, SIZE, SIZE, 1), 210, np.uint8)
    img[:, 6:10] = 40
    return img


def config(tmp_path, **kw) -> GanConfig:
    base = dict(out_dir=str(tmp_path / "run"), size=SIZE, nz=8, ngf=8, ndf=8, channels=1, batch_size=8,
                iterations=100, lr=1e-3, seed=2, device="cpu", threads=1, preview_every=0, log_every=10,
                checkpoint_every_s=1e9)
    base.update(kw)
    return GanConfig(**base)


def test_training_moves_samples_towards_the_data(tmp_path):
    data = bright_images()
    trainer = GanTrainer(config(tmp_path, iterations=150), data, None)
    noise = torch.randn(32, 8, 1, 1, generator=torch.Generator().manual_seed(0))
    target = data[0, ..., 0].astype(np.float32)
    before = float(np.abs(trainer.samples(noise)[..., 0].astype(np.float32) - target).mean())
    trainer.run()
    after = float(np.abs(trainer.samples(noise)[..., 0].astype(np.float32) - target).mean())
    assert after < 0.6 * before, (before, after)
    log = (tmp_path / "run" / "loss_log.csv").read_text().splitlines()
    assert log[0] == "iteration,loss_G,loss_D,D_real,D_fake,seconds" and len(log) == 1 + 15


def test_checkpoint_loads_as_a_noise_model_and_samples(tmp_path):
    trainer = GanTrainer(config(tmp_path, iterations=3, name="bars"), bright_images(), None)
    trainer.run()
    model = load_model(tmp_path / "run" / "latest_net_G.pth")
    assert model.card.name == "bars" and model.card.encoding.kind == "noise" and model.card.encoding.noise_dim == 8
    assert model.card.resolution == SIZE and not model.warnings
    assert model.card.metrics["training"]["iterations"] == 3
    images = Engine(model, device="cpu").sample(3, seed=5).images
    assert images.shape == (3, SIZE, SIZE, 3)  # greyscale output shown as RGB, like any model's


def test_resume_continues_exactly(tmp_path):
    data = bright_images()
    one = GanTrainer(config(tmp_path / "a", iterations=6), data, None)
    one.run()
    first = GanTrainer(config(tmp_path / "b", iterations=6, max_iterations=3), data, None)
    first.run()
    second = GanTrainer(config(tmp_path / "b", iterations=6), data, None)
    second.load_resume()
    assert second.state.iteration == 3
    second.run()
    for (k, a), (_, b) in zip(one.G.state_dict().items(), second.G.state_dict().items()):
        assert torch.equal(a, b), k
    with pytest.raises(SynthguiError, match="ngf"):
        GanTrainer(config(tmp_path / "b", ngf=4), data, None).load_resume()


def test_cli_trains_and_the_result_exports(tmp_path, capsys):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, img in enumerate(bright_images(3)):
        Image.fromarray(np.repeat(img, 3, axis=-1)).resize((40, 40)).save(folder / f"m{i}.png")
    out = tmp_path / "run"
    args = ["train-gan", "--images", str(folder), "--out", str(out), "--size", "16", "--channels", "1", "--nz", "8",
            "--ngf", "4", "--ndf", "4", "--batch-size", "4", "--iterations", "4", "--device", "cpu", "--threads", "1",
            "--name", "cli-bars"]
    assert main(args + ["--max-iterations", "2"]) == 0
    assert main(args + ["--resume"]) == 0
    assert "done: 4 iterations" in capsys.readouterr().out
    assert (out / "preview_latest.png").is_file()
    assert main(["export", "--model", str(out / "latest_net_G.pth"), "--out", str(tmp_path / "set"), "--random", "2",
                 "--device", "cpu"]) == 0
    assert len(list((tmp_path / "set").glob("**/*.png"))) >= 2
    assert main(["train-gan", "--images", str(folder), "--out", str(out), "--size", "24"]) != 0


def test_diffaugment_shifts_and_cuts_out_and_passes_gradients():
    from synthgui.core.train_gan import diff_augment

    x = torch.linspace(-1, 1, 2 * 16 * 16).reshape(2, 1, 16, 16).requires_grad_(True)
    y = diff_augment(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and not torch.equal(y, x)
    assert all(int((img == 0).sum()) >= 4 * 4 for img in y)  # a cut-out square, at worst a corner quarter of it
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # G learns through the augmentation
    same = diff_augment(x.detach(), torch.Generator().manual_seed(0))
    assert torch.equal(same, y.detach())  # seeded: a resumed run augments the same way


def test_diffaugment_run_resumes_exactly(tmp_path):
    data = bright_images()
    one = GanTrainer(config(tmp_path / "a", iterations=4, diffaugment=True), data, None)
    one.run()
    first = GanTrainer(config(tmp_path / "b", iterations=4, max_iterations=2, diffaugment=True), data, None)
    first.run()
    second = GanTrainer(config(tmp_path / "b", iterations=4, diffaugment=True), data, None)
    second.load_resume()
    second.run()
    for (k, a), (_, b) in zip(one.G.state_dict().items(), second.G.state_dict().items()):
        assert torch.equal(a, b), k
