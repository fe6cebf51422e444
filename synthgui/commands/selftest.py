"""``synthgui selftest``: prove an installation works end to end, on this machine, in under a minute.

Runs the subcommands a user runs (render, export, study build and analyze) in-process, then opens
the studio and a rating session and drives them with input events. The desktop bundle's smoke test
is this command run from the bundled executable; IT staff can run it after installing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("selftest", help="check this installation end to end (render, export, study, windows)",
                       description="Render a bundled sample mask, export a few images, build and analyse a tiny "
                       "blinded study, open the studio and a rating session and drive them by mouse and "
                       "keyboard. Prints one line per step; exit status 0 when every step passed. Your "
                       "settings, models and files are not touched.")
    p.add_argument("--model", default=None, help="model to check (default: the bundled default)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--no-window", action="store_true", help="skip the studio and rating windows (no display)")
    p.add_argument("--keep", type=Path, default=None, help="keep the outputs in this new folder")
    p.set_defaults(func=run)


class Checks:
    """Runs named steps, prints each outcome, and remembers whether all passed."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def step(self, name: str, fn: Callable[[], str]) -> bool:
        start = time.perf_counter()
        try:
            detail = fn()
        except SystemExit as exc:
            detail, ok = f"exited with status {exc.code}", exc.code in (0, None)
        except Exception as exc:  # noqa: BLE001 (a self-test reports every failure and goes on)
            detail, ok = f"{type(exc).__name__}: {exc}", False
        else:
            ok = True
        took = time.perf_counter() - start
        print(f"{'ok  ' if ok else 'FAIL'} {name:<8} {detail} ({took:.1f} s)", flush=True)
        if not ok:
            self.failed.append(name)
        return ok


def _cli(*argv: str) -> str:
    """Run one subcommand as the user would; its own output is kept out of the check's lines."""
    import contextlib
    import io

    from ..cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        rc = main(list(argv))
    if rc != 0:
        raise RuntimeError(f"synthgui {' '.join(argv[:2])} exited {rc}: {out.getvalue().strip()[-400:]}")
    return out.getvalue()


def _sample_mask(domain: str) -> Path:
    from ..core.model_files import resources_dir

    masks = sorted((resources_dir() / "masks").glob("*.png"))
    prefix = {"skin": "skin-lesion", "fundus": "fundus"}.get(domain, "")
    matching = [m for m in masks if prefix and m.name.startswith(prefix)]
    if not matching:
        raise FileNotFoundError(f"no bundled sample mask for domain {domain!r} in {resources_dir() / 'masks'}")
    return matching[0]


def _render(model: str, device: str, work: Path) -> str:
    import numpy as np
    from PIL import Image

    from ..core.card import ModelCard, generic_card
    from ..core.model_files import resolve_model

    entry = resolve_model(model)
    card = ModelCard.load(entry.card_path) if entry.card_path else generic_card(entry.name)
    out = work / "render.png"
    line = _cli("render", "--model", str(entry.weights), "--mask", str(_sample_mask(card.domain)), "--out", str(out),
                "--device", device)
    image = np.asarray(Image.open(out))
    if image.std() < 1.0:
        raise RuntimeError(f"the render is a flat image (std {image.std():.2f})")
    return line.strip().splitlines()[-1]


def _export(model: str, device: str, work: Path, count: int) -> str:
    import csv

    out = work / "export"
    _cli("export", "--model", model, "--out", str(out), "--random", str(count), "--no-progress", "--device", device)
    with open(out / "manifest.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    images = sorted((out / "images").iterdir())
    if len(rows) != count or len(images) != count:
        raise RuntimeError(f"expected {count} images and manifest rows, found {len(images)} and {len(rows)}")
    return f"{count} random-geometry images with masks, manifest and dataset card"


def _build_study(work: Path) -> str:
    images = sorted((work / "export" / "images").iterdir())
    half = len(images) // 2
    for folder, chosen in (("real", images[:half]), ("synthetic", images[half:])):
        (work / folder).mkdir()
        for p in chosen:
            shutil.copy2(p, work / folder / p.name)
    # Renders stand in for both classes: this checks the machinery, not a generator's realism.
    _cli("study", "build", "--real", str(work / "real"), "--synthetic", str(work / "synthetic"),
         "--out", str(work / "study"), "--blank-ms", "0", "--size", "128")
    return f"{2 * half} cases, answer key apart, leak audit run"


def _analyze(work: Path) -> str:
    summary = _cli("study", "analyze", str(work / "study"), "--out", str(work / "report")).splitlines()[0]
    html = work / "report" / "report.html"
    if not html.is_file():
        raise RuntimeError(f"no report at {html}")
    return summary


def run(args: argparse.Namespace) -> int:
    from ..core.model_files import default_model_name, resolve_model

    model = args.model or default_model_name()
    if model is None:
        print("FAIL models   no bundled model found and none given (--model)")
        return 1
    model = str(resolve_model(model).weights)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=False)
        work = args.keep
    else:
        work = Path(tempfile.mkdtemp(prefix="synthgui-selftest-"))
    checks = Checks()
    try:
        print(f"synthgui selftest: model {model}, outputs in {work}", flush=True)
        checks.step("render", lambda: _render(model, args.device, work))
        exported = checks.step("export", lambda: _export(model, args.device, work, 4))
        built = exported and checks.step("study", lambda: _build_study(work))
        rated = False if args.no_window else _window_steps(checks, model, work if built else None)
        if rated:  # analysis needs a reader's session
            checks.step("analyze", lambda: _analyze(work))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    if checks.failed:
        print(f"synthgui selftest: FAILED: {', '.join(checks.failed)}", file=sys.stderr)
        return 1
    print("synthgui selftest: all checks passed")
    return 0


def _window_steps(checks: Checks, model: str, work: Path | None) -> bool:
    """The studio and, when a study was built, a rating session; True when the session was rated."""
    from .gui import window_problem

    problem = window_problem()
    if problem is not None:
        def explain() -> str:
            raise RuntimeError(f"{problem} (or run with --no-window, or QT_QPA_PLATFORM=offscreen)")

        checks.step("windows", explain)
        return False
    from PySide6.QtCore import QSettings

    from ..gui.app import make_app

    settings = Path(tempfile.mkdtemp(prefix="synthgui-selftest-settings-"))
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(settings))  # the user's stay as they were
    try:
        make_app()
        from ..gui.selftest import rating_check, studio_check

        checks.step("studio", lambda: studio_check(model))
        return work is not None and checks.step("rating", lambda: rating_check(work / "study", "selftest-reader", _truth(work)))
    finally:
        shutil.rmtree(settings, ignore_errors=True)


def _truth(work: Path) -> Callable[[str], str]:
    from ..core.study.build import default_key_path
    from ..core.study.key import load_key

    truth = load_key(default_key_path(work / "study")).truth()
    return lambda case_id: truth[case_id]
