"""Card metrics for a trained model, computed on held-out pairs with the app's own engine.

    python3 bench/evaluate_models.py --model resources/models/skin-lesion.pth --pairs runs/data/skin \
        --figure docs/img/skin-lesion-samples.png --write-card

Paired scores (L1, SSIM, PSNR) compare each render with the real image of the same mask; the colour
histogram distance compares the generated set with the real held-out set (and, as a yardstick, real
training images with the same real held-out set); memorisation compares how close outputs sit to
their nearest training image with how close unseen real images do. Skin models also get the
tone-fidelity table: the same held-out masks rendered at each Fitzpatrick preset, Delta E between the
requested tone and the rendered non-lesion skin.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synthgui.core.card import ModelCard  # noqa: E402
from synthgui.core.encoding import EncodeRequest  # noqa: E402
from synthgui.core.engine import Engine  # noqa: E402
from synthgui.core.masks import colourise  # noqa: E402
from synthgui.core.models import load_model  # noqa: E402
from synthgui.core import quality  # noqa: E402
from synthgui.core.skin_tones import FITZPATRICK_LAB, FITZPATRICK_RGB, lab_to_rgb  # noqa: E402


def read_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def read_ids(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im)


def load_split(pairs: Path, split: str, limit: int | None) -> list[dict]:
    folder = pairs / split
    names = sorted(p.stem for p in (folder / "images").glob("*.png"))[:limit]
    return [{"name": n, "image": read_rgb(folder / "images" / f"{n}.png"), "labels": read_ids(folder / "labels" / f"{n}.png"),
             "mask": read_rgb(folder / "masks" / f"{n}.png")} for n in names]


def request_for(pair: dict, card: ModelCard) -> EncodeRequest:
    """Skin: render at the patient's own skin colour (the background of the prepared map)."""
    if not card.uses_skin_tone:
        return EncodeRequest()
    from synthgui.core.prepare import skin_lab_of_semantic_map

    _, lab = skin_lab_of_semantic_map(pair["mask"], card)
    return EncodeRequest(skin_tone=tuple(int(c) for c in lab_to_rgb(lab)))


def mask_picture(pair: dict, card: ModelCard, request: EncodeRequest) -> np.ndarray:
    if card.uses_skin_tone:
        from synthgui.core.encoding import semantic_rgb

        return semantic_rgb(pair["labels"], card, request.skin_tone)
    return colourise(pair["labels"], card)


