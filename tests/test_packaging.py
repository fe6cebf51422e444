"""The desktop bundle's inputs are whole, and (when a built bundle is given) the bundle itself works.

Building takes minutes and a gigabyte, so the suite checks what a build needs; set SYNTHGUI_BUNDLE to
a built ``dist/synthgui`` folder (packaging/build.sh) to also run the bundle's smoke test here.
"""

from __future__ import annotations

import ast
import configparser
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGING = REPO / "packaging"


def spec_source_paths() -> list[str]:
    """Every ``ROOT / "a" / "b"`` path the spec names, as a relative path."""
    tree = ast.parse((PACKAGING / "synthgui.spec").read_text())
    paths = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            parts, cur = [], node
            while isinstance(cur, ast.BinOp) and isinstance(cur.op, ast.Div) and isinstance(cur.right, ast.Constant):
                parts.insert(0, cur.right.value)
                cur = cur.left
            if isinstance(cur, ast.Name) and cur.id == "ROOT" and parts:
                paths.append("/".join(parts))
    return paths


def test_spec_names_only_files_that_exist():
    paths = set(spec_source_paths())
    assert {"resources/models", "resources/masks", "resources/icons", "packaging/synthgui_main.py"} <= paths
    for rel in paths:
        assert (REPO / rel).exists(), rel


def test_bundle_carries_the_default_models_and_their_cards():
    models = REPO / "resources" / "models"
    for weights in models.glob("*.pth"):
        assert weights.with_suffix(".json").is_file(), f"{weights.name} has no model card"
    assert (models / "skin-lesion.pth").is_file()


def test_icons_for_every_platform():
    icons = REPO / "resources" / "icons"
    for size in (16, 32, 48, 128, 256, 512):
        assert (icons / f"synthgui-{size}.png").is_file()
    assert (icons / "synthgui.ico").read_bytes()[:4] == b"\x00\x00\x01\x00"
    assert (icons / "synthgui.icns").read_bytes()[:4] == b"icns"


def test_desktop_entry_and_mime_type():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(REPO / "resources" / "synthgui.desktop")
    d = entry["Desktop Entry"]
    assert d["Type"] == "Application" and d["Icon"] == "synthgui" and d["Terminal"] == "false"
    assert d["Exec"].split()[0] == "synthgui" and "%f" in d["Exec"]
    mime = ET.parse(REPO / "resources" / "synthgui-mime.xml").getroot()
    ns = "{http://www.freedesktop.org/standards/shared-mime-info}"
    mime_type = mime.find(f"{ns}mime-type")
    assert mime_type.get("type") in d["MimeType"]
    assert mime_type.find(f"{ns}glob").get("pattern") == "*.synthgui"
    validator = shutil.which("desktop-file-validate")
    if validator:
        result = subprocess.run([validator, str(REPO / "resources" / "synthgui.desktop")], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_every_subcommand_module_is_a_submodule_pyinstaller_collects():
    """The spec collects synthgui's submodules because cli.py imports the commands by name."""
    from synthgui.cli import COMMANDS

    for name in COMMANDS:
        assert (REPO / "synthgui" / "commands" / f"{name}.py").is_file()
    assert 'collect_submodules("synthgui")' in (PACKAGING / "synthgui.spec").read_text()


def test_scripts_are_executable_shell():
    for script in ("build.sh", "smoke_test.sh", "linux/install.sh"):
        path = PACKAGING / script
        assert os.access(path, os.X_OK), script
        assert subprocess.run(["bash", "-n", str(path)]).returncode == 0, script


@pytest.mark.skipif(not os.environ.get("SYNTHGUI_BUNDLE"), reason="set SYNTHGUI_BUNDLE to a built dist/synthgui")
def test_built_bundle_passes_the_smoke_test(tmp_path):
    bundle = Path(os.environ["SYNTHGUI_BUNDLE"])
    env = {"HOME": str(tmp_path), "PATH": "/nonexistent", "QT_QPA_PLATFORM": "offscreen", "LANG": "C.UTF-8"}
    result = subprocess.run([str(bundle / "synthgui"), "selftest"], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all checks passed" in result.stdout
