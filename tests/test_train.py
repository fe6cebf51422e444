"""pix2pix training: learning happens, checkpoints are reference state dicts with a card, resume is exact."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from PIL import Image

from synthgui.cli import main
from synthgui.core.datasets import PairSet, SampleMaker, load_aligned, load_pair_folders
from synthgui.core.networks import GeneratorSpec, build_generator
from synthgui.core.prepare import skin_card_template, skin_semantic_map
from synthgui.core.skin_tones import FITZPATRICK_LAB
from synthgui.core.train import TrainConfig, Trainer

SIZE = 64
SPEC = GeneratorSpec(ngf=4, num_downs=6)


def tiny_pairs(n=4, seed=0) -> PairSet:
    """Masks are discs; the 'real' image is a fixed colour function of the mask (learnable quickly)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    masks, images = [], []
    for i in range(n):
        cy, cx, r = rng.integers(20, 44), rng.integers(20, 44), rng.integers(8, 16)
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        m = np.zeros((SIZE, SIZE, 3), np.uint8)
        m[disc] = 255
        img = np.full((SIZE, SIZE, 3), (200, 150, 130), np.uint8)
        img[disc] = (80, 40, 30)
        masks.append(m)
        images.append(img)
    return PairSet([f"p{i}" for i in range(n)], np.stack(masks), np.stack(images))


def config(tmp_path, **kw) -> TrainConfig:
    base = dict(out_dir=str(tmp_path / "run"), name="tiny", spec=SPEC, ndf=8, epochs=50, epochs_decay=50,
                lr=2e-3, seed=1, device="cpu", threads=1, preview_every=0, log_every=5, checkpoint_every_s=1e9,
                flip=False)
    base.update(kw)
    return TrainConfig(**base)


def l1_of(trainer: Trainer, pairs: PairSet) -> float:
    net = copy.deepcopy(trainer.G).train()
    torch.manual_seed(0)
    a, b = SampleMaker(pairs, None, 3).batch(list(range(len(pairs))), None)
    with torch.no_grad():
        return float((net(torch.from_numpy(a)) - torch.from_numpy(b)).abs().mean())


def test_a_few_iterations_lower_the_l1_loss(tmp_path):
    pairs = tiny_pairs()
    trainer = Trainer(config(tmp_path, max_iterations=40), pairs, None)
    before = l1_of(trainer, pairs)
    trainer.run()
    after = l1_of(trainer, pairs)
    assert after < 0.6 * before
    log = (tmp_path / "run" / "loss_log.csv").read_text().splitlines()
    assert log[0].startswith("iteration,epoch,G_GAN,G_L1") and len(log) == 1 + 40 // 5


def test_checkpoint_is_a_reference_state_dict_that_load_model_reads(tmp_path):
    pairs = tiny_pairs()
    card = skin_card_template("tiny-skin")
    card.resolution = SIZE
    card.metrics = {"heldout_pairs": {"l1": 0.01}}  # as a shipped card used as a template carries
    skin = np.array(FITZPATRICK_LAB["III"], np.float32)
    pairs.masks[:] = np.stack([skin_semantic_map((m[..., 0] > 0).astype(np.uint8), skin, card) for m in pairs.masks])
    trainer = Trainer(config(tmp_path, max_iterations=3, retone_fraction=0.5), pairs, card, pairs)
    trainer.run()
    run = tmp_path / "run"
    state = torch.load(run / "latest_net_G.pth", map_location="cpu", weights_only=True)
    assert list(state) == list(build_generator(SPEC).state_dict())  # exactly the reference keys, in order
    from synthgui.core.models import load_model

    model = load_model(run / "latest_net_G.pth")
    assert model.card.name == "tiny-skin" and model.card.uses_skin_tone and not model.card.generic
    assert model.spec.ngf == 4 and model.spec.num_downs == 6
    assert model.card.metrics["training"]["iterations"] == 3
    assert "heldout_pairs" not in model.card.metrics  # another model's figures never carry over


