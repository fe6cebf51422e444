"""Our generators against an independent functional forward pass of the reference layout."""

import pytest
import torch

from synthgui.core.checkpoints import infer_spec
from synthgui.core.networks import GeneratorSpec, NLayerDiscriminator, build_generator

from helpers import randomise
from reference_oracle import resnet_forward, unet_forward

VARIANTS = [
    GeneratorSpec(kind="unet", ngf=4, num_downs=8, norm=norm, dropout=drop)
    for norm in ("batch", "instance", "none") for drop in (True, False)
] + [
    GeneratorSpec(kind="unet", ngf=6, num_downs=7, norm="batch", dropout=True),
    GeneratorSpec(kind="resnet", ngf=4, n_blocks=9, norm="batch", dropout=False),
    GeneratorSpec(kind="resnet", ngf=4, n_blocks=6, norm="batch", dropout=True),
    GeneratorSpec(kind="resnet", ngf=4, n_blocks=6, norm="instance", dropout=True),
    GeneratorSpec(kind="resnet", ngf=4, n_blocks=9, norm="none", dropout=False),
]


def _set_mode(net: torch.nn.Module, mode: str) -> None:
    net.train(mode != "eval")
    for m in net.modules():
        if isinstance(m, torch.nn.Dropout) and mode == "deterministic":
            m.eval()


@pytest.mark.parametrize("spec", VARIANTS, ids=lambda s: f"{s.name}-{s.norm}-{'drop' if s.dropout else 'nodrop'}")
@pytest.mark.parametrize("mode", ["reference", "deterministic", "eval"])
def test_forward_matches_reference_layout(spec, mode):
    net = randomise(build_generator(spec))
    sd = {k: v.clone() for k, v in net.state_dict().items()}
    size = 2 ** spec.num_downs if spec.kind == "unet" else 32
    x = torch.rand(1, 3, size, size) * 2 - 1
    _set_mode(net, mode)
    torch.manual_seed(7)
    with torch.no_grad():
        ours = net(x)
    torch.manual_seed(7)
    if spec.kind == "unet":
        theirs = unet_forward(sd, x, spec.num_downs, spec.norm, spec.dropout, mode)
    else:
        theirs = resnet_forward(sd, x, spec.n_blocks, spec.norm, spec.dropout, mode)
    assert torch.allclose(ours, theirs, atol=1e-5, rtol=0), (ours - theirs).abs().max()


@pytest.mark.parametrize("spec", VARIANTS + [GeneratorSpec(ngf=4, upsample="resize_conv", norm="none")],
                         ids=lambda s: f"{s.name}-{s.norm}-{s.upsample}")
def test_architecture_is_inferred_from_tensors(spec):
    state = build_generator(spec).state_dict()
    inferred = infer_spec(state, {"dropout": spec.dropout} if spec.kind == "unet" else {})
    assert inferred == spec


def test_reference_key_counts_and_names():
    """Key counts the reference produces (pix2pix-reference.md 1.3): 82 with batch, 32 with instance."""
    assert len(build_generator(GeneratorSpec(ngf=8, norm="batch")).state_dict()) == 82
    assert len(build_generator(GeneratorSpec(ngf=8, norm="instance")).state_dict()) == 32
    keys = build_generator(GeneratorSpec(kind="resnet", ngf=8, n_blocks=9, dropout=False)).state_dict()
    assert "model.26.weight" in keys and "model.10.conv_block.5.weight" in keys
    keys = build_generator(GeneratorSpec(kind="resnet", ngf=8, n_blocks=6, dropout=True)).state_dict()
    assert "model.23.weight" in keys and "model.10.conv_block.6.weight" in keys


def test_patchgan_output_shape_and_size():
    d = NLayerDiscriminator(6, ndf=64)
    assert sum(p.numel() for p in d.parameters()) == 2_768_705
    assert d(torch.zeros(1, 6, 256, 256)).shape == (1, 1, 30, 30)
