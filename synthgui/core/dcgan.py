"""Unconditional DCGAN generators (noise to image): the mask GAN of the dual GAN pipeline, US-DCGAN, MelanoGANs.

These checkpoints are the ``netG`` of the PyTorch DCGAN example and its descendants: one
``nn.Sequential`` called ``main`` of 4x4 transposed convolutions, the first taking the noise
vector (1x1) to 4x4 and each next one doubling the side, with BatchNorm + ReLU between them and
a tanh at the end. Nothing else is stored, so widths, noise size, channels and output side are
read off the tensors here, and the module indices are kept so such a state dict loads as is.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from .errors import CheckpointError
from .networks import GeneratorSpec

_CONV_KEY = re.compile(r"^main\.(\d+)\.weight$")


class DCGANGenerator(nn.Module):
    """``main``: [ConvT(4, s1, p0), BN, ReLU], [ConvT(4, s2, p1), BN, ReLU] ..., ConvT(4, s2, p1), Tanh."""

    def __init__(self, spec: GeneratorSpec) -> None:
        super().__init__()
        widths = dcgan_widths(spec)
        bias = spec.dcgan_bias
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:])):
            first, last = i == 0, i == len(widths) - 2
            layers.append(nn.ConvTranspose2d(c_in, c_out, 4, 1 if first else 2, 0 if first else 1, bias=bias))
            if last:
                layers.append(nn.Tanh())
            else:
                if spec.norm == "batch":
                    layers.append(nn.BatchNorm2d(c_out))
                layers.append(nn.ReLU(True))
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() == 2:
            z = z[:, :, None, None]
        return self.main(z)


def dcgan_widths(spec: GeneratorSpec) -> tuple[int, ...]:
    """Channels from the noise vector to the image: (nz, hidden..., nc).

    Without explicit widths, the DCGAN example's doubling rule gives them: ngf * 2**k down to ngf.
    """
    if spec.dcgan_widths:
        return tuple(spec.dcgan_widths)
    n_hidden = max(1, spec.num_downs - 1)
    hidden = tuple(spec.ngf * 2 ** (n_hidden - 1 - i) for i in range(n_hidden))
    return (spec.input_nc, *hidden, spec.output_nc)


def dcgan_output_size(spec: GeneratorSpec) -> int:
    """The side of the images: 4 after the first layer, doubled by every later one."""
    return 4 * 2 ** (len(dcgan_widths(spec)) - 2)


def dcgan_spec(nz: int = 100, ngf: int = 64, nc: int = 3, size: int = 64, norm: str = "batch", bias: bool = False) -> GeneratorSpec:
    """The spec of a DCGAN generator of the usual doubling shape, for training or tests."""
    if size < 8 or size & (size - 1):
        raise ValueError(f"a DCGAN output side must be a power of two >= 8, not {size}")
    n_convs = size.bit_length() - 2  # 4 -> 1 layer, 8 -> 2, 64 -> 5
    return GeneratorSpec(kind="dcgan", input_nc=nz, output_nc=nc, ngf=ngf, norm=norm, dropout=False,
                         num_downs=n_convs, dcgan_bias=bias)


def is_dcgan_state(state: dict) -> bool:
    first = state.get("main.0.weight")
    return isinstance(first, torch.Tensor) and first.dim() == 4 and tuple(first.shape[-2:]) == (4, 4)


def _is_discriminator(weights: list[torch.Tensor]) -> bool:
    """Convolutions chained as Conv2d (out, in, k, k) rather than ConvTranspose2d (in, out, k, k), ending
    in one channel: the DCGAN example's netD, which its training saves beside netG."""
    if len(weights) < 2 or int(weights[-1].shape[0]) != 1:
        return False
    as_transposed = all(int(b.shape[0]) == int(a.shape[1]) for a, b in zip(weights, weights[1:]))
    as_conv = all(int(b.shape[1]) == int(a.shape[0]) for a, b in zip(weights, weights[1:]))
    return as_conv and not as_transposed


def infer_dcgan_spec(state: dict) -> GeneratorSpec:
    """nz, widths, channels, norm and output side of a ``main.*`` DCGAN generator state dict."""
    convs = sorted(int(m.group(1)) for k in state if (m := _CONV_KEY.match(k)) and state[k].dim() == 4)
    if not convs:
        raise CheckpointError("DCGAN checkpoint without transposed convolutions ('main.N.weight')")
    if _is_discriminator([state[f"main.{i}.weight"] for i in convs]):
        raise CheckpointError(
            "this is a DCGAN discriminator (netD: image in, one real/fake score out), not a generator; "
            "load the generator saved beside it (netG, e.g. netG_epoch_N.pth)"
        )
    widths = [int(state[f"main.{convs[0]}.weight"].shape[0])]
    for index in convs:
        w = state[f"main.{index}.weight"]
        if tuple(w.shape[-2:]) != (4, 4):
            raise CheckpointError(f"DCGAN layer main.{index} has a {tuple(w.shape[-2:])} kernel; expected 4x4")
        if int(w.shape[0]) != widths[-1]:
            raise CheckpointError(f"DCGAN layer main.{index} takes {int(w.shape[0])} channels but the previous layer gives {widths[-1]}")
        widths.append(int(w.shape[1]))
    steps = {b - a for a, b in zip(convs, convs[1:])}
    batch = f"main.{convs[0] + 1}.running_mean" in state
    expected_step = 3 if batch else 2
    if convs[0] != 0 or (steps and steps != {expected_step}):
        raise CheckpointError(
            f"DCGAN layers sit at main.{convs} but a {'BatchNorm' if batch else 'norm-free'} generator has them "
            f"every {expected_step} modules from main.0"
        )
    return GeneratorSpec(
        kind="dcgan",
        input_nc=widths[0],
        output_nc=widths[-1],
        ngf=widths[-2] if len(widths) > 2 else widths[-1],
        norm="batch" if batch else "none",
        dropout=False,
        num_downs=len(convs),
        dcgan_widths=tuple(widths),
        dcgan_bias=f"main.{convs[0]}.bias" in state,
    )
