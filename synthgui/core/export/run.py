"""Running an export: masks -> engine -> files, with inference overlapped with mask preparation
(a producer thread) and with encoding and writing (a thread pool; numpy and zlib release the GIL).

Memory stays bounded: at most two prepared chunks wait for the engine, two are at the engine (on
a CPU's streams: one rendering, the next queued behind it) and ``2 x chunk`` images wait for the
writers (a chunk: ``--batch`` images, or one per engine stream if there are more).
Every file is written atomically, and an item's journal row is appended only after its files are
in place, so stopping at any point (cancel, Ctrl+C, SIGKILL, a full disk) leaves a folder that
``resume`` completes without torn files or duplicates. The folders are synced with the journal,
not after every rename: after a power cut, ``recover`` drops rows whose files did not survive and
files whose rows did not, so a lost rename costs a re-render, never a wrong row.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as _dt
import functools
import glob
import hashlib
import math
import os
import queue
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ... import __version__
from ..atomic import link_atomic, write_bytes_atomic
from ..card import MODES
from ..encoding import EncodeRequest, apply_condition
from ..errors import MaskError, SynthguiError
from ..imagefiles import add_jpeg_comment, png_text, synthetic_note, tiff_tags
from ..png import encode_png
from ..skin_tones import parse_skin_tone
from . import manifest
from .sources import MaskSource, load_source
from .sweep import Plan, Sweep, Variant, apply_variant, unmoved_note

FORMATS = {"png": ".png", "tiff": ".tif", "jpeg": ".jpg", "dicom": ".dcm"}
ITEM_FOLDERS = ("images", "masks", "aligned/train")
# Images of one export: their names have six digits (000000-999999, so they sort in item order) and the
# journal, a row per image (630 bytes), is read whole at the end of every run and on --resume (3.5 GB
# of memory at this size). More are more exports: --seed-base and --sample-seed keep them distinct.
MAX_IMAGES = 1_000_000
WORKERS_PER_CORE = 4  # PNG encoding takes a core and a write frees it while the disk works; more only take turns


def max_workers() -> int:
    return WORKERS_PER_CORE * (os.cpu_count() or 1)


def default_workers(device: str = "cpu") -> int:
    """Encoding/writing threads. On a CPU, half the cores, 2 to 8: the engine's streams use them
    all, so more writers only take turns with the forward. On a GPU the cores are the writers'
    (all but two, 2 to 16): it renders a reference-mode image in well under a millisecond and a
    PNG takes 1.5-3 ms of CPU, so the writers set the pace. PNG encoding and file writes release
    the GIL, so the threads run in parallel."""
    cores = os.cpu_count() or 2
    if device != "cpu":
        return max(2, min(16, cores - 2))
    return max(2, min(8, cores // 2))


@dataclass
class ExportOptions:
    format: str = "png"
    quality: int = 95  # JPEG
    png_compression: int = 1  # deflate level; with the run-length strategy of png.encode_png it barely matters
    aligned: bool = False  # also write mask|image pairs in the pix2pix aligned layout
    mode: str | None = None  # test-time mode; None = the model card's default
    batch: int = 8
    workers: int | None = None  # encoding/writing threads; None: default_workers() on the machine that runs it
    dicom_kind: str = "auto"  # "secondary-capture", "photographic" or auto (photographic for skin models)
    export_seed: int = 0  # seeds random locations

    def validate(self) -> None:
        if self.format not in FORMATS:
            raise SynthguiError(f"unknown format {self.format!r} (use {', '.join(FORMATS)})")
        if not 1 <= self.quality <= 100:
            raise SynthguiError("JPEG quality must be 1..100")
        if self.mode is not None and self.mode not in MODES:
            raise SynthguiError(f"unknown mode {self.mode!r} (use {', '.join(MODES)})")
        if self.batch < 1:
            raise SynthguiError("--batch must be at least 1")
        if self.workers is not None and not 1 <= self.workers <= max_workers():
            raise SynthguiError(f"--workers must be 1 to {max_workers()} ({WORKERS_PER_CORE} per CPU core: more only take "
                                f"turns, each holding an image in memory), not {self.workers}")


@dataclass
class Progress:
    done: int  # finished items, this run and earlier ones
    total: int  # items to make (less those of skipped masks)
    written: int  # items finished by this run
    rate: float  # images/s in this run
    eta: float | None  # seconds
    message: str = ""


@dataclass
class ExportResult:
    out_dir: Path
    total: int
    done: int
    written: int
    skipped: list[str] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # what the user should know about the set (random locations left as drawn)

    @property
    def complete(self) -> bool:
        return not self.cancelled and self.done >= self.total

    @property
    def rate(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def check_size(n_sources: int, sweep: Sweep) -> int:
    """The number of images the export makes; refuses a sample larger than the sweep (it would be
    drawn with copies) and an export larger than ``MAX_IMAGES``, before its items are drawn or
    listed (a sample of 10**14 would be drawn first; the items still to make are listed when it runs).
    The export dialog calls it as settings are typed."""
    full = n_sources * math.prod(len(axis) for axis in sweep.axes())
    limit = (f"an export makes at most {MAX_IMAGES:,} images (six-digit names, and a manifest read whole at the end of "
             "every run)")
    if sweep.sample is not None:
        if sweep.sample > full:
            raise SynthguiError(f"a random sample of {sweep.sample} is more than the {full} combinations of the masks and "
                                f"the sweep: ask for at most {full}, or add seeds or parameters")
        if sweep.sample > MAX_IMAGES:
            raise SynthguiError(f"a random sample of {sweep.sample:,}: {limit}")
        if full >= 2**63:
            raise SynthguiError(f"a random sample cannot be drawn from {full:.3g} combinations of the masks and the sweep: "
                                "at most 2**63 - 1 (use fewer seeds or parameters)")
    elif full > MAX_IMAGES:
        raise SynthguiError(f"the export would make {full:,} images: {limit}; draw some of them with --sample K, "
                            "or use fewer masks, seeds or parameters")
    return full if sweep.sample is None else sweep.sample


def check_batch_memory(model, options: ExportOptions) -> None:
    """Every chunk of ``--batch`` images is held in memory as the engine's inputs and outputs (two at
    least: one rendering, the next being prepared), and on a GPU it is one forward."""
    from ..datasets import host_memory, memory_text

    side = int(model.card.resolution)
    per_image = side * side * (4 * int(model.spec.input_nc) + 3) if model.card.encoding.kind != "noise" \
        else 4 * int(model.spec.input_nc) + 3 * side * side
    need, have = 2 * options.batch * per_image, host_memory()
    if have is not None and need > have:
        raise SynthguiError(f"--batch {options.batch}: the export holds at least two chunks of {options.batch:,} images "
                            f"in memory ({memory_text(need)}), more than this machine's {memory_text(have)}: use a smaller --batch")


def new_plan(model, sources: list[MaskSource], sweep: Sweep, options: ExportOptions) -> dict[str, Any]:
    options.validate()
    sweep.validate()
    check_size(len(sources), sweep)
    check_batch_memory(model, options)
    plan = Plan(len(sources), sweep)
    identity = dict(model.identity())
    identity["training_data"] = model.card.training_data
    opts = asdict(options)
    opts["mode"] = options.mode or model.card.default_mode
    return {
        "synthgui_version": __version__,
        "created": _now(),
        "export_id": uuid.uuid4().hex,  # the DICOM study's entropy: the same wherever the folder is resumed
        "model": identity,
        "sources": [s.to_json() for s in sources],
        "sweep": sweep.to_json(),
        "options": opts,
        "total": plan.total,
    }


class ExportJob:
    """One export folder: its plan, and the work of (re)running it."""

    def __init__(self, out_dir: str | Path, plan: dict[str, Any], sources: list[MaskSource] | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.plan = plan
        self.options = ExportOptions(**plan["options"])
        # ``sources``: the plan's own, as ``create`` has them (not read back from 100,000 records)
        self.sources = list(sources) if sources is not None else [MaskSource.from_json(s) for s in plan["sources"]]
        self.sweep = Sweep.from_json(plan["sweep"])
        self.items = Plan(len(self.sources), self.sweep)
        self.skipped: list[str] = []
        self._mask_cache: dict[str, bytes] = {}
        self._mask_files: dict[str, Path] = {}  # a published mask file per recent mask
        self._mask_lock = threading.Lock()

    # --- creating and reopening ---------------------------------------------------------------------

    @classmethod
    def create(cls, out_dir: str | Path, model, sources: list[MaskSource], sweep: Sweep, options: ExportOptions) -> "ExportJob":
        out_dir = Path(out_dir)
        if (out_dir / manifest.PLAN).exists():
            raise SynthguiError(f"{out_dir} already holds an export: resume it (--resume) or choose another folder")
        if not sources:
            raise SynthguiError("no masks to export")
        for folder in ITEM_FOLDERS:  # a dataset's own images/ or masks/: resuming would replace and remove its files
            if (out_dir / folder).is_dir() and any((out_dir / folder).iterdir()):
                raise SynthguiError(f"{out_dir / folder} already holds files: export into a new or empty folder")
        plan = new_plan(model, sources, sweep, options)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SynthguiError(f"cannot make the export folder {out_dir}: {exc.strerror or exc}") from None
        manifest.write_plan(out_dir, plan)
        return cls(out_dir, plan, sources)

    @classmethod
    def open(cls, out_dir: str | Path) -> "ExportJob":
        out_dir = Path(out_dir)
        return cls(out_dir, manifest.read_plan(out_dir))

    def check_model(self, model) -> None:
        want = self.plan["model"]["sha256"]
        if model.sha256 != want:
            raise SynthguiError(
                f"the model's weights differ from the ones this export started with (SHA-256 {want[:12]}...); "
                "resume with the same model or start a new folder")

    # --- file names ---------------------------------------------------------------------------------

    def image_name(self, v: Variant) -> str:
        return f"images/{v.id}{FORMATS[self.options.format]}"

    def mask_name(self, v: Variant) -> str:
        return f"masks/{v.id}.png"

    def aligned_name(self, v: Variant) -> str:
        return f"aligned/train/{v.id}.png"

    def is_item_file(self, name: str) -> bool:
        """Whether ``name`` (relative, with /) is one this export gives an item's file: only those are
        ever removed, never a file someone else put into the folder."""
        stem = name.rpartition("/")[2].partition(".")[0]
        if not stem.isdigit() or int(stem) >= self.items.total:
            return False
        v = self.items.variant(int(stem))
        return name in (self.image_name(v), self.mask_name(v), self.aligned_name(v))

    # --- recovery -----------------------------------------------------------------------------------

    def recover(self) -> dict[str, dict[str, Any]]:
        """Finished rows whose files are all in place; drops a torn journal line, rows whose files are
        gone, files that no row names, and temporary files of interrupted writes."""
        for pattern in (".*.tmp", "*/.*.tmp", "*/*/.*.tmp"):
            for tmp in glob.glob(str(self.out_dir / pattern)):
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
        rows = manifest.read_journal(self.out_dir)
        good: dict[str, dict[str, Any]] = {}
        for row in rows:
            files = [row.get("image")] + [row[k] for k in ("mask", "aligned") if row.get(k)]  # noise items have no mask
            if all(f and (self.out_dir / f).is_file() and (self.out_dir / f).stat().st_size > 0 for f in files):
                good[row["id"]] = row
        keep = {f for row in good.values() for f in (row.get("image"), row.get("mask"), row.get("aligned")) if f}
        for folder in ITEM_FOLDERS:
            for path in (self.out_dir / folder).glob("*") if (self.out_dir / folder).is_dir() else []:
                name = path.relative_to(self.out_dir).as_posix()
                if path.is_file() and name not in keep and self.is_item_file(name):
                    with contextlib.suppress(OSError):
                        path.unlink()  # an item finished on disk but not in the journal: it is made again
        journal = self.out_dir / manifest.JOURNAL
        raw = journal.read_bytes() if journal.exists() else b""
        clean = raw.endswith(b"\n") or not raw
        if len(good) != len(rows) or not clean or raw.count(b"\n") != len(rows):
            manifest.rewrite_journal(self.out_dir, sorted(good.values(), key=lambda r: r["id"]))
        return good

    # --- running ------------------------------------------------------------------------------------

    def run(
        self,
        engine,
        progress: Callable[[Progress], None] | None = None,
        cancel: threading.Event | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> ExportResult:
        """Render every item not finished yet. Ctrl+C (KeyboardInterrupt) and write errors stop it
        cleanly: in-flight writes finish, the manifest and card are brought up to date, then it raises."""
        self.check_model(engine.model)
        with _folder_lock(self.out_dir):
            return self._run(engine, progress, cancel or threading.Event(), warn)

    def _run(self, engine, progress, cancel: threading.Event, warn) -> ExportResult:
        done = self.recover()
        todo = [i for i in range(self.items.total) if f"{i:06d}" not in done]
        self.plan.setdefault("device", f"{engine.device}{' fp16' if engine.half else ''}")
        start = time.perf_counter()
        state = _RunState(total=self.items.total, done=len(done))
        journal = manifest.Journal(self.out_dir, folders=tuple(self.out_dir / f for f in ITEM_FOLDERS))
        ready: queue.Queue = queue.Queue(maxsize=2)
        workers = max(1, default_workers(engine.device.type) if self.options.workers is None else self.options.workers)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="synthgui-export")
        chunk = self._chunk(engine)
        slots = threading.Semaphore(2 * chunk + workers)
        producer = threading.Thread(target=self._produce, args=(engine, todo, chunk, ready, cancel, state, warn), daemon=True)
        interrupted: BaseException | None = None

        def report(message: str = "") -> None:
            if progress is None:
                return
            elapsed = time.perf_counter() - start
            rate = state.written / elapsed if elapsed > 0 else 0.0
            left = state.total - state.skipped_items - state.done
            progress(Progress(state.done, state.total - state.skipped_items, state.written, rate,
                              left / rate if rate > 0 else None, message))

        def finished(fut: Future) -> None:
            slots.release()
            exc = fut.exception()
            if exc is not None:
                state.fail(exc)
                return
            try:
                journal.append(fut.result())
            except BaseException as err:  # e.g. the disk filled up between the image and its row
                state.fail(err)
                return
            with state.lock:
                state.done += 1
                state.written += 1

        # Where the engine queues a chunk on its streams, the next chunk goes to it before this
        # one's images are taken: the streams then always have an image queued, instead of idling
        # at the end of every chunk while the last stream finishes (the writers slow the streams
        # unevenly). An engine that renders a chunk in the call gets one chunk at a time.
        rendering: collections.deque = collections.deque()

        def write(entry) -> None:
            (variants, masks, _, offsets), future = entry
            try:
                images = future.result().images
            except BaseException:
                future.cancel()  # Ctrl+C while waiting: its images not started are dropped too
                raise
            for v, lm, image, offset in zip(variants, masks, images, offsets):
                slots.acquire()
                fut = pool.submit(self._write_item, engine, v, lm, image, offset)
                fut.add_done_callback(finished)
            report()

        producer.start()
        try:
            while True:
                if state.error is not None or cancel.is_set():
                    break
                prepared = ready.get()
                if prepared is None:
                    break
                if isinstance(prepared, BaseException):
                    raise prepared
                variants, _, inputs, _ = prepared
                rendering.append((prepared, engine.submit_inputs(inputs, [v.seed for v in variants], self.options.mode)))
                ahead = 1 if engine.queues(chunk, self.options.mode) else 0  # asked each time: a trace may be given up
                while len(rendering) > ahead:
                    write(rendering.popleft())
            while rendering and state.error is None and not cancel.is_set():
                write(rendering.popleft())
        except BaseException as exc:  # stop cleanly; then Ctrl+C is re-raised, an engine's error reported as a writer's
            if isinstance(exc, Exception):
                state.fail(exc)
            else:
                interrupted = exc
            cancel.set()
        finally:
            if state.error is not None or interrupted is not None:
                cancel.set()  # the producer stops too
            _drain(ready)
            for _, future in rendering:  # a chunk still at the engine: its images not started are dropped
                future.cancel()
            pool.shutdown(wait=True)
            producer.join(timeout=30)
            journal.close()
            rows = manifest.read_journal(self.out_dir)
            self.plan["skipped_items"] = state.skipped_items
            self.plan["skipped"] = list(self.skipped)
            self.plan["notes"] = [n for n in (unmoved_note(rows, engine.card),) if n]  # kept for the card's rewrites
            manifest.write_plan(self.out_dir, self.plan)
            manifest.write_csv(self.out_dir, rows)
            manifest.write_card(self.out_dir, self.plan, rows)
            report()
        if interrupted is not None:
            raise interrupted
        if state.error is not None:
            err = state.error
            msg = str(err) if isinstance(err, SynthguiError) else f"{type(err).__name__}: {err}"
            raise SynthguiError(f"export stopped: {msg}; {len(rows)} of {self.items.total} images are done, "
                                f"run again with --resume to finish") from err
        if not rows and self.skipped and state.skipped_items >= self.items.total:
            raise SynthguiError(f"no images made: every mask was skipped (listed in {self.out_dir / manifest.CARD})")
        return ExportResult(self.out_dir, self.items.total - state.skipped_items, len(rows), state.written,
                            list(self.skipped), cancel.is_set() and len(rows) < self.items.total - state.skipped_items,
                            time.perf_counter() - start, list(self.plan["notes"]))

    def _chunk(self, engine) -> int:
        """Images per call of the engine. In eval mode the batch is one forward (``--batch``); in the
        other modes each image runs alone, on the engine's parallel streams, so a call gets at least
        one image per stream (the bytes do not depend on it)."""
        if (self.options.mode or engine.card.default_mode) == "eval":
            return self.options.batch
        return max(self.options.batch, engine.streams)

    def _produce(self, engine, todo: list[int], chunk: int, ready: queue.Queue, cancel: threading.Event, state: "_RunState", warn) -> None:
        """Load, transform and encode masks batch by batch, ahead of the engine."""
        try:
            card = engine.card
            cache: dict[int, np.ndarray | None] = {}
            batch: list[tuple[Variant, np.ndarray | None, np.ndarray, tuple[float, float]]] = []
            last: tuple[np.ndarray, Any, np.ndarray] | None = None  # the last mask, tone and input
            for index in todo:
                if cancel.is_set():
                    break
                v = self.items.variant(index)
                if card.encoding.kind == "noise":  # an unconditional generator: the seed is the whole input
                    batch.append((v, None, engine.noise([v.seed])[0], (0.0, 0.0)))
                else:
                    if v.source not in cache:
                        cache.clear()
                        cache[v.source] = self._load(v.source, card, warn)
                    lm = cache[v.source]
                    if lm is None:
                        with state.lock:
                            state.skipped_items += 1
                        continue
                    cond_lm, offset = apply_variant(lm, v, card.resolution, self.options.export_seed, card.anatomy_ids)
                    cond_lm = apply_condition(cond_lm, card, v.condition)
                    tone = parse_skin_tone(v.skin_tone) if v.skin_tone and card.uses_skin_tone else None
                    # Seeds vary fastest in a sweep: their items share one mask, hence one input.
                    if last is None or last[1] != tone or not np.array_equal(last[0], cond_lm):
                        last = (cond_lm, tone, engine.encode(cond_lm, EncodeRequest(skin_tone=tone)))
                    batch.append((v, last[0], last[2], offset))
                if len(batch) == chunk:
                    self._put(ready, batch, cancel)
                    batch = []
            if batch and not cancel.is_set():
                self._put(ready, batch, cancel)
        except BaseException as exc:
            self._put_raw(ready, exc, cancel)
            return
        self._put_raw(ready, None, cancel)

    def _load(self, index: int, card, warn) -> np.ndarray | None:
        source = self.sources[index]
        try:
            return load_source(source, card)
        except MaskError as exc:
            message = f"skipped mask {source.name}: {exc}"
            self.skipped.append(message)
            if warn is not None:
                warn(message)
            return None

    def _put(self, ready: queue.Queue, batch, cancel: threading.Event) -> None:
        variants, masks, inputs, offsets = zip(*batch)
        self._put_raw(ready, (list(variants), list(masks), list(inputs), list(offsets)), cancel)

    @staticmethod
    def _put_raw(ready: queue.Queue, item, cancel: threading.Event) -> None:
        while True:
            try:
                ready.put(item, timeout=0.1)
                return
            except queue.Full:
                if cancel.is_set():
                    return

    # --- writing one item ---------------------------------------------------------------------------

    def _write_item(self, engine, v: Variant, lm: np.ndarray | None, image: np.ndarray, offset: tuple[float, float]) -> dict[str, Any]:
        """Encode and write the item's files (atomically), then return its journal row."""
        card = engine.card
        data = self._encode_image(image, v, card, grey=engine.model.spec.output_nc == 1)
        mask = self.mask_name(v) if lm is not None else ""
        aligned = self.aligned_name(v) if self.options.aligned and lm is not None else ""
        written: list[Path] = []
        try:
            image_path = self.out_dir / self.image_name(v)
            write_bytes_atomic(image_path, data, sync_folder=False)
            written.append(image_path)
            if mask:
                self._write_mask(self.out_dir / mask, lm, card)
                written.append(self.out_dir / mask)
            if aligned:
                pair = np.concatenate([self._mask_picture(lm, v, card), image], axis=1)
                write_bytes_atomic(self.out_dir / aligned, self._labelled_png(pair), sync_folder=False)
                written.append(self.out_dir / aligned)
        except BaseException:
            for path in written:  # no half-finished item stays behind (a disk that filled up mid-item)
                with contextlib.suppress(OSError):
                    path.unlink()
            raise
        model = self.plan["model"]
        source = self.sources[v.source]
        row = {
            "id": v.id,
            "image": self.image_name(v),
            "mask": mask,
            "aligned": aligned,
            "source": source.name,
            "source_kind": source.kind,
            **v.params(),
            "offset": list(offset),
            "mode": self.options.mode or card.default_mode,
            "format": self.options.format,
            "model": model["name"],
            "model_version": model["version"],
            "model_sha256": model["sha256"],
            "synthgui_version": __version__,
            "device": str(engine.device) + (" fp16" if engine.half else ""),
            "time": _now(),
            "image_sha256": hashlib.sha256(data).hexdigest(),
        }
        return row

    @functools.cached_property
    def note(self) -> str:
        """What every image file says about itself (see ``imagefiles.synthetic_note``)."""
        model = self.plan["model"]
        return synthetic_note(model["name"], model["version"])

    def _labelled_png(self, image: np.ndarray) -> bytes:
        return encode_png(image, png_text(self.note), self.options.png_compression)

    def _write_mask(self, target: Path, lm: np.ndarray, card) -> None:
        """Seeds and skin tones share one mask: the items after the first get a hard link to its file
        (no second copy on disk, no second fsync), or the bytes again where links are not possible."""
        key = hashlib.sha1(np.ascontiguousarray(lm).tobytes()).hexdigest() + str(lm.shape)
        with self._mask_lock:
            source = self._mask_files.get(key)
        if source is not None and link_atomic(source, target, sync_folder=False):
            return
        write_bytes_atomic(target, self._mask_png(lm, card, key), sync_folder=False)
        with self._mask_lock:
            _keep_recent(self._mask_files, key, target)

    def _mask_png(self, lm: np.ndarray, card, key: str) -> bytes:
        """The mask as ``save_mask`` writes it; the last few encodings are kept instead of redone."""
        from ..masks import mask_png

        with self._mask_lock:
            cached = self._mask_cache.get(key)
        if cached is not None:
            return cached
        data = mask_png(lm, card)
        with self._mask_lock:
            _keep_recent(self._mask_cache, key, data)
        return data

    def _mask_picture(self, lm: np.ndarray, v: Variant, card) -> np.ndarray:
        """The A side of an aligned pair: the semantic map as the model sees it (skin tone included)."""
        from ..encoding import semantic_rgb
        from ..masks import colourise

        if card.encoding.kind in ("skin", "palette", "rgb"):
            tone = parse_skin_tone(v.skin_tone) if v.skin_tone and card.uses_skin_tone else None
            return semantic_rgb(lm, card, tone)
        return colourise(lm, card)

    def _encode_image(self, image: np.ndarray, v: Variant, card, grey: bool = False) -> bytes:
        """The image file's bytes. ``grey``: the generator makes one channel (an MRI model's slice),
        which DICOM stores as one, MONOCHROME2, as scanners do, not as three equal colours."""
        fmt = self.options.format
        if fmt == "png":
            return self._labelled_png(image)
        if fmt == "jpeg":
            import cv2

            ok, buf = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(self.options.quality)])
            if not ok:
                raise SynthguiError("JPEG encoding failed")
            return add_jpeg_comment(buf.tobytes(), self.note)
        if fmt == "tiff":
            import io

            from PIL import Image

            out = io.BytesIO()
            Image.fromarray(image).save(out, format="TIFF", compression="tiff_deflate", tiffinfo=tiff_tags(self.note))
            return out.getvalue()
        from ..dicom_write import DicomInfo, dicom_bytes

        model = self.plan["model"]
        kind = self.options.dicom_kind
        if kind == "auto":
            kind = "photographic" if card.domain == "skin" else "secondary-capture"
        created = _dt.datetime.fromisoformat(self.plan["created"])
        info = DicomInfo(
            model=f"{model['name']} {model['version']}",
            series_description=f"SYNTHETIC - {model['name']} {model['version']}",
            comments=f"mask {self.sources[v.source].name}; " + ", ".join(f"{k}={val}" for k, val in v.params().items() if val is not None),
            sop=kind,
            study_entropy=[model["sha256"], self.plan["created"], self.plan.get("export_id", self.out_dir.name)],
            instance_entropy=[v.id],
            instance_number=v.index + 1,
            created=created,
            software=f"synthgui {__version__}",
        )
        return dicom_bytes(image[..., 0] if grey else image, info)