def figure(rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]], path: Path, title: str) -> None:
    import cv2
    from PIL import Image

    side = rows[0][0].shape[0]
    gap = 4
    width = 3 * side + 2 * gap
    header = np.full((28, width, 3), 255, np.uint8)
    for i, text in enumerate(("held-out mask", "generated", "real")):
        cv2.putText(header, text, (i * (side + gap) + 8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    lines = [header]
    for mask, gen, real in rows:
        spacer = np.full((side, gap, 3), 255, np.uint8)
        lines.append(np.concatenate([mask, spacer, gen, spacer, real], axis=1))
        lines.append(np.full((gap, width, 3), 255, np.uint8))
    grid = np.concatenate(lines, axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    from synthgui.core.atomic import write_with_atomic

    write_with_atomic(path, lambda tmp: Image.fromarray(grid).save(tmp, format="PNG", optimize=True))
    print(f"figure {path} ({title})")


def tone_strip(engine: Engine, pairs: list[dict], path: Path, mode: str) -> None:
    """Same held-out masks at Fitzpatrick I..VI (one row per mask): for the README and a visual check."""
    from PIL import Image

    from synthgui.core.atomic import write_with_atomic

    rows = []
    for pair in pairs:
        row = [engine.render(pair["labels"], EncodeRequest(skin_tone=FITZPATRICK_RGB[t]), seed=0, mode=mode) for t in FITZPATRICK_RGB]
        rows.append(np.concatenate(row, axis=1))
    grid = np.concatenate(rows, axis=0)
    write_with_atomic(path, lambda tmp: Image.fromarray(grid).save(tmp, format="PNG", optimize=True))
    print(f"tone strip {path}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="weights path (card beside it)")
    ap.add_argument("--pairs", type=Path, required=True, help="output folder of 'synthgui prepare' (train/ and val/)")
    ap.add_argument("--n-val", type=int, default=100, help="held-out pairs to score")
    ap.add_argument("--n-train", type=int, default=400, help="training images searched for nearest neighbours")
    ap.add_argument("--n-tone", type=int, default=30, help="held-out masks per Fitzpatrick preset")
    ap.add_argument("--mode", help="render mode (default: the card's)")
    ap.add_argument("--figure", type=Path, help="write held-out mask | generated | real rows here")
    ap.add_argument("--tone-figure", type=Path, help="skin: write a Fitzpatrick I..VI strip here")
    ap.add_argument("--rows", type=int, default=4)
    ap.add_argument("--write-card", action="store_true", help="store the metrics in the model's card")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    t0 = time.time()
    model = load_model(args.model)
    card = model.card
    engine = Engine(model, device="cpu", threads=args.threads)
    mode = args.mode or card.default_mode
    val = load_split(args.pairs, "val", args.n_val)
    train = load_split(args.pairs, "train", args.n_train)
    requests = [request_for(p, card) for p in val]
    generated = [engine.render(p["labels"], rq, seed=i, mode=mode) for i, (p, rq) in enumerate(zip(val, requests))]
    real = [p["image"] for p in val]
    paired = quality.paired_scores(generated, real)
    metrics: dict = {
        "heldout_pairs": {"n": paired.n, "mode": mode, "l1": round(paired.l1, 4), "ssim": round(paired.ssim, 4),
                          "psnr_db": round(paired.psnr, 2)},
        "colour_histogram_hellinger": {
            "generated_vs_real_heldout": round(quality.histogram_distance(generated, real), 4),
            "real_train_vs_real_heldout": round(quality.histogram_distance([p["image"] for p in train], real), 4),
            "bins_per_channel": 8,
        },
    }
    mem = quality.memorisation(generated, real, [p["image"] for p in train])
    metrics["memorisation"] = {
        "nearest_training_l1_generated_median": round(mem.median_generated, 4),
        "nearest_training_l1_real_heldout_median": round(mem.median_real_heldout, 4),
        "ratio": round(mem.ratio, 3),
        "nearest_training_l1_generated_min": round(mem.min_generated, 4),
        "training_images_searched": len(train),
        "thumbnail": "64x64",
    }
    if card.uses_skin_tone:
        rows = []
        subset = val[: args.n_tone]
        lesions = [(p["labels"] > 0).astype(np.uint8) for p in subset]
        for tone, lab in FITZPATRICK_LAB.items():
            renders = [engine.render(p["labels"], EncodeRequest(skin_tone=FITZPATRICK_RGB[tone]), seed=i, mode=mode)
                       for i, p in enumerate(subset)]
            rows.append(quality.tone_row(tone, lab, renders, lesions))
        metrics["tone_fidelity"] = {
            "masks": len(subset),
            "metric": "CIE76 Delta E between the requested preset (Lab) and the median Lab of rendered non-lesion skin",
            "rows": [quality.as_dict(r) for r in rows],
        }
        print(quality.tone_table_markdown(rows))
        if args.tone_figure:
            tone_strip(engine, val[:3], args.tone_figure, mode)
    print(json.dumps(metrics, indent=2))
    if args.figure:
        picks = list(range(min(args.rows, len(val))))
        figure([(mask_picture(val[i], card, requests[i]), generated[i], real[i]) for i in picks], args.figure, card.name)
    if args.write_card:
        path = model.entry.card_path
        if path is None:
            raise SystemExit("the model has no card to write into")
        saved = ModelCard.load(path)
        saved.metrics = {**{k: v for k, v in saved.metrics.items() if k == "training"}, **metrics}
        saved.save(path)
        print(f"metrics written to {path}")
    print(f"evaluated in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
