"""A second pass over the reader's keyboard session and the coordinator's wizard: each test failed before its fix."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QEvent, Qt  # noqa: E402
from PySide6.QtGui import QKeyEvent, QTextDocument  # noqa: E402
from PySide6.QtWidgets import QApplication, QWizard  # noqa: E402

from synthgui.core.study.design import load_study  # noqa: E402
from synthgui.core.study.session_log import Judgment, SessionLog  # noqa: E402
from synthgui.gui import study_wizard  # noqa: E402
from synthgui.gui.rating.launch import open_viewer  # noqa: E402
from synthgui.gui.study_wizard import StudyWizard  # noqa: E402
from tests.helpers import write_image_folders  # noqa: E402
from tests.test_rating_viewer import answer, make_study, wait_case  # noqa: E402


def press(w, key: int, text: str = "", repeat: bool = False) -> None:
    """One key press through the event loop, as the keyboard sends it (an exception in the handler
    then fails the test instead of crashing it); ``repeat`` is the auto-repeat of a held key."""
    QApplication.postEvent(w, QKeyEvent(QEvent.Type.KeyPress, key, Qt.KeyboardModifier.NoModifier, text, repeat))
    QApplication.processEvents()


def plain(html: str) -> str:
    doc = QTextDocument()
    doc.setHtml(html)
    return doc.toPlainText()


def test_holding_a_digit_key_does_not_answer_the_confidence_too(qtbot, tmp_path):
    study_dir, _ = make_study(tmp_path, practice=0, per_class=1, diagnoses=["melanoma", "naevus"])
    w = open_viewer(study_dir, "r1", fullscreen=False)
    qtbot.addWidget(w)
    qtbot.keyClick(w, Qt.Key.Key_Space)
    wait_case(qtbot, w)
    press(w, Qt.Key.Key_1, "1")
    press(w, Qt.Key.Key_1, "1", repeat=True)  # held a moment too long
    press(w, Qt.Key.Key_1, "1", repeat=True)
    assert (w.call, w.confidence, w.diagnosis) == ("real", None, None)
    w.request_quit(ask=False)


def test_holding_enter_does_not_skip_the_practice_feedback(qtbot, tmp_path):
    study_dir, _ = make_study(tmp_path, practice=2, per_class=1)
    w = open_viewer(study_dir, "r1", fullscreen=False)
    qtbot.addWidget(w)
    qtbot.keyClick(w, Qt.Key.Key_Space)
    wait_case(qtbot, w)
    qtbot.keyClicks(w, "s4")
    press(w, Qt.Key.Key_Return)
    assert w.state == "feedback"
    press(w, Qt.Key.Key_Return, repeat=True)
    assert w.state == "feedback" and "This image is" in w.prompt.text()
    w.request_quit(ask=False)


def test_welcome_back_counts_as_the_header_does(qtbot, tmp_path):
    study_dir, _ = make_study(tmp_path, practice=2, per_class=3)
    study = load_study(study_dir)
    with SessionLog(study, "r1") as log:  # both practice cases and the first scored case
        for phase, c in log.order[:3]:
            log.record(Judgment(study.study_id, "r1", phase, 0, c, "real", 3))
    w = open_viewer(study_dir, "r1", fullscreen=False)
    qtbot.addWidget(w)
    welcome = plain(w.prompt.text())
    qtbot.keyClick(w, Qt.Key.Key_Space)
    wait_case(qtbot, w)
    assert w.header.text() == "Image 2 of 6"
    assert "image 2 of 6" in welcome, welcome
    w.request_quit(ask=False)


def test_a_title_and_diagnoses_with_angle_brackets_read_as_typed(qtbot, tmp_path):
    study_dir, _ = make_study(tmp_path, practice=0, per_class=1, diagnoses=["naevus <5 mm", "melanoma & co"])
    study = load_study(study_dir)
    study.title = "Lesions <6 mm"
    study.save(study_dir)
    w = open_viewer(study_dir, "r1", fullscreen=False)
    qtbot.addWidget(w)
    assert "Lesions <6 mm" in plain(w.prompt.text())
    qtbot.keyClick(w, Qt.Key.Key_Space)
    wait_case(qtbot, w)
    qtbot.keyClicks(w, "s4")
    menu = plain(w.prompt.text())
    assert "1 naevus <5 mm" in menu and "2 melanoma & co" in menu, menu
    w.request_quit(ask=False)


def test_an_unusual_digit_key_is_ignored(qtbot, tmp_path):
    study_dir, _ = make_study(tmp_path, practice=0, per_class=1, diagnoses=["melanoma", "naevus"])
    w = open_viewer(study_dir, "r1", fullscreen=False)
    qtbot.addWidget(w)
    qtbot.keyClick(w, Qt.Key.Key_Space)
    wait_case(qtbot, w)
    qtbot.keyClick(w, "s")
    press(w, Qt.Key.Key_twosuperior, "²")  # the key left of 1 on a French keyboard
    qtbot.keyClick(w, "4")
    press(w, Qt.Key.Key_twosuperior, "²")
    assert (w.call, w.confidence, w.diagnosis) == ("synthetic", 4, None)
    w.request_quit(ask=False)


def test_after_changing_an_earlier_answer_the_reader_returns_to_the_first_unanswered(qtbot, tmp_path):
    study_dir, _ = make_study(tmp_path, practice=0, per_class=2, allow_back=True)
    w = open_viewer(study_dir, "r1", fullscreen=False)
    qtbot.addWidget(w)
    qtbot.keyClick(w, Qt.Key.Key_Space)
    answer(qtbot, w, "r3")
    answer(qtbot, w, "r3")
    wait_case(qtbot, w)
    qtbot.keyClick(w, Qt.Key.Key_Left)
    wait_case(qtbot, w)
    qtbot.keyClick(w, Qt.Key.Key_Left)
    assert w.position == 0
    answer(qtbot, w, "s5")  # the first case, changed
    wait_case(qtbot, w)
    assert w.position == 2 and w.header.text() == "Image 3 of 4"  # not the second case again
    assert sorted((j.case_id, j.revision) for j in w.log.judgments()) == sorted(
        [(w.log.order[0][1], 0), (w.log.order[1][1], 0), (w.log.order[0][1], 1)])
    w.request_quit(ask=False)


# -- the wizard ---------------------------------------------------------------------------------------

def _blocking_build(monkeypatch):
    """The wizard's build stands still until released, so the test can look at it mid-build."""
    release, started, calls = threading.Event(), threading.Event(), []
    real = study_wizard.build_from_folders

    def build(spec, progress=None):
        calls.append(spec)
        started.set()
        while not release.wait(0.01):
            if progress:
                progress("normalising images", 0, 1)
        return real(spec, progress)

    monkeypatch.setattr(study_wizard, "build_from_folders", build)
    return release, started, calls


