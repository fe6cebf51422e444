"""Generator and discriminator networks whose state-dict keys match the reference pix2pix.

The reference implementation (junyanz/pytorch-CycleGAN-and-pix2pix) saves bare state dicts, so a
checkpoint only loads if every module sits at the same index of the same ``nn.Sequential``. The
classes here are written from the published description of that layout (see
``../shared/notes/pix2pix-reference.md``), not copied, and keep those indices exactly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

NORMS = ("batch", "instance", "none")
UPSAMPLES = ("transpose", "resize_conv")


@dataclass(frozen=True)
class GeneratorSpec:
    """Everything needed to rebuild a generator; what a reference checkpoint does not store."""

    kind: str = "unet"  # "unet" or "resnet"
    input_nc: int = 3
    output_nc: int = 3
    ngf: int = 64
    norm: str = "batch"
    dropout: bool = True
    num_downs: int = 8  # U-Net depth: 8 = unet_256, 7 = unet_128
    n_blocks: int = 9  # ResNet blocks
    upsample: str = "transpose"  # "resize_conv" reduces checkerboard artefacts (not in the reference)
    dcgan_widths: tuple[int, ...] = ()  # DCGAN: channels from noise to image (nz, hidden..., nc)
    dcgan_bias: bool = False  # DCGAN: transposed convolutions carry a bias

    @property
    def name(self) -> str:
        if self.kind == "unet":
            return f"unet_{2 ** self.num_downs}"
        if self.kind == "dcgan":
            return f"dcgan_{2 ** (self.num_downs + 1)}"
        return f"resnet_{self.n_blocks}blocks"

    @property
    def size_multiple(self) -> int:
        """Input sides must be a multiple of this (the U-Net halves the map ``num_downs`` times)."""
        if self.kind == "dcgan":
            return 1  # takes a noise vector, not an image
        return 2**self.num_downs if self.kind == "unet" else 4

    @property
    def min_size(self) -> int:
        """The smallest input side: a ResNet's blocks reflect-pad a map of a quarter of it by one
        pixel, which needs two pixels (and batch statistics need more than one value)."""
        return 8 if self.kind == "resnet" else self.size_multiple

    def with_(self, **changes) -> "GeneratorSpec":
        return replace(self, **changes)


class Identity(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def norm_layer_factory(norm: str) -> Callable[[int], nn.Module]:
    if norm == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    if norm == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    if norm == "none":
        return lambda _channels: Identity()
    raise ValueError(f"unknown norm {norm!r}; expected one of {', '.join(NORMS)}")


def _uses_bias(norm: str) -> bool:
    """The reference gives convs a bias only when an InstanceNorm (which has no affine) follows."""
    return norm == "instance"


def _up_conv(in_nc: int, out_nc: int, bias: bool, upsample: str) -> nn.Module:
    if upsample == "transpose":
        return nn.ConvTranspose2d(in_nc, out_nc, kernel_size=4, stride=2, padding=1, bias=bias)
    if upsample == "resize_conv":
        return ResizeConv(in_nc, out_nc, bias)
    raise ValueError(f"unknown upsample {upsample!r}; expected one of {', '.join(UPSAMPLES)}")


TRANSPOSED_FROM = 32  # input side from which ResizeConv runs as a transposed convolution


class ResizeConv(nn.Sequential):
    """Nearest 2x upsampling, then a 3x3 convolution; keys ``1.weight``/``1.bias`` as the plain
    ``nn.Sequential`` it replaces, so its checkpoints load unchanged.

    On maps of ``TRANSPOSED_FROM`` px and more it runs as the transposed convolution it equals
    (kernel 4, stride 2, padding 1; see ``transposed_kernel``): each output pixel sees 2 x 2 input
    pixels instead of 3 x 3 upsampled ones, 2.25x fewer multiplications, and the upsampled copy is
    never made. The default skin model renders about 1.2x faster on a CPU, and trains about 1.4x
    faster (``bench/engine_variants.py --resize-conv``). Smaller maps keep the two steps: from
    16 px down the transposed form gained nothing measurable there, and from 8 px down it cost more
    than it saved. Either way the numbers agree up to float rounding (about 1e-6 on the [-1, 1]
    scale)."""

    def __init__(self, in_nc: int, out_nc: int, bias: bool) -> None:
        super().__init__(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(in_nc, out_nc, kernel_size=3, stride=1, padding=1, bias=bias),
        )
        self.transposed_from = TRANSPOSED_FROM

    def __getitem__(self, idx):
        """A slice is a plain ``nn.Sequential`` of those steps (``nn.Sequential`` would call this
        class's constructor with modules)."""
        if isinstance(idx, slice):
            return nn.Sequential(*list(self._modules.values())[idx])
        return super().__getitem__(idx)

    def runs_transposed(self, x: torch.Tensor) -> bool:
        return min(x.shape[-2:]) >= self.transposed_from

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self[1]
        if not self.runs_transposed(x):
            return conv(self[0](x))
        return F.conv_transpose2d(x, transposed_kernel(conv.weight), conv.bias, stride=2, padding=1)


def transposed_kernel(weight: torch.Tensor) -> torch.Tensor:
    """The (in, out, 4, 4) transposed-convolution kernel equal to nearest 2x upsampling followed by
    the (out, in, 3, 3) convolution ``weight`` (padding 1).

    Along each axis an output pixel 2i sees upsampled pixels 2i-1, 2i, 2i+1, that is inputs i-1
    (tap 0) and i (taps 1 and 2); pixel 2i+1 sees inputs i (taps 0 and 1) and i+1 (tap 2). A
    transposed convolution of stride 2 and padding 1 reaches output 2i from inputs i and i-1 with
    its taps 1 and 3, and output 2i+1 from inputs i+1 and i with taps 0 and 2: so its taps are
    (w2, w1 + w2, w0 + w1, w0). Zero padding maps to zero padding: upsampled row -1 is input row -1."""

    def along(k: torch.Tensor, dim: int) -> torch.Tensor:
        w0, w1, w2 = k.unbind(dim)
        return torch.stack([w2, w1 + w2, w0 + w1, w0], dim)

    return along(along(weight, 2), 3).transpose(0, 1)


class UnetSkipConnectionBlock(nn.Module):
    """One U-Net level; ``model`` indices match the reference so keys like ``model.3.model.1`` line up."""

    def __init__(
        self,
        outer_nc: int,
        inner_nc: int,
        input_nc: int | None = None,
        submodule: nn.Module | None = None,
        outermost: bool = False,
        innermost: bool = False,
        norm: str = "batch",
        use_dropout: bool = False,
        upsample: str = "transpose",
    ) -> None:
        super().__init__()
        self.outermost = outermost
        norm_layer = norm_layer_factory(norm)
        bias = _uses_bias(norm)
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=bias)
        if outermost:
            layers = [
                downconv,
                submodule,
                nn.ReLU(True),
                _up_conv(inner_nc * 2, outer_nc, True, upsample),
                nn.Tanh(),
            ]
        elif innermost:
            layers = [
                nn.LeakyReLU(0.2, True),
                downconv,
                nn.ReLU(True),
                _up_conv(inner_nc, outer_nc, bias, upsample),
                norm_layer(outer_nc),
            ]
        else:
            layers = [
                nn.LeakyReLU(0.2, True),
                downconv,
                norm_layer(inner_nc),
                submodule,
                nn.ReLU(True),
                _up_conv(inner_nc * 2, outer_nc, bias, upsample),
                norm_layer(outer_nc),
            ]
            if use_dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    def __init__(self, spec: GeneratorSpec) -> None:
        super().__init__()
        if spec.num_downs < 5:
            raise ValueError("a U-Net generator needs at least 5 levels")
        ngf, norm, up = spec.ngf, spec.norm, spec.upsample
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True, norm=norm, upsample=up)
        for _ in range(spec.num_downs - 5):
            block = UnetSkipConnectionBlock(
                ngf * 8, ngf * 8, submodule=block, norm=norm, use_dropout=spec.dropout, upsample=up
            )
        for mult in (4, 2, 1):
            block = UnetSkipConnectionBlock(ngf * mult, ngf * mult * 2, submodule=block, norm=norm, upsample=up)
        self.model = UnetSkipConnectionBlock(
            spec.output_nc, ngf, input_nc=spec.input_nc, submodule=block, outermost=True, norm=norm, upsample=up
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class ResnetBlock(nn.Module):
    def __init__(self, dim: int, norm: str, use_dropout: bool) -> None:
        super().__init__()
        norm_layer = norm_layer_factory(norm)
        bias = _uses_bias(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, bias=bias),
            norm_layer(dim),
            nn.ReLU(True),
        ]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, bias=bias), norm_layer(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    def __init__(self, spec: GeneratorSpec) -> None:
        super().__init__()
        norm_layer = norm_layer_factory(spec.norm)
        bias = _uses_bias(spec.norm)
        ngf = spec.ngf
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(spec.input_nc, ngf, kernel_size=7, padding=0, bias=bias),
            norm_layer(ngf),
            nn.ReLU(True),
        ]
        for i in range(2):
            mult = 2**i
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2, padding=1, bias=bias),
                norm_layer(ngf * mult * 2),
                nn.ReLU(True),
            ]
        for _ in range(spec.n_blocks):
            layers.append(ResnetBlock(ngf * 4, spec.norm, spec.dropout))
        for i in range(2):
            mult = 2 ** (2 - i)
            if spec.upsample == "transpose":
                up: nn.Module = nn.ConvTranspose2d(
                    ngf * mult, ngf * mult // 2, kernel_size=3, stride=2, padding=1, output_padding=1, bias=bias
                )
            else:
                up = _up_conv(ngf * mult, ngf * mult // 2, bias, spec.upsample)
            layers += [up, norm_layer(ngf * mult // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, spec.output_nc, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def build_generator(spec: GeneratorSpec) -> nn.Module:
    if spec.norm not in NORMS:
        raise ValueError(f"unknown norm {spec.norm!r}")
    if spec.kind == "unet":
        return UnetGenerator(spec)
    if spec.kind == "resnet":
        return ResnetGenerator(spec)
    if spec.kind == "dcgan":
        from .dcgan import DCGANGenerator  # dcgan.py imports GeneratorSpec from here

        return DCGANGenerator(spec)
    raise ValueError(f"unknown generator kind {spec.kind!r}; expected 'unet', 'resnet' or 'dcgan'")


class NLayerDiscriminator(nn.Module):
    """The reference 70x70 PatchGAN (``--netD basic``): logits, no sigmoid."""

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch") -> None:
        super().__init__()
        norm_layer = norm_layer_factory(norm)
        bias = _uses_bias(norm)
        layers: list[nn.Module] = [nn.Conv2d(input_nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, 2, 1, bias=bias),
                norm_layer(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        prev, mult = mult, min(2**n_layers, 8)
        layers += [
            nn.Conv2d(ndf * prev, ndf * mult, 4, 1, 1, bias=bias),
            norm_layer(ndf * mult),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * mult, 1, 4, 1, 1),
        ]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def init_weights(net: nn.Module, gain: float = 0.02) -> None:
    """The reference 'normal' init: conv weights N(0, gain), BatchNorm weights N(1, gain), biases 0."""

    def init(m: nn.Module) -> None:
        name = m.__class__.__name__
        if hasattr(m, "weight") and ("Conv" in name or "Linear" in name):
            nn.init.normal_(m.weight.data, 0.0, gain)
            if getattr(m, "bias", None) is not None:
                nn.init.constant_(m.bias.data, 0.0)
        elif "BatchNorm2d" in name:
            nn.init.normal_(m.weight.data, 1.0, gain)
            nn.init.constant_(m.bias.data, 0.0)

    net.apply(init)
