"""The studio's side panels: label palette, lesion geometry, skin tone, condition, variation, model card."""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QButtonGroup, QColorDialog, QComboBox, QDoubleSpinBox, QFormLayout, QGridLayout, QGroupBox, QHBoxLayout,
    QLabel, QPushButton, QSlider, QSpinBox, QTextBrowser, QToolButton, QVBoxLayout, QWidget,
)

from synthgui.core.card import MODES, ModelCard
from synthgui.core.skin_tones import FITZPATRICK_RGB, to_hex

from .icons import themed_icon
from .theme import text_on, warning_colour


def _swatch_style(rgb: tuple[int, int, int]) -> str:
    text = text_on(rgb)  # by luminance: a channel sum put white on bright green
    return f"QToolButton {{ background: {to_hex(rgb)}; color: {text}; border: 1px solid palette(mid); min-width: 28px; min-height: 22px; }}" \
           f" QToolButton:checked {{ border: 3px solid palette(highlight); }}"


class ModelCombo(QComboBox):
    """The toolbar's model picker. Its list is refreshed as it opens (a model copied into the models
    folder meanwhile is there), and a wheel turn over the toolbar does not load the next model."""

    about_to_show = Signal()

    def showPopup(self) -> None:  # noqa: N802
        self.about_to_show.emit()
        super().showPopup()

    def wheelEvent(self, event) -> None:  # noqa: N802
        event.ignore()


class PalettePanel(QGroupBox):
    """One button per class of the model card, in its colour; digits are taken by tools, so a click picks."""

    label_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Label", parent)
        self._layout = QHBoxLayout(self)
        self._group = QButtonGroup(self)
        self._group.setExclusive(True)
        self._group.idClicked.connect(self.label_chosen)

    def set_card(self, card: ModelCard | None) -> None:
        for b in self._group.buttons():
            self._group.removeButton(b)
            b.deleteLater()
        classes = card.foreground_classes if card is not None else []
        outside = next((c for c in card.classes if c.id == 0), None) if card is not None else None
        # With a retina or brain to draw on, the eraser gives that back: "outside" is then a class to
        # paint, the way to cut the field of view or the head outline back.
        painted = classes + ([outside] if outside is not None and card.context_class is not None else [])
        for c in painted:
            b = QToolButton(self)
            b.setText(c.name)
            b.setCheckable(True)
            b.setToolTip(f"Paint class {c.id}: {c.name} ({to_hex(c.color)})")
            b.setStyleSheet(_swatch_style(c.color))
            self._group.addButton(b, c.id)
            self._layout.addWidget(b)
        if classes:
            self._group.button(classes[0].id).setChecked(True)

    def select(self, label: int) -> None:
        b = self._group.button(label)
        if b is not None:
            b.setChecked(True)


class LesionPanel(QGroupBox):
    """Size, location and rotation of the selected lesion; every change is one undoable transform."""

    transform_requested = Signal(float, float, float, float, str)  # scale, rotation, x, y, which control

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Selected lesion", parent)
        form = QFormLayout(self)
        self.size = QSlider(Qt.Orientation.Horizontal)
        self.size.setRange(20, 400)
        self.size.setValue(100)
        self.size.setToolTip("Size of the selected lesion, scaled about its centre (%)")
        self.size_label = QLabel("100 %")
        row = QHBoxLayout()
        row.addWidget(self.size, 1)
        row.addWidget(self.size_label)
        form.addRow("Size", row)
        self.x = QDoubleSpinBox()
        self.y = QDoubleSpinBox()
        for s, name in ((self.x, "x"), (self.y, "y")):
            s.setDecimals(0)
            s.setRange(-10000, 10000)
            s.setToolTip(f"Centre {name} of the selected lesion (pixels); or drag it with the Move tool")
        loc = QHBoxLayout()
        loc.addWidget(self.x)
        loc.addWidget(self.y)
        form.addRow("Location", loc)
        self.rotation = QSpinBox()
        self.rotation.setRange(-180, 180)
        self.rotation.setSuffix(" °")
        self.rotation.setWrapping(True)
        self.rotation.setToolTip("Rotation of the selected lesion about its centre")
        form.addRow("Rotation", self.rotation)
        self._base_centre = (0.0, 0.0)
        self._quiet = False
        self.size.valueChanged.connect(lambda: self._emit("size"))
        self.x.valueChanged.connect(lambda: self._emit("location"))
        self.y.valueChanged.connect(lambda: self._emit("location"))
        self.rotation.valueChanged.connect(lambda: self._emit("rotation"))
        self.setEnabled(False)

    def reset(self, centre: tuple[float, float] | None) -> None:
        """A new selection: controls go back to 100 %, 0°, and the lesion's own centre."""
        self._quiet = True
        self.setEnabled(centre is not None)
        self._base_centre = centre or (0.0, 0.0)
        self.size.setValue(100)
        self.size_label.setText("100 %")
        self.rotation.setValue(0)
        self.x.setValue(self._base_centre[0])
        self.y.setValue(self._base_centre[1])
        self._quiet = False

    def _emit(self, which: str) -> None:
        self.size_label.setText(f"{self.size.value()} %")
        if self._quiet:
            return
        self.transform_requested.emit(self.size.value() / 100.0, float(self.rotation.value()),
                                      self.x.value() - self._base_centre[0], self.y.value() - self._base_centre[1], which)


