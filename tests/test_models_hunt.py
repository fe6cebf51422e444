"""A researcher's own checkpoints and cards: what loads, what is refused, and how clearly."""

import json
import warnings
from collections import OrderedDict

import numpy as np
import pytest
import torch
from PIL import Image

from synthgui.cli import main
from synthgui.core.card import Encoding, LabelClass, ModelCard
from synthgui.core.encoding import encode
from synthgui.core.engine import Engine, select_device
from synthgui.core.errors import CheckpointError, SynthguiError
from synthgui.core.masks import load_mask
from synthgui.core.models import load_model
from synthgui.core.networks import GeneratorSpec, NLayerDiscriminator, build_generator

from helpers import randomise, skin_card, write_model
from reference_oracle import unet_forward


def _edit_card(weights, **fields):
    card_path = weights.with_suffix(".json")
    data = json.loads(card_path.read_text())
    data.update(fields)
    card_path.write_text(json.dumps(data))


def test_a_reference_checkpoint_folder_loads_the_generator_not_the_discriminator(tmp_path):
    """The reference writes latest_net_G.pth and latest_net_D.pth side by side; a folder means G."""
    net = randomise(build_generator(GeneratorSpec(ngf=4)))
    torch.save(net.state_dict(), tmp_path / "latest_net_G.pth")
    torch.save(NLayerDiscriminator(6, 4).state_dict(), tmp_path / "latest_net_D.pth")
    torch.save(net.state_dict(), tmp_path / "5_net_G.pth")
    model = load_model(tmp_path)
    assert model.entry.weights.name == "latest_net_G.pth"


