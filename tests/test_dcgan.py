"""Unconditional DCGAN generators: inferred from a bare netG state dict, loaded with a noise card, sampled reproducibly."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from synthgui.core.card import Encoding, ModelCard
from synthgui.core.checkpoints import infer_spec, save_state_dict
from synthgui.core.dcgan import dcgan_output_size, dcgan_spec
from synthgui.core.engine import Engine
from synthgui.core.errors import CheckpointError, SynthguiError
from synthgui.core.models import load_model
from synthgui.core.networks import build_generator

from helpers import randomise, skin_card


def example_netg(nz: int, ngf: int, nc: int) -> nn.Module:
    """The PyTorch DCGAN example's 64x64 generator, written out layer by layer as that example does."""

    class Generator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.main = nn.Sequential(
                nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
                nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh(),
            )

        def forward(self, x):
            return self.main(x)

    return randomise(Generator(), seed=3)


def test_example_netg_is_inferred_and_reproduces_its_outputs():
    ref = example_netg(nz=16, ngf=4, nc=1).eval()
    spec = infer_spec(ref.state_dict())
    assert (spec.kind, spec.input_nc, spec.output_nc, spec.ngf, spec.norm) == ("dcgan", 16, 1, 4, "batch")
    assert spec.dcgan_widths == (16, 32, 16, 8, 4, 1)
    assert dcgan_output_size(spec) == 64 and spec.name == "dcgan_64"
    ours = build_generator(spec).eval()
    ours.load_state_dict(ref.state_dict())
    z = torch.randn(2, 16, 1, 1)
    with torch.no_grad():
        assert torch.equal(ours(z), ref(z))


def test_us_dcgan_shape_and_norm_free_generators_are_inferred():
    wide = dcgan_spec(nz=8, ngf=2, nc=1, size=256)  # US-DCGAN: ngf*32 at 4x4 up to 256x256
    spec = infer_spec(build_generator(wide).state_dict())
    assert spec.dcgan_widths == (8, 64, 32, 16, 8, 4, 2, 1) and dcgan_output_size(spec) == 256
    bare = dcgan_spec(nz=8, ngf=4, nc=3, size=16, norm="none", bias=True)
    spec = infer_spec(build_generator(bare).state_dict())
    assert spec.norm == "none" and spec.dcgan_bias and dcgan_output_size(spec) == 16


def test_broken_dcgan_state_dict_names_the_layer():
    state = OrderedDict(build_generator(dcgan_spec(nz=8, ngf=4, nc=3, size=16)).state_dict())
    state["main.3.weight"] = torch.zeros(5, 4, 4, 4)
    with pytest.raises(CheckpointError, match="main.3"):
        infer_spec(state)


def noise_card(nz: int, **extra) -> ModelCard:
    return ModelCard(name="tiny-dcgan", version="1", domain="skin", encoding=Encoding("noise", noise_dim=nz),
                     resolution=32, default_mode="eval", **extra)


def write_dcgan(tmp_path, card: ModelCard | None, nz: int = 8, size: int = 32, nested: bool = False):
    net = randomise(build_generator(dcgan_spec(nz=nz, ngf=4, nc=3, size=size)), seed=1)
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "netG.pth"
    if nested:  # a training checkpoint that keeps the generator under "netG"
        torch.save({"netG": net.state_dict(), "epoch": torch.tensor(7)}, path)
    else:
        save_state_dict(net, path)
    if card is not None:
        card.weights = path.name
        card.save(path.with_suffix(".json"))
    return path


def test_noise_card_loads_and_seeded_sampling_is_reproducible(tmp_path):
    path = write_dcgan(tmp_path, noise_card(8), nested=True)
    model = load_model(path)
    assert model.card.encoding.kind == "noise" and model.spec.kind == "dcgan" and not model.warnings
    engine = Engine(model, device="cpu", threads=1)
    first = engine.sample(3, seed=10)
    assert first.images.shape == (3, 32, 32, 3) and first.images.dtype == np.uint8
    assert first.seeds == [10, 11, 12]
    again = engine.sample(3, seed=10)
    assert np.array_equal(first.images, again.images)
    alone = engine.sample(1, seed=12)  # an image depends on its seed only, not on the batch
    assert np.array_equal(alone.images[0], first.images[2])
    assert not np.array_equal(first.images[0], first.images[1])
    assert first.images.std() > 1  # not a constant image