class TonePanel(QGroupBox):
    """Fitzpatrick I-VI swatches and a colour picker; the preview follows at once."""

    tone_changed = Signal(tuple)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Skin tone", parent)
        grid = QGridLayout(self)
        self._group = QButtonGroup(self)
        self.buttons: dict[str, QToolButton] = {}
        for i, (name, rgb) in enumerate(FITZPATRICK_RGB.items()):
            b = QToolButton(self)
            b.setText(name)
            b.setCheckable(True)
            b.setToolTip(f"Fitzpatrick {name} ({to_hex(rgb)})")
            b.setStyleSheet(_swatch_style(rgb))
            b.clicked.connect(lambda _=False, rgb=rgb: self.set_tone(rgb))
            self._group.addButton(b)
            self.buttons[name] = b
            grid.addWidget(b, 0, i)
        self.custom = QPushButton("Colour...")
        themed_icon(self.custom, "colour")
        self.custom.setToolTip("Pick any skin colour")
        self.custom.clicked.connect(self._pick)
        grid.addWidget(self.custom, 1, 0, 1, 3)
        self.current_label = QLabel()
        grid.addWidget(self.current_label, 1, 3, 1, 3)
        self.tone: tuple[int, int, int] = FITZPATRICK_RGB["II"]

    def set_tone(self, rgb: tuple[int, int, int], emit: bool = True) -> None:
        self.tone = tuple(int(c) for c in rgb)  # type: ignore[assignment]
        self._group.setExclusive(False)
        for name, b in self.buttons.items():
            b.setChecked(FITZPATRICK_RGB[name] == self.tone)
        self._group.setExclusive(True)
        self.current_label.setText(to_hex(self.tone))
        if emit:
            self.tone_changed.emit(self.tone)

    def _pick(self) -> None:
        colour = QColorDialog.getColor(QColor(*self.tone), self, "Skin tone")
        if colour.isValid():
            self.set_tone((colour.red(), colour.green(), colour.blue()))


