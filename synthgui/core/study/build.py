"""Build a blinded study: sample cases, normalise images, opaque ids, a separate answer key, leak audits."""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..atomic import write_bytes_atomic
from ..errors import SynthguiError
from .design import Case, Study, StudyOptions
from .key import AnswerKey, KeyEntry
from .leak_audit import LeakAudit, audit, enlargement, file_features
from .normalise import normalise

Progress = Callable[[str, int, int], None]


@dataclass
class BuildRequest:
    real: list[Path]
    synthetic: list[Path]
    out: Path
    key_path: Path | None = None  # default: <out>.key.json beside the study folder
    per_class: int | None = None  # default: as many as the smaller class has (balanced)
    practice: int = 0  # practice cases (half real, half synthetic), never reused as scored cases
    seed: int = 0
    title: str = ""
    options: StudyOptions = field(default_factory=StudyOptions)
    provenance: dict[Path, dict] = field(default_factory=dict)  # per synthetic file, e.g. generator + seed


@dataclass
class BuildResult:
    study: Study
    key_path: Path
    audits: list[LeakAudit]

    @property
    def warnings(self) -> list[str]:
        return [w for a in self.audits for w in a.warnings()]


def default_key_path(out: Path) -> Path:
    return out.parent / f"{out.name}.key.json"


def _check_paths(req: BuildRequest) -> Path:
    key_path = (req.key_path or default_key_path(req.out)).resolve()
    out = req.out.resolve()
    if key_path == out or out in key_path.parents:
        raise SynthguiError("the answer key must be outside the study folder (readers get the whole folder)")
    if req.out.exists() and any(req.out.iterdir()):
        raise SynthguiError(f"{req.out} exists and is not empty; choose a new study folder")
    if key_path.exists():
        raise SynthguiError(f"{key_path} exists; an answer key is never overwritten")
    return key_path


def _sample(req: BuildRequest) -> tuple[list[tuple[Path, str, str]], int]:
    """(file, truth, phase) for every case; a seeded draw so a rebuild picks the same files."""
    rng = np.random.default_rng(req.seed)
    real = [req.real[i] for i in rng.permutation(len(req.real))]
    syn = [req.synthetic[i] for i in rng.permutation(len(req.synthetic))]
    n_practice_syn = req.practice // 2
    n_practice_real = req.practice - n_practice_syn
    avail_real, avail_syn = len(real) - n_practice_real, len(syn) - n_practice_syn
    per_class = req.per_class if req.per_class is not None else min(avail_real, avail_syn)
    if per_class < 1:
        raise SynthguiError("no scored cases left: add images or lower --practice")
    if per_class > avail_real or per_class > avail_syn:
        raise SynthguiError(f"--per-class {per_class} needs {per_class + n_practice_real} real and "
                            f"{per_class + n_practice_syn} synthetic images; found {len(real)} and {len(syn)}")
    chosen = [(p, "real", "main") for p in real[:per_class]] + [(p, "synthetic", "main") for p in syn[:per_class]]
    chosen += [(p, "real", "practice") for p in real[per_class:per_class + n_practice_real]]
    chosen += [(p, "synthetic", "practice") for p in syn[per_class:per_class + n_practice_syn]]
    return chosen, per_class


def _case_ids(n: int) -> list[str]:
    """``n`` distinct random 10-hex-digit ids from the OS's randomness, never from the study's seed."""
    ids: set[str] = set()
    while len(ids) < n:
        ids.add(secrets.token_hex(5))
    return list(ids)


def shared_dicom_window(paths: list[Path]) -> tuple[float, float] | None:
    """One window for every DICOM in the study (0.5-99.5 percentile of all their pixels together).

    Each file's own WindowCenter/Width would differ between a scanner's files and a generator's, and
    readers would see that as a brightness tell; one preset for all removes it.
    """
    from ..dicom import is_dicom, read_dicom

    values = [read_dicom(p).pixels.ravel()[::7] for p in paths if is_dicom(p)]
    values = [v for v in values if v.size]
    if not values:
        return None
    lo, hi = np.percentile(np.concatenate(values), [0.5, 99.5])
    return (float(lo + hi) / 2.0, float(max(hi - lo, 1.0)))