def _wizard(qtbot, tmp_path) -> StudyWizard:
    write_image_folders(tmp_path, 3)
    wiz = StudyWizard(None)
    qtbot.addWidget(wiz)
    wiz.show()
    wiz.sources.real.setText(str(tmp_path / "real"))
    wiz.sources.synthetic.setText(str(tmp_path / "syn"))
    wiz.next()
    wiz.design.out.setText(str(tmp_path / "study"))
    wiz.design.size.setValue(32)
    return wiz


def test_back_stays_off_while_the_wizard_builds(qtbot, tmp_path, monkeypatch):
    release, started, calls = _blocking_build(monkeypatch)
    wiz = _wizard(qtbot, tmp_path)
    wiz.next()
    assert started.wait(10)
    qtbot.wait(50)
    try:
        assert not wiz.button(QWizard.WizardButton.BackButton).isEnabled()
    finally:
        release.set()
        wiz.wait_for_build()
    qtbot.waitUntil(wiz.build_page.isComplete, timeout=10000)
    assert wiz.button(QWizard.WizardButton.BackButton).isEnabled() and len(calls) == 1


def test_back_and_next_after_a_build_keeps_the_built_study(qtbot, tmp_path):
    wiz = _wizard(qtbot, tmp_path)
    with qtbot.waitSignal(wiz.built, timeout=60000):
        wiz.next()
    wiz.wait_for_build()
    study_id = load_study(tmp_path / "study").study_id
    wiz.back()
    assert wiz.currentPage() is wiz.design
    wiz.next()  # nothing changed: the study stands, the wizard says so
    qtbot.wait(200)
    wiz.wait_for_build()
    qtbot.wait(50)
    assert wiz.build_page.isComplete(), wiz.build_page.log.toPlainText()
    assert "Error" not in wiz.build_page.log.toPlainText()
    assert load_study(tmp_path / "study").study_id == study_id
    wiz.back()
    wiz.design.out.setText(str(tmp_path / "study2"))  # a change: a new build
    with qtbot.waitSignal(wiz.built, timeout=60000):
        wiz.next()
    wiz.wait_for_build()
    assert load_study(tmp_path / "study2").study_id != study_id



def test_enter_after_escape_goes_on_with_the_session(qtbot, tmp_path):
    """Esc asks whether to pause; Enter, pressed by habit as after every answer, must not quit."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QMessageBox

    study_dir, _ = make_study(tmp_path, practice=0, per_class=2)
    w = open_viewer(study_dir, "r1", fullscreen=False)
    qtbot.addWidget(w)
    qtbot.keyClick(w, Qt.Key.Key_Space)
    wait_case(qtbot, w)
    seen = []

    def press_enter() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, press_enter)
            return
        seen.append(box.text())
        qtbot.keyClick(box, Qt.Key.Key_Return)

    QTimer.singleShot(20, press_enter)
    w.request_quit()
    assert seen and w.isVisible() and w.state == "case"
    w.request_quit(ask=False)
