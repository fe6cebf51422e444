"""Training images for the vessel mask GAN (dual GAN stage 1) from the CHASE_DB1 and HRF masks.

    python3 bench/vessel_gan_data.py --out runs/data/vessel-gan [--size 128] [--data ../shared/data]

Each mask is cropped to its field of view (padded to a square, as the realism measures do) and
written as one grey image: black outside the field of view, mid-grey retina, white vessels,
area-averaged to ``--size``. A DCGAN trained on these (``synthgui train-gan --channels 1``) makes
whole label maps; ``bench/bench_geometry.py --vessel-gan`` reads its samples back by the same levels.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from fit_geometry import real_vessel_masks  # noqa: E402

LEVELS = {"outside": 0, "retina": 128, "vessel": 255}


def encode(vessels: np.ndarray, fov: np.ndarray, size: int) -> np.ndarray:
    ys, xs = np.nonzero(fov)
    box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    grey = np.where(vessels & fov, LEVELS["vessel"], np.where(fov, LEVELS["retina"], LEVELS["outside"])).astype(np.float32)[box]
    side = max(grey.shape)
    square = np.zeros((side, side), np.float32)
    oy, ox = (side - grey.shape[0]) // 2, (side - grey.shape[1]) // 2
    square[oy : oy + grey.shape[0], ox : ox + grey.shape[1]] = grey
    return np.clip(cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA) + 0.5, 0, 255).astype(np.uint8)


def decode(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(vessels, field of view) from a generated grey image, by the nearest of the three levels."""
    g = grey.astype(np.float32)
    return g > (LEVELS["retina"] + LEVELS["vessel"]) / 2 - 32, g > LEVELS["retina"] / 2


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    n = 0
    for n, (vessels, fov) in enumerate(real_vessel_masks(args.data), 1):
        Image.fromarray(encode(vessels, fov, args.size)).save(args.out / f"vessels_{n:03d}.png")
    print(f"wrote {n} images of {args.size} px to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
