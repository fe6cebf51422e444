"""An independent forward pass of the reference pix2pix generators, straight from a state dict.

Written with ``torch.nn.functional`` from the published description of the reference modules
(../shared/notes/pix2pix-reference.md, 1.2-1.4 and 1.9), sharing no code with
``synthgui.core.networks``: if our modules put a layer at the wrong index, apply a norm where the
reference does not, or order dropout differently, the two disagree.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _norm(sd: dict, key: str, h: torch.Tensor, norm: str, batch_stats: bool) -> torch.Tensor:
    if norm == "batch":
        return F.batch_norm(
            h, sd[f"{key}.running_mean"].clone(), sd[f"{key}.running_var"].clone(),
            sd[f"{key}.weight"], sd[f"{key}.bias"], training=batch_stats, eps=1e-5,
        )
    if norm == "instance":
        return F.instance_norm(h, eps=1e-5)
    return h


def _bias(sd: dict, key: str):
    return sd.get(f"{key}.bias")


def unet_forward(sd: dict, x: torch.Tensor, num_downs: int, norm: str, dropout: bool, mode: str) -> torch.Tensor:
    batch_stats = mode != "eval"
    drop = dropout and mode == "reference"

    def block(h: torch.Tensor, prefix: str, level: int) -> torch.Tensor:
        if level == 1:  # outermost: conv, submodule, relu, convT(bias), tanh
            y = F.conv2d(h, sd[f"{prefix}.0.weight"], _bias(sd, f"{prefix}.0"), stride=2, padding=1)
            y = block(y, f"{prefix}.1", 2)
            y = F.relu(y)
            y = F.conv_transpose2d(y, sd[f"{prefix}.3.weight"], sd[f"{prefix}.3.bias"], stride=2, padding=1)
            return torch.tanh(y)
        p = f"{prefix}.model"
        y = F.leaky_relu(h, 0.2)
        y = F.conv2d(y, sd[f"{p}.1.weight"], _bias(sd, f"{p}.1"), stride=2, padding=1)
        if level == num_downs:  # innermost: no down norm, no dropout
            y = F.relu(y)
            y = F.conv_transpose2d(y, sd[f"{p}.3.weight"], _bias(sd, f"{p}.3"), stride=2, padding=1)
            y = _norm(sd, f"{p}.4", y, norm, batch_stats)
        else:
            y = _norm(sd, f"{p}.2", y, norm, batch_stats)
            y = block(y, f"{p}.3", level + 1)
            y = F.relu(y)
            y = F.conv_transpose2d(y, sd[f"{p}.5.weight"], _bias(sd, f"{p}.5"), stride=2, padding=1)
            y = _norm(sd, f"{p}.6", y, norm, batch_stats)
            # dropout only on the ngf*8 -> ngf*8 levels between the innermost and the (ngf*4, ngf*8) level
            if level >= 5 and drop:
                y = F.dropout(y, 0.5, training=True)
        return torch.cat([h, y], 1)

    return block(x, "model.model", 1)


def resnet_forward(sd: dict, x: torch.Tensor, n_blocks: int, norm: str, dropout: bool, mode: str) -> torch.Tensor:
    batch_stats = mode != "eval"
    drop = dropout and mode == "reference"

    def conv(h, key, stride=1, padding=0):
        return F.conv2d(h, sd[f"{key}.weight"], _bias(sd, key), stride=stride, padding=padding)

    h = F.pad(x, (3, 3, 3, 3), mode="reflect")
    h = F.relu(_norm(sd, "model.2", conv(h, "model.1"), norm, batch_stats))
    h = F.relu(_norm(sd, "model.5", conv(h, "model.4", 2, 1), norm, batch_stats))
    h = F.relu(_norm(sd, "model.8", conv(h, "model.7", 2, 1), norm, batch_stats))
    idx = 10
    second = 6 if dropout else 5
    for _ in range(n_blocks):
        b = f"model.{idx}.conv_block"
        y = F.pad(h, (1, 1, 1, 1), mode="reflect")
        y = F.relu(_norm(sd, f"{b}.2", conv(y, f"{b}.1"), norm, batch_stats))
        if drop:
            y = F.dropout(y, 0.5, training=True)
        y = F.pad(y, (1, 1, 1, 1), mode="reflect")
        y = _norm(sd, f"{b}.{second + 1}", conv(y, f"{b}.{second}"), norm, batch_stats)
        h = h + y
        idx += 1
    for _ in range(2):
        k = f"model.{idx}"
        h = F.conv_transpose2d(h, sd[f"{k}.weight"], _bias(sd, k), stride=2, padding=1, output_padding=1)
        h = F.relu(_norm(sd, f"model.{idx + 1}", h, norm, batch_stats))
        idx += 3
    h = F.pad(h, (3, 3, 3, 3), mode="reflect")
    h = conv(h, f"model.{idx + 1}")
    return torch.tanh(h)
