"""Propose with controls: the geometry generator's clinical controls as a form.

The form is built from the domain's controls dataclass (``LesionControls``, ``VesselControls``,
``BrainControls``), so every control ``propose`` accepts is offered and nothing else; a control left
on "as in real masks" is drawn from the fitted statistics.
"""

from __future__ import annotations

import dataclasses
import random

from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QSpinBox,
    QWidget,
)

from synthgui.core.errors import SynthguiError

from .theme import error_colour

FIT = "as in real masks"
# Ranges that mean something clinically; the dataclass says the type, these say the span. Floats not named
# here are multipliers of the fitted amount, which the generators take from 0 to 4.
RANGES = {"diameter": (0.02, 0.95), "tumour_diameter": (0.02, 0.8), "lesions": (1, 8), "satellites": (0, 20),
          "enhancing_depth": (0.05, 0.95), "necrosis_depth": (0.05, 0.95)}
MULTIPLIER_RANGE = (0.0, 4.0)
CHOICES = {"eye": ("left", "right")}
TIPS = {
    "diameter": "Equivalent-disc diameter as a fraction of the image side",
    "asymmetry": "x real lesions: 0 = symmetric, 1 = as in ISIC masks, 2 = twice as asymmetric",
    "elongation": "x real lesions: 0 = round, larger = more oval",
    "border_irregularity": "x real lesions: 0 = smooth border, larger = more notched",
    "lesions": "Separate primary lesions",
    "satellites": "Small spots near the main lesion",
    "centre": "Position of the lesion as fractions of the image (x from the left, y from the top)",
    "density": "x the fitted branching rate", "calibre": "x the fitted vessel widths (the same tree, thinner or thicker)",
    "tortuosity": "x the fitted turning of the vessels", "eye": "Which side the optic disc is on",
}
# switches whose masks hold classes a model card may not have: (class ids, what they are)
NEEDS_CLASSES = {"nested": ({3, 4}, "enhancing (3) and necrosis (4)")}


class _Control:
    """One row: a value editor and, for optional controls, a 'from the fit' switch."""

    def __init__(self, f: dataclasses.Field) -> None:
        self.name, kind = f.name, str(f.type)
        self.optional = "None" in kind
        default = None if f.default is dataclasses.MISSING else f.default
        self.widget: QWidget
        if f.name in CHOICES:
            self.editor = QComboBox()
            self.editor.addItems(list(CHOICES[f.name]))
            self.value = self.editor.currentText
        elif "tuple" in kind:
            self.editor = QWidget()
            row = QHBoxLayout(self.editor)
            row.setContentsMargins(0, 0, 0, 0)
            self.parts = [QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, value=0.5) for _ in range(2)]
            for box, prefix in zip(self.parts, ("x ", "y ")):
                box.setPrefix(prefix)
                row.addWidget(box)
            self.value = lambda: tuple(box.value() for box in self.parts)
        elif "bool" in kind:
            self.editor = QCheckBox()
            self.editor.setChecked(bool(default))
            self.value = self.editor.isChecked
        elif "float" in kind:
            lo, hi = RANGES.get(f.name, MULTIPLIER_RANGE)
            self.editor = QDoubleSpinBox(minimum=lo, maximum=hi, singleStep=0.05 if hi <= 1 else 0.25, decimals=2)
            self.editor.setValue(default if isinstance(default, float) else (lo + hi) / 4)
            if f.name not in RANGES:
                self.editor.setSuffix(" \u00d7")  # a multiple of the real (fitted) amount, as the tooltip says
            self.value = self.editor.value
        else:
            lo, hi = RANGES.get(f.name, (0, 100))
            self.editor = QSpinBox(minimum=lo, maximum=hi)
            self.editor.setValue(default if isinstance(default, int) else lo)
            self.value = self.editor.value
        self.fit = QCheckBox(FIT) if self.optional else None
        if self.fit is not None:
            self.fit.toggled.connect(lambda on: self.editor.setEnabled(not on))
            self.fit.setChecked(True)
        self.widget = QWidget()
        self.widget.setToolTip(TIPS.get(f.name, ""))
        line = QHBoxLayout(self.widget)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(self.editor, 1)
        if self.fit is not None:
            line.addWidget(self.fit)

    def chosen(self):
        return None if self.fit is not None and self.fit.isChecked() else self.value()


class ProposeDialog(QDialog):
    """``class_ids``: the classes the loaded model knows (default: those of ``parent.card``, the
    studio's); a switch whose masks need others is offered switched off, with the reason."""

    def __init__(self, domain: str, parent: QWidget | None = None, class_ids: set[int] | None = None) -> None:
        from synthgui.core.geometry import control_fields

        super().__init__(parent)
        self.domain = domain
        self.setWindowTitle(f"Propose {'a lesion' if domain == 'skin' else 'geometry'} with controls")
        form = QFormLayout(self)
        self.rows = [_Control(f) for f in control_fields(domain)]
        card = getattr(parent, "card", None)
        if class_ids is None and card is not None and card.classes:
            class_ids = {c.id for c in card.classes}
        model = f"Model {card.name}" if card is not None else "The model"
        for row in self.rows:
            form.addRow(row.name.replace("_", " ").capitalize(), row.widget)
            needs = NEEDS_CLASSES.get(row.name)
            if needs is not None and class_ids is not None and not needs[0] <= class_ids:
                row.editor.setChecked(False)
                row.editor.setEnabled(False)
                row.widget.setToolTip(f"{model} has no {needs[1]} classes")
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=random.randrange(2**31))
        self.seed.setToolTip("The same seed and controls propose the same mask")
        form.addRow("Seed", self.seed)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.hide()
        form.addRow(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def controls(self) -> dict:
        """Only the controls the user set; the rest come from the fit."""
        return {row.name: value for row in self.rows if (value := row.chosen()) is not None}

    def accept(self) -> None:
        """Closes only on controls the generator takes: a refused setting is said here, with the form
        (and its seed) still open to correct, not after it has closed."""
        from synthgui.core.geometry import check_controls

        try:
            check_controls(self.domain, self.controls())
        except SynthguiError as exc:
            # coloured now, not when the form was made: it is kept for the session, across light/dark switches
            self.error.setStyleSheet(f"color: {error_colour(self.palette())}")
            self.error.setText(str(exc))
            self.error.show()
            return
        self.error.hide()
        super().accept()
