"""Skin-tone presets and colour conversions used by the skin encoding and its fidelity metric.

The six presets are the centres of the individual typology angle (ITA) bands that Chardon et al.
(1991) use as a colorimetric proxy for Fitzpatrick types I-VI. Each preset is a CIELAB colour
(D65, L* a* b*) whose ITA = atan((L* - 50) / b*) lies mid-band; the RGB value is its sRGB form.

| type | L*, a*, b* | ITA | sRGB |
|------|------------|-----|------|
| I    | 76, 9, 13  | 63.4 | #d5b5a4 |
| II   | 68, 11, 16 | 48.4 | #c49e89 |
| III  | 62, 13, 18 | 33.7 | #b78d77 |
| IV   | 57, 14, 20 | 19.3 | #ac7f67 |
| V    | 46, 14, 22 | -10.3 | #8e6349 |
| VI   | 32, 11, 16 | -48.4 | #634433 |
"""

from __future__ import annotations

import math
import re

import numpy as np

from .errors import SynthguiError

FITZPATRICK_LAB: dict[str, tuple[float, float, float]] = {
    "I": (76.0, 9.0, 13.0),
    "II": (68.0, 11.0, 16.0),
    "III": (62.0, 13.0, 18.0),
    "IV": (57.0, 14.0, 20.0),
    "V": (46.0, 14.0, 22.0),
    "VI": (32.0, 11.0, 16.0),
}

FITZPATRICK_RGB: dict[str, tuple[int, int, int]] = {
    "I": (0xD5, 0xB5, 0xA4),
    "II": (0xC4, 0x9E, 0x89),
    "III": (0xB7, 0x8D, 0x77),
    "IV": (0xAC, 0x7F, 0x67),
    "V": (0x8E, 0x63, 0x49),
    "VI": (0x63, 0x44, 0x33),
}

RGB = tuple[int, int, int]
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


def parse_color(text: str) -> RGB:
    """Accept ``#rrggbb``/``rrggbb`` or ``r,g,b``."""
    text = text.strip()
    match = _HEX.match(text)
    if match:
        value = int(match.group(1), 16)
        return ((value >> 16) & 255, (value >> 8) & 255, value & 255)
    parts = text.split(",")
    if len(parts) == 3 and all(p.strip().isdigit() for p in parts):
        rgb = tuple(int(p) for p in parts)
        if all(0 <= c <= 255 for c in rgb):
            return rgb  # type: ignore[return-value]
    raise SynthguiError(f"not a colour: {text!r} (use #rrggbb or r,g,b)")


def parse_skin_tone(text: str) -> RGB:
    """A Fitzpatrick type (``I``..``VI``, ``1``..``6``, ``type III``) or any colour."""
    key = text.strip().upper().removeprefix("TYPE").strip()
    if key.isdigit() and 1 <= int(key) <= 6:
        key = ["I", "II", "III", "IV", "V", "VI"][int(key) - 1]
    if key in FITZPATRICK_RGB:
        return FITZPATRICK_RGB[key]
    try:
        return parse_color(text)
    except SynthguiError:
        raise SynthguiError(f"not a skin tone: {text!r} (use I..VI or #rrggbb)") from None


def to_hex(rgb: RGB) -> str:
    return "#%02x%02x%02x" % tuple(int(c) for c in rgb)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB uint8 (..., 3) to CIELAB (D65) float, via OpenCV's exact float conversion."""
    import cv2

    arr = np.asarray(rgb, dtype=np.float32).reshape(-1, 1, 3) / 255.0
    lab = cv2.cvtColor(arr, cv2.COLOR_RGB2Lab)
    return lab.reshape(np.shape(rgb))


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    import cv2

    arr = np.asarray(lab, dtype=np.float32).reshape(-1, 1, 3)
    rgb = cv2.cvtColor(arr, cv2.COLOR_Lab2RGB)
    return np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8).reshape(np.shape(lab))


def ita_degrees(lab: np.ndarray) -> np.ndarray:
    """Individual typology angle of CIELAB colours (degrees)."""
    lab = np.asarray(lab, dtype=np.float64)
    return np.degrees(np.arctan2(lab[..., 0] - 50.0, lab[..., 2]))


def delta_e76(lab_a: np.ndarray, lab_b: np.ndarray) -> np.ndarray:
    """CIE76 colour difference; adequate for reporting how far a rendered skin is from the request."""
    return np.linalg.norm(np.asarray(lab_a, np.float64) - np.asarray(lab_b, np.float64), axis=-1)


def nearest_fitzpatrick(rgb: RGB) -> str:
    """The preset whose ITA band centre is closest to this colour's ITA."""
    ita = float(ita_degrees(rgb_to_lab(np.array(rgb, np.uint8))))
    best = min(FITZPATRICK_LAB, key=lambda k: abs(float(ita_degrees(np.array(FITZPATRICK_LAB[k]))) - ita))
    return best if not math.isnan(ita) else "I"
