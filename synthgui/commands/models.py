"""``synthgui models``: what models are installed, and what one of them is."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list models, or show one model's card", description="List bundled and user models.")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    show = msub.add_parser("show", help="print a model's card and inferred architecture")
    show.add_argument("model", help="model name or weights path")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "models_command", None) == "show":
        return _show(args.model, args.json)
    from ..core.models import bundled_models_dir, list_models, user_models_dir

    entries = list_models()
    if not entries:
        print(f"no models installed (bundled: {bundled_models_dir()}, user: {user_models_dir()})")
        return 0
    width = max(len(e.name) for e in entries)
    for e in entries:
        card = "card" if e.card_path else "no card"
        print(f"{e.name:<{width}}  {e.source:<7}  {card:<7}  {e.weights}")
    return 0


def _show(name: str, as_json: bool) -> int:
    from ..core.models import load_model

    model = load_model(name)
    spec = asdict(model.spec)
    params = sum(p.numel() for p in model.net.parameters())
    if as_json:
        out = {"card": model.card.to_json(), "architecture": {**spec, "name": model.spec.name, "parameters": params},
               "weights": str(model.entry.weights), "sha256": model.sha256, "warnings": model.warnings}
        print(json.dumps(out, indent=2))
        return 0
    card = model.card
    for w in model.warnings:
        print(f"warning: {w}")
    print(f"{card.name} {card.version}  ({card.domain})")
    print(f"  weights       {model.entry.weights}  sha256 {model.sha256[:16]}...")
    print(f"  architecture  {model.spec.name}, ngf {spec['ngf']}, {spec['input_nc']}->{spec['output_nc']} channels, "
          f"norm {spec['norm']}, dropout {'on' if spec['dropout'] else 'off'}, upsample {spec['upsample']}, {params:,} parameters")
    print(f"  encoding      {card.encoding.kind}, resolution {card.resolution}, default mode {card.default_mode}")
    for c in card.classes:
        print(f"  class {c.id:<3}     {c.name}  #{c.color[0]:02x}{c.color[1]:02x}{c.color[2]:02x}")
    if card.background:
        print(f"  background    {card.background}")
    print(f"  licence       {card.licence}")
    for d in card.training_data:
        print(f"  trained on    {d.get('name', d)} ({d.get('licence', '?')})")
    if card.intended_use:
        print(f"  intended use  {card.intended_use}")
    if card.limits:
        print(f"  limits        {card.limits}")
    for k, v in card.metrics.items():
        print(f"  metric        {k}: {v}")
    return 0
