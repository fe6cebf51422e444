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


def _two_steps(layer, x):
    """What ResizeConv means: nearest 2x upsampling, then its 3x3 convolution."""
    return layer[1](torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest"))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(2, 5, 32, 48), (1, 3, 40, 33)], ids=["batch-wide", "odd-side"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_resize_conv_as_a_transposed_convolution_is_upsample_then_conv(bias, shape, channels_last):
    from synthgui.core.networks import ResizeConv

    torch.manual_seed(0)
    layer = ResizeConv(shape[1], 7, bias)
    assert min(shape[-2:]) >= layer.transposed_from  # the transposed path is the one tested
    x = torch.randn(*shape, requires_grad=True)
    if channels_last:
        layer = layer.to(memory_format=torch.channels_last)
    xin = x.contiguous(memory_format=torch.channels_last) if channels_last else x
    y = layer(xin)
    expected = _two_steps(layer, xin)
    assert y.shape == (shape[0], 7, 2 * shape[2], 2 * shape[3])
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-5)
    # Training goes through the same path: the gradients reach the 3x3 kernel and the input alike.
    g = torch.randn_like(y)
    got = torch.autograd.grad(y, (x, layer[1].weight), g)
    want = torch.autograd.grad(expected, (x, layer[1].weight), g)
    for a, b in zip(got, want):  # sums of thousands of terms in another order: relative to their scale
        assert float((a - b).abs().max()) <= 1e-5 * float(b.abs().max())


def test_resize_conv_keeps_the_two_steps_below_its_threshold_and_its_keys():
    from synthgui.core.networks import ResizeConv

    torch.manual_seed(1)
    layer = ResizeConv(4, 3, True)
    small = torch.randn(1, 4, layer.transposed_from - 1, 40)
    assert torch.equal(layer(small), _two_steps(layer, small))  # bit for bit: the same two calls
    assert set(layer.state_dict()) == {"1.weight", "1.bias"}  # as the plain Sequential it replaced
    assert torch.equal(layer[0:2](small), _two_steps(layer, small))  # a slice is the plain steps
    net = build_generator(GeneratorSpec(ngf=4, upsample="resize_conv"))
    assert "model.model.3.1.weight" in net.state_dict() and infer_spec(net.state_dict()).upsample == "resize_conv"
