"""Stage 1 of the dual GAN pipeline (Guibas et al. 2017): new, plausible mask geometry to render.

``propose(domain, size, seed, **controls)`` returns a label map (uint8 class ids) that the
studio's "Propose", ``export --random N`` and study building feed to a generator. The same
(domain, size, seed, controls) always gives the same mask. Domains and their class ids:

  - ``skin``: 0 skin, 1 lesion (lesion shapes fitted to ISIC 2018 masks, ``lesions.py``);
  - ``fundus``: 0 outside the field of view, 1 retina background, 2 vessel (a procedural vessel
    tree fitted to CHASE_DB1 and HRF masks, ``vessels.py``). A fundus model card whose
    ``channels`` encoding is ``[[2], [1, 2]]`` reads this map as vessel + field of view;
  - ``mri``: 0 background, 1 brain, 2 FLAIR abnormality (brain and tumour outlines fitted to the
    LGG slices, ``brain.py``), as the MRI card of ``core/prepare.py``; with ``nested=True``,
    2 oedema, 3 enhancing rim, 4 necrotic core.

The fitted statistics live in ``fitted_params.json`` (recomputed by ``bench/fit_geometry.py``);
the realism of the masks themselves is measured by ``stats.py`` and ``bench/bench_geometry.py``.
"""

from __future__ import annotations

import json
from dataclasses import fields
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import SynthguiError
from . import brain, lesions, vessels
from .brain import BrainControls, propose_brain
from .lesions import LesionControls, propose_lesions
from .vessels import VesselControls, VesselParams, propose_vessels

DOMAINS = ("skin", "fundus", "mri")
CLASSES = {
    "skin": {0: "skin", 1: "lesion"},
    "fundus": {0: "outside field of view", 1: "retina", 2: "vessel"},
    "mri": {0: "background", 1: "brain", 2: "abnormality (oedema when nested)", 3: "enhancing", 4: "necrosis"},
}
FITTED_PARAMS = Path(__file__).with_name("fitted_params.json")
_CONTROLS = {"skin": LesionControls, "fundus": VesselControls, "mri": BrainControls}
_CHECKS = {"skin": lesions._check, "fundus": vessels._check, "mri": brain._check}


@lru_cache(maxsize=1)
def fitted() -> dict:
    """The fitted statistics (lesion shape model, vessel parameters, real-mask summaries)."""
    try:
        return json.loads(FITTED_PARAMS.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SynthguiError(f"geometry: cannot read the fitted statistics {FITTED_PARAMS} ({exc})") from None


def control_fields(domain: str) -> tuple:
    """The dataclass fields of a domain's controls: name, type and default of each (for a form)."""
    _check_domain(domain)
    return fields(_CONTROLS[domain])


def control_names(domain: str) -> tuple[str, ...]:
    """The keyword controls ``propose`` accepts for a domain (for a GUI panel or CLI help)."""
    return tuple(f.name for f in control_fields(domain))


def parse_controls(domain: str, items: list[str]) -> dict:
    """``["diameter=0.3", "centre=0.4,0.6", "eye=left"]`` as typed controls for ``propose``.

    Types come from the domain's controls dataclass, so the CLI and any panel accept exactly what
    ``propose`` does; a wrong name or value is one clear error, before any mask is made."""
    _check_domain(domain)
    types = {f.name: str(f.type) for f in fields(_CONTROLS[domain])}
    optional = _optional(domain)
    out: dict = {}
    for item in items:
        name, sep, text = item.partition("=")
        name, text = name.strip().replace("-", "_"), text.strip()
        if not sep or name not in types:
            raise SynthguiError(f"geometry control {item!r}: expected NAME=VALUE with NAME one of {', '.join(types)}")
        kind = types[name]
        try:
            if text.lower() in ("none", "fit"):
                value = None
                if name not in optional:  # a multiplier's or count's default is the fitted amount
                    continue
            elif "tuple" in kind:
                value = tuple(float(v) for v in text.split(","))
            elif "bool" in kind:
                if text.lower() not in ("true", "false", "yes", "no", "1", "0"):
                    raise ValueError(text)
                value = text.lower() in ("true", "yes", "1")
            elif "float" in kind:
                value = float(text)
            elif "int" in kind:
                value = int(text)
            else:
                value = text
        except ValueError:
            raise SynthguiError(f"geometry control {name}: {text!r} is not a valid {kind}") from None
        out[name] = value
    check_controls(domain, out)
    return out


def check_controls(domain: str, controls: dict) -> None:
    """Raise the generator's own error for controls it would refuse, without drawing anything
    (so a form can say so and stay open)."""
    _check_domain(domain)
    try:
        chosen = _CONTROLS[domain](**_drop_unset(domain, controls))
    except (TypeError, ValueError) as exc:
        raise SynthguiError(f"{domain} geometry controls: {exc}") from None
    _CHECKS[domain](chosen)


def _optional(domain: str) -> set[str]:
    """Controls whose "unset" (None) is a value of their own: drawn from the fit per proposal."""
    return {f.name for f in fields(_CONTROLS[domain]) if f.default is None}


def _drop_unset(domain: str, controls: dict) -> dict:
    """None for a control whose default is a number or a switch means "as fitted": that default."""
    optional = _optional(domain)
    return {k: v for k, v in controls.items() if v is not None or k in optional}


def _check_domain(domain: str) -> None:
    if domain not in DOMAINS:
        raise SynthguiError(f"no geometry generator for domain {domain!r} (available: {', '.join(DOMAINS)})")


def propose(domain: str, size: int, seed: int, **controls) -> np.ndarray:
    """A new size x size label map for ``domain``, reproducible from ``seed``; controls as in
    ``LesionControls`` (skin), ``VesselControls`` (fundus) or ``BrainControls`` (mri), unset ones
    drawn from the fit."""
    _check_domain(domain)
    if not isinstance(size, (int, np.integer)) or not 16 <= int(size) <= 8192:
        raise SynthguiError(f"proposed mask size must be 16 to 8192 pixels, not {size!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SynthguiError(f"a geometry seed is a whole number of at least 0, not {seed!r}")
    known = control_names(domain)
    unknown = sorted(set(controls) - set(known))
    if unknown:
        raise SynthguiError(f"unknown {domain} geometry control(s) {', '.join(unknown)} (known: {', '.join(known)})")
    try:
        chosen = _CONTROLS[domain](**_drop_unset(domain, controls))
    except TypeError as exc:
        raise SynthguiError(f"{domain} geometry controls: {exc}") from None
    if domain == "skin":
        return propose_lesions(int(size), int(seed), fitted()["lesions"], chosen)
    if domain == "mri":
        return propose_brain(int(size), int(seed), fitted()["mri"], chosen)
    return propose_vessels(int(size), int(seed), VesselParams.from_json(fitted()["vessels"]), chosen)


__all__ = ["DOMAINS", "CLASSES", "propose", "control_names", "check_controls", "fitted"]