def test_cardless_dcgan_gets_a_noise_card_and_a_warning(tmp_path):
    model = load_model(write_dcgan(tmp_path, None, nz=6, size=16))
    assert model.card.encoding.kind == "noise" and model.card.encoding.noise_dim == 6
    assert model.card.resolution == 16 and "unconditional" in model.warnings[0]


def test_mismatched_cards_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="noise_dim 100"):
        load_model(write_dcgan(tmp_path / "a", noise_card(100)))
    with pytest.raises(CheckpointError, match="unconditional"):
        load_model(write_dcgan(tmp_path / "b", skin_card(resolution=32)))


def test_image_models_do_not_sample(tmp_path):
    from helpers import write_model

    engine = Engine(load_model(write_model(tmp_path, card=skin_card())), device="cpu", threads=1)
    with pytest.raises(SynthguiError, match="does not sample"):
        engine.sample(1)


def test_a_dcgan_generates_the_synthetic_half_of_a_study(tmp_path, capsys):
    """Unconditional generators are a sample source for rating studies (US-DCGAN, MelanoGANs)."""
    from PIL import Image

    from synthgui.cli import main
    from synthgui.core.study.generate import generate_images
    from synthgui.core.study.key import load_key

    path = write_dcgan(tmp_path / "model", noise_card(8))
    made = generate_images(str(path), 5, tmp_path / "gen", seed=3)
    assert [g.provenance["seed"] for g in made] == [3, 4, 5, 6, 7]
    again = generate_images(str(path), 2, tmp_path / "gen2", seed=4)
    assert np.array_equal(np.asarray(Image.open(again[0].path)), np.asarray(Image.open(made[1].path)))  # by seed
    real = tmp_path / "real"
    real.mkdir()
    for i in range(4):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(real / f"r{i}.png")
    study = tmp_path / "study"
    assert main(["study", "build", "--real", str(real), "--generate", str(path), "--count", "4", "--out", str(study),
                 "--size", "32", "--blank-ms", "0"]) == 0
    key = load_key(tmp_path / "study.key.json")
    assert sorted(e.truth for e in key.entries) == ["real"] * 4 + ["synthetic"] * 4
    assert main(["study", "build", "--real", str(real), "--generate", str(path), "--count", "4", "--masks", str(real),
                 "--out", str(tmp_path / "s2")]) == 2
    assert "takes no masks" in capsys.readouterr().err


def test_a_dcgan_exports_seeded_samples_without_masks_and_resumes(tmp_path, capsys):
    from PIL import Image

    from synthgui.cli import main
    from synthgui.core.export import manifest

    path = write_dcgan(tmp_path / "model", noise_card(8))
    out = tmp_path / "out"
    assert main(["export", "--model", str(path), "--out", str(out), "--random", "5", "--seed-base", "10",
                 "--skin-tones", "V", "--no-progress"]) == 0
    assert "takes no mask; --skin-tones ignored" in capsys.readouterr().err
    rows = sorted(manifest.read_journal(out), key=lambda r: r["id"])
    assert [r["seed"] for r in rows] == [10, 11, 12, 13, 14] and all(r["mask"] == "" for r in rows)
    assert not any((out / "masks").glob("*")) if (out / "masks").exists() else True
    engine = Engine(load_model(path), device="cpu", threads=1)
    expected = engine.sample(5, seed=10).images
    got = np.stack([np.asarray(Image.open(out / r["image"]).convert("RGB")) for r in rows])
    assert np.array_equal(got, expected)  # export and the engine agree image for image
    (out / rows[2]["image"]).unlink()  # a lost file is made again on resume, the same bytes
    assert main(["export", "--model", str(path), "--out", str(out), "--resume", "--no-progress"]) == 0
    assert np.array_equal(np.asarray(Image.open(out / rows[2]["image"]).convert("RGB")), expected[2])
    assert len(manifest.read_journal(out)) == 5
    assert main(["export", "--model", str(path), "--out", str(tmp_path / "o2"), "--masks", str(tmp_path)]) == 2
    assert "give --random N" in capsys.readouterr().err
