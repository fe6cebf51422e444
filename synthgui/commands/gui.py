"""``synthgui gui`` (and ``synthgui`` alone): open the studio window."""

from __future__ import annotations

import argparse
import ctypes.util
import os
import sys
from typing import Sequence

XCB_PACKAGES = ("libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 "
                "libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0")
# Libraries Qt's xcb plugin loads that desktop installs often lack (libxcb-cursor since Qt 6.5).
XCB_LIBRARIES = ("xcb-cursor", "xcb-icccm", "xcb-image", "xcb-keysyms", "xcb-randr", "xcb-render-util",
                 "xcb-shape", "xcb-xinerama", "xcb-xkb", "xkbcommon-x11")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open the studio window", description="Open the studio window.")
    _add_arguments(p)
    p.set_defaults(func=lambda args: launch_args(args))


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("project", nargs="?", help="a .synthgui project to open")
    p.add_argument("--model", help="model name or weights file to load instead of the default")


def uses_xcb(env: dict[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether Qt would pick its X11 (xcb) plugin here."""
    env = dict(os.environ) if env is None else env
    if (platform or sys.platform) != "linux":
        return False
    requested = env.get("QT_QPA_PLATFORM", "")
    if requested:
        return requested.split(";")[0].split(":")[0] == "xcb"
    return not (env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE") == "wayland")


def missing_xcb_libraries(find=ctypes.util.find_library) -> list[str]:
    return [name for name in XCB_LIBRARIES if find(name) is None]


def binding_problem() -> str | None:
    """Why the installed PySide6 would crash the app later, or None.

    PySide6 6.12.0 takes a reference from ``True`` on every ``Signal.emit()``. Where ``True`` is not
    immortal (Python 3.11 and older) the interpreter aborts once its count runs out: after a few
    thousand signals, that is minutes of drawing, with the work unsaved. Probed, not matched by
    version number, so a later release with the same fault is caught too."""
    if sys.version_info >= (3, 12):
        return None
    from PySide6 import __version__ as version
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe, emits = _Probe(), 8
    before = sys.getrefcount(True)
    for _ in range(emits):
        probe.ping.emit()
    if before - sys.getrefcount(True) < emits:
        return None
    return (f"PySide6 {version} has a fault on Python {sys.version_info.major}.{sys.version_info.minor} that would crash "
            "the window after a few thousand signals (minutes of use); install another release: "
            "pip install 'PySide6-Essentials!=6.12.0'")


def window_problem(env: dict[str, str] | None = None) -> str | None:
    """Why Qt could not open a window here (it would abort the process), or None."""
    env = dict(os.environ) if env is None else env
    problem = binding_problem()
    if problem is not None:
        return problem
    if not uses_xcb(env):
        return None
    missing = missing_xcb_libraries()
    if missing:
        return ("Qt's X11 plugin needs libraries that are not installed "
                f"({', '.join('lib' + m for m in missing)}). On Debian/Ubuntu: sudo apt-get install {XCB_PACKAGES}")
    if not env.get("DISPLAY"):
        return ("no display (DISPLAY is not set): run it in a desktop session or over ssh -X, or use a subcommand "
                "(synthgui --help); QT_QPA_PLATFORM=offscreen runs the windows unseen")
    return None


def launch_args(args: argparse.Namespace) -> int:
    problem = window_problem()
    if problem is not None:
        print(f"synthgui: cannot open a window: {problem}", file=sys.stderr)
        return 1
    from synthgui.gui.app import make_app
    from synthgui.gui.help import welcome_wanted
    from synthgui.gui.settings import app_settings
    from synthgui.gui.studio import StudioWindow

    app = make_app()
    window = StudioWindow()
    window.show()
    if welcome_wanted():
        window.show_welcome()  # non-modal: the default model loads behind it
    if args.project:
        window.open_project(args.project, load_model=args.model is None)
    if window.model_loading:
        return int(app.exec())  # the project's own model is on its way
    model = args.model or startup_model(str(app_settings().value("studio/last_model", "") or ""))
    if model is not None:
        window.load_model_path(model)
    return int(app.exec())


def startup_model(last: str) -> str | None:
    """The model used last time if it still exists, else the bundled default (None: no model)."""
    from synthgui.gui.model_index import default_choice

    if last and os.path.isfile(last):
        return last
    choice = default_choice()
    return choice.weights if choice is not None else None


def launch(argv: Sequence[str] | None = None) -> int:
    """What ``synthgui`` without a subcommand runs."""
    parser = argparse.ArgumentParser(prog="synthgui")
    _add_arguments(parser)
    return launch_args(parser.parse_args(list(argv or [])))