def test_resume_continues_exactly(tmp_path):
    pairs = tiny_pairs(5)
    kw = dict(epoch_size=3, epochs=2, epochs_decay=2, flip=True)  # epochs end mid-run: order + lr schedule resume
    one = Trainer(config(tmp_path / "a", max_iterations=9, **kw), pairs, None)
    one.run()
    first = Trainer(config(tmp_path / "b", max_iterations=4, **kw), pairs, None)
    first.run()
    second = Trainer(config(tmp_path / "b", max_iterations=5, **kw), pairs, None)
    second.load_resume()
    assert second.state.iteration == 4
    second.run()
    assert second.state.iteration == one.state.iteration == 9
    for (k, a), (_, b) in zip(one.G.state_dict().items(), second.G.state_dict().items()):
        assert torch.equal(a, b), k
    for (k, a), (_, b) in zip(one.D.state_dict().items(), second.D.state_dict().items()):
        assert torch.equal(a, b), k


def test_learning_rate_schedule_is_constant_then_linear(tmp_path):
    t = Trainer(config(tmp_path, epochs=2, epochs_decay=3, lr=1.0), tiny_pairs(), None)
    assert [round(t.lr_at(e), 3) for e in range(5)] == [1.0, 1.0, 0.75, 0.5, 0.25]


def write_folders(root, pairs: PairSet):
    (root / "masks").mkdir(parents=True)
    (root / "images").mkdir()
    for name, m, i in zip(pairs.names, pairs.masks, pairs.images):
        Image.fromarray(m).save(root / "masks" / f"{name}.png")
        Image.fromarray(i).save(root / "images" / f"{name}.png")


def test_aligned_layout_splits_a_and_b(tmp_path):
    pairs = tiny_pairs(2)
    tmp_path.joinpath("ab").mkdir()
    for name, m, i in zip(pairs.names, pairs.masks, pairs.images):
        Image.fromarray(np.concatenate([m, i], axis=1)).save(tmp_path / "ab" / f"{name}.png")
    loaded = load_aligned(tmp_path / "ab", SIZE)
    assert np.array_equal(loaded.masks, pairs.masks) and np.array_equal(loaded.images, pairs.images)


def test_cli_train_then_resume(tmp_path, capsys):
    write_folders(tmp_path / "data", tiny_pairs(3))
    out = tmp_path / "run"
    args = ["train", "--masks", str(tmp_path / "data/masks"), "--images", str(tmp_path / "data/images"),
            "--out", str(out), "--ngf", "4", "--ndf", "4", "--resolution", "128", "--netG", "unet_128",
            "--epochs", "1", "--epochs-decay", "1", "--device", "cpu", "--threads", "1", "--preview-every", "2"]
    assert main(args + ["--max-iterations", "2"]) == 0
    assert (out / "latest_net_G.pth").is_file() and (out / "resume.pt").is_file()
    assert (out / "preview_latest.png").is_file()
    assert main(args + ["--resume"]) == 0
    assert "done: 6 iterations" in capsys.readouterr().out


def test_cli_train_refuses_unpaired_folders(tmp_path, capsys):
    write_folders(tmp_path / "data", tiny_pairs(2))
    (tmp_path / "data/images/p0.png").unlink()
    code = main(["train", "--masks", str(tmp_path / "data/masks"), "--images", str(tmp_path / "data/images"),
                 "--out", str(tmp_path / "run")])
    assert code == 2
    assert "no partner" in capsys.readouterr().err


def test_resume_without_a_run_is_a_clear_error(tmp_path, capsys):
    write_folders(tmp_path / "data", tiny_pairs(2))
    code = main(["train", "--masks", str(tmp_path / "data/masks"), "--images", str(tmp_path / "data/images"),
                 "--out", str(tmp_path / "run"), "--ngf", "4", "--resume", "--device", "cpu"])
    assert code == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_pair_folders_resize_to_the_training_resolution(tmp_path):
    write_folders(tmp_path / "data", tiny_pairs(2))
    loaded = load_pair_folders(tmp_path / "data/masks", tmp_path / "data/images", 32)
    assert loaded.masks.shape == (2, 32, 32, 3)
    assert set(np.unique(loaded.masks).tolist()) <= {0, 255}  # masks resized nearest: no new colours


