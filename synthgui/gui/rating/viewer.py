"""The rating window: one case at a time, keyboard first, every answer durable before the next case.

Keys: R or 1 = real, S or 2 = synthetic; then 1-5 = confidence; then 1-9 = diagnosis (when asked);
Enter confirms. + / - / 0 zoom (also Ctrl+wheel), logged per case. Backspace clears the answer.
Left goes back one case only when the study allows it. Esc asks before quitting; the session
resumes at the next unanswered case.
"""

from __future__ import annotations

import html
import sqlite3
import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QKeyEvent
from PySide6.QtWidgets import QLabel, QLineEdit, QMessageBox, QVBoxLayout, QWidget

from synthgui.core.errors import SynthguiError
from synthgui.core.study.design import Study
from synthgui.core.study.session_log import Judgment, SessionLog, now_iso

from .image_view import ImageView
from .preload import Preloader

FEEDBACK_AUTO_MS = 6000  # practice feedback moves on by itself if the reader does not press Space


class RatingWindow(QWidget):
    finished = Signal()

    def __init__(self, study: Study, log: SessionLog, fullscreen: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.study, self.log, self.opts = study, log, study.options
        self.setWindowTitle(f"synthgui rating: {study.title}")
        self.setStyleSheet("background:#202020; color:#dddddd; font-size:16px;")
        self.header = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.view = ImageView()
        self.view.zoom_allowed = self.opts.allow_zoom
        self.prompt = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.prompt.setWordWrap(True)
        self.note = QLineEdit(placeholderText="Optional note (Tab to type, Enter to confirm)")
        self.note.setVisible(self.opts.note)
        self.note.returnPressed.connect(self.confirm)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.prompt)
        layout.addWidget(self.note)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.preloader = Preloader()
        self.time_limit = QTimer(self, singleShot=True, timeout=self._time_up)
        self.view.first_painted.connect(self._on_first_paint)
        self.view.zoomed.connect(self._on_zoom)
        self.position = log.next_position()
        self.state = "intro"
        self._reset_answer()
        self._revision = 0
        self._closing = False
        self._paused_at: float | None = None  # the pause question is open
        self._time_left_ms: int | None = None
        self._show_pending = False  # a case that was due while the pause question was open
        self._log_display()
        self._show_intro()
        if fullscreen:
            self.showFullScreen()
        else:
            self.resize(1000, 800)
            self.show()
        self.setFocus()

    # -- answer state -----------------------------------------------------------------------------
    def _reset_answer(self) -> None:
        self.call: str | None = None
        self.confidence: int | None = None
        self.diagnosis: str | None = None
        self.zoom_events: list[list[float]] = []
        self.shown_at: str | None = None
        self.decode_ms: float | None = None
        self.paused_s = 0.0  # time this case spent behind the pause question, not the reader's
        self.unreadable = False  # the case's image could not be decoded
        self.note.clear()

    def _complete(self) -> bool:
        return (self.call is not None and (not self.opts.confidence or self.confidence is not None)
                and (not self.opts.diagnoses or self.diagnosis is not None))

    # -- screens --------------------------------------------------------------------------------
    def _log_display(self) -> None:
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is not None:
            g = screen.geometry()
            self.log.event("display", {"name": screen.name(), "size": [g.width(), g.height()],
                                       "dpr": screen.devicePixelRatio(), "refresh_hz": screen.refreshRate()})

    def _show_intro(self) -> None:
        n_main = len(self.study.phase_cases("main"))
        n_practice = len(self.study.phase_cases("practice"))
        lines = [f"<h2>{html.escape(self.study.title)}</h2>",
                 f"You will see {n_main} images{f' after {n_practice} practice images' if n_practice else ''}. "
                 "For each, decide whether it is a <b>real</b> photograph or <b>synthetic</b> (generated).",
                 "Press <b>R</b> or <b>1</b> for real, <b>S</b> or <b>2</b> for synthetic"
                 + (", then <b>1-5</b> for your confidence (5 = certain)" if self.opts.confidence else "")
                 + (", then <b>1-9</b> for the diagnosis" if self.opts.diagnoses else "")
                 + ", and <b>Enter</b> to confirm.",
                 "Zoom with <b>+</b>/<b>-</b> (your zooming is recorded)." if self.opts.allow_zoom else "",
                 f"Each image is shown for at most {self.opts.time_limit_s:g} s." if self.opts.time_limit_s else "",
                 self.study.ratio_text or "",
                 "Esc pauses; you can resume later where you stopped."]
        if self.study.missing:
            lines.append(f"<b>Note:</b> {len(self.study.missing)} image file(s) of this study are missing; the viewer "
                         "will say so when their turn comes. Please tell the study coordinator.")
        if self.position >= len(self.log.order):
            self._show_done()
            return
        if self.position:
            phase = self.log.order[self.position][0]
            n_phase = sum(1 for p, _ in self.log.order if p == phase)
            lines.insert(1, f"<b>Welcome back, {self.log.reader_id}.</b> You resume at "
                            f"{'practice image' if phase == 'practice' else 'image'} {self._seq(self.position) + 1} "
                            f"of {n_phase}.")  # counted as the header counts, per phase
        self.view.set_image(None)
        self.header.setText("")
        self.prompt.setText("<br>".join(x for x in lines if x) + "<br><br>Press <b>Space</b> to begin.")
        self.state = "intro"

    def _show_done(self) -> None:
        self.state = "done"
        self.view.set_image(None)
        self.header.setText("")
        self.prompt.setText(f"<h2>Thank you.</h2>All {len(self.study.phase_cases('main'))} images are rated. "
                            "Your answers are saved. Press Esc to close.")
        self.finished.emit()

    def _current(self) -> tuple[str, str]:
        return self.log.order[self.position]

    def _seq(self, position: int) -> int:
        phase = self.log.order[position][0]
        return sum(1 for p, _ in self.log.order[:position] if p == phase)

    def _show_case(self) -> None:
        if self._closing:
            return  # a blank-interval timer that fired after the window closed
        if self._paused_at is not None:
            self._show_pending = True  # not behind the pause question: its time would run unseen
            return
        if self.position >= len(self.log.order):
            self._show_done()
            return
        phase, case_id = self._current()
        self._reset_answer()
        previous = self.log.latest(phase, case_id)
        self._revision = previous.revision + 1 if previous is not None else 0
        upcoming = [self.study.image_path(self.study.case(c)) for _, c in self.log.order[self.position:]]
        self.preloader.want(upcoming)
        image, self.decode_ms = self.preloader.get(upcoming[0])
        n_phase = sum(1 for p, _ in self.log.order if p == phase)
        label = "Practice" if phase == "practice" else "Image"
        self.header.setText(f"{label} {self._seq(self.position) + 1} of {n_phase}")
        self.state = "case"
        if image.isNull():
            self._show_unreadable(phase, case_id, upcoming[0])
            return
        self._update_prompt()
        self.view.set_image(image)

    def _show_unreadable(self, phase: str, case_id: str, path) -> None:
        """A file damaged or removed after the study was opened: say so and let the reader go on.
        The case is recorded unanswered, with a note, so the coordinator sees which one it was."""
        self.unreadable = True
        self.view.set_image(None)
        self.log.event("image_not_shown", {"phase": phase, "case": case_id, "file": path.name})
        self.prompt.setText("<b>This image cannot be shown</b>: its file is missing or damaged. "
                            "Please tell the study coordinator.<br>Press <b>Enter</b> to go on to the next image.")

    def _update_prompt(self) -> None:
        parts = [f"Call: <b>{self.call or '—'}</b> (R/S)"]
        if self.opts.confidence:
            parts.append(f"Confidence: <b>{self.confidence or '—'}</b> (1-5)")
        if self.opts.diagnoses:
            menu = "  ".join(f"{i + 1} {html.escape(d)}" for i, d in enumerate(self.opts.diagnoses))
            parts.append(f"Diagnosis: <b>{html.escape(self.diagnosis or '—')}</b> ({menu})")
        hint = "Enter to confirm" if self._complete() else ""
        self.prompt.setText(" · ".join(parts) + (f"<br><b>{hint}</b>" if hint else ""))

    def _on_first_paint(self, at: float) -> None:
        if self.state != "case":
            return
        self._painted_at = at
        self.shown_at = now_iso()
        if self.opts.time_limit_s:
            self.time_limit.start(int(self.opts.time_limit_s * 1000))

    def _on_zoom(self, factor: float) -> None:
        if self.state == "case" and getattr(self, "_painted_at", None) is not None:
            self.zoom_events.append([round((time.perf_counter() - self._painted_at) * 1000.0, 1), factor])

    # -- keys -----------------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt)
        key, text = event.key(), event.text().lower()
        if event.isAutoRepeat() and key not in (Qt.Key.Key_Plus, Qt.Key.Key_Equal, Qt.Key.Key_Minus):
            return  # a held key counts once: it must not also answer the next question or skip the feedback
        if key == Qt.Key.Key_Escape:
            self.request_quit()
        elif self.state == "intro" and key in (Qt.Key.Key_Space, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._show_case()
        elif self.state == "feedback" and key in (Qt.Key.Key_Space, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._after_feedback()
        elif self.state == "case":
            self._case_key(key, text)
        else:
            super().keyPressEvent(event)

    def _case_key(self, key: int, text: str) -> None:
        if self.unreadable:
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self._record(timed_out=False)
            return
        if self.view.painted_at is None:
            return  # no answer before the image has been seen
        digit = int(text) if len(text) == 1 and "0" <= text <= "9" else None  # not "²", which isdigit() too
        if key == Qt.Key.Key_0:  # before the digit answers: 0 is no call, confidence or diagnosis
            self.view.reset_zoom()
        elif text in ("r", "s") or (self.call is None and text in ("1", "2")):
            self.call = "real" if text in ("r", "1") else "synthetic"
        elif digit is not None and self.opts.confidence and self.confidence is None and 1 <= digit <= 5:
            self.confidence = digit
        elif digit is not None and self.opts.diagnoses and (self.confidence is not None or not self.opts.confidence):
            i = digit - 1
            if 0 <= i < len(self.opts.diagnoses):
                self.diagnosis = self.opts.diagnoses[i]
        elif key == Qt.Key.Key_Backspace:
            self.call = self.confidence = self.diagnosis = None
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.confirm()
            return
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.view.step_zoom(1)
        elif key == Qt.Key.Key_Minus:
            self.view.step_zoom(-1)
        elif key == Qt.Key.Key_Left and self.opts.allow_back and self.position > 0:
            self.time_limit.stop()
            self.position -= 1
            self._show_case()
            return
        elif key == Qt.Key.Key_Tab and self.opts.note:
            self.note.setFocus()
        self._update_prompt()

    # -- recording ------------------------------------------------------------------------------
    def confirm(self) -> None:
        if self.state != "case" or not self._complete():
            return
        self._record(timed_out=False)

    def _time_up(self) -> None:
        if self.state == "case" and not self._closing and self._paused_at is None:
            self._record(timed_out=True)

    def _record(self, timed_out: bool) -> None:
        self.time_limit.stop()
        phase, case_id = self._current()
        rt = None if self.view.painted_at is None else (time.perf_counter() - self.view.painted_at - self.paused_s) * 1000.0
        note = (self.note.text().strip() or None) if self.opts.note else None
        if self.unreadable:
            note = "image could not be shown (file missing or damaged)"
        answered = not timed_out and not self.unreadable
        j = Judgment(self.study.study_id, self.log.reader_id, phase, self._seq(self.position), case_id,
                     self.call if answered else None, self.confidence if answered else None,
                     self.diagnosis if answered else None, note,
                     rt_ms=rt, decode_ms=self.decode_ms, shown_at=self.shown_at, zoom=list(self.zoom_events),
                     timed_out=timed_out, revision=self._revision)
        try:
            self.log.record(j)  # durable before anything else appears
        except (OSError, sqlite3.Error, SynthguiError) as exc:
            self._not_saved(exc)
            return
        self.setFocus()
        # the first unanswered case: the next one, or after a changed earlier answer the one the reader had reached
        self.position = self.log.next_position()
        self.view.set_image(None)
        truth = self.study.case(case_id).truth
        if phase == "practice" and self.opts.practice_feedback and truth:
            verdict = ("Time is up." if timed_out else "The image could not be shown." if self.unreadable
                       else "Correct." if j.call == truth else "Not quite.")
            self.prompt.setText(f"<h3>{verdict} This image is <b>{truth}</b>.</h3>Press Space to continue.")
            self.state = "feedback"
            QTimer.singleShot(FEEDBACK_AUTO_MS, self, lambda pos=self.position: self._auto_continue(pos))
        else:
            self._blank()

    def _not_saved(self, exc: BaseException) -> None:
        """A full disk or a pulled USB stick: the reader must know the answer is not kept, and the
        case stays on screen to answer again once it is sorted out."""
        detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        QMessageBox.critical(self, "Answer not saved",
                             f"Your answer to this image was NOT saved ({detail}).\n\nPlease call the study "
                             "coordinator. The image stays on screen: answer it again and press Enter once the "
                             "problem is fixed. Your earlier answers are saved.")
        self.setFocus()
        self._update_prompt()

    def _auto_continue(self, position: int) -> None:
        if not self._closing and self.state == "feedback" and self.position == position and self._paused_at is None:
            self._after_feedback()

    def _after_feedback(self) -> None:
        self._blank()

    def _blank(self) -> None:
        self.state = "blank"
        self.header.setText("")
        self.prompt.setText("")
        if self.position < len(self.log.order) and self.log.order[self.position][0] == "main" and \
                self.position > 0 and self.log.order[self.position - 1][0] == "practice":
            self.prompt.setText("Practice done. The scored images start now.")
        QTimer.singleShot(self.opts.blank_ms, self, self._show_case)

    # -- closing --------------------------------------------------------------------------------
    def request_quit(self, ask: bool = True) -> None:
        if self.state not in ("done", "intro") and ask:
            box = QMessageBox(QMessageBox.Icon.Question, "Pause the session?",
                              "Your answers so far are saved. Quit now and resume later at the next image?",
                              QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
            # Going on is the default: a reader who pressed Esc by mistake and then Enter, as after
            # every answer, stays in the session; quitting takes a deliberate Y or a click.
            box.setDefaultButton(QMessageBox.StandardButton.No)
            box.setEscapeButton(QMessageBox.StandardButton.No)
            self._pause()
            if box.exec() != QMessageBox.StandardButton.Yes:
                self._resume()
                self.setFocus()
                return
        self.close()

    def _pause(self) -> None:
        """While the question is open the case's clock stops: no time-out, no new case, and the
        time is taken off the response time if the reader goes on."""
        self._paused_at = time.perf_counter()
        self._time_left_ms = self.time_limit.remainingTime() if self.time_limit.isActive() else None
        self.time_limit.stop()

    def _resume(self) -> None:
        if self._paused_at is None:
            return
        self.paused_s += time.perf_counter() - self._paused_at
        self._paused_at = None
        if self._time_left_ms is not None and self.state == "case":
            self.time_limit.start(max(0, self._time_left_ms))
        self._time_left_ms = None
        if self._show_pending:
            self._show_pending = False
            self._show_case()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt)
        if not self._closing:
            self._closing = True
            self.time_limit.stop()
            self.preloader.shutdown()
            self.log.close()
        super().closeEvent(event)