def test_a_batchnorm_checkpoint_from_before_num_batches_tracked_loads(tmp_path):
    """Checkpoints saved by PyTorch < 0.4.1 (the reference's pretrained pix2pix models) have no
    ``num_batches_tracked``; the reference loads them (PyTorch fills the counter in)."""
    net = randomise(build_generator(GeneratorSpec(ngf=4)))
    state = OrderedDict((k, v) for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked"))
    torch.save(state, tmp_path / "latest_net_G.pth")
    model = load_model(tmp_path / "latest_net_G.pth")
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    ours = Engine(model, device="cpu", threads=1).forward(x, "eval", None)
    theirs = unet_forward(state, x, 8, "batch", True, "eval")
    assert torch.allclose(ours, theirs, atol=1e-5, rtol=0)


@pytest.mark.parametrize("architecture", [{"netG": "resnet_9blocks"}, {"netG": "unet_128"}, "resnet_9blocks"])
def test_a_card_that_names_another_generator_than_the_weights_is_refused(tmp_path, architecture):
    path = write_model(tmp_path, GeneratorSpec(ngf=4), ModelCard(name="x", architecture=architecture))
    with pytest.raises(CheckpointError, match="unet_256"):
        load_model(path)


def test_a_card_that_names_the_weights_own_generator_loads(tmp_path):
    for i, arch in enumerate([{"netG": "unet_256", "ngf": 4}, "unet_256", "inferred"]):
        path = write_model(tmp_path / str(i), GeneratorSpec(ngf=4), ModelCard(name="x", architecture=arch))
        assert load_model(path).spec.name == "unet_256"
    path = write_model(tmp_path / "r", GeneratorSpec(kind="resnet", ngf=4, n_blocks=6), ModelCard(name="x", architecture={"netG": "resnet_6blocks"}))
    assert load_model(path).spec.n_blocks == 6


@pytest.mark.parametrize("architecture", [{"ngf": "4"}, {"ngf": 4.5}, {"dropout": "false"}, {"num_downs": None}])
def test_card_architecture_fields_of_the_wrong_type_are_one_line_errors(tmp_path, architecture, capsys):
    path = write_model(tmp_path, GeneratorSpec(ngf=4), ModelCard(name="x", architecture=architecture))
    with pytest.raises(SynthguiError, match=next(iter(architecture))):
        load_model(path)
    assert main(["models", "show", str(path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("spec,resolution", [
    (GeneratorSpec(kind="resnet", ngf=4, n_blocks=2), 4),
    (GeneratorSpec(ngf=4), 0),
    (GeneratorSpec(ngf=4), -256),
])
def test_a_card_resolution_the_generator_cannot_run_at_is_refused_when_loading(tmp_path, spec, resolution, capsys):
    path = write_model(tmp_path, spec, skin_card(resolution=resolution))
    with pytest.raises(SynthguiError, match="resolution"):
        load_model(path)
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "m.png")
    assert main(["render", "--model", str(path), "--mask", str(tmp_path / "m.png"), "--out", str(tmp_path / "o.png")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_the_smallest_resnet_resolution_renders(tmp_path):
    path = write_model(tmp_path, GeneratorSpec(kind="resnet", ngf=4, n_blocks=2), skin_card(resolution=8))
    engine = Engine(load_model(path), device="cpu", threads=1)
    for mode in ("reference", "deterministic", "eval"):
        assert engine.render(np.zeros((8, 8), np.uint8), mode=mode).shape == (8, 8, 3)


def test_one_channel_palette_grey_is_pil_l():
    """The reference turns a 1-channel input to grey with PIL's 'L' conversion (Grayscale(1))."""
    colours = [(0, 0, 0), (176, 30, 169), (195, 19, 53), (144, 84, 124), (253, 177, 61)]
    card = ModelCard("mri", encoding=Encoding("palette"), classes=[LabelClass(i, f"c{i}", c) for i, c in enumerate(colours)], resolution=5)
    lm = np.tile(np.arange(5, dtype=np.uint8), (5, 1))
    ours = np.round((encode(lm, card, input_nc=1)[0, 0] + 1) * 127.5).astype(int)
    pil = np.asarray(Image.fromarray(np.array(colours, np.uint8)[None]).convert("L"))[0].astype(int)
    assert ours.tolist() == pil.tolist()


@pytest.mark.parametrize("encoding,input_nc", [(Encoding("onehot"), 3), (Encoding("channels", channels=[[2], [1, 2]]), 2)])
def test_onehot_and_channels_encodings_refuse_class_ids_the_card_does_not_know(encoding, input_nc):
    classes = [LabelClass(0, "outside", (0, 0, 0)), LabelClass(1, "retina", (128, 128, 128)), LabelClass(2, "vessel", (255, 255, 255))]
    card = ModelCard("m", encoding=encoding, classes=classes, resolution=2)
    with pytest.raises(SynthguiError, match=r"class ids \[7\]"):
        encode(np.array([[0, 1], [2, 7]], np.uint8), card, input_nc=input_nc)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # making the archive: torch.jit is deprecated
def test_a_torchscript_archive_is_refused_as_code_in_one_line(tmp_path, capsys):
    scripted = torch.jit.script(build_generator(GeneratorSpec(ngf=4, norm="none")))
    torch.jit.save(scripted, str(tmp_path / "g.pt"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(CheckpointError, match="refused to load") as err:
            load_model(tmp_path / "g.pt")
    assert "TorchScript" in str(err.value) and "weights_only" not in str(err.value)
    assert main(["models", "show", str(tmp_path / "g.pt")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("device", ["xpu", "meta", "ipu"])
def test_a_device_synthgui_does_not_run_on_is_a_one_line_error(tmp_path, device, capsys):
    with pytest.raises(SynthguiError, match="device"):
        select_device(device)
    path = write_model(tmp_path, GeneratorSpec(ngf=4), skin_card())
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "m.png")
    assert main(["render", "--model", str(path), "--mask", str(tmp_path / "m.png"), "--out", str(tmp_path / "o.png"),
                 "--device", device]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_cuda_index_beyond_the_gpus_is_a_one_line_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert select_device("cuda:0").index == 0
    with pytest.raises(SynthguiError, match="cuda:3"):
        select_device("cuda:3")


@pytest.mark.parametrize("classes", [
    [{"id": 0, "name": "skin", "color": "#000000"}, {"id": 256, "name": "lesion", "color": "#ffffff"}],
    [{"id": -1, "name": "skin", "color": "#000000"}, {"id": 1, "name": "lesion", "color": "#ffffff"}],
    [{"id": 0, "name": "skin", "color": [300, 0, 0]}, {"id": 1, "name": "lesion", "color": "#ffffff"}],
    [{"id": 0, "name": "skin", "color": [1, 2]}, {"id": 1, "name": "lesion", "color": "#ffffff"}],
], ids=["id-256", "id-negative", "colour-300", "colour-two-values"])
def test_card_class_ids_and_colours_out_of_range_are_refused(tmp_path, classes, capsys):
    path = write_model(tmp_path, GeneratorSpec(ngf=4), skin_card())
    _edit_card(path, classes=classes)
    with pytest.raises(SynthguiError, match=r"tiny\.json: malformed field \(class (id|colour)"):
        load_model(path)
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "m.png")
    assert main(["render", "--model", str(path), "--mask", str(tmp_path / "m.png"), "--out", str(tmp_path / "o.png")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_mask_in_the_card_s_grey_class_colours_keeps_its_classes(tmp_path):
    card = ModelCard("mri", encoding=Encoding("palette"), resolution=8, classes=[
        LabelClass(0, "bg", (0, 0, 0)), LabelClass(1, "wm", (85, 85, 85)),
        LabelClass(2, "gm", (170, 170, 170)), LabelClass(3, "tumour", (255, 255, 255))])
    lm = np.repeat(np.arange(4, dtype=np.uint8), 2)[None].repeat(8, 0)
    Image.fromarray(np.array([c.color for c in card.classes], np.uint8)[lm]).save(tmp_path / "grey.png")
    assert np.array_equal(load_mask(tmp_path / "grey.png", card), lm)
