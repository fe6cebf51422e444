"""The study wizard builds the same study as the CLI, on a worker thread."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtWidgets import QWizard  # noqa: E402

from synthgui.core.study.design import load_study  # noqa: E402
from synthgui.gui.study_wizard import StudyWizard  # noqa: E402
from tests.helpers import write_image_folders  # noqa: E402


def test_wizard_builds_a_study_off_the_ui_thread(qtbot, tmp_path):
    write_image_folders(tmp_path, 5)
    wiz = StudyWizard(None)
    qtbot.addWidget(wiz)
    wiz.show()
    assert not wiz.sources.isComplete()
    wiz.sources.real.setText(str(tmp_path / "real"))
    wiz.sources.synthetic.setText(str(tmp_path / "syn"))
    assert wiz.sources.isComplete()
    wiz.next()
    wiz.design.out.setText(str(tmp_path / "study"))
    wiz.design.practice.setValue(2)
    wiz.design.size.setValue(32)
    wiz.design.diagnoses.setText("melanoma, naevus")
    wiz.design.time_limit.setValue(30)
    with qtbot.waitSignal(wiz.built, timeout=60000) as blocker:
        wiz.next()
    result = blocker.args[0]
    assert wiz.build_page.isComplete() and wiz.button(QWizard.WizardButton.FinishButton).isEnabled()
    study = load_study(tmp_path / "study")
    assert study.study_id == result.study.study_id
    assert len(study.phase_cases("main")) == 8 and len(study.phase_cases("practice")) == 2
    assert study.options.diagnoses == ["melanoma", "naevus"] and study.options.time_limit_s == 30
    assert (tmp_path / "study.key.json").is_file()
    assert "Answer key" in wiz.build_page.log.toPlainText()
    clear = next(a for a in result.audits if a.stage == "study images").all_clear()
    log = wiz.build_page.log.toPlainText()
    assert f"Leak audit: {clear}." in log if clear else "WARNING:" in log  # the CLI's sentence, or the leak
    wiz.wait_for_build()


def wizard_on(qtbot, real, synthetic) -> StudyWizard:
    """A shown wizard with its two folders filled in and Next pressed once."""
    wiz = StudyWizard(None)
    qtbot.addWidget(wiz)
    wiz.show()
    wiz.sources.real.setText(str(real))
    wiz.sources.synthetic.setText(str(synthetic))
    wiz.next()
    return wiz


def test_wizard_names_a_missing_folder_before_the_design_page(qtbot, tmp_path):
    (tmp_path / "real").mkdir()
    wiz = wizard_on(qtbot, tmp_path / "real", tmp_path / "nope")
    assert wiz.currentPage() is wiz.sources
    assert "Synthetic images: there is no folder" in wiz.sources.problem.text() and "nope" in wiz.sources.problem.text()
    (tmp_path / "nope").mkdir()
    wiz.next()
    assert wiz.currentPage() is wiz.design and not wiz.sources.problem.text()


def test_wizard_reports_a_failed_build(qtbot, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty2").mkdir()
    wiz = wizard_on(qtbot, tmp_path / "empty", tmp_path / "empty2")
    wiz.design.out.setText(str(tmp_path / "study"))
    wiz.next()
    qtbot.waitUntil(lambda: "Error:" in wiz.build_page.log.toPlainText(), timeout=30000)
    assert "empty" in wiz.build_page.log.toPlainText()
    assert not wiz.build_page.isComplete()
    wiz.wait_for_build()


def test_browsing_for_the_study_folder_never_picks_a_folder_that_holds_files(qtbot, tmp_path, monkeypatch):
    from synthgui.gui import study_wizard

    wiz = StudyWizard(None)
    qtbot.addWidget(wiz)
    (tmp_path / "empty").mkdir()
    (tmp_path / "documents").mkdir()
    (tmp_path / "documents" / "letter.txt").write_text("x")
    for chosen in ("empty", "documents"):
        monkeypatch.setattr(study_wizard.QFileDialog, "getExistingDirectory", lambda *a, c=chosen: str(tmp_path / c))
        wiz.design._browse_out()
        if chosen == "empty":
            assert wiz.design.out.text() == str(tmp_path / "empty")
        else:
            out = wiz.design.out.text()
            assert out.startswith(str(tmp_path / "documents" / "study-")) and not (tmp_path / out).exists()
    monkeypatch.setattr(study_wizard.QFileDialog, "getExistingDirectory", lambda *a: "")  # cancelled
    wiz.design._browse_out()
    assert wiz.design.out.text().startswith(str(tmp_path / "documents" / "study-"))
