"""``synthgui study build|merge|analyze``: design a blinded Turing test, combine sessions, analyse them."""

from __future__ import annotations

import argparse
from pathlib import Path

MAX_GENERATE = 100_000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("study", help="build, merge and analyse human Turing tests",
                       description="Blinded real-vs-synthetic reader studies.")
    s = p.add_subparsers(dest="study_command", metavar="ACTION", required=True)

    b = s.add_parser("build", help="build a study folder and its separate answer key")
    b.add_argument("--real", required=True, type=Path, help="folder of real images")
    b.add_argument("--synthetic", type=Path, default=None, help="folder of synthetic images")
    b.add_argument("--generate", metavar="MODEL", default=None, help="also render synthetic images with this model")
    b.add_argument("--count", type=int, default=None, help="how many images --generate renders, at most 100,000 "
                   "(five-digit names; at 5 s a case, 140 hours of reading)")
    b.add_argument("--masks", type=Path, default=None, help="masks for --generate (default: proposed masks)")
    b.add_argument("--device", default="auto", help="device for --generate")
    b.add_argument("--out", required=True, type=Path, help="new study folder (what readers get)")
    b.add_argument("--key", type=Path, default=None, help="answer key file (default: OUT.key.json beside OUT)")
    b.add_argument("--per-class", type=int, default=None, help="scored cases per class (default: balanced, all)")
    b.add_argument("--practice", type=int, default=0, help="practice cases with feedback (not scored), 0 or more")
    b.add_argument("--seed", type=int, default=0, help="seed for choosing files and generating")
    b.add_argument("--size", type=int, default=512, help="side of every study image in pixels")
    b.add_argument("--title", default="", help="study title shown to readers")
    b.add_argument("--no-confidence", action="store_true", help="ask the real/synthetic call only")
    b.add_argument("--diagnoses", default="", help="comma-separated diagnosis choices (asks a diagnosis)")
    b.add_argument("--note", action="store_true", help="offer a free-text note per case")
    b.add_argument("--tell-ratio", action="store_true", help="tell readers how many images are synthetic")
    b.add_argument("--time-limit", type=float, default=None, help="seconds per case, a positive number (default: none)")
    b.add_argument("--blank-ms", type=int, default=500, help="blank screen between cases")
    b.add_argument("--allow-back", action="store_true", help="let readers go back and change an answer")
    b.add_argument("--no-zoom", action="store_true", help="forbid zooming")
    b.add_argument("--no-feedback", action="store_true", help="no right/wrong feedback in practice")
    b.add_argument("--dicom-window", default=None, metavar="CENTRE,WIDTH", help="one window preset for every DICOM")
    b.set_defaults(func=run_build)

    m = s.add_parser("merge", help="combine reader session files without double counting")
    m.add_argument("sessions", nargs="+", type=Path, help="session .sqlite files, session folders or study folders")
    m.add_argument("--out", required=True, type=Path, help="merged session file to write")
    m.set_defaults(func=run_merge)

    a = s.add_parser("analyze", aliases=["analyse"], help="statistics and reports (positive class = synthetic)")
    a.add_argument("study", type=Path, help="study folder (its sessions/), a session folder or a merged file")
    a.add_argument("--key", type=Path, default=None, help="answer key (default: STUDY.key.json beside the study)")
    a.add_argument("--sessions", nargs="*", type=Path, default=None, help="session files instead of STUDY/sessions")
    a.add_argument("--out", required=True, type=Path, help="report folder")
    a.set_defaults(func=run_analyze)


def options_from_args(args: argparse.Namespace):
    from ..core.errors import SynthguiError
    from ..core.study.design import StudyOptions

    window = None
    if args.dicom_window:
        try:
            centre, width = (float(x) for x in args.dicom_window.split(","))
        except ValueError:
            raise SynthguiError("--dicom-window takes CENTRE,WIDTH, e.g. 40,400") from None
        window = (centre, width)
    return StudyOptions(
        confidence=not args.no_confidence, diagnoses=[d.strip() for d in args.diagnoses.split(",") if d.strip()],
        note=args.note, disclose_ratio=args.tell_ratio, time_limit_s=args.time_limit, blank_ms=args.blank_ms,
        practice_feedback=not args.no_feedback, allow_back=args.allow_back, allow_zoom=not args.no_zoom,
        size=args.size, dicom_window=window)


