"""``synthgui selftest``, the check the desktop bundle's smoke test runs: passes here, fails on a broken model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def selftest(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    return subprocess.run([sys.executable, "-m", "synthgui", "selftest", *args], capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.mark.slow
def test_selftest_passes_end_to_end_and_leaves_the_user_alone(isolated_home, tmp_path):
    keep = tmp_path / "kept"
    result = selftest("--keep", str(keep), home=isolated_home)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line[:4] in ("ok  ", "FAIL")]
    assert [line.split()[1] for line in lines] == ["render", "export", "study", "studio", "rating", "analyze"]
    assert all(line.startswith("ok") for line in lines)
    assert "pooled accuracy 1.000" in result.stdout  # the scripted reader answered every case right
    assert len(list((keep / "export" / "images").iterdir())) == 4
    assert len(list((keep / "study" / "sessions").glob("*.sqlite"))) == 1
    assert (keep / "report" / "report.html").is_file()
    assert not (isolated_home / ".config" / "synthgui").exists()  # the user's settings were not touched


def test_selftest_fails_loudly_on_a_broken_model(isolated_home, tmp_path):
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"this is not a checkpoint")
    result = selftest("--model", str(broken), "--no-window", home=isolated_home)
    assert result.returncode == 1
    assert "FAIL render" in result.stdout and "FAIL export" in result.stdout
    assert "FAILED: render, export" in result.stderr
