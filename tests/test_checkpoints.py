"""Loading reference checkpoints: prefixes, InstanceNorm stats, safetensors, hostile and broken files."""

import os
import pickle
from collections import OrderedDict

import pytest
import torch

from synthgui.core.card import ModelCard
from synthgui.core.checkpoints import read_state_dict, save_state_dict
from synthgui.core.errors import CheckpointError, SynthguiError
from synthgui.core.models import load_model
from synthgui.core.networks import GeneratorSpec, build_generator

from helpers import randomise, skin_card, write_model


def test_plain_reference_state_dict_loads_without_flags(tmp_path):
    net = randomise(build_generator(GeneratorSpec(ngf=8, num_downs=7, norm="batch")))
    torch.save(net.state_dict(), tmp_path / "latest_net_G.pth")
    model = load_model(tmp_path / "latest_net_G.pth")
    assert model.spec.name == "unet_128" and model.spec.ngf == 8 and model.spec.norm == "batch"
    assert model.warnings and "no model card" in model.warnings[0]
    for k, v in net.state_dict().items():
        assert torch.equal(model.net.state_dict()[k], v)


def test_module_prefix_is_stripped(tmp_path):
    net = randomise(build_generator(GeneratorSpec(ngf=4)))
    torch.save(OrderedDict(("module." + k, v) for k, v in net.state_dict().items()), tmp_path / "g.pth")
    assert load_model(tmp_path / "g.pth").spec.ngf == 4


def test_old_instance_norm_running_stats_are_dropped(tmp_path):
    """Pre-0.4 InstanceNorm checkpoints stored running stats the current layer does not track."""
    net = build_generator(GeneratorSpec(kind="resnet", ngf=4, n_blocks=6, norm="instance", dropout=False))
    state = OrderedDict(net.state_dict())
    state["model.2.running_mean"] = torch.zeros(4)
    state["model.2.running_var"] = torch.ones(4)
    state["model.2.num_batches_tracked"] = torch.tensor(3)
    torch.save(state, tmp_path / "old.pth")
    model = load_model(tmp_path / "old.pth")
    assert model.spec.norm == "instance"


def test_safetensors_and_half_precision_round_trip(tmp_path):
    path = write_model(tmp_path, GeneratorSpec(ngf=4), skin_card(), name="m", suffix=".safetensors", half=True)
    model = load_model(path)
    assert model.card.name == "tiny-skin"
    assert all(p.dtype == torch.float32 for p in model.net.parameters())
    original = read_state_dict(path)
    for k, v in model.net.state_dict().items():
        assert torch.equal(v, original[k].to(v.dtype))


def test_nested_training_checkpoint_is_accepted(tmp_path):
    net = build_generator(GeneratorSpec(ngf=4))
    torch.save({"state_dict": net.state_dict(), "epoch": 3}, tmp_path / "ckpt.pth")
    assert load_model(tmp_path / "ckpt.pth").spec.ngf == 4


class _RunsCode:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_hostile_pickle_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    payload = _RunsCode()
    payload.marker = marker
    state = build_generator(GeneratorSpec(ngf=4)).state_dict()
    with open(tmp_path / "evil.pth", "wb") as fh:
        torch.save({"state_dict": state, "x": payload}, fh)
    with pytest.raises(CheckpointError, match="refused to load"):
        load_model(tmp_path / "evil.pth")
    assert not marker.exists()
    # a raw pickle (not torch's zip format) is refused too
    with open(tmp_path / "evil2.pth", "wb") as fh:
        pickle.dump(payload, fh)
    with pytest.raises(CheckpointError):
        load_model(tmp_path / "evil2.pth")
    assert not marker.exists()


def test_wrong_shape_names_the_layer(tmp_path):
    write_model(tmp_path, GeneratorSpec(ngf=4), ModelCard(name="x", architecture={"ngf": 8}), name="g")
    with pytest.raises(CheckpointError, match=r"layer model\.model\.0\.weight has shape"):
        load_model(tmp_path / "g.pth")


def test_card_overriding_depth_reports_missing_layers(tmp_path):
    write_model(tmp_path, GeneratorSpec(ngf=4, num_downs=7), ModelCard(name="x", architecture={"num_downs": 8}, resolution=256), name="g")
    with pytest.raises(CheckpointError, match="does not fit"):
        load_model(tmp_path / "g.pth")


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"not a model\n", b"PK\x03\x04broken zip",
                                     b"\x80\x02garbage after a pickle header"])
def test_garbage_files_give_clear_errors(tmp_path, content):
    (tmp_path / "bad.pth").write_bytes(content)
    with pytest.raises(CheckpointError, match="bad.pth") as err:
        load_model(tmp_path / "bad.pth")
    assert "not a PyTorch checkpoint" in str(err.value) or "not a readable PyTorch checkpoint" in str(err.value)
    assert "could run code" not in str(err.value)  # a damaged file is not a hostile one
    (tmp_path / "bad.safetensors").write_bytes(content)
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        load_model(tmp_path / "bad.safetensors")


def test_not_a_generator(tmp_path):
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "clf.pth")
    with pytest.raises(CheckpointError, match="not a pix2pix generator"):
        load_model(tmp_path / "clf.pth")


def test_missing_model_and_unknown_name():
    with pytest.raises(SynthguiError, match="not found"):
        load_model("/nonexistent/model.pth")
    with pytest.raises(SynthguiError, match="no model named"):
        load_model("no-such-model")


def test_save_is_reference_format(tmp_path):
    net = build_generator(GeneratorSpec(ngf=4))
    save_state_dict(net, tmp_path / "latest_net_G.pth")
    raw = torch.load(tmp_path / "latest_net_G.pth", weights_only=True)
    assert isinstance(raw, OrderedDict) and list(raw) == list(net.state_dict())
    assert not list(tmp_path.glob("*.tmp"))


def test_card_round_trip_and_bad_cards(tmp_path):
    card = skin_card(metrics={"l1": 0.1}, training_data=[{"name": "ISIC 2018", "licence": "CC0"}])
    card.save(tmp_path / "c.json")
    again = ModelCard.load(tmp_path / "c.json")
    assert again.to_json() == card.to_json()
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SynthguiError, match="cannot read model card"):
        ModelCard.load(tmp_path / "bad.json")
    (tmp_path / "bad2.json").write_text('{"name": "x", "encoding": "hologram"}')
    with pytest.raises(SynthguiError, match="unknown input encoding"):
        ModelCard.load(tmp_path / "bad2.json")
