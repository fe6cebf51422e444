"""``synthgui rate``: bad input is one line and exit 2, before any window opens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from synthgui.cli import main as cli_main

REPO = Path(__file__).resolve().parents[1]


def test_rate_refuses_a_folder_that_is_not_a_study(tmp_path, capsys):
    assert cli_main(["rate", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a study folder" in err and "Traceback" not in err


def test_rate_refuses_a_bad_reader_id_without_loading_qt(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "study.json").write_text('{"study_id": "abc", "cases": []}')
    code = ("import sys; from synthgui.cli import main; rc = main(['rate', sys.argv[1], '--reader', '../evil']); "
            "print(rc, any(k.startswith('PySide6.QtWidgets') for k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, cwd=REPO,
                         timeout=120)
    assert out.stdout.split() == ["2", "False"], out.stderr
    assert "pseudonym" in out.stderr