def build_study(req: BuildRequest, progress: Progress | None = None) -> BuildResult:
    req.options.validate()
    key_path = _check_paths(req)
    if not req.real or not req.synthetic:
        raise SynthguiError("a study needs both real and synthetic images")
    chosen, per_class = _sample(req)
    if req.options.dicom_window is None:
        req.options.dicom_window = shared_dicom_window([p for p, _, _ in chosen])
    images_dir = req.out / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    created = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    stamp = created.timestamp()
    cases: list[Case] = []
    entries: list[KeyEntry] = []
    in_feats: dict[str, list[dict]] = {"real": [], "synthetic": []}
    out_feats: dict[str, list[dict]] = {"real": [], "synthetic": []}
    # Written in the order of the random ids: creation times, inode numbers and some listings
    # (tmpfs, a zip) follow the write order, and the seeded draw is reproducible from --seed.
    for n, (case_id, (src, truth, phase)) in enumerate(sorted(zip(_case_ids(len(chosen)), chosen)), 1):
        if progress:
            progress("normalising images", n, len(chosen))
        data = normalise(src, req.options.size, req.options.dicom_window)
        target = images_dir / f"{case_id}.png"
        write_bytes_atomic(target, data)
        os.utime(target, (stamp, stamp))  # file times would otherwise reveal the build order
        cases.append(Case(case_id, target.name, phase, truth if phase == "practice" else None))
        entries.append(KeyEntry(case_id, truth, phase, str(src), hashlib.sha256(data).hexdigest(),
                                dict(req.provenance.get(src, {}))))
        if phase == "main":
            source = file_features(src)
            in_feats[truth].append(source)
            out_feats[truth].append(file_features(target) | {"enlargement": enlargement(source, req.options.size)})
    cases.sort(key=lambda c: c.case_id)  # listing order carries no class information
    study_id = secrets.token_hex(8)
    ratio = None
    if req.options.disclose_ratio:
        ratio = f"{per_class} of the {2 * per_class} scored images are synthetic."
    study = Study(study_id, req.title or f"Study {study_id[:6]}", created.isoformat(), req.options, cases,
                  ratio_text=ratio, folder=req.out)
    audits = [audit(in_feats["real"], in_feats["synthetic"], "input files"),
              audit(out_feats["real"], out_feats["synthetic"], "study images")]
    key = AnswerKey(study_id, sorted(entries, key=lambda e: e.case_id), [a.to_dict() for a in audits])
    key.save(key_path)
    study.save(req.out)
    (req.out / "sessions").mkdir(exist_ok=True)
    return BuildResult(study, key_path, audits)


@dataclass
class FolderBuild:
    """What the CLI and the wizard both ask for: folders, optional generation, options."""

    real_dir: Path
    synthetic_dir: Path | None
    out: Path
    key_path: Path | None = None
    generate_model: str | None = None
    generate_count: int = 0
    masks_dir: Path | None = None
    device: str = "auto"
    per_class: int | None = None
    practice: int = 0
    seed: int = 0
    title: str = ""
    options: StudyOptions = field(default_factory=StudyOptions)


def build_from_folders(spec: FolderBuild, progress: Progress | None = None) -> BuildResult:
    """List the folders, render synthetic images if asked (beside the key, not in the study), build."""
    from .normalise import list_images

    if spec.synthetic_dir is None and not spec.generate_model:
        raise SynthguiError("give a folder of synthetic images, a model to generate them, or both")
    if spec.generate_model and spec.generate_count < 1:
        raise SynthguiError("say how many images to generate (--count N)")
    spec.options.validate()
    real = list_images(spec.real_dir)
    synthetic = list_images(spec.synthetic_dir) if spec.synthetic_dir is not None else []
    provenance: dict[Path, dict] = {}
    if spec.generate_model:
        from .generate import generate_images

        _check_paths(BuildRequest(real, synthetic, spec.out, spec.key_path))  # fail before a long render
        key_path = spec.key_path or default_key_path(spec.out)
        gen_dir = key_path.parent / f"{spec.out.name}.generated"
        made = generate_images(spec.generate_model, spec.generate_count, gen_dir, spec.masks_dir, spec.seed, spec.device,
                               progress=(lambda d, t: progress("generating images", d, t)) if progress else None)
        synthetic += [g.path for g in made]
        provenance = {g.path: g.provenance for g in made}
    req = BuildRequest(real, synthetic, spec.out, spec.key_path, spec.per_class, spec.practice, spec.seed, spec.title,
                       spec.options, provenance)
    return build_study(req, progress)
