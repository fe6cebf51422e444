"""Reading and writing weights files safely, and inferring a generator's architecture from its tensors.

Reference pix2pix checkpoints are bare state dicts with no architecture recorded, so the kind,
width, depth, channels and norm are read off the key names and tensor shapes (rules in
``../shared/notes/pix2pix-reference.md`` section 1.8). Pickles are never fully unpickled.
"""

from __future__ import annotations

import hashlib
import pickle
import re
import warnings
from collections import OrderedDict
from pathlib import Path

import torch

from .atomic import write_with_atomic
from .errors import CheckpointError
from .model_files import WEIGHT_SUFFIXES  # noqa: F401  (re-exported)
from .networks import GeneratorSpec

StateDict = "OrderedDict[str, torch.Tensor]"
_NESTED_KEYS = ("state_dict", "model", "netG", "generator", "G", "model_state_dict")


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_state_dict(path: str | Path) -> "OrderedDict[str, torch.Tensor]":
    """Tensors of a ``.pth``/``.pt`` (weights only) or ``.safetensors`` file, ``module.`` stripped."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}" if not path.exists() else f"not a file: {path}")
    if path.suffix == ".safetensors":
        raw = _read_safetensors(path)
    else:
        raw = _read_torch(path)
    return _clean(raw, path)


def _read_safetensors(path: Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path.name}: not a readable safetensors file ({exc})") from None


def _read_torch(path: Path) -> object:
    with open(path, "rb") as fh:
        head = fh.read(4)
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):  # a zip archive, or a legacy pickle
        raise CheckpointError(f"{path.name}: not a PyTorch checkpoint (neither a zip archive nor a pickle; "
                              "was it saved with torch.save?)")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*looks like a TorchScript archive")
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        detail = str(exc).splitlines()[0] if str(exc) else ""
        if "global" in str(exc).lower():  # an object the weights-only unpickler refuses, e.g. a class
            raise CheckpointError(
                f"{path.name}: refused to load: the file holds Python objects that could run code when "
                f"unpickled, not just weights ({_first_global(str(exc))}). Nothing in it was executed. "
                "Re-save the generator's state_dict() or convert it to .safetensors."
            ) from None
        raise CheckpointError(f"{path.name}: not a PyTorch checkpoint ({detail})") from None
    except Exception as exc:  # a damaged file can fail in many ways inside the unpickler; all are the file's fault
        if "TorchScript" in str(exc):  # torch.load refuses these under weights_only, with advice to drop it
            raise CheckpointError(
                f"{path.name}: refused to load: a TorchScript archive is a whole model with its code, not just "
                "weights. Nothing in it was executed. Save the generator's state_dict() or convert it to .safetensors."
            ) from None
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path.name}: not a readable PyTorch checkpoint ({msg})") from None


def _first_global(message: str) -> str:
    match = re.search(r"GLOBAL ([\w.]+)", message) or re.search(r"global ([\w.]+)", message)
    return f"it refers to {match.group(1)}" if match else "non-tensor objects"


def _clean(raw: object, path: Path) -> "OrderedDict[str, torch.Tensor]":
    if isinstance(raw, dict):
        for key in _NESTED_KEYS:
            if key in raw and isinstance(raw[key], dict) and raw[key] and not isinstance(raw[key], torch.Tensor):
                inner = raw[key]
                if all(isinstance(v, torch.Tensor) for v in inner.values()):
                    raw = inner
                    break
    if not isinstance(raw, dict) or not raw:
        raise CheckpointError(f"{path.name}: holds no state dict (expected a mapping of names to tensors)")
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for key, value in raw.items():
        if not isinstance(value, torch.Tensor):
            continue
        key = str(key)
        for prefix in ("module.", "_orig_mod."):
            if key.startswith(prefix):
                key = key[len(prefix):]
        out[key] = value
    if not out:
        raise CheckpointError(f"{path.name}: holds no tensors")
    return out


# --- architecture inference ----------------------------------------------------------------------

_UNET_DOWN = re.compile(r"^model\.model\.1((?:\.model\.3)*)\.model\.1\.weight$")
_RESNET_BLOCK = re.compile(r"^model\.(\d+)\.conv_block\.")


def infer_spec(state: "OrderedDict[str, torch.Tensor]", overrides: dict | None = None) -> GeneratorSpec:
    """Kind, ngf, depth, channels, norm and ResNet dropout from the tensors; ``overrides`` from the card.

    U-Net dropout leaves no parameters, so it comes from the card (default: on, as the reference).
    """
    overrides = dict(overrides or {})
    if "model.model.0.weight" in state:
        spec = _infer_unet(state)
    elif "model.1.weight" in state and state["model.1.weight"].dim() == 4 and state["model.1.weight"].shape[-1] == 7:
        spec = _infer_resnet(state)
    elif _is_dcgan_state(state):
        from .dcgan import infer_dcgan_spec

        return infer_dcgan_spec(state)  # the tensors fix every field; card overrides could only break it
    else:
        sample = ", ".join(list(state)[:3])
        raise CheckpointError(
            f"not a pix2pix generator: neither a U-Net ('model.model.0.weight') nor a ResNet "
            f"('model.1.weight' 7x7) first layer was found (keys start: {sample})"
        )
    named = overrides.get("netG")
    if named is not None and str(named).lower() != spec.name:
        raise CheckpointError(f"the model card says the generator is {named!r} but the weights are a {spec.name}")
    changes = {}
    for key, value in overrides.items():
        wanted = _OVERRIDE_TYPES.get(key)
        if wanted is None:
            continue
        if type(value) is not wanted:  # exact: JSON true is no ngf, and 0 or "false" no dropout setting
            raise CheckpointError(f"model card: architecture {key!r} must be {_TYPE_WORDS[wanted]}, not {value!r}")
        changes[key] = value
    return spec.with_(**changes) if changes else spec


_OVERRIDE_TYPES = {"dropout": bool, "upsample": str, "norm": str, "kind": str, "ngf": int, "num_downs": int,
                   "n_blocks": int, "input_nc": int, "output_nc": int}
_TYPE_WORDS = {bool: "true or false", str: "a string", int: "a whole number"}


def _is_dcgan_state(state: dict) -> bool:
    from .dcgan import is_dcgan_state

    return is_dcgan_state(state)


def _norm_of(state: dict, affine_key: str, first_bias_key: str) -> str:
    if affine_key in state:
        return "batch"
    if first_bias_key in state:
        return "instance"
    return "none"


def _infer_unet(state: dict) -> GeneratorSpec:
    first = state["model.model.0.weight"]
    depths = [m.group(1).count(".model.3") for k in state if (m := _UNET_DOWN.match(k))]
    num_downs = (max(depths) + 2) if depths else 1
    if "model.model.3.weight" in state:
        out_nc, upsample = int(state["model.model.3.weight"].shape[1]), "transpose"
    elif "model.model.3.1.weight" in state:
        out_nc, upsample = int(state["model.model.3.1.weight"].shape[0]), "resize_conv"
    else:
        raise CheckpointError("U-Net checkpoint without its outermost up-convolution ('model.model.3.weight')")
    norm = _norm_of(state, "model.model.1.model.2.weight", "model.model.0.bias")
    return GeneratorSpec(
        kind="unet",
        input_nc=int(first.shape[1]),
        output_nc=out_nc,
        ngf=int(first.shape[0]),
        norm=norm,
        dropout=True,
        num_downs=num_downs,
        upsample=upsample,
    )


def _infer_resnet(state: dict) -> GeneratorSpec:
    first = state["model.1.weight"]
    blocks = sorted({int(m.group(1)) for k in state if (m := _RESNET_BLOCK.match(k))})
    # with dropout the second 3x3 conv moves from conv_block.5 to conv_block.6 (a norm sits at 6 otherwise)
    dropout = any(k.endswith(".conv_block.6.weight") and state[k].dim() == 4 for k in state)
    last_conv = max(
        (k for k in state if re.match(r"^model\.\d+\.weight$", k) and state[k].dim() == 4 and state[k].shape[-1] == 7),
        key=lambda k: int(k.split(".")[1]),
    )
    upsample = "resize_conv" if any(re.match(r"^model\.\d+\.1\.weight$", k) for k in state) else "transpose"
    return GeneratorSpec(
        kind="resnet",
        input_nc=int(first.shape[1]),
        output_nc=int(state[last_conv].shape[0]),
        ngf=int(first.shape[0]),
        norm=_norm_of(state, "model.2.weight", "model.1.bias"),
        dropout=dropout,
        n_blocks=len(blocks),
        upsample=upsample,
    )


def drop_instance_norm_stats(state: "OrderedDict[str, torch.Tensor]", net: torch.nn.Module) -> None:
    """As the reference's patch: InstanceNorm layers that track nothing get no running stats."""
    modules = dict(net.named_modules())
    for key in list(state):
        owner, _, leaf = key.rpartition(".")
        module = modules.get(owner)
        if isinstance(module, torch.nn.InstanceNorm2d) and leaf in ("running_mean", "running_var", "num_batches_tracked"):
            if leaf == "num_batches_tracked" or getattr(module, leaf, None) is None:
                del state[key]


