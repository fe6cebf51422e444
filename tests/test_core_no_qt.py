"""synthgui.core must import without Qt: the CLI, export and analysis run on headless machines."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import synthgui.core

REPO = Path(__file__).resolve().parents[1]


def core_modules() -> list[str]:
    return [m.name for m in pkgutil.walk_packages(synthgui.core.__path__, "synthgui.core.")]


def test_every_core_module_imports_without_qt():
    modules = core_modules()
    assert "synthgui.core.engine" in modules and "synthgui.core.models" in modules
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "qt = sorted(k for k in sys.modules if k.split('.')[0] in ('PySide6', 'shiboken6', 'qtawesome', 'qtpy'))\n"
        "print(','.join(qt))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"Qt modules loaded by synthgui.core: {out.stdout.strip()}"


def test_cli_help_does_not_import_torch_or_qt():
    code = "import sys; from synthgui.cli import build_parser; build_parser(); print(sorted(k for k in sys.modules if k.split('.')[0] in ('torch', 'PySide6')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