def run_build(args: argparse.Namespace) -> int:
    import sys

    from ..core.study.build import FolderBuild, build_from_folders
    from ..core.errors import SynthguiError
    from .checks import SEED_LIMIT, at_least_zero, at_most, positive, seeds

    seeds(args, "seed")  # numpy's generator takes no negative seed
    at_most(args, "count", MAX_GENERATE, "the generated images have five-digit names, and no reader rates more")
    if args.count is not None and args.seed + args.count > SEED_LIMIT:  # image i has seed --seed + i
        raise SynthguiError("--seed + --count must stay below 2**63: every generated image's seed is a whole number "
                            "from 0 to 2**63 - 1")
    at_least_zero(args, "practice")
    positive(args, "time_limit")  # nan would be written into study.json, inf is no limit: leave it out
    spec = FolderBuild(args.real, args.synthetic, args.out, args.key, args.generate, args.count or 0, args.masks,
                       args.device, args.per_class, args.practice, args.seed, args.title, options_from_args(args))
    result = build_from_folders(spec, progress=_progress)
    if sys.stdout.isatty():
        print()
    main = len(result.study.phase_cases("main"))
    print(f"study {result.study.study_id}: {main} scored case(s), {len(result.study.cases) - main} practice, in {args.out}")
    print(f"answer key: {result.key_path} (keep it away from readers)")
    for warning in result.warnings:
        print(f"synthgui study build: warning: {warning}")
    clear = next(a for a in result.audits if a.stage == "study images").all_clear()
    if clear:
        print(f"leak audit: {clear}")
    return 0


def _progress(stage: str, done: int, total: int) -> None:
    import sys

    if sys.stdout.isatty():
        print(f"\r{stage}: {done}/{total}", end="", flush=True)


def run_merge(args: argparse.Namespace) -> int:
    from ..core.study.merge import merge_sessions

    result = merge_sessions(args.sessions, args.out)
    readers = sorted({j.reader_id for j in result.judgments})
    print(f"merged {len(result.sources)} file(s): {len(result.judgments)} judgment(s) from {len(readers)} reader(s) "
          f"into {args.out}; {result.duplicates} duplicate(s) counted once")
    for c in result.conflicts:
        print(f"synthgui study merge: warning: conflicting copies of {c}")
    for note in result.notes:
        print(f"synthgui study merge: warning: {note}")
    return 0


def run_analyze(args: argparse.Namespace) -> int:
    import sys

    from ..core.errors import SynthguiError
    from ..core.study.analysis import analyse, scored_judgments
    from ..core.study.build import default_key_path
    from ..core.study.key import load_key
    from ..core.study.merge import collect
    from ..core.study.report import write_report

    key_path = args.key
    if not args.study.exists():
        raise SynthguiError(f"no such study folder or session file: {args.study}")
    if args.study.is_dir():
        out = args.out.resolve()
        study = args.study.resolve()
        if out == study or study in out.parents:
            raise SynthguiError("the report names the truth of every case: write it outside the study folder "
                                "(readers get the whole folder)")
    if key_path is None:
        if not args.study.is_dir():
            raise SynthguiError("give --key KEY when analysing a session file")
        key_path = default_key_path(args.study.resolve())
    key = load_key(key_path)
    merged = collect(args.sessions if args.sessions else [args.study])
    for note in merged.notes:
        print(f"synthgui study analyze: warning: {note}", file=sys.stderr)
    if merged.study_id and merged.study_id != key.study_id:
        raise SynthguiError(f"the sessions are from study {merged.study_id}, the key is for {key.study_id}")
    truth_main = {e.case_id: e.truth for e in key.entries if e.phase == "main"}
    analysis = analyse(merged.judgments, truth_main, key.study_id)
    rows = scored_judgments(merged.judgments, truth_main)
    files = write_report(args.out, analysis, merged.judgments, key.truth(), rows, key.leak_audit,
                         f"Turing test {key.study_id}")
    p = analysis.pooled
    if p.n:
        cluster = (f"; readers and images resampled {p.cluster_ci[0]:.3f}-{p.cluster_ci[1]:.3f}" if p.cluster_ci
                   else "")
        print(f"positive class = synthetic; {len(analysis.readers)} reader(s), {p.n} scored reading(s); "
              f"pooled accuracy {p.accuracy.estimate:.3f} (as if readings were independent: "
              f"Wilson {p.accuracy.wilson[0]:.3f}-{p.accuracy.wilson[1]:.3f}, p={p.p_value:.3g} {p.test}{cluster})")
    else:
        print(f"{len(analysis.readers)} reader(s), no answered scored reading (every case timed out or was not "
              "shown): no accuracy to report")
    if merged.duplicates:
        print(f"{merged.duplicates} duplicate judgment(s) in the session files counted once")
    for f in files:
        print(f"wrote {f}")
    return 0
