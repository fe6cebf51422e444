"""The mask being edited: a label map, its display colours, and undo through ``QUndoStack``.

Widgets never change the array themselves: they call these methods, which paint through
``synthgui.core.painting`` (O(brush area) per call) and announce the changed box, so the canvas
repaints only that box and the preview knows to render again. One drag is one undo step, and each
step stores only the region it changed.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QRect, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from synthgui.core import painting
from synthgui.core.card import ModelCard
from synthgui.core.masks import find_lesions, ground, transform_region
from synthgui.core.painting import Box, UndoAtom

Seed = tuple[int, int] | None  # (y, x) of one pixel of a selected lesion
UNDO_LIMIT = 100  # steps at most; each holds only its changed box
UNDO_BUDGET_BYTES = 256 * 2**20  # the history's memory bound, even if every step replaced the whole map
UNDO_MIN_STEPS = 8  # very large maps still keep this many steps (the bound then grows with the map)
MASK_ALPHA = 150


def undo_limit_for(shape: tuple[int, ...]) -> int:
    """Steps that fit the byte budget when each step could hold a whole map twice (before and after).

    ``QUndoStack`` bounds its history by count, and the count can only change while it is empty,
    so the count is derived from the map size whenever a new map starts a fresh history. A
    whole-map step that brings a larger map keeps the history, and with it this count: from then
    on ``MaskDocument`` holds the history to the byte budget itself (``_trim_history``)."""
    worst_step = 2 * int(np.prod(shape[:2]))
    return int(max(UNDO_MIN_STEPS, min(UNDO_LIMIT, UNDO_BUDGET_BYTES // max(1, worst_step))))


class _Step(QUndoCommand):
    """An undo step that also gives back the selection: undo selects the lesion that was selected
    before the step, redo the one selected after it. A seed pixel stands for each selection (a
    whole selection per step would weigh as much as the map), and the lesion under it is found
    again when the step is undone or redone."""

    def __init__(self, doc: "MaskDocument", text: str, selection_before: Seed) -> None:
        super().__init__(text)
        self._doc = doc
        self._selection_before = selection_before
        self._selection_after: Seed = None

    @property
    def nbytes(self) -> int:
        """What the step holds (its regions, or the maps it swaps)."""
        raise NotImplementedError

    def copy(self) -> "_Step":
        """The same step as a new command, already applied: a trimmed history pushes the steps it
        keeps again (Qt lets go of a history's oldest steps only through its count limit)."""
        twin = self._twin()
        twin._selection_after = self._selection_after
        twin._first = False
        return twin

    def _twin(self) -> "_Step":
        raise NotImplementedError

    def release(self) -> None:
        """Let go of the step's data: Qt deletes a trimmed or copied command, but its Python side
        may live on with the stack."""

    def _note_selection_after(self) -> None:
        self._selection_after = self._doc.selection_seed()

    def _restore_selection(self, seed: Seed) -> None:
        """Leave the seed for ``MaskDocument.settle_selection``, which runs once the stack has
        finished the step: a signal from inside ``undo()`` reaches handlers while the stack's
        index is still the old one."""
        self._doc.pending_selection = (seed,)


class AtomCommand(_Step):
    """An undo step made of one region atom (a stroke, a fill, a transform with its merged moves)."""

    def __init__(self, doc: "MaskDocument", atom: UndoAtom, text: str, merge_id: int = -1,
                 selection_before: Seed = None) -> None:
        super().__init__(doc, text, selection_before)
        self.atoms = [atom]
        self._merge_id = merge_id
        self._first = True

    @property
    def nbytes(self) -> int:
        return sum(atom.nbytes for atom in self.atoms)

    def _twin(self) -> "AtomCommand":
        twin = AtomCommand(self._doc, self.atoms[0], self.text(), self._merge_id, self._selection_before)
        twin.atoms = self.atoms
        return twin

    def release(self) -> None:
        self.atoms = []

    def id(self) -> int:  # noqa: A003 - Qt's name
        return self._merge_id

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if self._doc.replaying or not isinstance(other, AtomCommand) or other.id() != self.id() or self.id() < 0:
            return False
        merged = painting.merge_atoms(self.atoms[-1], other.atoms[-1], self._doc.label_map)
        self._doc.history_bytes += merged.nbytes - self.nbytes
        self.atoms = [merged]
        other.atoms = []  # Qt deletes ``other``, but its Python side lives on with the stack
        # A control moved and put back (a lesion dragged home) is no step: Qt drops an obsolete
        # command, and the document is as clean as before it.
        self.setObsolete(bool(np.array_equal(merged.old, merged.new)))
        return True

    def redo(self) -> None:
        if self._first or self._doc.replaying:  # already applied while the user painted
            self._first = False
            return
        for atom in self.atoms:
            atom.redo(self._doc.label_map)
            self._doc.region_changed(atom.box)
        self._restore_selection(self._selection_after)

    def undo(self) -> None:
        self._note_selection_after()
        for atom in reversed(self.atoms):
            atom.undo(self._doc.label_map)
            self._doc.region_changed(atom.box)
        self._restore_selection(self._selection_before)


class ReplaceCommand(_Step):
    """Swap in a whole new label map (import, new, resize): the one step that stores a full image."""

    def __init__(self, doc: "MaskDocument", new: np.ndarray, text: str, old: np.ndarray | None = None,
                 selection_before: Seed | str = "now") -> None:
        super().__init__(doc, text, doc.selection_seed() if selection_before == "now" else selection_before)
        self._old, self._new = (doc.label_map if old is None else old), new
        self._first = True

    @property
    def nbytes(self) -> int:
        return int(self._old.nbytes + self._new.nbytes)  # the newer map may be the one in use: counted all the same

    def _twin(self) -> "ReplaceCommand":
        return ReplaceCommand(self._doc, self._new, self.text(), self._old, self._selection_before)

    def release(self) -> None:
        self._old = self._new = None

    def redo(self) -> None:
        if self._doc.replaying:
            return
        self._doc.swap_array(self._new)
        if not self._first:
            self._restore_selection(self._selection_after)
        self._first = False

    def undo(self) -> None:
        self._note_selection_after()
        self._doc.swap_array(self._old)
        self._restore_selection(self._selection_before)


class MaskDocument(QObject):
    changed = Signal(QRect)  # image-space box that changed
    reset = Signal()  # a new array (size may differ)
    selection_changed = Signal()

    def __init__(self, size: int = 256, card: ModelCard | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.label_map = np.zeros((size, size), np.uint8)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(undo_limit_for(self.label_map.shape))
        self._lut = np.zeros((256, 4), np.uint8)
        self.rgba = np.zeros((size, size, 4), np.uint8)
        self._stroke_box: Box | None = None
        self._stroke_before: np.ndarray | None = None
        self._stroke_ground: np.ndarray | None = None  # what the eraser gives back in this stroke
        self._stroke_text = ""
        self._merge_serial = 1000
        self.selected: np.ndarray | None = None  # boolean region of the selected lesion
        self._transform_base: np.ndarray | None = None
        self._transform_merge = -1
        self._moved: np.ndarray | None = None  # where the selected lesion is after the transform so far
        self.pending_selection: tuple[Seed] | None = None  # left by an undone or redone step
        self._drag_step: tuple[str, Seed] | None = None  # a Move drag's step, pushed when it ends
        self.replaying = False  # a trimmed history's steps are being pushed again: they change nothing
        self.history_bytes = 0  # at least what the undo history holds (see ``_trim_history``)
        self.set_card(card)

    # --- display colours ------------------------------------------------------------------------

    def set_card(self, card: ModelCard | None) -> None:
        self.end_drag_steps()  # a model that finishes loading in mid-drag: the drag ends as a step
        lut = np.zeros((256, 4), np.uint8)
        lut[1:] = (255, 255, 255, MASK_ALPHA)
        if card is not None:
            for c in card.classes:
                if c.id != 0:
                    lut[c.id] = (*c.color, MASK_ALPHA)
        self._lut = lut
        self.context = card.context_id if card is not None else 0  # the retina or brain lesions lie on
        # ... and all the anatomy that is ground, never a lesion (a head around the brain), context first
        self.anatomy: tuple[int, ...] = card.anatomy_ids if card is not None else ()
        self.rgba = self._lut[self.label_map]
        self.reset.emit()

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.label_map.shape
        return w, h

    def region_changed(self, box: Box) -> None:
        x0, y0, x1, y1 = box
        self.rgba[y0:y1, x0:x1] = self._lut[self.label_map[y0:y1, x0:x1]]
        self.changed.emit(QRect(x0, y0, x1 - x0, y1 - y0))

    def swap_array(self, array: np.ndarray) -> None:
        had_selection = self.selected is not None
        self.label_map = array
        self.rgba = self._lut[array]
        self.selected = None
        self.forget_transform()
        self.reset.emit()
        if had_selection:  # the lesion controls must not keep acting on a lesion that is gone
            self.selection_changed.emit()

    def replace(self, array: np.ndarray, text: str) -> None:
        self.end_drag_steps()  # a stroke or Move drag under way (Ctrl+R with the pen down) is a step of the old map
        self._push_step(ReplaceCommand(self, np.ascontiguousarray(array, np.uint8), text))

    def _push_step(self, step: _Step) -> None:
        self.undo_stack.push(step)
        self.history_bytes += step.nbytes  # nothing when it merged into the step below (``mergeWith``)
        self._trim_history()

    def _trim_history(self) -> None:
        """Hold the history to ``UNDO_BUDGET_BYTES`` (but never under ``UNDO_MIN_STEPS`` steps) by
        letting go of its oldest steps. The step count set for a fresh history bounds it only for
        maps of that size: after a whole-map step to a larger map, each step may hold more.

        ``history_bytes`` bounds what the history holds from above without walking it: each push and
        merge adds what it brought, and what Qt lets go of (redo steps under a new push, an obsolete
        step, the oldest beyond the count limit) is not taken off. Only when that bound passes the
        budget are the steps counted, and the bound set to what they really hold: a push costs O(1)
        until the history could be over the budget.

        Qt drops a history's oldest steps only through its count limit, which can change only while
        the history is empty; so the steps kept are pushed again, as copies that change nothing, with
        the saved state where it was (or nowhere, when it was trimmed away) and the stack's signals
        held: what the undo and redo actions show, and the modified state, do not change. After a
        push the history has no redo steps, so only applied steps are dropped."""
        if self.history_bytes <= UNDO_BUDGET_BYTES:
            return
        stack = self.undo_stack
        sizes = [stack.command(i).nbytes for i in range(stack.count())]
        total, drop = sum(sizes), 0
        while total > UNDO_BUDGET_BYTES and len(sizes) - drop > UNDO_MIN_STEPS:
            total -= sizes[drop]
            drop += 1
        if not drop or stack.index() != stack.count():
            self.history_bytes = sum(sizes)
            return
        self.history_bytes = total
        old = [stack.command(i) for i in range(stack.count())]
        kept = [step.copy() for step in old[drop:]]
        clean = stack.cleanIndex() - drop  # where the saved state is among the steps kept
        for step in old:
            step.release()
        blocked = stack.blockSignals(True)
        self.replaying = True
        try:
            stack.clear()
            for i, step in enumerate(kept):
                if i == clean:
                    stack.setClean()
                stack.push(step)
            if clean == len(kept):
                stack.setClean()
            elif clean < 0:
                stack.resetClean()
        finally:
            self.replaying = False
            stack.blockSignals(blocked)

    def load_clean(self, array: np.ndarray) -> None:
        """A fresh document (new or opened project): no undo history, marked unmodified."""
        self._stroke_before = self._stroke_box = None
        self.undo_stack.clear()
        self.history_bytes = 0
        self.undo_stack.setUndoLimit(undo_limit_for(array.shape))
        self.swap_array(np.ascontiguousarray(array, np.uint8).copy())
        self.undo_stack.setClean()

    # --- strokes: many dabs, one undo step ------------------------------------------------------

    def begin_stroke(self, text: str = "Brush stroke") -> None:
        self._stroke_box = None
        self._stroke_before = self.label_map.copy()  # once per drag, not per mouse event
        self._stroke_ground = None
        self._stroke_text = text

    def stroke_segment(self, p0: tuple[float, float], p1: tuple[float, float], radius: float, value: int,
                       keep: int | None = None) -> None:
        if keep is not None and value and value == self.context:  # the eraser: retina or brain back, only within it
            value = self._eraser_ground()
        atom = painting.paint_segment(self.label_map, p0, p1, radius, value, keep)
        if atom is not None:
            if self._stroke_before is None:  # a segment outside a stroke is its own step
                self._push(atom, self._stroke_text or "Paint")
                return
            self._stroke_box = painting.union_box(self._stroke_box, atom.box)
            self.region_changed(atom.box)

    def _eraser_ground(self) -> np.ndarray:
        """``masks.ground`` of the map as the stroke began (once per stroke: the eraser changes it)."""
        if self._stroke_before is None:
            return ground(self.label_map, self.anatomy)
        if self._stroke_ground is None:
            self._stroke_ground = ground(self._stroke_before, self.anatomy)
        return self._stroke_ground

    def end_stroke(self) -> None:
        before, box = self._stroke_before, self._stroke_box
        self._stroke_before = self._stroke_box = None
        if before is None or box is None:
            return
        atom = painting.atom_between(before, self.label_map, box)
        if atom is not None:
            self._push_step(AtomCommand(self, atom, self._stroke_text, selection_before=self.selection_seed()))

    def end_drag_steps(self) -> None:
        """End a stroke or a Move drag under way as its step, before the map or palette changes."""
        self.end_stroke()
        self.end_transform()

    @property
    def in_stroke(self) -> bool:
        return self._stroke_before is not None

    def _push(self, atom: UndoAtom | None, text: str, merge_id: int = -1, selection_before: Seed | str = "now") -> bool:
        """Push an applied atom; ``selection_before`` is the selection's seed before it ("now": as
        it is, which holds for every edit but a transform, which moves the selection first)."""
        if atom is None:
            return False
        self.region_changed(atom.box)
        seed = self.selection_seed() if selection_before == "now" else selection_before
        self._push_step(AtomCommand(self, atom, text, merge_id, seed))
        return True

    def fill(self, x: int, y: int, value: int) -> bool:
        return self._push(painting.flood_fill(self.label_map, x, y, value), "Fill")

    def polygon(self, points: list[tuple[float, float]], value: int) -> bool:
        return self._push(painting.fill_polygon(self.label_map, points, value), "Polygon")

    def ellipse(self, a: tuple[float, float], b: tuple[float, float], value: int) -> bool:
        return self._push(painting.fill_ellipse(self.label_map, a, b, value), "Ellipse")

    # --- the selected lesion: size, location, rotation ------------------------------------------

    def select_at(self, x: int, y: int) -> bool:
        """Select the lesion under (x, y); False (and no selection) on background."""
        lesions, comp = find_lesions(self.label_map, context=self.anatomy)
        h, w = self.label_map.shape
        index = comp[y, x] if 0 <= x < w and 0 <= y < h else 0
        self.selected = comp == index if index else None
        self.forget_transform()
        self.selection_changed.emit()
        return self.selected is not None

    def select_largest(self) -> bool:
        lesions, comp = find_lesions(self.label_map, context=self.anatomy)
        self.selected = comp == lesions[0].index if lesions else None
        self.forget_transform()
        self.selection_changed.emit()
        return self.selected is not None

    def begin_transform(self) -> None:
        """Later ``transform`` calls are relative to the mask as it is now, and merge into one step."""
        self._transform_base = self.label_map.copy()
        self._merge_serial += 1
        self._transform_merge = self._merge_serial

    def new_transform_step(self) -> None:
        """Keep the transform's base, but let the next changes form their own undo step."""
        if self._transform_base is None:
            self.begin_transform()
        else:
            self._merge_serial += 1
            self._transform_merge = self._merge_serial

    @property
    def transforming(self) -> bool:
        return self._transform_base is not None

    def forget_transform(self) -> None:
        """End a transform without a re-selection: the mask changed under it (an undo, a stroke), so
        the next transform must start from the mask as it is, not from the base it had."""
        self._transform_base = None
        self._moved = None
        self._drag_step = None

    def selection_seed(self) -> Seed:
        """One pixel of the selected lesion where it is now, or None."""
        sel = self.selection_now
        if sel is None:
            return None
        y, x = divmod(int(np.argmax(sel)), sel.shape[1])
        return y, x

    def select_seed(self, seed: Seed) -> None:
        """Select the lesion under ``seed`` (nothing on skin or off the map) and end any transform."""
        self.forget_transform()
        self.selected = None
        if seed is not None:
            y, x = seed
            h, w = self.label_map.shape
            if 0 <= y < h and 0 <= x < w and self.label_map[y, x] not in (0, *self.anatomy):
                _, comp = find_lesions(self.label_map, context=self.anatomy)
                self.selected = comp == comp[y, x]
        self.selection_changed.emit()

    def settle_selection(self) -> bool:
        """After a step: select the lesion that the undone or redone step recorded, or else (a new
        stroke, fill or whole-map step) the lesion now under the selection. True if it emitted
        ``selection_changed``."""
        pending, self.pending_selection = self.pending_selection, None
        if pending is not None:
            self.select_seed(pending[0])
            return True
        return self.follow_selection()

    def follow_selection(self) -> bool:
        """After an edit that was not a transform of the selection (an undo, a stroke), select the
        lesion that now overlaps the selection most, or nothing. An undone move takes the lesion
        away from where the drag had re-selected it: a selection left there would outline empty
        skin, and the size and rotation controls would transform nothing. True if it changed."""
        old = self.selection_now
        if old is None:
            return False
        self.forget_transform()
        _, comp = find_lesions(self.label_map, context=self.anatomy)
        under = comp[old]
        under = under[under > 0]
        new = comp == np.bincount(under).argmax() if under.size else None
        self.selected = new
        if new is not None and np.array_equal(new, old):
            return False
        self.selection_changed.emit()
        return True

    def transform(self, scale: float = 1.0, rotation: float = 0.0, offset: tuple[float, float] = (0.0, 0.0),
                  text: str = "Transform lesion", push: bool = True) -> bool:
        """Scale/rotate the selected lesion about its centre and move it, from the transform's base.
        ``push=False`` (a Move drag) changes the mask now and leaves the step to ``end_transform``,
        as a stroke does: a drag that ends where it began is then no step at all, and does not
        cost the redo steps or the oldest step of a full history."""
        if self.selected is None:
            return False
        if self._transform_base is None:
            self.begin_transform()
        before = self.selection_seed()  # where the lesion is before this call's step
        base = self._transform_base
        result = transform_region(base, self.selected, scale=scale, rotation_deg=rotation, offset=offset,
                                  background=ground(base, self.anatomy))
        moved = transform_region(self.selected.astype(np.uint8), self.selected, scale=scale, rotation_deg=rotation, offset=offset)
        self._moved = (moved > 0) & (result > 0)
        atom = painting.atom_between(self.label_map, result)
        if atom is None:
            return False
        atom.redo(self.label_map)
        if not push:
            self.region_changed(atom.box)
            if self._drag_step is None:
                self._drag_step = (text, before)
            return True
        return self._push(atom, text, self._transform_merge, before)

    def end_transform(self) -> None:
        """Push a Move drag's step, and re-select the moved lesion so the next transform starts from
        its new shape."""
        if self._drag_step is not None and self._transform_base is not None:
            (text, before), self._drag_step = self._drag_step, None
            atom = painting.atom_between(self._transform_base, self.label_map)
            if atom is not None:
                self._push_step(AtomCommand(self, atom, text, selection_before=before))
        if self._transform_base is None or self.selected is None:
            return
        self._transform_base = None
        moved, self._moved = self._moved, None
        if moved is not None:  # a click without a drag moved nothing: the lesion stays selected as it is
            self.selected = moved if moved.any() else None
        self.selection_changed.emit()

    @property
    def selection_now(self) -> np.ndarray | None:
        """Where the selected lesion is now: moved, scaled or rotated by the transform under way."""
        return self._moved if self._moved is not None and self._moved.any() else self.selected