class RenderPanel(QGroupBox):
    """Condition (class), variation seed and test-time mode."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Render", parent)
        form = QFormLayout(self)
        self.condition = QComboBox()
        self.condition.setToolTip("The condition (class) every lesion pixel is rendered as")
        form.addRow("Condition", self.condition)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("Variation seed (reference mode: dropout and batch statistics)")
        self.new_variation = QPushButton("New variation")
        themed_icon(self.new_variation, "variation")
        self.new_variation.setToolTip("Draw a new seed (N)")
        self.new_variation.setShortcut("N")
        row = QHBoxLayout()
        row.addWidget(self.seed, 1)
        row.addWidget(self.new_variation)
        form.addRow("Seed", row)
        self.mode = QComboBox()
        for m in MODES:
            self.mode.addItem(m, m)
        self.mode.setToolTip("reference: as pix2pix test.py (batch statistics, dropout on); "
                             "deterministic: dropout off; eval: running statistics")
        form.addRow("Mode", self.mode)
        self.condition.currentIndexChanged.connect(self.changed)
        self.seed.valueChanged.connect(self.changed)
        self.mode.currentIndexChanged.connect(self.changed)

    def set_card(self, card: ModelCard | None) -> None:
        self.condition.blockSignals(True)
        self.condition.clear()
        self.condition.addItem("as painted", None)
        for c in card.lesion_classes if card is not None else []:
            self.condition.addItem(c.name, c.name)
        self.condition.setEnabled(card is not None and len(card.lesion_classes) > 1)
        self.condition.blockSignals(False)
        if card is not None:
            self.set_mode(card.default_mode)

    def set_mode(self, mode: str | None) -> None:
        i = self.mode.findData(mode)
        if i >= 0:
            self.mode.setCurrentIndex(i)

    def set_condition(self, condition: str | None) -> None:
        i = self.condition.findData(condition)
        self.condition.setCurrentIndex(max(0, i))


def _class_square(rgb: tuple[int, int, int]) -> str:
    """A class colour as a square; a near-white or near-black one gets a grey ground so that it shows
    on a light or dark palette (fundus vessels are white)."""
    ground = "; background-color:#808080" if sum(rgb) > 690 or sum(rgb) < 60 else ""
    return f"<span style='color:{to_hex(rgb)}{ground}'>&#9632;</span>"


def card_html(card: ModelCard | None, identity: dict[str, str] | None = None, warnings: list[str] | None = None,
              warning_color: str | None = None) -> str:
    """What a clinician should know about the model before trusting a render."""
    if card is None:
        return "<p><b>No model loaded.</b></p><p>Use <i>Model &gt; Open model...</i> to load a pix2pix generator (.pth or .safetensors).</p>"
    e = html.escape
    rows = [f"<h3>{e(card.name)} <small>v{e(card.version)}</small></h3>", f"<p>{e(getattr(card, 'description', '') or '')}</p>",
            f"<p><b>Domain:</b> {e(card.domain)} &nbsp; <b>Resolution:</b> {card.resolution} px &nbsp; <b>Input:</b> {e(card.encoding.kind)}</p>"]
    classes = ", ".join(f"{_class_square(c.color)} {e(c.name)}" for c in card.classes)
    rows.append(f"<p><b>Classes:</b> {classes}</p>")
    data = getattr(card, "training_data", None) or []
    if data:
        items = "".join(f"<li>{e(str(d.get('name', '')))} ({e(str(d.get('licence', '')))})</li>" for d in data if isinstance(d, dict))
        rows.append(f"<p><b>Training data:</b></p><ul>{items}</ul>")
    for field, title in (("licence", "Licence"), ("intended_use", "Intended use"), ("limits", "Limits")):
        value = getattr(card, field, None)
        if value:
            text = "; ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
            rows.append(f"<p><b>{title}:</b> {e(text)}</p>")
    for w in warnings or []:
        rows.append(f"<p style='color:{warning_color or warning_colour()}'><b>Warning:</b> {e(w)}</p>")
    if identity:
        rows.append(f"<p><small>{e(identity.get('path', ''))}<br>sha256 {e(identity.get('sha256', '')[:16])}...</small></p>")
    return "".join(rows)


class CardPanel(QTextBrowser):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenExternalLinks(True)
        self.show_card(None)

    def show_card(self, card: ModelCard | None, identity: dict[str, str] | None = None, warnings: list[str] | None = None) -> None:
        self._shown = (card, identity, warnings)
        self.setHtml(card_html(card, identity, warnings, warning_colour(self.palette())))

    def sizeHint(self) -> QSize:  # noqa: N802
        """A few lines: where the screen is short, the controls above it get the height, and it scrolls."""
        return QSize(256, self.fontMetrics().height() * 8)

    def changeEvent(self, event) -> None:  # noqa: N802
        """A light/dark switch: the warning colour is chosen for the new ground."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "_shown"):
            self.show_card(*self._shown)


def stacked(*widgets: QWidget) -> QWidget:
    w = QWidget()
    lay = QVBoxLayout(w)
    for x in widgets:
        lay.addWidget(x)
    lay.addStretch(1)
    return w