def test_jitter_crops_mask_and_image_at_the_same_place():
    """Scale-and-crop jitter keeps each real pixel under its own mask label, and adds no classes."""
    pairs = tiny_pairs(1)
    labels = (pairs.masks[0][..., 0] > 0).astype(np.uint8)
    maker = SampleMaker(PairSet(["p"], labels[None], pairs.images), None, 3, flip=False, load_size=SIZE + 12)
    maker.pairs.masks = np.repeat(labels[None, ..., None] * 255, 3, axis=-1).astype(np.uint8)
    rng = np.random.default_rng(3)
    moved = 0
    for _ in range(6):
        a, b = maker(0, rng)
        lesion = a[0] > 0
        assert set(np.unique(a[0])) <= {-1.0, 1.0}  # nearest neighbour: still a binary mask
        # the real image is dark exactly where the mask says lesion (bicubic edges aside)
        inside, outside = b[0][lesion], b[0][~lesion]
        assert np.median(inside) < 0 < np.median(outside)
        moved += not np.array_equal(lesion, labels > 0)
    assert moved >= 5  # the crop really moves
    same = SampleMaker(maker.pairs, None, 3, flip=False, load_size=0)(0, rng)
    assert np.array_equal(same[0][0] > 0, labels > 0)


def test_init_from_starts_the_generator_from_given_weights(tmp_path):
    from synthgui.core.checkpoints import save_state_dict
    from synthgui.core.errors import SynthguiError

    source = build_generator(SPEC)
    torch.nn.init.constant_(source.model.model[0].weight, 0.125)
    save_state_dict(source, tmp_path / "start.pth")
    trainer = Trainer(config(tmp_path, init_from=str(tmp_path / "start.pth")), tiny_pairs(), None)
    for (k, a), (_, b) in zip(source.state_dict().items(), trainer.G.state_dict().items()):
        assert torch.equal(a, b), k
    save_state_dict(build_generator(GeneratorSpec(ngf=8, num_downs=6)), tmp_path / "wide.pth")
    with pytest.raises(SynthguiError, match="shape"):
        Trainer(config(tmp_path, init_from=str(tmp_path / "wide.pth")), tiny_pairs(), None)


def test_init_d_from_continues_a_runs_discriminator(tmp_path):
    from synthgui.core.errors import SynthguiError

    first = Trainer(config(tmp_path, max_iterations=2), tiny_pairs(), None)
    first.run()
    saved = tmp_path / "run" / "latest_net_D.pth"
    assert saved.exists()
    second = Trainer(config(tmp_path, out_dir=str(tmp_path / "next"), init_d_from=str(saved)), tiny_pairs(), None)
    for (k, a), (_, b) in zip(first.D.state_dict().items(), second.D.state_dict().items()):
        assert torch.equal(a, b), k
    fresh = Trainer(config(tmp_path, out_dir=str(tmp_path / "fresh")), tiny_pairs(), None)
    assert not all(torch.equal(a, b) for a, b in zip(first.D.state_dict().values(), fresh.D.state_dict().values()))
    with pytest.raises(SynthguiError, match="shape"):
        Trainer(config(tmp_path, out_dir=str(tmp_path / "wide"), ndf=16, init_d_from=str(saved)), tiny_pairs(), None)


def test_cli_load_size_defaults_to_the_reference_jitter(tmp_path):
    write_folders(tmp_path / "data", tiny_pairs(2))
    out = tmp_path / "run"
    args = ["train", "--masks", str(tmp_path / "data/masks"), "--images", str(tmp_path / "data/images"),
            "--out", str(out), "--ngf", "4", "--ndf", "4", "--resolution", "128", "--netG", "unet_128",
            "--epochs", "1", "--epochs-decay", "0", "--device", "cpu", "--threads", "1", "--max-iterations", "1"]
    assert main(args) == 0
    saved = torch.load(out / "resume.pt", map_location="cpu", weights_only=True)
    import json

    assert json.loads(saved["config"])["load_size"] == 143  # 128 * 286 / 256
    assert main(args + ["--load-size", "100"]) != 0
