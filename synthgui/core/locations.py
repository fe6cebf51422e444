"""The folders a user meets: bundled and own models, projects, exports, studies.

One place that says where things live, so the welcome page, the About box, the file dialogs and the
CLI never disagree. Free of Qt and torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .model_files import bundled_models_dir, user_data_dir, user_models_dir


def documents_dir() -> Path:
    """The user's own work (projects, exports, studies): visible in Documents, not hidden in app data.

    ``SYNTHGUI_DOCUMENTS`` overrides; ``SYNTHGUI_HOME`` alone (tests, portable installs) keeps it inside that.
    """
    env = os.environ.get("SYNTHGUI_DOCUMENTS")
    if env:
        return Path(env)
    if os.environ.get("SYNTHGUI_HOME"):
        return user_data_dir() / "documents"
    documents = Path.home() / "Documents"
    return (documents if documents.is_dir() else Path.home()) / "synthgui"


@dataclass(frozen=True)
class Locations:
    bundled_models: Path
    user_models: Path
    projects: Path
    exports: Path
    studies: Path

    def rows(self) -> list[tuple[str, Path]]:
        """(what, where) in the order a newcomer needs them."""
        return [
            ("Bundled models (read-only)", self.bundled_models),
            ("Your models (copy a checkpoint and its card here)", self.user_models),
            ("Projects", self.projects),
            ("Exported image sets", self.exports),
            ("Turing-test studies", self.studies),
        ]


def app_locations() -> Locations:
    docs = documents_dir()
    return Locations(bundled_models_dir(), user_models_dir(), docs / "projects", docs / "exports", docs / "studies")


def ensure_dir(path: Path) -> Path:
    """Create a default folder on first use; an unwritable place is left to the dialog to report."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass
    return path


def suggested_folder(base: Path, stem: str) -> Path:
    """A new folder under ``base`` named for what goes in it and when, e.g. ``skin-lesion-20261130-1412``.

    A name taken by a folder that holds files (one made a moment ago) gets ``-2``, ``-3``...: the
    exports and studies offered here refuse a folder that is not empty."""
    import time

    name = f"{stem}-{time.strftime('%Y%m%d-%H%M')}"
    folder, n = base / name, 1
    while _holds_files(folder):
        n += 1
        folder = base / f"{name}-{n}"
    return folder


def _holds_files(folder: Path) -> bool:
    try:
        return folder.exists() and (not folder.is_dir() or any(folder.iterdir()))
    except OSError:  # unreadable: not offered
        return True
