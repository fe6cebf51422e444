"""A clinician's pass over the studio at high DPI and in a dark palette: legible swatches, icons and
messages on light and dark palettes, windows that fit a 1366x768 laptop, keyboard use of the menus,
tooltips that name only keys there are."""

from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPointF, QSize  # noqa: E402
from PySide6.QtGui import QColor, QPalette  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from synthgui.core.skin_tones import FITZPATRICK_RGB  # noqa: E402

LAPTOP = QSize(1366, 768)  # the smallest screen a clinician's laptop has
DESKTOP_CHROME = 100  # a panel or taskbar and a title bar take this much of its height


def _luminance(colour: QColor) -> float:
    def ch(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * ch(colour.redF()) + 0.7152 * ch(colour.greenF()) + 0.0722 * ch(colour.blueF())


def contrast(a, b) -> float:
    """WCAG 2 contrast ratio of two colours (QColor, '#rrggbb' or (r, g, b))."""
    qa, qb = (QColor(*c) if isinstance(c, tuple) else QColor(c) for c in (a, b))
    hi, lo = sorted((_luminance(qa), _luminance(qb)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def dark_palette() -> QPalette:
    """A desktop's dark palette (as Fusion shows it on a dark system theme)."""
    p = QPalette(QColor("#353535"), QColor("#353535"))
    r = QPalette.ColorRole
    for role, colour in ((r.Base, "#2a2a2a"), (r.Text, "#ffffff"), (r.WindowText, "#ffffff"),
                         (r.ButtonText, "#ffffff"), (r.Highlight, "#2a82da")):
        p.setColor(role, QColor(colour))
    return p


@pytest.fixture
def palette_switch(qapp):
    """Switch the application palette (light to dark, as a desktop does at dusk); put it back after."""
    original = QPalette(qapp.palette())

    def switch(palette: QPalette) -> None:
        qapp.setPalette(palette)
        QApplication.processEvents()

    yield switch
    qapp.setPalette(original)
    QApplication.processEvents()


def _ink(pixmap) -> QColor:
    """The mean colour of the opaque pixels of an icon."""
    img = pixmap.toImage()
    pixels = [img.pixelColor(x, y) for x in range(img.width()) for y in range(img.height())]
    ink = [c for c in pixels if c.alpha() > 200]
    assert ink, "the icon draws nothing"
    n = len(ink)
    return QColor(sum(c.red() for c in ink) // n, sum(c.green() for c in ink) // n, sum(c.blue() for c in ink) // n)


# --- swatches -------------------------------------------------------------------------------------


@pytest.mark.parametrize("rgb", [*FITZPATRICK_RGB.values(), (0, 255, 0), (255, 0, 0), (255, 255, 0), (0, 0, 255),
                                 (255, 255, 255), (0, 0, 0)])
def test_swatch_text_reads_on_its_colour(rgb):
    """The skin-lesion model's class is pure green: its label swatch said "lesion" in white (1.4:1)."""
    from synthgui.gui.panels import _swatch_style

    text = re.search(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{3,6})", _swatch_style(rgb)).group(1)
    if len(text) == 4:
        text = "#" + "".join(c * 2 for c in text[1:])
    assert contrast(rgb, text) >= 4.5


# --- icons on a palette switch --------------------------------------------------------------------


def test_panel_button_icons_follow_a_switch_to_dark(window, palette_switch):
    """Action icons were drawn again on a light/dark switch, but the Colour... and New variation
    buttons kept black glyphs on the dark buttons."""
    palette_switch(dark_palette())
    ground = QColor("#353535")
    for button in (window.tone_panel.custom, window.render_panel.new_variation):
        ink = _ink(button.icon().pixmap(QSize(32, 32)))
        assert contrast(ink, ground) >= 3, button.text()
    assert contrast(_ink(window.act_undo.icon().pixmap(QSize(32, 32))), ground) >= 3


def test_icons_render_at_the_device_pixel_ratio(window):
    pixmap = window.tool_actions["brush"].icon().pixmap(QSize(24, 24), 2.0)
    assert pixmap.devicePixelRatio() == 2.0 and pixmap.width() == 48


# --- windows that fit a laptop ------------------------------------------------------------------------


def test_studio_first_start_fits_the_screen(qtbot, temp_settings):
    """The studio opened at 1400x820 on any screen: on a 1366x768 laptop its right-hand controls and
    status bar were off the screen, and its minimum height (the controls panel) left no room for a
    taskbar and title bar."""
    from synthgui.gui.studio import StudioWindow

    w = StudioWindow()
    qtbot.addWidget(w)
    try:
        free = w.screen().availableGeometry()
        assert w.width() <= free.width() and w.height() <= free.height()
        assert w.minimumSizeHint().height() <= LAPTOP.height() - DESKTOP_CHROME
        assert w.minimumSizeHint().width() <= LAPTOP.width()
    finally:
        w.shutdown()


@pytest.fixture
def export_dialog(qtbot, tmp_path):
    from helpers import skin_card, write_model

    from synthgui.core.masks import disk_label_map
    from synthgui.core.networks import GeneratorSpec
    from synthgui.gui.export_dialog import ExportDialog

    path = write_model(tmp_path / "model", GeneratorSpec(ngf=4), skin_card())
    dlg = ExportDialog(None, str(path), disk_label_map(256, 0.2), (0x8E, 0x63, 0x49))
    qtbot.addWidget(dlg)
    yield dlg
    dlg.stop()


def test_export_dialog_fits_a_laptop_screen(export_dialog):
    """Its minimum height was about 750 px: the Export and Close buttons fell below a 1366x768 screen."""
    hint = export_dialog.minimumSizeHint()
    assert hint.height() <= LAPTOP.height() - DESKTOP_CHROME and hint.width() <= LAPTOP.width()
    free = export_dialog.screen().availableGeometry()
    assert export_dialog.height() <= free.height()


def test_export_dialog_skin_tone_boxes_sit_on_their_label_line(export_dialog):
    """The tone boxes were indented and lower than "Skin tones" (a nested layout's default margins)."""
    row = export_dialog.tone_boxes["I"].parentWidget().layout()
    m = row.contentsMargins()
    assert (m.left(), m.top(), m.right(), m.bottom()) == (0, 0, 0, 0)


# --- keyboard -------------------------------------------------------------------------------------------


def _mnemonic(text: str) -> str | None:
    m = re.search(r"&([^&])", text.replace("&&", ""))
    return m.group(1).lower() if m else None


def test_menu_mnemonics_are_unique(window):
    """Alt+F then S, I or A only moved between two File items (Save project / Export image set,
    Import mask / Export image, Save as / Export image and mask) instead of choosing one."""
    window._fill_model_menu()
    for top in window.menuBar().actions():
        menu = top.menu()
        letters = [_mnemonic(a.text()) for a in menu.actions() if not a.isSeparator()]
        letters = [c for c in letters if c]
        assert len(letters) == len(set(letters)), (top.text(), [a.text() for a in menu.actions()])
    tops = [_mnemonic(a.text()) for a in window.menuBar().actions()]
    assert len(tops) == len(set(tops))


def test_tooltips_name_only_keys_on_a_keyboard(window):
    """Standard shortcuts carry X11 multimedia keys: the New tooltip read "(Ctrl+N, New)"."""
    assert window.act_new.toolTip() == "New empty mask (Ctrl+N)"
    assert window.act_save.toolTip() == "Save project (Ctrl+S)"


def test_undo_and_redo_tooltips_name_their_keys(window, qtbot):
    """Undo and Redo come from the undo stack, and their tooltips named no key at all."""
    from gui_input import stroke

    assert "Ctrl+Z" in window.act_undo.toolTip()
    assert "Ctrl+Y" in window.act_redo.toolTip()
    stroke(window.canvas, [(100, 100), (120, 110)])
    assert window.act_undo.toolTip().startswith("Undo ") and "Ctrl+Z" in window.act_undo.toolTip()
    window.undo()
    assert "Ctrl+Y" in window.act_redo.toolTip() and window.act_redo.toolTip() != "Redo (Ctrl+Shift+Z, Ctrl+Y)"


def test_recent_project_with_an_ampersand_is_shown_as_it_is(window, temp_settings):
    """A project in "R&D" was listed as "RD" with an underlined D (Qt reads & as a mnemonic)."""
    from synthgui.gui.settings import push_recent

    path = "/data/R&D/lesion.synthgui"
    push_recent("recent/projects", path)
    window._fill_recent_menu()
    texts = [a.text() for a in window.recent_menu.actions()]
    assert path.replace("&", "&&") in texts


def test_brush_size_label_keeps_its_width(window):
    """The toolbar after the brush slider jumped sideways when the size went from 9 px to 10 px to 100 px."""
    label = window.brush_size_label
    assert label.minimumWidth() >= label.fontMetrics().horizontalAdvance("100 px")


# --- messages legible on light and dark ---------------------------------------------------------------


def _span_colour(text: str) -> str:
    return re.search(r"color:\s*(#[0-9a-fA-F]{3,6})", text).group(1)


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_error_and_warning_text_is_legible(qtbot, export_dialog, palette_switch, dark):
    """Errors were #c62828 on any palette: 2.2:1 on a dark window, hard to read."""
    from synthgui.core.card import ModelCard
    from synthgui.gui.model_index import resources_dir
    from synthgui.gui.panels import CardPanel
    from synthgui.gui.study_wizard import StudyWizard

    if dark:
        palette_switch(dark_palette())
    app_palette = QApplication.instance().palette()
    window_ground = app_palette.color(QPalette.ColorRole.Window)

    export_dialog.sizes.setText("x")
    assert contrast(_span_colour(export_dialog.count_label.text()), window_ground) >= 4.5

    wiz = StudyWizard(None)
    qtbot.addWidget(wiz)
    wiz.sources.real.setText("/nope/real")
    wiz.sources.synthetic.setText("/nope/syn")
    assert not wiz.sources.validatePage()
    assert contrast(_span_colour(wiz.sources.problem.styleSheet()), window_ground) >= 4.5

    panel = CardPanel()
    qtbot.addWidget(panel)
    panel.show_card(ModelCard.load(resources_dir() / "models" / "skin-lesion.json"), warnings=["changed"])
    html = panel.toHtml()
    warning = re.search(r"color:\s*(#[0-9a-fA-F]{3,6})[^>]*>\s*<span[^>]*>Warning", html) or \
        re.search(r"color:\s*(#[0-9a-fA-F]{3,6})[^<]*>(?:<[^>]*>)*Warning", html)
    assert warning, html
    assert contrast(warning.group(1), app_palette.color(QPalette.ColorRole.Base)) >= 4.5


# --- the canvas's outlines -----------------------------------------------------------------------------


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("tone", ["I", "VI"])
def test_brush_ring_shows_on_every_skin_tone(window, palette_switch, qtbot, dark, tone):
    """The brush ring was drawn in the palette's text colour only: black on type VI skin with a light
    palette (2.4:1), white on type I with a dark one (1.9:1)."""
    from synthgui.gui.views import qcolor

    if dark:
        palette_switch(dark_palette())
    canvas = window.canvas
    ground = qcolor(FITZPATRICK_RGB[tone])
    canvas.background = ground
    canvas.set_tool("brush")
    canvas.radius = 30
    canvas._hover = QPointF(128, 128)
    canvas.fit()
    image = canvas.grab().toImage()
    dpr = image.devicePixelRatio()
    on_ring = canvas.transform().map(QPointF(128 + 30.5, 128))
    x0, y0 = int(on_ring.x() * dpr), int(on_ring.y() * dpr)
    best = max(contrast(image.pixelColor(x, y0 + dy), ground)
               for x in range(x0 - 4, x0 + 5) for dy in (-1, 0, 1)
               if 0 <= x < image.width() and 0 <= y0 + dy < image.height())
    assert best >= 3


def test_canvas_without_lesion_is_transparent_over_the_tone(window):
    """(The ring test above reads the tone behind an empty mask.)"""
    assert not window.doc.label_map.any() and int(np.asarray(window.doc.rgba)[..., 3].max()) == 0


# --- focus ------------------------------------------------------------------------------------------------


def test_pointer_over_the_canvas_takes_space_for_panning(window, qtbot):
    """After a click on New variation the button kept the keys: Space+drag on the canvas pressed it
    again (a new seed, no undo) and the drag painted instead of panning."""
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QEnterEvent

    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    window.render_panel.new_variation.setFocus(Qt.FocusReason.MouseFocusReason)
    qtbot.waitUntil(window.render_panel.new_variation.hasFocus, timeout=5000)
    seed = window.render_panel.seed.value()
    centre = QPointF(window.canvas.width() / 2, window.canvas.height() / 2)
    QApplication.sendEvent(window.canvas, QEnterEvent(centre, centre, window.canvas.mapToGlobal(centre)))
    assert window.canvas.hasFocus()
    qtbot.keyPress(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert window.sync.space and window.render_panel.seed.value() == seed
    qtbot.keyRelease(QApplication.focusWidget(), Qt.Key.Key_Space)


def test_pointer_over_the_canvas_leaves_a_field_being_typed_in(window, qtbot):
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QEnterEvent

    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    window.render_panel.seed.setFocus(Qt.FocusReason.MouseFocusReason)
    qtbot.waitUntil(window.render_panel.seed.hasFocus, timeout=5000)
    centre = QPointF(10, 10)
    QApplication.sendEvent(window.canvas, QEnterEvent(centre, centre, window.canvas.mapToGlobal(centre)))
    assert window.render_panel.seed.hasFocus()


def test_space_held_on_the_canvas_pans_from_the_preview_too(window, qtbot):
    """The canvas keeps the keys when the pointer crosses to the preview (for a polygon's Enter), so
    Space is shared by both views: a left drag on the preview pans, even when the press gives the
    preview the focus."""
    from PySide6.QtCore import QPointF, Qt

    from tests.gui_input import send_mouse

    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    window.canvas.setFocus(Qt.FocusReason.MouseFocusReason)
    qtbot.waitUntil(window.canvas.hasFocus, timeout=5000)
    qtbot.keyPress(window.canvas, Qt.Key.Key_Space)
    centre = window.sync.centre
    at = QPointF(window.preview.width() / 2, window.preview.height() / 2)
    window.preview.setFocus(Qt.FocusReason.MouseFocusReason)  # as a click does before its press arrives
    send_mouse(window.preview, "press", at)
    send_mouse(window.preview, "move", at + QPointF(40, 0))
    send_mouse(window.preview, "release", at + QPointF(40, 0))
    assert window.sync.centre != centre  # panned
    qtbot.keyRelease(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert not window.sync.space
