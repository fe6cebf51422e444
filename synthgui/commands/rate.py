"""``synthgui rate STUDY``: open the full-screen rating viewer for one reader."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rate", help="rate a study's images as real or synthetic (full-screen viewer)",
                       description="Blinded rating session. Quit at any time (Esc, then confirm); "
                       "the same reader ID resumes at the next unanswered case.")
    p.add_argument("study", help="study folder built by 'synthgui study build'")
    p.add_argument("--reader", default=None, help="pseudonymous reader ID (asked for when omitted)")
    p.add_argument("--sessions", default=None, help="folder for the session files (default: STUDY/sessions)")
    p.add_argument("--backup-dir", default=None, help="folder for the append-only backup log, ideally on another "
                   "drive (default: beside the session file)")
    p.add_argument("--windowed", action="store_true", help="a window instead of full screen")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..core.study.design import load_study
    from ..core.study.session_log import check_reader_id

    study = load_study(args.study, require_images=False)  # a bad folder or reader ID is reported before any window opens
    if study.missing:
        print(f"synthgui rate: warning: {len(study.missing)} case image(s) missing from {args.study}/images "
              f"(e.g. {study.missing[0]}); the viewer will say so at those cases", file=sys.stderr)
    if args.reader is not None:
        check_reader_id(args.reader)
    from .gui import window_problem

    problem = window_problem()
    if problem is not None:  # Qt would abort the process instead of saying why
        print(f"synthgui rate: cannot open a window: {problem}", file=sys.stderr)
        return 1
    from ..gui.rating.app import run_rating_app

    return run_rating_app(args.study, args.reader, args.sessions, fullscreen=not args.windowed, backup=args.backup_dir)