def add_batch_norm_counters(state: "OrderedDict[str, torch.Tensor]", net: torch.nn.Module) -> None:
    """As PyTorch does for checkpoints saved before 0.4.1 (the reference's pretrained models): a
    BatchNorm with running statistics but no ``num_batches_tracked`` gets a zero count."""
    for owner, module in net.named_modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and f"{owner}.running_mean" in state:
            state.setdefault(f"{owner}.num_batches_tracked", torch.tensor(0, dtype=torch.long))


def load_into(net: torch.nn.Module, state: "OrderedDict[str, torch.Tensor]", name: str) -> None:
    """Strict load with a message that names the first layer that does not fit."""
    state = OrderedDict(state)
    drop_instance_norm_stats(state, net)
    add_batch_norm_counters(state, net)
    own = net.state_dict()
    for key, value in state.items():
        if key in own and tuple(own[key].shape) != tuple(value.shape):
            raise CheckpointError(
                f"{name}: layer {key} has shape {tuple(value.shape)} in the checkpoint but "
                f"{tuple(own[key].shape)} in the network"
            )
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {missing[0]}" + (f" and {len(missing) - 1} more" if len(missing) > 1 else ""))
        if unexpected:
            parts.append(f"unexpected {unexpected[0]}" + (f" and {len(unexpected) - 1} more" if len(unexpected) > 1 else ""))
        raise CheckpointError(f"{name}: checkpoint does not fit the network: {'; '.join(parts)}")
    converted = OrderedDict((k, v.to(own[k].dtype)) for k, v in state.items())
    net.load_state_dict(converted, strict=True)


def save_state_dict(net_or_state: torch.nn.Module | dict, path: str | Path, half: bool = False) -> None:
    """Reference format (a plain state dict of CPU tensors) or safetensors, by suffix; atomic."""
    state = net_or_state.state_dict() if isinstance(net_or_state, torch.nn.Module) else net_or_state
    out = OrderedDict()
    for k, v in state.items():
        v = v.detach().cpu()
        if half and v.is_floating_point():
            v = v.half()
        out[k] = v.contiguous()
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        write_with_atomic(path, lambda tmp: save_file(out, str(tmp)))
    else:
        write_with_atomic(path, lambda tmp: torch.save(out, str(tmp)))