@contextlib.contextmanager
def _folder_lock(out_dir: Path) -> Iterator[None]:
    """One export process per folder: a second one would write the same items twice."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; users do not run two exports into one folder by accident often
        yield
        return
    path = out_dir / ".export.lock"
    while True:
        fh = open(path, "a+b")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise SynthguiError(f"another export is running in {out_dir}; wait for it or cancel it first") from None
        try:
            if os.fstat(fh.fileno()).st_ino == os.stat(path).st_ino:
                break  # the lock is on the file that is there, not on one a finished export just removed
        except FileNotFoundError:
            pass
        fh.close()
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # removed while still locked, so the folder is left as clean as it is complete
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()


def _keep_recent(cache: dict, key: str, value: Any, size: int = 8) -> None:
    """Remember ``value`` under ``key``, forgetting the oldest entry beyond ``size`` (masks come
    source by source, so the last few are all that is asked for again)."""
    if len(cache) >= size:
        cache.pop(next(iter(cache)))
    cache[key] = value


def _drain(q: queue.Queue) -> None:
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return


@dataclass
class _RunState:
    total: int
    done: int
    written: int = 0
    skipped_items: int = 0
    error: BaseException | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, exc: BaseException) -> None:
        with self.lock:
            if self.error is None:
                self.error = exc
