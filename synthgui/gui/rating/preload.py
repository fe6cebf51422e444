"""Decode upcoming case images on a worker thread so each appears at once when its turn comes."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from PySide6.QtGui import QImage


def _decode(path: Path) -> tuple[QImage, float]:
    start = time.perf_counter()
    image = QImage(str(path))
    if not image.isNull():
        image = image.convertToFormat(QImage.Format.Format_RGB32)
    return image, (time.perf_counter() - start) * 1000.0


class Preloader:
    """QImage is safe to build off the GUI thread; only painting must happen on it."""

    def __init__(self, ahead: int = 3) -> None:
        self.ahead = ahead
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="synthgui-preload")
        self._jobs: dict[Path, Future] = {}

    def want(self, paths: list[Path]) -> None:
        keep = set(paths[: self.ahead + 1])
        for p in list(self._jobs):
            if p not in keep:
                self._jobs.pop(p).cancel()
        for p in paths[: self.ahead + 1]:
            if p not in self._jobs:
                self._jobs[p] = self._pool.submit(_decode, p)

    def get(self, path: Path) -> tuple[QImage, float]:
        """The decoded image and its decode time (ms); waits if it is still being decoded."""
        job = self._jobs.get(path) or self._pool.submit(_decode, path)
        self._jobs[path] = job
        return job.result()

    def shutdown(self) -> None:
        for job in self._jobs.values():
            job.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
