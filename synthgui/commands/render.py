"""``synthgui render``: one mask to one image from the command line."""

from __future__ import annotations

import argparse
import os
import time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render", help="render one mask with a generator", description="Render one mask PNG to an image.")
    p.add_argument("--model", default=None, help="bundled/user model name, or a .pth/.safetensors path (default: the bundled default)")
    p.add_argument("--mask", required=True, help="mask image: binary, class ids, or the card's class colours")
    p.add_argument("--out", required=True, help="output image (.png, .jpg, .tif)")
    p.add_argument("--skin-tone", default=None, help="Fitzpatrick type I..VI or #rrggbb (skin models)")
    p.add_argument("--condition", default=None, help="class name for every lesion pixel")
    p.add_argument("--seed", type=int, default=0, help="variation seed (reference mode)")
    p.add_argument("--mode", choices=("reference", "deterministic", "eval"), default=None, help="test-time mode (default: the card's)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..core.encoding import EncodeRequest
    from ..core.engine import Engine
    from ..core.imagefiles import save_image, synthetic_note
    from ..core.masks import load_mask
    from ..core.models import default_model_name, load_model
    from ..core.skin_tones import parse_skin_tone
    from ..core.errors import SynthguiError
    from .checks import seeds

    seeds(args, "seed")
    model_name = args.model or default_model_name()
    if model_name is None:
        raise SynthguiError("no model given and no bundled model installed; pass --model PATH")
    tone = parse_skin_tone(args.skin_tone) if args.skin_tone else None
    model = load_model(model_name)
    for warning in model.warnings:
        print(f"synthgui render: warning: {warning}")
    if tone is not None and not model.card.uses_skin_tone:
        print(f"synthgui render: warning: model {model.name!r} takes no skin tone; --skin-tone ignored")
    label_map = load_mask(args.mask, model.card)
    if args.condition:
        model.card.class_by_name(args.condition)
    engine = Engine(model, device=args.device, threads=os.cpu_count(), trace=False)  # one image: tracing would not pay
    start = time.perf_counter()
    image = engine.render(label_map, EncodeRequest(skin_tone=tone, condition=args.condition), seed=args.seed, mode=args.mode)
    save_image(args.out, image, note=synthetic_note(model.name, model.card.version))
    print(f"wrote {args.out} ({image.shape[1]}x{image.shape[0]}, {model.name}, {engine.device}, "
          f"{(time.perf_counter() - start) * 1000:.0f} ms)")
    return 0
